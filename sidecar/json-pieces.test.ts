import { describe, expect, it } from 'vitest';
import { noPause } from './policy/pipeline.js';
import { JSON_BOUNDS, JsonTooDeep, JsonTooWide, parseJsonInPieces, stringifyInPieces } from './json-pieces.js';
import { writeJson, type Json, type WriteStyle } from '../e2e/fuzz/json-writer.js';
import { buildPayload, PAYLOAD_KINDS } from '../e2e/fuzz/payloads.js';
import { NAME_VARIANTS, SECRETS, SECRET_STYLES, spellSecret } from '../e2e/fuzz/threats.js';
import { SeededRandom } from '../lib/seeded-random.js';

const DEFAULT_PIECE = 256 * 1024;

/** A seeded PRNG, so a failing case can be replayed. */
const prng = (seed: number): SeededRandom => new SeededRandom(seed);

/**
 * Where two parsed values differ, or undefined: stricter than toEqual, it compares key order, -0,
 * prototypes, and that every property is a plain own data property (so `__proto__` is one).
 */
function difference(actual: unknown, expected: unknown, path = '$'): string | undefined {
  if (expected === null || typeof expected !== 'object') return Object.is(actual, expected) ? undefined : `${path}: ${String(actual)} !== ${String(expected)}`;
  if (actual === null || typeof actual !== 'object') return `${path}: not a container`;
  if (Array.isArray(expected) !== Array.isArray(actual)) return `${path}: array vs object`;
  if (Object.getPrototypeOf(actual) !== Object.getPrototypeOf(expected)) return `${path}: prototype`;
  const keys = Reflect.ownKeys(expected);
  const actualKeys = Reflect.ownKeys(actual);
  if (keys.join('\u0000') !== actualKeys.join('\u0000')) return `${path}: keys ${actualKeys.length} vs ${keys.length}`;
  for (const key of keys) {
    if (key === 'length' && Array.isArray(expected)) continue;
    const a = Object.getOwnPropertyDescriptor(actual, key)!;
    const e = Object.getOwnPropertyDescriptor(expected, key)!;
    if (!('value' in a) || a.writable !== e.writable || a.enumerable !== e.enumerable || a.configurable !== e.configurable) return `${path}.${String(key)}: descriptor`;
    const inner = difference(a.value, e.value, `${path}.${String(key)}`);
    if (inner) return inner;
  }
  return undefined;
}

/** JSON.parse's answer: the value, or that it threw. */
function jsonParse(text: string): { value: unknown } | 'throws' {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return 'throws';
  }
}

/** parseJsonInPieces agrees with JSON.parse on `text`: same value, or both refuse (with a SyntaxError that quotes nothing). */
async function expectAgrees(text: string, pieceChars: number, label = ''): Promise<void> {
  const expected = jsonParse(text);
  let actual: unknown;
  try {
    actual = await parseJsonInPieces(text, noPause, { pieceChars });
  } catch (err) {
    expect(expected, `${label} refused, JSON.parse accepts (${(err as Error).message})`).toBe('throws');
    expect(err, label).toBeInstanceOf(SyntaxError);
    expect((err as Error).message, label).toMatch(/^malformed JSON near character \d+$/);
    return;
  }
  expect(expected, `${label} accepted, JSON.parse refuses`).not.toBe('throws');
  expect(difference(actual, (expected as { value: unknown }).value), label).toBeUndefined();
}

async function expectSameBytes(value: unknown, pieceChars: number, label = ''): Promise<void> {
  const bytes = await stringifyInPieces(value, noPause, { pieceChars });
  const expected = Buffer.from(JSON.stringify(value));
  expect(bytes.equals(expected), `${label}: ${bytes.length} vs ${expected.length} bytes`).toBe(true);
}

const filler = (n: number, seed = 1): string => {
  const words = ['lorem', 'ipsum', 'dolor', 'sit', 'amet', 'caf\u00e9', '\u2603', 'say "hi"', 'back\\slash', 'tab\there', 'line\nbreak', '[{,:}]'];
  const r = prng(seed);
  let out = '';
  while (out.length < n) out += `${r.pick(words)} `;
  return out.slice(0, n);
};

