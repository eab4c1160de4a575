import { describe, expect, it } from 'vitest';
import type { Call, ResponseFacts, StreamEvent } from './../call.js';
import { describeCounts, dlpCheck } from './dlp.js';
import { Pipeline } from './pipeline.js';
import type { Verdict } from './verdict.js';
import { testCall, testPolicy } from './testing.js';

const policy = testPolicy;

const call = testCall;

const CARD = '4111 1111 1111 1111';
const EMAIL = 'jane.doe@example.com';
const KEY = 'sk-proj-Ab3dEf6hIj9lMn2pQr5tUv8xYz1BcD4fGh7jKl0nOp3rSt6vWx9z';
const SECRETS = [CARD, EMAIL, KEY, '4111111111111111', 'jane.doe', 'Ab3dEf6hIj9lMn2pQr5tUv8x'];

const ctx = { now: new Date('2025-01-01T00:00:00Z') };
const withSecrets = call({
  texts: [
    { path: ['messages', 0, 'content'], text: `pay with ${CARD} and mail ${EMAIL}, then ${EMAIL}` },
    { path: ['messages', 1, 'content'], text: 'nothing to see' },
    { path: ['messages', 2, 'content'], text: `key: ${KEY}` },
  ],
});

/** No secret value, or a telling part of one, anywhere in a verdict. */
function expectNoSecret(v: unknown): void {
  const json = JSON.stringify(v);
  for (const s of SECRETS) expect(json).not.toContain(s);
}

describe('dlp check: requests', () => {
  it('lets a call with nothing sensitive through', () => {
    expect(dlpCheck.request!(call({ texts: [{ path: ['prompt'], text: 'What is 2 + 2?' }] }), policy({ dlp: {} }), ctx)).toBeUndefined();
  });

  it('redacts every text field with findings and counts by detector (redact mode)', () => {
    const v = dlpCheck.request!(withSecrets, policy({ dlp: { mode: 'redact' } }), ctx)!;
    expect(v).toEqual({
      decision: 'redact',
      rule: 'dlp',
      policy: 'ns/p',
      reason: 'sensitive data detected: api_key x1, credit_card x1, email x2 (redacted)',
      dlp: { credit_card: 1, email: 2, api_key: 1 },
      rewrites: [
        { path: ['messages', 0, 'content'], text: 'pay with [REDACTED:credit_card] and mail [REDACTED:email], then [REDACTED:email]' },
        { path: ['messages', 2, 'content'], text: 'key: [REDACTED:api_key]' },
      ],
    });
  });

  it('denies in enforce mode, and when the policy mode enforces and dlp has none', () => {
    for (const spec of [{ dlp: { mode: 'enforce' } }, { dlp: {} }, { mode: 'enforce', dlp: { sensitivity: 'low' } }]) {
      const v = dlpCheck.request!(withSecrets, policy(spec), ctx)!;
      expect(v.decision).toBe('deny');
      expect(v.rule).toBe('dlp');
      expect(v.rewrites).toBeUndefined();
      expect(v.reason).toMatch(/^sensitive data detected: /);
    }
  });

  it('is an audit note in audit mode, and not run when off (through the pipeline)', () => {
    const pipeline = new Pipeline([dlpCheck], () => ctx.now);
    const audit = pipeline.evaluateRequest(withSecrets, [policy({ mode: 'audit', dlp: {} })]);
    expect(audit.final).toMatchObject({ decision: 'audit', rule: 'dlp', policy: 'ns/p', dlp: { credit_card: 1, email: 2, api_key: 1 } });
    expect(audit.rewrites).toEqual([]);
    expect(pipeline.evaluateRequest(withSecrets, [policy({ dlp: { mode: 'audit' } })]).final.decision).toBe('audit');
    expect(pipeline.evaluateRequest(withSecrets, [policy({ dlp: { mode: 'off' } })]).final.decision).toBe('allow');
    const redacted = pipeline.evaluateRequest(withSecrets, [policy({ dlp: { mode: 'redact' } })]);
    expect(redacted.final.decision).toBe('redact');
    expect(redacted.rewrites).toHaveLength(2);
  });

  it('counts findings in tool-call arguments, and denies them even in redact mode (no path to rewrite)', () => {
    const c = call({ toolCalls: [{ name: 'send', arguments: { to: EMAIL, cc: [EMAIL, 'x'], card: 4111111111111111, n: 3 } }] });
    const v = dlpCheck.request!(c, policy({ dlp: { mode: 'redact' } }), ctx)!;
    expect(v).toMatchObject({ decision: 'deny', dlp: { email: 2, credit_card: 1 } });
    expect(v.reason).toBe('sensitive data detected: credit_card x1, email x2 (3 in tool-call arguments, which cannot be redacted)');
    expect(dlpCheck.request!(call({ toolCalls: [{ name: 'raw', arguments: `mail ${EMAIL}` }] }), policy({ dlp: {} }), ctx)?.decision).toBe('deny');
  });

  it('counts an argument once when the adapter also lists it as a text (MCP), and can redact it there', () => {
    const c = call({
      provider: 'mcp',
      toolCalls: [{ name: 'send', arguments: { to: EMAIL } }],
      texts: [{ path: ['params', 'arguments', 'to'], text: EMAIL }],
    });
    expect(dlpCheck.request!(c, policy({ dlp: { mode: 'redact' } }), ctx)).toMatchObject({
      decision: 'redact', dlp: { email: 1 }, rewrites: [{ path: ['params', 'arguments', 'to'], text: '[REDACTED:email]' }],
    });
  });

  it('uses the custom detectors and the sensitivity of the policy', () => {
    const c = call({ texts: [{ path: ['p'], text: 'badge EMP-123456, phone +1 415 555 2671' }] });
    expect(dlpCheck.request!(c, policy({ dlp: { custom: [{ name: 'employee_id', pattern: 'EMP-[0-9]{6}' }] } }), ctx)?.dlp).toEqual({ employee_id: 1 });
    expect(dlpCheck.request!(c, policy({ dlp: { sensitivity: 'high' } }), ctx)?.dlp).toEqual({ phone: 1 });
  });

  it('never puts a secret value in a verdict', () => {
    for (const mode of ['enforce', 'redact', 'audit']) {
      const v = dlpCheck.request!(withSecrets, policy({ dlp: { mode } }), ctx);
      expectNoSecret({ ...v, rewrites: undefined });
      for (const r of v?.rewrites ?? []) expectNoSecret(r.text);
    }
    const tools = call({ toolCalls: [{ name: 't', arguments: { k: KEY } }] });
    expectNoSecret(dlpCheck.request!(tools, policy({ dlp: { mode: 'redact' } }), ctx));
  });
});

