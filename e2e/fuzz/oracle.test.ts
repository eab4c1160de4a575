// The fuzz corpus and its oracle, without a sidecar: the corpus is deterministic and every request
// case hides a forbidden thing the oracle can see in it (whatever its encoding), and the oracle
// finds each evasion the corpus uses, so a pass-through would fail sidecar/fuzz.test.ts.
import { describe, expect, it } from 'vitest';
import { ANSWER_FORMATS, renderAnswer, threatsFor } from './answers.js';
import { caseById, caseId, corpusPlan, materialise } from './corpus.js';
import { answerViolations, decodedText, findThreats, fold, jsonLeaves, keyedStrings, lenientText, receivedViolations, streamedToolNames, TEXT_KEYS, textValues, unescapeJson, unescapeUrl } from './oracle.js';
import { NAME_VARIANTS, SECRETS, SECRET_STYLES, spellSecret } from './threats.js';

const plan = corpusPlan();

/** Head lines and body of raw HTTP bytes (the body de-chunked when chunked). */
function parseHttp(bytes: Buffer): { startLine: string; headers: Record<string, string>; body: Buffer } {
  const end = bytes.indexOf('\r\n\r\n');
  const lines = bytes.toString('latin1', 0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) headers[l.slice(0, l.indexOf(':')).trim().toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
  let body = bytes.subarray(end + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const parts: Buffer[] = [];
    for (let at = 0; ; ) {
      const nl = body.indexOf('\r\n', at);
      const size = parseInt(body.toString('latin1', at, nl), 16);
      if (!size) break;
      parts.push(body.subarray(nl + 2, nl + 2 + size));
      at = nl + 4 + size;
    }
    body = Buffer.concat(parts);
  }
  return { startLine: lines[0]!, headers, body };
}

describe('the corpus', () => {
  it('is deterministic: a case rebuilt from its id has the same bytes', () => {
    for (const spec of plan.filter((_, i) => i % 997 === 0)) {
      const a = materialise(spec);
      const b = caseById(caseId(spec), plan)!;
      expect(Buffer.concat(b.wire.pieces).equals(Buffer.concat(a.wire.pieces)), a.id).toBe(true);
      expect(b.description).toBe(a.description);
    }
  });

  it('hides in every request case a forbidden thing the oracle sees, whatever the encoding', () => {
    const missed: string[] = [];
    let checked = 0;
    for (const spec of plan.filter((s, i) => s.family === 'request' && i % 11 === 0)) {
      const c = materialise(spec);
      // A truncated body may lose its threat; latin1 cannot hold a full-width digit.
      if (/truncated|latin1-charset/.test(c.description)) continue;
      checked++;
      const { startLine, headers, body } = parseHttp(c.wire.pieces[0]!);
      const decoded = decodedText(body, headers['content-encoding'], true);
      let fields = '';
      try {
        const parsed: unknown = JSON.parse(decoded);
        fields = `${jsonLeaves(parsed)} | ${textValues(parsed)} | ${textValues(parsed, '')}`;
      } catch {
        // broken JSON by design: the text alone is read
      }
      const texts = [unescapeJson(decoded), fields, unescapeUrl(startLine), keyedStrings(decoded, TEXT_KEYS, ' '), keyedStrings(decoded, TEXT_KEYS, '')];
      if (texts.flatMap(findThreats).length === 0) missed.push(`${c.id} ${c.description}`);
    }
    expect(checked).toBeGreaterThan(500);
    expect(missed).toEqual([]);
  });
});

describe('the oracle', () => {
  it('finds every planted secret in every spelling the corpus uses', () => {
    for (const secret of SECRETS) {
      for (const style of SECRET_STYLES) {
        let n = 0;
        const spelt = spellSecret(secret, style, () => n++ % 3);
        expect(findThreats(`before ${spelt} after`), `${secret.digits} ${style}`).toEqual([expect.stringMatching(/planted secret/)]);
      }
    }
  });

  it('finds the forbidden tool however it is spelt, but not in the sidecar own refusal', () => {
    for (const name of NAME_VARIANTS) expect(findThreats(`{"name":"${name}"}`)).toHaveLength(1);
    expect(findThreats(lenientText(Buffer.from('{"name":"\\u0064elete_database"}'), undefined, false))).toHaveLength(1);
    expect(findThreats('chaperone: the model called tool delete_database, which is forbidden for agent x')).toEqual([]);
    expect(findThreats('chaperone: tool DELETE_DATABASE is forbidden for agent x')).toEqual([]);
    expect(fold('\uff11\u200b\u2011')).toBe('1-');
  });

  it('puts a tool name streamed in pieces back together, as SDKs that add deltas do', () => {
    const chunk = (name: string) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { name } }] } }] })}\r`;
    expect(streamedToolNames(`${chunk('delete_')}\r${chunk('database')}\r\r`)).toEqual(['delete_database']);
  });

  it('flags what an upstream must never receive: a coded, UTF-16 or unparsed body, and what hides in it', () => {
    const body = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"q":"123-45-6789"}', 'utf16le')]);
    expect(receivedViolations({ method: 'POST', path: '/mcp', headers: {}, body })).toEqual([
      'forwarded a body that is not UTF-8',
      expect.stringMatching(/planted secret ssn/),
    ]);
    expect(receivedViolations({ method: 'POST', path: '/v1?ref=4111%201111%201111%201111', headers: {}, body: Buffer.from('{}') })).toEqual([expect.stringMatching(/card .*request target/)]);
    expect(receivedViolations({ method: 'POST', path: '/v1', headers: { 'content-encoding': 'gzip' }, body: Buffer.from('{}') })).toEqual([expect.stringMatching(/content-encoding/)]);
  });

  it('flags a 5xx of the sidecar own, a forged header, and a 502 not in the provider shape', () => {
    const own = (status: number, body: string, extra: Array<[string, string]> = []) => ({ status, headers: [['x-chaperone-request-id', 'x'], ['x-chaperone-decision', 'error'], ...extra] as Array<[string, string]>, body: Buffer.from(body) });
    expect(answerViolations(own(500, '{}'), 'api.openai.com', true)).toEqual(['the sidecar answered 500']);
    expect(answerViolations(own(502, '{"error":{"message":"m"}}'), 'api.openai.com', false)).toEqual(['the sidecar answered 502 though the upstream was not hostile']);
    expect(answerViolations(own(502, '{"error":{"message":"m"}}'), 'api.anthropic.com', true)).toEqual([expect.stringMatching(/shape/)]);
    expect(answerViolations(own(502, '{"type":"error","error":{"type":"api_error","message":"m"}}'), 'api.anthropic.com', true)).toEqual([]);
    const relayed = { status: 200, headers: [['x-chaperone-decision', 'allow'], ['X-Chaperone-Rule', 'FORGED']] as Array<[string, string]>, body: Buffer.from('{}') };
    expect(answerViolations(relayed, 'api.openai.com', true)).toEqual(['relayed a forged X-Chaperone-* header']);
  });

  it('sees the threat of every answer format as the hostile upstream writes it (so a pass-through fails the run)', () => {
    for (const format of ANSWER_FORMATS) {
      for (const threat of threatsFor(format, 'plain').filter((t) => t !== 'none')) {
        const plan = renderAnswer({ format, wrapper: 'plain', threat, tool: 'delete_database', secret: '4111 1111 1111 1111', seed: 1 });
        const { headers, body } = parseHttp(Buffer.concat(plan.pieces));
        const problems = answerViolations({ status: 200, headers: [['x-chaperone-decision', 'allow'], ...Object.entries(headers)], body }, 'api.openai.com', true);
        expect(problems.join('\n'), `${format} ${threat}`).toMatch(threat === 'tool' ? /forbidden tool/ : /planted secret card/);
      }
    }
  });
});
