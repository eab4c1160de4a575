import { describe, expect, it } from 'vitest';
import { jsonSyntaxError, malformedJsonMessage } from './json-syntax.js';

const err = (text: string) => jsonSyntaxError(Buffer.from(text));
const parses = (text: string): boolean => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};
/** V8's offset, when its message has one ("... in JSON at position 33"). */
const v8Position = (text: string): number | undefined => {
  try {
    JSON.parse(text);
  } catch (e) {
    const m = /at position (\d+)/.exec((e as Error).message);
    return m ? Number(m[1]) : undefined;
  }
  return undefined;
};

describe('jsonSyntaxError', () => {
  it('finds nothing wrong in valid JSON', () => {
    for (const ok of ['{}', '[]', ' {"a": [1, -2.5e+3, 0, true, false, null, "x\\n\\u00e9\\""]} ', '"s"', '0', '-0.1E-2', '{"a":{"b":[[],{}]}}', '"é ✓"']) {
      expect(err(ok), ok).toBeUndefined();
    }
  });

  it('names the kind and the byte offset, never the text', () => {
    expect(err('{"api_key": sk-live-SECRET123}')).toBe('unexpected character at byte 12');
    expect(err('sk-live-SECRET123')).toBe('unexpected character at byte 0');
    expect(err('{"api_key": "sk-live-SECRET123", ')).toBe('unexpected end of the body at byte 33');
    expect(err('{"api_key": "sk-live-SECRET123')).toBe('unterminated string (opened at byte 12): the body ends at byte 30');
    expect(err('{"a": "x\\q"}')).toBe('invalid escape at byte 9');
    expect(err('{"a": "\\u12G4"}')).toBe('invalid \\u escape at byte 11');
    expect(err('{"a": "x\u0001"}')).toBe('control character in a string at byte 8');
    expect(err('{"a": 01}')).toBe("expected ',' or '}' at byte 7");
    expect(err('{"a": -}')).toBe('invalid number at byte 7');
    expect(err('{"a": 1.}')).toBe('invalid number at byte 8');
    expect(err('[1, 2,]')).toBe('unexpected character at byte 6');
    expect(err('{"a": 1,}')).toBe('expected a property name at byte 8');
    expect(err('{"a" 1}')).toBe("expected ':' at byte 5");
    expect(err('[1 2]')).toBe("expected ',' or ']' at byte 3");
    expect(err('{} {}')).toBe('unexpected data after the value at byte 3');
    expect(err('tru')).toBe('unexpected end of the body at byte 3');
    expect(err('nul!')).toBe('unexpected character at byte 3');
    expect(err('')).toBe('unexpected end of the body at byte 0');
    expect(err('\ufeff{}')).toBe('unexpected character at byte 0');
  });

  it('counts bytes, not characters', () => {
    expect(err('{"é": x}')).toBe('unexpected character at byte 7');
  });

  it('agrees with JSON.parse on what is broken, and on where when V8 says where', () => {
    const seeds = ['{"model":"gpt-4o","messages":[{"role":"user","content":"hi \\"there\\" \\u00e9"}],"n":-1.5e3,"ok":true,"x":null}', '[0,{"a":[]},"b",false]'];
    const alphabet = ['{', '}', '[', ']', '"', ':', ',', '\\', '-', '0', '1', '.', 'e', 't', 'n', ' ', 'x', 'u', '\u0001'];
    let seed = 42;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    for (let k = 0; k < 5000; k++) {
      const base = seeds[rand(seeds.length)]!;
      const at = rand(base.length + 1);
      const op = rand(3);
      const ch = alphabet[rand(alphabet.length)]!;
      const text = op === 0 ? base.slice(0, at) : op === 1 ? base.slice(0, at) + ch + base.slice(at) : base.slice(0, at) + base.slice(at + 1);
      const found = err(text);
      expect(found === undefined, text).toBe(parses(text));
      const v8 = v8Position(text);
      if (v8 !== undefined) expect(found, text).toMatch(new RegExp(`at byte ${v8}$`));
    }
  });

  it('walks nesting far deeper than a recursive parser could', () => {
    expect(err('['.repeat(200_000))).toBe('unexpected end of the body at byte 200000');
    expect(err(`${'['.repeat(200_000)}${']'.repeat(200_000)}`)).toBeUndefined();
  });

  it('malformedJsonMessage says only "malformed JSON body" when it cannot say where', async () => {
    expect(await malformedJsonMessage(Buffer.from('{"a": x}'))).toBe('malformed JSON body: unexpected character at byte 6');
    expect(await malformedJsonMessage(Buffer.from('{}'))).toBe('malformed JSON body');
  });
});

describe('malformedJsonMessage on a large body', () => {
  it('scans in steps, the event loop let run between them, and finds the same place', async () => {
    // 10 MiB of one-byte elements, broken at the very end: the slowest shape to scan.
    const body = Buffer.from(`[${'1,'.repeat(5 * 1024 * 1024)}x]`);
    let pauses = 0;
    const message = await malformedJsonMessage(body, async () => void pauses++);
    expect(message).toBe(`malformed JSON body: unexpected character at byte ${body.length - 2}`);
    expect(message).toBe(`malformed JSON body: ${jsonSyntaxError(body)}`);
    // One step per 256 KiB or so.
    expect(pauses).toBeGreaterThanOrEqual(35);
  });
});