describe('dlp check: evasions (issue 15)', () => {
  const redactMode = policy({ dlp: { mode: 'redact' } });
  const texts = (...t: string[]) => t.map((text, i) => ({ path: ['messages', i, 'content'], text }));

  it('finds a card number split over two consecutive messages, and redacts both halves', () => {
    const splits: Array<[string, string]> = [['my card: 4111 1111', '1111 1111 thanks'], ['my card: 4111 1111 ', '1111 1111'], ['my card: 4111 11', '11 1111 1111 ok']];
    for (const [a, b] of splits) {
      const v = dlpCheck.request!(call({ texts: texts(a, b) }), redactMode, ctx)!;
      expect(v, `${a}|${b}`).toMatchObject({ decision: 'redact', dlp: { credit_card: 1 } });
      const joined = v.rewrites!.map((r) => r.text).join('|');
      expect(joined).not.toMatch(/1111|4111/);
      expect(v.rewrites!.map((r) => r.path)).toEqual([['messages', 0, 'content'], ['messages', 1, 'content']]);
    }
    expect(dlpCheck.request!(call({ texts: texts('ssn 123-45-', '6789 ok') }), policy({ dlp: {} }), ctx)).toMatchObject({ decision: 'deny', dlp: { ssn: 1 } });
  });

  it('keeps the halves of a split number in place and the rest of each message', () => {
    const v = dlpCheck.request!(call({ texts: texts('card 4111 1111', '1111 1111 thanks') }), redactMode, ctx)!;
    expect(v.rewrites).toEqual([
      { path: ['messages', 0, 'content'], text: 'card [REDACTED:credit_card]' },
      { path: ['messages', 1, 'content'], text: '[REDACTED:credit_card] thanks' },
    ]);
  });

  it('does not count twice a finding the next message only continues (an email followed by a word)', () => {
    const v = dlpCheck.request!(call({ texts: texts(`mail ${EMAIL}`, 'thanks', '2024 numbers 1111') }), redactMode, ctx)!;
    expect(v).toMatchObject({ dlp: { email: 1 }, rewrites: [{ text: 'mail [REDACTED:email]' }] });
  });

  it('scans the query string of the request, and denies even in redact mode (it cannot be rewritten)', () => {
    const c = call({ path: '/v1/chat/completions?note=card+4111%201111%201111%201111&x=1', texts: texts('hi') });
    const v = dlpCheck.request!(c, redactMode, ctx)!;
    expect(v).toMatchObject({ decision: 'deny', dlp: { credit_card: 1 } });
    expect(v.reason).toBe('sensitive data detected: credit_card x1 (1 in the query string, which cannot be redacted)');
    expect(dlpCheck.request!(call({ path: '/v1/chat/completions?api-version=2024-10-21', texts: texts('hi') }), redactMode, ctx)).toBeUndefined();
    // A stray '%' does not stop the decoding of the rest.
    expect(dlpCheck.request!(call({ path: `/x?a=%zz&b=${encodeURIComponent(EMAIL)}` }), redactMode, ctx)).toMatchObject({ decision: 'deny', dlp: { email: 1 } });
  });

  it('redacts a raw JSON argument string in place when it holds the value verbatim (OpenAI history)', () => {
    const args = JSON.stringify({ to: EMAIL });
    const c = call({
      toolCalls: [{ name: 'send', arguments: { to: EMAIL } }],
      texts: [{ path: ['messages', 1, 'tool_calls', 0, 'function', 'arguments'], text: args }],
    });
    expect(dlpCheck.request!(c, redactMode, ctx)).toMatchObject({
      decision: 'redact', dlp: { email: 1 }, rewrites: [{ text: '{"to":"[REDACTED:email]"}' }],
    });
  });

  it('denies in redact mode a number in a raw argument string (redacting it would break the JSON)', () => {
    const c = call({
      toolCalls: [{ name: 'pay', arguments: { card: 4111111111111111 } }],
      texts: [{ path: ['messages', 1, 'tool_calls', 0, 'function', 'arguments'], text: '{"card":4111111111111111}' }],
    });
    expect(dlpCheck.request!(c, redactMode, ctx)).toMatchObject({ decision: 'deny', dlp: { credit_card: 2 } });
  });

  it('denies in redact mode when JSON escapes hid the value from the raw argument string', () => {
    const card = '4111\u200b1111\u200b1111\u200b1111';
    const c = call({
      toolCalls: [{ name: 'pay', arguments: { card } }],
      texts: [{ path: ['messages', 1, 'tool_calls', 0, 'function', 'arguments'], text: '{"card":"4111\\u200b1111\\u200b1111\\u200b1111"}' }],
    });
    expect(dlpCheck.request!(c, redactMode, ctx)).toMatchObject({ decision: 'deny', dlp: { credit_card: 1 } });
  });

  it('reads a zero-width space or a Unicode dash inside a number in any field', () => {
    const v = dlpCheck.request!(call({ texts: texts('card 4111\u200b1111\u200b1111\u200b1111', 'ssn 123\u201145\u20116789') }), redactMode, ctx)!;
    expect(v).toMatchObject({ decision: 'redact', dlp: { credit_card: 1, ssn: 1 } });
    expect(v.rewrites!.map((r) => r.text)).toEqual(['card [REDACTED:credit_card]', 'ssn [REDACTED:ssn]']);
  });
});

