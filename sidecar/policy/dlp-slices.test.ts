// DLP on large bodies, read ahead in slices (prepareRequest, prepareResponse): the verdict must be
// the one request() / response() give alone, and no slice may read much more than SLICE_CHARS.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type DlpSpec } from '../../api/index.js';
import type { Call, ResponseFacts, TextField } from '../call.js';
import { dlpCheck } from './dlp.js';
import { compileDlp, redact, SCAN_MARGIN, SCAN_SLICE, scanSteps, scanWindows, type Steps } from './dlp/index.js';
import { testCall, testPolicy } from './testing.js';

const policy = testPolicy;

const call = testCall;

const ctx = { now: new Date('2025-01-01T00:00:00Z') };
/** What dlp.ts scans between two pauses (its SLICE_CHARS). */
const SLICE_CHARS = 512 * 1024;
const CARD = '4111 1111 1111 1111';
const EMAIL = 'jane.doe@example.com';
const KEY = 'sk-proj-Ab3dEf6hIj9lMn2pQr5tUv8xYz1BcD4fGh7jKl0nOp3rSt6vWx9z';
const PEM = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKB\n-----END PRIVATE KEY-----';
const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
const FILLER = 'lorem ipsum dolor sit amet, ';

const B = (k: number): number => k * SCAN_SLICE;
/** The most one window reads (+1: a slice boundary moved back off a surrogate pair lengthens a slice). */
const ONE_WINDOW = SCAN_SLICE + 2 * SCAN_MARGIN + 1;

/**
 * 3 MiB of filler with secrets placed at and around the boundaries of the windows it is scanned in
 * (slices of SCAN_SLICE, read with SCAN_MARGIN on each side): across a slice boundary, starting or
 * ending exactly at one, across a window's edge, after a surrogate pair the boundary would split,
 * and folded (full-width digits, zero-width spaces). Each value is placed with a space on each side.
 */
function boundaryText(): string {
  let text = FILLER.repeat(Math.ceil((3 * 1024 * 1024) / FILLER.length)).slice(0, 3 * 1024 * 1024);
  const put = (at: number, value: string): void => {
    text = `${text.slice(0, at - 1)} ${value} ${text.slice(at + value.length + 1)}`;
  };
  put(B(1) - SCAN_MARGIN - 10, 'DE89 3704 0044 0532 0130 00'); // across the start of the second window
  put(B(1) - 8, CARD); // across the first boundary
  put(B(1) + SCAN_MARGIN - 6, '4111\u200b1111\u200b1111\u200b1111'); // across the end of the first window
  put(B(2) - 8, EMAIL); // its '@' right at the second boundary
  put(B(2) + 30, KEY);
  put(B(2) + SCAN_MARGIN - 8, '４１１１ １１１１ １１１１ １１１１'); // folded, across the end of the second window
  put(B(3) - 1, `😀${EMAIL} 😀${CARD}`); // the boundary would split the first emoji
  put(B(4) - 12, '123-45-6789'); // ends right before the fourth boundary...
  put(B(4), '5555 5555 5555 4444'); // ...and a card starts on it: one run of numbers across the boundary
  put(B(4) + 40, JWT);
  put(B(5) - SCAN_MARGIN - 3, 'AKIAIOSFODNN7EXAMPLE'); // across the start of the last window
  put(B(5) - 60, PEM); // across the last boundary
  put(B(5) + 200, '+1 415 555 2671');
  put(B(5) + 300, 'NDExMSAxMTExIDExMTEgMTExMQ=='); // base64 of a card number (sensitivity high)
  return text;
}

