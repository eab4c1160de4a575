import { describe, expect, it } from 'vitest';
import { validatePolicy, type GovernancePolicy } from '../../api/index.js';
import type { Call, ResponseFacts } from '../call.js';
import { approvalsCheck } from './approvals.js';
import { Pipeline } from './pipeline.js';

function policy(name: string, tools: string[], extra: object = {}, generation = 1): GovernancePolicy {
  const { policy, errors } = validatePolicy({ apiVersion: 'chaperone.dev/v1alpha1', kind: 'GovernancePolicy', metadata: { name, namespace: 'ns', generation }, spec: { approvals: { tools, ...extra } } });
  if (!policy) throw new Error(errors.join('; '));
  return policy;
}

const call = (toolCalls: Call['toolCalls'], approvedDigests?: string[]): Call => ({
  id: 'req-1', provider: 'mcp', agent: 'bot', host: 'mcp.example.com', port: 443, method: 'POST', path: '/mcp',
  operation: 'tools/call', toolsDefined: [], toolCalls, texts: [], stream: false,
  ...(approvedDigests ? { approvedDigests: new Set(approvedDigests) } : {}),
});
const email = (args: unknown) => ({ name: 'send_email', arguments: args });
const pipeline = new Pipeline([approvalsCheck]);

describe('the approvals check', () => {
  it('holds a listed tool with a digest, a bounded preview and the policy terms', () => {
    const out = pipeline.evaluateRequest(call([email({ to: 'x' }), { name: 'web_search', arguments: {} }]), [policy('a', ['send_*'], { timeoutSeconds: 60, timeoutAction: 'approve' })]);
    expect(out.final).toMatchObject({ decision: 'hold', rule: 'approval', policy: 'ns/a' });
    expect(out.final.holds).toEqual([
      expect.objectContaining({ tool: 'send_email', agent: 'bot', preview: '{"to":"x"}', truncated: false, policy: 'ns/a', policyGeneration: 1, timeoutSeconds: 60, timeoutAction: 'approve', digest: expect.stringMatching(/^[0-9a-f]{64}$/) }),
    ]);
  });

  it('binds to canonical arguments: key order does not matter, values, agent, policy and generation do', () => {
    const digest = (c: Call, p = policy('a', ['send_email'])) => pipeline.evaluateRequest(c, [p]).final.holds![0]!.digest;
    const base = digest(call([email({ to: 'x', subject: 's' })]));
    expect(digest(call([email({ subject: 's', to: 'x' })]))).toBe(base);
    expect(digest(call([email({ subject: 's', to: 'y' })]))).not.toBe(base);
    expect(digest({ ...call([email({ to: 'x', subject: 's' })]), agent: 'other' })).not.toBe(base);
    expect(digest(call([email({ to: 'x', subject: 's' })]), policy('b', ['send_email']))).not.toBe(base);
    expect(digest(call([email({ to: 'x', subject: 's' })]), policy('a', ['send_email'], {}, 2))).not.toBe(base);
  });

  it('lets through exactly the calls the data path found approved', () => {
    const p = [policy('a', ['send_email'])];
    const held = pipeline.evaluateRequest(call([email({ to: 'x' }), email({ to: 'y' })]), p).final.holds!;
    expect(held).toHaveLength(2);
    const one = pipeline.evaluateRequest(call([email({ to: 'x' }), email({ to: 'y' })], [held[0]!.digest]), p).final;
    expect(one.decision).toBe('hold');
    expect(one.holds!.map((h) => h.preview)).toEqual(['{"to":"y"}']);
    expect(pipeline.evaluateRequest(call([email({ to: 'x' }), email({ to: 'y' })], held.map((h) => h.digest)), p).final.decision).toBe('allow');
  });

  it('refuses a call that carries the same held call twice, approved or not: one approval passes one execution', () => {
    const p = [policy('a', ['send_email'])];
    const twice = call([email({ to: 'x' }), email({ to: 'x' })]);
    const out = pipeline.evaluateRequest(twice, p).final;
    expect(out).toMatchObject({ decision: 'deny', rule: 'approval', reason: expect.stringMatching(/same arguments 2 times/) });
    const digest = pipeline.evaluateRequest(call([email({ to: 'x' })]), p).final.holds![0]!.digest;
    expect(pipeline.evaluateRequest(call(twice.toolCalls, [digest]), p).final.decision).toBe('deny');
  });

  it('keeps only a digest and a preview of large arguments', () => {
    const big = { body: 'x'.repeat(2_000_000) };
    const h = pipeline.evaluateRequest(call([email(big)]), [policy('a', ['send_email'])]).final.holds![0]!;
    expect(h.truncated).toBe(true);
    expect(h.preview.length).toBe(1024);
    expect(JSON.stringify(h).length).toBeLessThan(2000);
  });

  it('holds a tool call the model proposes in a whole answer, and flags one in a stream by name', () => {
    const p = [policy('a', ['send_email'])];
    const facts: ResponseFacts = { toolCalls: [email({ to: 'x' })], texts: [] };
    const r = pipeline.evaluateResponse(call([]), facts, p).final;
    expect(r.decision).toBe('hold');
    expect(r.holds![0]!.tool).toBe('send_email');
    const e = pipeline.evaluateStreamEvent(call([]), { type: 'tool_call', name: 'send_email' }, p).final;
    expect(e).toMatchObject({ decision: 'hold', rule: 'approval' });
    expect(e.holds).toBeUndefined();
    expect(pipeline.evaluateStreamEvent(call([]), { type: 'tool_call', name: 'web_search' }, p).final.decision).toBe('allow');
  });

  it('in audit mode only notes the hold', () => {
    const out = pipeline.evaluateRequest(call([email({ to: 'x' })]), [policy('a', ['send_email'], { mode: 'audit' })]);
    expect(out.final.decision).toBe('audit');
    expect(out.final.holds).toBeUndefined();
  });
});