describe('dlp check: responses', () => {
  const facts: ResponseFacts = {
    toolCalls: [],
    texts: [{ path: ['choices', 0, 'message', 'content'], text: `Your card is ${CARD}.` }],
  };

  it('scans answers only with scanResponses', () => {
    expect(dlpCheck.response!(call(), facts, policy({ dlp: { mode: 'redact' } }), ctx)).toBeUndefined();
  });

  it('redacts the answer at its JSON paths, or denies it', () => {
    expect(dlpCheck.response!(call(), facts, policy({ dlp: { mode: 'redact', scanResponses: true } }), ctx)).toEqual({
      decision: 'redact', rule: 'dlp', policy: 'ns/p', dlp: { credit_card: 1 },
      reason: 'sensitive data detected in the response: credit_card x1 (redacted)',
      rewrites: [{ path: ['choices', 0, 'message', 'content'], text: 'Your card is [REDACTED:credit_card].' }],
    });
    const v = dlpCheck.response!(call(), facts, policy({ dlp: { scanResponses: true } }), ctx);
    expect(v).toMatchObject({ decision: 'deny', dlp: { credit_card: 1 } });
    expectNoSecret(v);
  });

  it('lets a clean answer through', () => {
    const clean: ResponseFacts = { toolCalls: [], texts: [{ path: ['content', 0, 'text'], text: 'All good.' }] };
    expect(dlpCheck.response!(call(), clean, policy({ dlp: { scanResponses: true } }), ctx)).toBeUndefined();
  });
});