function runAll<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** A pause that counts its calls and how many characters the scanner read between two of them. */
function countingPause(spec: DlpSpec): { pause: () => Promise<void>; pauses: () => number; perSlice: () => number[]; scans: () => number } {
  const scanner = compileDlp(spec);
  const inner = scanner.scan;
  let read = 0;
  let calls = 0;
  const slices: number[] = [];
  vi.spyOn(scanner, 'scan').mockImplementation((text: string) => {
    read += text.length;
    calls++;
    return inner(text);
  });
  return {
    pause: async () => {
      slices.push(read);
      read = 0;
    },
    pauses: () => slices.length,
    perSlice: () => [...slices, read],
    scans: () => calls,
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('dlp scanner: a long text in windows', () => {
  const text = boundaryText();

  it('cuts the test text where the placements expect, and not inside the emoji', () => {
    expect(scanWindows(text).map((w) => w.keepFrom)).toEqual([0, B(1), B(2), B(3) - 1, B(4), B(5)]);
  });

  it('finds exactly what a scan of the whole text finds, at every sensitivity', () => {
    for (const spec of [{ sensitivity: 'low' }, {}, { sensitivity: 'high', custom: [{ name: 'employee_id', pattern: 'MII[A-Za-z]{6}' }] }] satisfies DlpSpec[]) {
      const scanner = compileDlp(spec);
      const whole = scanner.scan(text);
      expect(runAll(scanSteps(scanner, text))).toEqual(whole);
    }
    const found = compileDlp({}).scan(text).map((f) => [f.detector, text.slice(f.start, f.end)]);
    expect(found).toEqual([
      ['iban', 'DE89 3704 0044 0532 0130 00'],
      ['credit_card', CARD],
      ['credit_card', '4111\u200b1111\u200b1111\u200b1111'],
      ['email', EMAIL],
      ['api_key', KEY],
      ['credit_card', '４１１１ １１１１ １１１１ １１１１'],
      ['email', EMAIL],
      ['credit_card', CARD],
      ['ssn', '123-45-6789'],
      ['credit_card', '5555 5555 5555 4444'],
      ['jwt', JWT],
      ['aws_access_key', 'AKIAIOSFODNN7EXAMPLE'],
      ['private_key', PEM],
    ]);
  });
});

describe('dlp check: a large body read ahead in slices gives the verdict request() gives alone', () => {
  it('one 3 MiB text: the same redaction as a scan of the whole text, in many short slices', async () => {
    const text = boundaryText();
    for (const spec of [{ mode: 'redact' }, { mode: 'redact', sensitivity: 'high' }] satisfies DlpSpec[]) {
      const p = policy({ dlp: spec });
      const texts = (): TextField[] => [{ path: ['messages', 0, 'content'], text }];
      const alone = dlpCheck.request!(call({ texts: texts() }), p, ctx);
      const whole = compileDlp(p.spec.dlp!).scan(text);
      expect(alone).toMatchObject({ decision: 'redact', rewrites: [{ path: ['messages', 0, 'content'], text: redact(text, whole) }] });

      const counting = countingPause(p.spec.dlp!);
      const prepared = call({ texts: texts() });
      await dlpCheck.prepareRequest!(prepared, p, counting.pause);
      // Six windows: a pause between any two, one before the redaction, one at the end.
      expect(counting.pauses()).toBeGreaterThanOrEqual(7);
      expect(Math.max(...counting.perSlice())).toBeLessThanOrEqual(ONE_WINDOW);
      const scansAhead = counting.scans();
      expect(dlpCheck.request!(prepared, p, ctx)).toEqual(alone);
      expect(counting.scans()).toBe(scansAhead); // request() read the prepared result
      vi.restoreAllMocks();
    }
  });

  /** Many messages: emails, numbers split over two messages, tool-call arguments, a query string. */
  function manyFields(withTools: boolean): Call {
    const texts: TextField[] = Array.from({ length: 4_000 }, (_, i) => {
      let text = `${FILLER.repeat(30)}${i}`;
      if (i % 7 === 0) text += ` mail ${EMAIL}`;
      if (i % 11 === 0) text += ' card 4111 1111'; // ... continued by the next message
      if (i % 11 === 1) text = `1111 1111 ${text}`;
      if (i % 13 === 0) text = `ssn 123-45-6789 ${text}`;
      return { path: ['messages', i, 'content'], text };
    });
    if (!withTools) return call({ texts });
    texts.push({ path: ['messages', 4_000, 'tool_calls', 0, 'function', 'arguments'], text: JSON.stringify({ to: EMAIL, note: 'hi' }) });
    return call({
      path: '/v1/chat/completions?note=card+4111%201111%201111%201111',
      texts,
      toolCalls: [
        { name: 'send', arguments: { to: EMAIL, note: 'hi' } },
        { name: 'pay', arguments: { card: 4111111111111111, items: [{ who: `x ${EMAIL}` }, 'AKIAIOSFODNN7EXAMPLE', 3] } },
        { name: 'raw', arguments: `key ${KEY}` },
      ],
    });
  }

  it('many fields: own findings, junctions, redaction', async () => {
    const p = policy({ dlp: { mode: 'redact' } });
    const alone = dlpCheck.request!(manyFields(false), p, ctx);
    // 28 of the 364 split cards are not: the next message starts with an SSN.
    expect(alone).toMatchObject({ decision: 'redact', dlp: { email: 572, credit_card: 336, ssn: 308 } });
    expect(alone?.rewrites).toHaveLength(1_388);

    const counting = countingPause(p.spec.dlp!);
    const prepared = manyFields(false);
    await dlpCheck.prepareRequest!(prepared, p, counting.pause);
    expect(counting.pauses()).toBeGreaterThanOrEqual(6); // ~3.3 M characters scanned, ~0.7 M redacted
    expect(Math.max(...counting.perSlice())).toBeLessThanOrEqual(SLICE_CHARS);
    const scansAhead = counting.scans();
    expect(dlpCheck.request!(prepared, p, ctx)).toEqual(alone);
    expect(counting.scans()).toBe(scansAhead);
  });

  it('many fields with tool-call arguments and a query string, in each mode', async () => {
    for (const mode of ['redact', 'enforce', 'audit']) {
      const p = policy({ dlp: { mode } });
      const alone = dlpCheck.request!(manyFields(true), p, ctx);
      // The raw argument string holds one email more (redactable there, counted once); the arguments
      // add a card (a JSON number), an email, an AWS key id and an API key; the query string a card.
      expect(alone).toMatchObject({ decision: 'deny', dlp: { email: 574, credit_card: 338, ssn: 308, aws_access_key: 1, api_key: 1 } });
      if (mode === 'redact') expect(alone?.reason).toMatch(/\(4 in tool-call arguments, 1 in the query string, which cannot be redacted\)$/);

      const counting = countingPause(p.spec.dlp!);
      const prepared = manyFields(true);
      await dlpCheck.prepareRequest!(prepared, p, counting.pause);
      expect(counting.pauses()).toBeGreaterThanOrEqual(6);
      expect(Math.max(...counting.perSlice())).toBeLessThanOrEqual(SLICE_CHARS);
      expect(dlpCheck.request!(prepared, p, ctx)).toEqual(alone);
      vi.restoreAllMocks();
    }
  });

  it('scans again when what request() reads changed after the preparation', async () => {
    const p = policy({ dlp: { mode: 'redact' } });
    const c = manyFields(false);
    await dlpCheck.prepareRequest!(c, p, async () => undefined);
    c.texts = [{ path: ['prompt'], text: `mail ${EMAIL}` }];
    expect(dlpCheck.request!(c, p, ctx)).toMatchObject({ dlp: { email: 1 }, rewrites: [{ path: ['prompt'], text: 'mail [REDACTED:email]' }] });
    c.texts = [];
    c.path = '/v1/chat/completions?to=jane.doe%40example.com';
    expect(dlpCheck.request!(c, p, ctx)).toMatchObject({ decision: 'deny', dlp: { email: 1 } });
  });

  it('an answer (scanResponses): many fields, and one 3 MiB text', async () => {
    const p = policy({ dlp: { mode: 'redact', scanResponses: true } });
    for (const texts of [manyFields(false).texts, [{ path: ['content', 0, 'text'], text: boundaryText() }]]) {
      const facts = (): ResponseFacts => ({ toolCalls: [], texts });
      const alone = dlpCheck.response!(call(), facts(), p, ctx);
      expect(alone?.decision).toBe('redact');
      const counting = countingPause(p.spec.dlp!);
      const prepared = facts();
      await dlpCheck.prepareResponse!(call(), prepared, p, counting.pause);
      expect(counting.pauses()).toBeGreaterThanOrEqual(6);
      expect(Math.max(...counting.perSlice())).toBeLessThanOrEqual(ONE_WINDOW);
      const scansAhead = counting.scans();
      expect(dlpCheck.response!(call(), prepared, p, ctx)).toEqual(alone);
      expect(counting.scans()).toBe(scansAhead);
      vi.restoreAllMocks();
    }
  });

  it('gives each reading its own copy of the prepared verdict', async () => {
    const p = policy({ dlp: { mode: 'redact' } });
    const c = manyFields(false);
    await dlpCheck.prepareRequest!(c, p, async () => undefined);
    const first = dlpCheck.request!(c, p, ctx)!;
    first.dlp!.email = 0;
    first.rewrites!.length = 0;
    expect(dlpCheck.request!(c, p, ctx)).toMatchObject({ dlp: { email: 572 }, rewrites: expect.arrayContaining([expect.anything()]) });
  });
});
