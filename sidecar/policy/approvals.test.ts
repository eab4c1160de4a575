import { describe, expect, it } from 'vitest';
import { validatePolicy, type GovernancePolicy } from '../../api/index.js';
import { ApprovalStore } from '../approvals.js';
import type { Call } from '../call.js';
import { createApprovalCheck } from './approvals.js';
import { Pipeline } from './pipeline.js';

function policy(name: string, tools: string[], generation = 1): GovernancePolicy {
  const { policy, errors } = validatePolicy({ apiVersion: 'chaperone.dev/v1alpha1', kind: 'GovernancePolicy', metadata: { name, namespace: 'ns', generation }, spec: { approvals: { tools } } });
  if (!policy) throw new Error(errors.join('; '));
  return policy;
}

const call = (args: object, approvalId?: string): Call => ({
  id: String(Math.random()), provider: 'mcp', agent: 'bot', host: 'mcp.example.com', port: 443, method: 'POST', path: '/mcp',
  operation: 'tools/call', toolsDefined: [], toolCalls: [{ name: 'send_email', arguments: args }], texts: [], stream: false,
  ...(approvalId ? { approvalId } : {}),
});

describe('approvals', () => {
  const setup = () => {
    const store = new ApprovalStore();
    return { store, pipeline: new Pipeline([createApprovalCheck(store)]) };
  };
  const hold = (pipeline: Pipeline, store: ApprovalStore, c: Call, policies: GovernancePolicy[]) => {
    const out = pipeline.evaluateRequest(c, policies);
    expect(out.final.decision).toBe('hold');
    return store.hold(out.final.approval!, out.final.policy!);
  };

  it('holds, passes once approved, and is single use', () => {
    const { store, pipeline } = setup();
    const p = [policy('a', ['send_*'])];
    const a = hold(pipeline, store, call({ to: 'x' }), p);
    expect(pipeline.evaluateRequest(call({ to: 'x' }, a.id), p).final.decision).toBe('hold'); // still pending
    store.decide(a.id, true, 'test');
    expect(pipeline.evaluateRequest(call({ to: 'x' }, a.id), p).final.decision).toBe('allow');
    expect(pipeline.evaluateRequest(call({ to: 'x' }, a.id), p).final).toMatchObject({ decision: 'deny', reason: expect.stringMatching(/already used/) });
  });

  it('binds to canonical arguments: key order does not matter, values do', () => {
    const { store, pipeline } = setup();
    const p = [policy('a', ['send_email'])];
    const a = hold(pipeline, store, call({ to: 'x', subject: 's' }), p);
    store.decide(a.id, true, 'test');
    expect(pipeline.evaluateRequest(call({ subject: 's', to: 'y' }, a.id), p).final.decision).toBe('hold');
    expect(pipeline.evaluateRequest(call({ subject: 's', to: 'x' }, a.id), p).final.decision).toBe('allow');
  });

  it('needs one approval per policy that holds the call, all given in one header', () => {
    const { store, pipeline } = setup();
    const p = [policy('a', ['send_email']), policy('b', ['send_*'])];
    const first = hold(pipeline, store, call({ to: 'x' }), p);
    store.decide(first.id, true, 'test');
    const second = hold(pipeline, store, call({ to: 'x' }, first.id), p);
    expect(second.id).not.toBe(first.id);
    store.decide(second.id, true, 'test');
    expect(pipeline.evaluateRequest(call({ to: 'x' }, `${first.id}, ${second.id}`), p).final.decision).toBe('allow');
    expect(store.get(first.id)?.status).toBe('used');
    expect(store.get(second.id)?.status).toBe('used');
  });

  it('a new policy generation needs a new approval', () => {
    const { store, pipeline } = setup();
    const a = hold(pipeline, store, call({ to: 'x' }), [policy('a', ['send_email'], 1)]);
    store.decide(a.id, true, 'test');
    expect(pipeline.evaluateRequest(call({ to: 'x' }, a.id), [policy('a', ['send_email'], 2)]).final.decision).toBe('hold');
  });

  it.each([
    ['reject', 'deny'],
    ['approve', 'allow'],
  ] as const)('after expiry, timeoutAction %s gives a resend %s', (timeoutAction, decision) => {
    let now = new Date('2026-11-21T10:00:00Z');
    const store = new ApprovalStore(() => now);
    const pipeline = new Pipeline([createApprovalCheck(store)]);
    const { policy: p } = validatePolicy({ apiVersion: 'chaperone.dev/v1alpha1', kind: 'GovernancePolicy', metadata: { name: 'a', namespace: 'ns' }, spec: { approvals: { tools: ['send_email'], timeoutSeconds: 60, timeoutAction } } });
    const out = pipeline.evaluateRequest(call({ to: 'x' }), [p!]);
    const a = store.hold(out.final.approval!, out.final.policy!);
    now = new Date(now.getTime() + 61_000);
    expect(store.decide(a.id, true, 'late')).toMatchObject({ status: 409 });
    expect(pipeline.evaluateRequest(call({ to: 'x' }, a.id), [p!]).final.decision).toBe(decision);
  });
});