describe('dlp check: streams', () => {
  /** Feeds deltas of one stream to the check; returns each event's verdict. */
  function stream(spec: object, deltas: string[]): Array<Verdict | undefined> {
    const c = call({ stream: true });
    const p = policy(spec);
    return deltas.map((text) => dlpCheck.streamEvent!(c, { type: 'text', text } satisfies StreamEvent, p, ctx));
  }
  /** The answer cut into pieces of n characters, as models stream. */
  const pieces = (s: string, n: number): string[] => Array.from({ length: Math.ceil(s.length / n) }, (_, i) => s.slice(i * n, i * n + n));

  it('does nothing without scanResponses, or for other events', () => {
    expect(stream({ dlp: {} }, [`card ${CARD}`])).toEqual([undefined]);
    const c = call();
    expect(dlpCheck.streamEvent!(c, { type: 'tool_call', name: 'x' }, policy({ dlp: { scanResponses: true } }), ctx)).toBeUndefined();
  });

  it('cuts the stream (deny) in enforce mode, even when the secret is split over deltas', () => {
    const verdicts = stream({ dlp: { scanResponses: true } }, pieces(`Sure! The card is ${CARD}, expiring soon.`, 3));
    const first = verdicts.findIndex((v) => v !== undefined);
    expect(first).toBeGreaterThan(0);
    expect(verdicts[first]).toEqual({
      decision: 'deny', rule: 'dlp', policy: 'ns/p', dlp: { credit_card: 1 },
      reason: 'sensitive data detected in the streamed response: credit_card x1',
    });
  });

  it('only records (audit) in redact mode: streamed text cannot be rewritten', () => {
    const verdicts = stream({ dlp: { mode: 'redact', scanResponses: true } }, pieces(`mail ${EMAIL} or ${EMAIL}!`, 4)).filter((v) => v);
    expect(verdicts.every((v) => v!.decision === 'audit' && !v!.rewrites)).toBe(true);
    // Each address is counted once, though it is seen again while it grows.
    expect(verdicts.reduce((n, v) => n + (v!.dlp!.email ?? 0), 0)).toBe(2);
    expect(verdicts[0]!.reason).toBe('sensitive data detected in the streamed response: email x1 (streamed text cannot be redacted)');
    verdicts.forEach(expectNoSecret);
  });

  it('keeps a bounded window, and still finds secrets late in a long stream', () => {
    const deltas = [...pieces('lorem ipsum dolor sit amet '.repeat(2000), 7), ...pieces(`key ${KEY} end`, 5)];
    const verdicts = stream({ dlp: { scanResponses: true } }, deltas);
    expect(verdicts.filter((v) => v).map((v) => v!.dlp)).toEqual([{ api_key: 1 }]);
  });

  it('keeps separate state per call', () => {
    const p = policy({ dlp: { scanResponses: true } });
    const a = call({ id: 'a' });
    const b = call({ id: 'b' });
    dlpCheck.streamEvent!(a, { type: 'text', text: 'jane.doe@exam' }, p, ctx);
    expect(dlpCheck.streamEvent!(b, { type: 'text', text: 'ple.com' }, p, ctx)).toBeUndefined();
    expect(dlpCheck.streamEvent!(a, { type: 'text', text: 'ple.com' }, p, ctx)?.dlp).toEqual({ email: 1 });
  });
});

describe('describeCounts', () => {
  it('lists detectors alphabetically with counts', () => {
    expect(describeCounts({ email: 2, credit_card: 1 })).toBe('credit_card x1, email x2');
  });
});

describe('dlp: a large body read ahead, in slices (prepareRequest, prepareResponse)', () => {
  const many = (): Call =>
    call({
      texts: Array.from({ length: 2_000 }, (_, i) => ({
        path: ['messages', i, 'content'],
        text: `${'lorem ipsum '.repeat(50)}${i % 97 === 0 ? `card ${CARD}` : ''}`,
      })),
    });

  it('gives the verdict request() alone gives, and lets the event loop run between slices', async () => {
    for (const mode of ['enforce', 'redact'] as const) {
      const p = policy({ dlp: { mode, detectors: ['credit_card', 'email'] } });
      const expected = dlpCheck.request!(many(), p, ctx);
      const prepared = many();
      let pauses = 0;
      await dlpCheck.prepareRequest!(prepared, p, async () => void pauses++);
      expect(pauses).toBeGreaterThan(1); // ~1.2 MB of text, paused every 512 K characters
      expect(dlpCheck.request!(prepared, p, ctx)).toEqual(expected);
      expect(expected?.dlp?.credit_card).toBe(21);
    }
  });

  it('does the same for an answer scanned with scanResponses', async () => {
    const p = policy({ dlp: { mode: 'redact', scanResponses: true, detectors: ['credit_card'] } });
    const facts = (): ResponseFacts => ({ toolCalls: [], texts: many().texts });
    const expected = dlpCheck.response!(call(), facts(), p, ctx);
    const prepared = facts();
    await dlpCheck.prepareResponse!(call(), prepared, p, async () => undefined);
    expect(dlpCheck.response!(call(), prepared, p, ctx)).toEqual(expected);
    expect(expected?.rewrites).toHaveLength(21);
  });
});