/** A chat-completion body: `count` messages of about `size` characters each. */
function chatBody(count: number, size: number, seed = 7): Json {
  const r = prng(seed);
  const messages: Json[] = [{ role: 'system', content: 'You are helpful.' }];
  for (let i = 0; i < count; i++) {
    if (r.int(5) === 0) {
      messages.push({ role: 'assistant', content: null, tool_calls: [{ id: `call_${i}`, type: 'function', function: { name: 'web_search', arguments: JSON.stringify({ q: filler(size / 2, i) }) } }] });
    } else messages.push({ role: r.pick(['user', 'assistant']), content: r.int(4) === 0 ? [{ type: 'text', text: filler(size, i) }] : filler(size, i) });
  }
  return { model: 'gpt-4o', messages, tools: [{ type: 'function', function: { name: 'web_search', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }], temperature: 0.7, stream: false };
}

/** Big containers nested `depth` deep, each holding `pad` characters of its own. */
function nested(depth: number, pad: number): string {
  let text = JSON.stringify(filler(pad));
  for (let d = 0; d < depth; d++) text = d % 2 === 0 ? `[${JSON.stringify(filler(pad, d))}, ${text}, ${d}]` : `{"k${d}": ${text}, "pad": ${JSON.stringify(filler(pad, d))}}`;
  return text;
}

/** Texts JSON.parse accepts, each with something a piecewise parser could get wrong. */
const TRICKY: readonly string[] = [
  '{"__proto__": {"polluted": 1}, "constructor": {"prototype": 2}, "toString": 3, "hasOwnProperty": [4], "__proto__": [5, 6]}',
  '[1e400, -1e400, -0, 0, 1.0, 1E+2, 1e-400, 5e-324, 12345678901234567890123, -9007199254740993, 0.1, 123.456e-7, 1.7976931348623157e308]',
  '{"2": "two", "1": "one", "b": "b", "a": "a", "10": 10, "01": "zero-one", "-1": -1, "4294967295": "max", "1.5": 1.5, "b": "b again", "2": "two again"}',
  '{"": "", "\\u0000": "nul", "\\ud800": "lone key", "a\\"b": "quote", "\\\\": "backslash"}',
  '["\\u00e9\\u2028\\u2029", "\\ud83d\\ude00", "😀", "\\ud800", "\\udfff x \\udbff", "\\/\\b\\f\\n\\r\\t\\"", "\u00e9\u2603"]',
  '[[], {}, [[]], [{}], {"a": {}}, {"a": []}, [[[[[]]]]], ""]',
  ' \t\r\n{ \t\r\n"a" \t\r\n: \t\r\n[ \t\r\n1 \t\r\n, \t\r\n{ } \t\r\n, [ ] \t\r\n] \t\r\n, "b" : true , "c":false,"d" :null } \t\r\n',
  '"just a string"',
  '  -0.5e-3  ',
  'true',
  'null',
  `{"a": ${'['.repeat(100)}${']'.repeat(100)}}`,
  `[${'"x",'.repeat(200)}"${'\\"'.repeat(100)}", "\\\\", "\\\\\\"", "]}"]`,
];

describe('parseJsonInPieces: the same value as JSON.parse', () => {
  it('for tricky texts, at every piece size', async () => {
    for (const text of TRICKY) for (const pieceChars of [1, 2, 3, 5, 8, 16, 64, 1000]) await expectAgrees(text, pieceChars, `${pieceChars}: ${text.slice(0, 40)}`);
  });

  it('for the fuzz corpus payloads, however they are spelt', async () => {
    const r = prng(15);
    let n = 0;
    for (const kind of PAYLOAD_KINDS) {
      const secret = r.pick(SECRETS);
      const p = buildPayload(kind.adapter, kind.name, { tool: r.pick(NAME_VARIANTS), secret: spellSecret(secret, r.pick(SECRET_STYLES), r.int), secretNumber: Number(secret.digits) });
      const styles: WriteStyle[] = [
        {},
        { space: r.pick([' ', '\n', '\t', '\r\n  ', ' \n\t ']) },
        { escapeKeys: true, escapeString: () => true },
        { duplicate: { path: p.carrier, first: p.harmless } },
        { duplicate: { path: p.carrier, first: p.harmless, escapeFirstKey: true }, space: ' ' },
      ];
      const extras: Array<[string, Json]> = [['x_note', '\ud800 lone \udfff and \udbff'], ['x_ctl', '\u0000\u0001\u001f\u007f\u2028\u2029\u200e ok'], ['x_big', filler(5000)]];
      for (const style of styles) {
        for (const [key, extra] of [['', null] as [string, Json], ...extras]) {
          const body = key && p.body !== null && typeof p.body === 'object' && !Array.isArray(p.body) ? { ...p.body, [key]: extra } : p.body;
          const text = writeJson(body, style);
          for (const pieceChars of [7, 64]) await expectAgrees(text, pieceChars, `${p.name} ${JSON.stringify(style)} ${key}`);
          n++;
        }
      }
    }
    expect(n).toBeGreaterThan(100);
  });

  it('for chat bodies of 1-3 MiB with thousands of messages', async () => {
    for (const [count, size, pieceChars] of [[3000, 400, 64], [2000, 1000, 4096], [1500, 2000, DEFAULT_PIECE]] as const) {
      const text = JSON.stringify(chatBody(count, size));
      expect(text.length).toBeGreaterThan(1 << 20);
      await expectAgrees(text, pieceChars, `${count} messages`);
    }
    await expectAgrees(writeJson(chatBody(300, 500), { space: ' \n\t' }), 100, 'spaced');
  });

  it('for one huge string, at the top and inside', async () => {
    const huge = filler(3 << 20) + '\\u00e9\ud800';
    await expectAgrees(JSON.stringify(huge), 64, 'top string');
    await expectAgrees(JSON.stringify({ model: 'x', messages: [{ role: 'user', content: huge }], n: 1 }), 64, 'inner string');
    await expectAgrees(`${' '.repeat(1000)}${JSON.stringify(huge)}${'\n'.repeat(1000)}`, 64, 'spaced string');
  });

  it('for big containers nested deep, and long runs of whitespace', async () => {
    await expectAgrees(nested(60, 30), 64, 'nested');
    await expectAgrees(nested(100, 3000), DEFAULT_PIECE / 8, 'nested, bigger');
    const ws = ' \t\r\n'.repeat(500);
    await expectAgrees(`[1,${ws}2${ws},${ws}{"a"${ws}:${ws}${nested(3, 50)}${ws}}${ws}]`, 64, 'gaps');
    await expectAgrees(`{${ws}"a"${ws}:${ws}${nested(2, 100)}${ws},${ws}"b":${ws}[${ws}]${ws}}`, 64, 'gaps around a big member');
  });

  it('for random JSON spelt with random whitespace (seeded round trip)', async () => {
    const r = prng(2024);
    for (let n = 0; n < 2500; n++) {
      const value = randomValue(r, 0);
      const text = spell(value, r);
      await expectAgrees(text, r.pick([1, 2, 4, 8, 16, 64, 256]), `case ${n}`);
    }
  });
});

/** A random JSON value, favouring containers near the top. */
function randomValue(r: ReturnType<typeof prng>, depth: number): Json {
  const roll = r.int(depth < 4 ? 10 : 6);
  switch (roll) {
    case 0:
      return r.pick([null, true, false]);
    case 1:
      return r.pick([0, -0, 1, -1, 1.5, 1e21, 1e-7, 123456789012, -3.25e-5, 9007199254740993]);
    case 2:
    case 3:
    case 4:
    case 5: {
      const alphabet = ['a', 'b', ' ', '"', '\\', '/', '\n', '\u0001', '\u00e9', '\u2028', '\ud83d\ude00', '\ud800', '{', '}', '[', ']', ',', ':'];
      let s = '';
      for (let i = r.int(12); i > 0; i--) s += r.pick(alphabet);
      return s;
    }
    case 6:
    case 7:
      return Array.from({ length: r.int(6) }, () => randomValue(r, depth + 1));
    default: {
      const object: Record<string, Json> = {};
      for (let i = r.int(6); i > 0; i--) {
        const key = r.pick(['a', 'b', 'c', '__proto__', 'constructor', '1', '0', '10', '', 'k\u00e9', '"q"', 'toString']);
        Object.defineProperty(object, key, { value: randomValue(r, depth + 1), enumerable: true, writable: true, configurable: true });
      }
      return object;
    }
  }
}

/** Writes a value as JSON with random whitespace between tokens, and some strings' characters as \u escapes. */
function spell(value: Json, r: ReturnType<typeof prng>): string {
  const ws = (): string => (r.int(3) === 0 ? '' : Array.from({ length: r.int(4) }, () => r.pick([' ', '\t', '\n', '\r'])).join(''));
  const str = (s: string): string => (r.int(4) === 0 ? `"${[...s].map((ch) => [...ch].map((u) => `\\u${u.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')).join('')}"` : JSON.stringify(s));
  const write = (v: Json): string => {
    if (typeof v === 'string') return str(v);
    if (v === null || typeof v !== 'object') return JSON.stringify(v);
    if (Array.isArray(v)) return `[${ws()}${v.map((x) => write(x)).join(`${ws()},${ws()}`)}${ws()}]`;
    const members = Object.keys(v).map((k) => `${str(k)}${ws()}:${ws()}${write(v[k]!)}`);
    // A repeated key now and then: JSON.parse keeps its first place and its last value.
    if (members.length > 0 && r.int(5) === 0) members.push(`${str(Object.keys(v)[0]!)}:${write(randomValue(r, 5))}`);
    return `{${ws()}${members.join(`${ws()},${ws()}`)}${ws()}}`;
  };
  return `${ws()}${write(value)}${ws()}`;
}

describe('parseJsonInPieces: refuses what JSON.parse refuses', () => {
  const SECRET = 'sk-live-SECRET123abc';
  const BROKEN = [
    '[1 2]', '{"a": 1 "b": 2}', '[1, 2,]', '{"a": 1,}', '[1,]', '{,}', '[,1]', '{"a": 1,, "b": 2}', '{"a" 1}', '{"a": }', '{: 1}', '{"a"}',
    `["${SECRET}]`, `{"${SECRET}": "x}`, `{"a": 1} ${SECRET}`, '[1] [2]', '{}}', '[]]', '[[1, 2]', '{"a": [1}', '[{"a": 1]}', '[1, {"b": 2]]',
    `{'a': 1}`, `['${SECRET}']`, '[NaN]', '[Infinity]', '[-Infinity]', '[01]', '[-01]', '[00]', '[-]', '[1.]', '[.5]', '[1e]', '[+1]', '[0x10]',
    `["a\u0001b"]`, `["${SECRET}\nb"]`, '["tab\tin string"]', '["\\x"]', '["\\u12G4"]', '["\\u12"]', '["\\', '[tru]', '[nul]', '[True]', '[undefined]',
    `{"a\\": 1, "b": "${SECRET}"}`, `{"a": "${SECRET}\\"}`, '', '   ', '\ufeff{}', '[1]\u00a0', '[1,\u00a02]', '{"a": 1 /* c */}', `{"api_key": ${SECRET}}`,
    ']', '}', '[', '{', '"', ':', ',', '[1:2]', '{"a", "b"}', '{"a": 1: 2}', '[1, 2 3]',
  ];
  const pad = (seed: number): string => JSON.stringify({ note: filler(300, seed), list: [1, 2, { deep: [filler(200, seed + 1)] }] });

  it('for malformed texts alone and inside big containers, naming an offset and never a byte of the text', async () => {
    for (const broken of BROKEN) {
      const texts = [
        broken,
        `[${pad(1)}, ${broken}, ${pad(2)}]`,
        `{"model": "gpt-4o", "pad": ${pad(3)}, "messages": [${pad(4)}, ${broken}, ${pad(5)}], "more": ${pad(6)}}`,
        `{"messages": [${pad(7)}, {"role": "user", "content": ${broken}}], "big": ${nested(3, 100)}}`,
        `${nested(2, 200)} ${broken}`,
      ];
      // A blank fragment after a whole value is no error.
      for (const text of texts.filter((t) => t !== `${nested(2, 200)} ${broken}` || broken.trim() !== '')) {
        expect(jsonParse(text), text.slice(0, 60)).toBe('throws');
        for (const pieceChars of [1, 7, 64, 300, DEFAULT_PIECE]) {
          const err = await parseJsonInPieces(text, noPause, { pieceChars }).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err, `${pieceChars}: ${text.slice(0, 80)}`).toBeInstanceOf(SyntaxError);
          const message = (err as Error).message;
          expect(message).toMatch(/^malformed JSON near character \d+$/);
          expect(message).not.toContain('SECRET');
        }
      }
    }
  });

  it('refuses two big members with no comma between them where the second starts', async () => {
    const big = JSON.stringify([filler(100)]);
    const text = `[1, ${big} ${big}]`;
    await expect(parseJsonInPieces(text, noPause, { pieceChars: 64 })).rejects.toThrow(`malformed JSON near character ${text.length - 1 - big.length}`);
  });

  it('agrees with JSON.parse on randomly damaged texts', async () => {
    const r = prng(99);
    const alphabet = ['{', '}', '[', ']', '"', ':', ',', '\\', '-', '0', '1', '.', 'e', 't', 'n', ' ', 'x', 'u', '\u0001', '\u00a0'];
    let refused = 0;
    for (let n = 0; n < 2500; n++) {
      let text = spell(randomValue(r, 0), r);
      for (let edits = 1 + r.int(2); edits > 0; edits--) {
        const at = r.int(text.length + 1);
        const op = r.int(3);
        text = op === 0 ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at) + r.pick(alphabet) + text.slice(at + (op === 1 ? 1 : 0));
      }
      if (jsonParse(text) === 'throws') refused++;
      await expectAgrees(text, r.pick([1, 2, 4, 8, 32]), `damaged ${n}: ${JSON.stringify(text.slice(0, 200))}`);
    }
    expect(refused).toBeGreaterThan(1000);
  });
});

describe('parseJsonInPieces: pauses', () => {
  /** Parses with a counting pause, noting how many characters each stretch between pauses handled. */
  async function stretches(text: string, pieceChars?: number): Promise<{ pauses: number; longest: number; total: number; value: unknown }> {
    let pauses = 0;
    const steps: number[] = [];
    const value = await parseJsonInPieces(
      text,
      async () => {
        pauses++;
      },
      { pieceChars, onStep: (chars) => steps.push(chars) },
    );
    return { pauses, longest: Math.max(...steps), total: steps.reduce((a, b) => a + b, 0), value };
  }

  it('pauses through a 4 MiB chat body, no stretch handling more than 2 x pieceChars', async () => {
    const text = JSON.stringify(chatBody(4200, 1000));
    expect(text.length).toBeGreaterThan(4 << 20);
    const { pauses, longest, total, value } = await stretches(text);
    expect(pauses).toBeGreaterThanOrEqual(10);
    expect(longest).toBeLessThanOrEqual(2 * DEFAULT_PIECE);
    // Every character is scanned and parsed once, give or take the brackets.
    expect(total).toBeGreaterThan(2 * text.length - 100);
    expect(total).toBeLessThan(2 * text.length + 100);
    expect(difference(value, JSON.parse(text))).toBeUndefined();
  });

  it('pauses inside one big member of tiny elements, and through megabytes of whitespace', async () => {
    const ones = `{"a": [${'1,'.repeat(3 << 18)}1], "b": {"c": [${'[],'.repeat(1 << 17)}{}]}}`;
    const a = await stretches(ones);
    expect(a.pauses).toBeGreaterThanOrEqual(10);
    expect(a.longest).toBeLessThanOrEqual(2 * DEFAULT_PIECE);
    expect(difference(a.value, JSON.parse(ones))).toBeUndefined();

    const spaced = `${' '.repeat(1 << 20)}[1,${' \n'.repeat(1 << 20)}2, {"a"${'\t'.repeat(1 << 20)}: 3}]${'\r\n'.repeat(1 << 19)}`;
    const b = await stretches(spaced);
    expect(b.pauses).toBeGreaterThanOrEqual(10);
    expect(b.longest).toBeLessThanOrEqual(2 * DEFAULT_PIECE);
    expect(difference(b.value, JSON.parse(spaced))).toBeUndefined();
  });

  it('does not pause for a body smaller than one piece', async () => {
    expect((await stretches(JSON.stringify(chatBody(10, 100)))).pauses).toBe(0);
  });
});

describe('parseJsonInPieces: nesting', () => {
  it('refuses big containers nested deeper than maxDepth, with JsonTooDeep', async () => {
    await expect(parseJsonInPieces(nested(5, 80), noPause, { pieceChars: 64, maxDepth: 5 })).resolves.toEqual(JSON.parse(nested(5, 80)));
    const err = await parseJsonInPieces(nested(6, 80), noPause, { pieceChars: 64, maxDepth: 5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JsonTooDeep);
    expect((err as Error).message).toBe('the JSON body nests deeper than 5 levels');
  });

  it('defaults to 128 levels of big containers', async () => {
    const around = (depth: number): string => `${'['.repeat(depth)}${JSON.stringify(filler(300_000))}${']'.repeat(depth)}`;
    await expectAgrees(around(128), DEFAULT_PIECE);
    await expect(parseJsonInPieces(around(129), noPause)).rejects.toThrow(new JsonTooDeep(128));
  });

  it('lets small containers nest as deep as JSON.parse does: only big ones are walked', async () => {
    await expectAgrees(`[${'['.repeat(5000)}${']'.repeat(5000)}, ${JSON.stringify(filler(30_000))}]`, 20_000);
  });

  it('gives up early on a body of brackets, without a stack as deep as the body', async () => {
    const deep = '['.repeat(3 << 20);
    await expect(parseJsonInPieces(deep, noPause)).rejects.toThrow(JsonTooDeep);
    await expect(parseJsonInPieces(deep + ']'.repeat(3 << 20), noPause)).rejects.toThrow(JsonTooDeep);
  });
});

describe('parseJsonInPieces: long strings in slices', () => {
  // Escapes of every length, raw and escaped surrogate pairs, runs of backslashes: every slice end lands somewhere.
  const escapes = ['\\n', '\\u00e9', '\\\\', '\\"', '\\ud83d\\ude00', '😀', 'é', 'abc', '\\/', '\\\\\\\\', '\\u0041\\u0042'];
  const random = new SeededRandom(11);
  const content = () => Array.from({ length: 400 }, () => random.pick(escapes)).join('');

  it('reads a long string, alone or as a member, as JSON.parse does, wherever the slices end', async () => {
    for (const pieceChars of [7, 8, 13, 64, 301]) {
      for (let round = 0; round < 10; round++) {
        const s = `"${content()}"`;
        for (const text of [s, `[1, ${s}, 2]`, `{"a": ${s}, "b": [${s}]}`, `{${s}: 1}`, ` ${s} `]) {
          expect(await parseJsonInPieces(text, noPause, { pieceChars }), text.slice(0, 40)).toEqual(JSON.parse(text));
        }
      }
    }
  });

  it('refuses a long string JSON.parse refuses, whichever slice holds the fault', async () => {
    for (const fault of ['\\x', '\\u12', '\u0001', '\\']) {
      for (const at of [0, 50, 199]) {
        const body = 'y'.repeat(200);
        const text = `{"a": "${body.slice(0, at)}${fault}${body.slice(at)}"}`;
        expect(() => JSON.parse(text)).toThrow(SyntaxError);
        await expect(parseJsonInPieces(text, noPause, { pieceChars: 16 })).rejects.toThrow(SyntaxError);
      }
    }
  });

  it('pauses inside one 4 MiB string', async () => {
    const text = JSON.stringify({ messages: [{ role: 'user', content: 'word '.repeat(800_000) }] });
    const stretches: number[] = [];
    expect(await parseJsonInPieces(text, noPause, { onStep: (chars) => void stretches.push(chars) })).toEqual(JSON.parse(text));
    expect(stretches.length).toBeGreaterThanOrEqual(10);
    expect(Math.max(...stretches)).toBeLessThanOrEqual(2 * 256 * 1024);
  });
});

describe('parseJsonInPieces: keys', () => {
  it('refuses a big object of more keys than maxKeys before growing it past the bound, with JsonTooWide', async () => {
    const object = (n: number) => `{${Array.from({ length: n }, (_, i) => `"k${i}": ${i}`).join(', ')}}`;
    await expect(parseJsonInPieces(object(JSON_BOUNDS.maxKeys), noPause, { pieceChars: 1024 })).resolves.toEqual(JSON.parse(object(JSON_BOUNDS.maxKeys)));
    await expect(parseJsonInPieces(object(JSON_BOUNDS.maxKeys + 1), noPause, { pieceChars: 1024 })).rejects.toThrow(new JsonTooWide(`the JSON body has an object of more than ${JSON_BOUNDS.maxKeys} keys`));
    // 700 K keys (9 MiB): refused in stretches of a bounded size, the object never grown past the bound.
    const stretches: number[] = [];
    await expect(parseJsonInPieces(object(700_000), noPause, { onStep: (chars) => void stretches.push(chars) })).rejects.toThrow(JsonTooWide);
    expect(stretches.length).toBeGreaterThan(10);
    expect(Math.max(...stretches)).toBeLessThanOrEqual(2 * 256 * 1024);
    // Arrays: a bound on their elements, the same way.
    const numbers = (n: number) => `[${'7,'.repeat(n - 1)}7]`;
    await expect(parseJsonInPieces(numbers(JSON_BOUNDS.maxItems), noPause)).resolves.toHaveLength(JSON_BOUNDS.maxItems);
    await expect(parseJsonInPieces(numbers(JSON_BOUNDS.maxItems + 1), noPause)).rejects.toThrow(`the JSON body has an array of more than ${JSON_BOUNDS.maxItems} elements`);
    // Arrays have no keys: a big array of small objects is read whole.
    const many = `[${Array.from({ length: 3 }, () => object(JSON_BOUNDS.maxKeys)).join(',')}]`;
    await expect(parseJsonInPieces(many, noPause, { pieceChars: 1024 })).resolves.toHaveLength(3);
  });
});

describe('stringifyInPieces: long strings', () => {
  it('writes a long string in slices as JSON.stringify does, never escaping half a surrogate pair', async () => {
    const s = '😀a\n"\\\u0001é'.repeat(5000) + '\ud83d';
    for (const pieceChars of [7, 8, 64, 1000]) {
      for (const value of [s, [s, 1], { a: s, b: [s] }]) {
        expect((await stringifyInPieces(value, noPause, { pieceChars })).toString()).toBe(JSON.stringify(value));
      }
    }
  });
});

describe('stringifyInPieces', () => {
  const values = (): unknown[] => [
    ...TRICKY.map((t) => JSON.parse(t) as unknown),
    chatBody(500, 300),
    JSON.parse(nested(20, 50)),
    { u: undefined, f: () => 1, a: [1, undefined, () => 1, Symbol('s'), null], b: undefined, c: () => 2, d: new Date(0), e: { toJSON: () => ({ x: [1, 2] }) }, '': [[]] },
    [1, , 3, { f: undefined }],
    Object.assign(Object.create(null) as object, { a: 1, [filler(100)]: filler(100) }),
    '\ud800 lone \udfff',
    { big: filler(5000) + '\ud800', [`\ud800key${filler(100)}`]: [filler(200), '\udbff\udfff', '\udfff\udbff'] },
    -0,
    1e21,
    null,
  ];

  it('writes the same bytes as JSON.stringify, at every piece size', async () => {
    for (const value of values()) for (const pieceChars of [1, 2, 8, 64, 1000, DEFAULT_PIECE]) await expectSameBytes(value, pieceChars, `${pieceChars}`);
  });

  it('keeps __proto__ an own key, as JSON.parse made it', async () => {
    const value = JSON.parse(`{"__proto__": {"a": ${JSON.stringify(filler(500))}}, "b": [{"__proto__": 1}]}`) as unknown;
    await expectSameBytes(value, 16);
    expect((await stringifyInPieces(value, noPause, { pieceChars: 16 })).toString()).toContain('"__proto__":{"a"');
  });

  it('writes random values as JSON.stringify does', async () => {
    const r = prng(31);
    for (let n = 0; n < 1500; n++) await expectSameBytes(randomValue(r, 0), r.pick([1, 4, 16, 64]), `case ${n}`);
  });

  it('throws as JSON.stringify does for a cycle or a BigInt', async () => {
    const cyclic: Record<string, unknown> = { a: filler(100) };
    cyclic.self = { again: cyclic };
    await expect(stringifyInPieces(cyclic, noPause, { pieceChars: 16 })).rejects.toThrow(TypeError);
    await expect(stringifyInPieces({ a: filler(100), b: 1n }, noPause, { pieceChars: 16 })).rejects.toThrow(TypeError);
  });

  it('pauses through a 4 MiB value', async () => {
    const value = chatBody(4200, 1000);
    let pauses = 0;
    const steps: number[] = [];
    const bytes = await stringifyInPieces(
      value,
      async () => {
        pauses++;
      },
      { onStep: (chars) => steps.push(chars) },
    );
    expect(bytes.equals(Buffer.from(JSON.stringify(value)))).toBe(true);
    expect(bytes.length).toBeGreaterThan(4 << 20);
    expect(pauses).toBeGreaterThanOrEqual(10);
    expect(Math.max(...steps)).toBeLessThanOrEqual(3 * DEFAULT_PIECE);
  });
});
