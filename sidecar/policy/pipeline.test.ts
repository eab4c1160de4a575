import { describe, expect, it } from 'vitest';
import { validatePolicy, type GovernancePolicy } from '../../api/index.js';
import type { Call } from '../call.js';
import { Pipeline, type Check } from './pipeline.js';
import { blocks, combine } from './verdict.js';

function policy(name: string, spec: object): GovernancePolicy {
  const { policy, errors } = validatePolicy({ apiVersion: 'chaperone.dev/v1alpha1', kind: 'GovernancePolicy', metadata: { name, namespace: 'ns' }, spec });
  if (!policy) throw new Error(errors.join('; '));
  return policy;
}

const call: Call = {
  id: '1', provider: 'openai', agent: 'a', host: 'api.openai.com', port: 443, method: 'POST', path: '/v1/chat/completions',
  operation: 'chat.completions', toolsDefined: [], toolCalls: [], texts: [], stream: false,
};

/** A check that denies every call, in the egress section. */
const denyAll: Check = { section: 'egress', request: (_c, p) => ({ decision: 'deny', rule: 'egress', policy: `${p.metadata.namespace}/${p.metadata.name}`, reason: 'no' }) };
const rateLimitAll: Check = { section: 'rateLimits', request: () => ({ decision: 'rate_limited', rule: 'rate_limit', retryAfterSeconds: 3 }) };

describe('verdict combination', () => {
  it('lets the strictest decision win and keeps every finding', () => {
    const out = combine([{ decision: 'audit', rule: 'dlp' }, { decision: 'deny', rule: 'tools' }, { decision: 'rate_limited', rule: 'rate_limit' }, { decision: 'allow' }]);
    expect(out.final.decision).toBe('deny');
    expect(out.final.rule).toBe('tools');
    expect(out.findings.map((f) => f.rule)).toEqual(['dlp', 'tools', 'rate_limit']);
  });
  it('collects rewrites from every redacting verdict', () => {
    const out = combine([{ decision: 'redact', rewrites: [{ path: ['a'], text: 'x' }] }, { decision: 'redact', rewrites: [{ path: ['b'], text: 'y' }] }]);
    expect(out.final.decision).toBe('redact');
    expect(out.rewrites).toHaveLength(2);
  });
  it('knows which decisions stop a call', () => {
    expect(['allow', 'audit', 'redact'].map((d) => blocks(d as never))).toEqual([false, false, false]);
    expect(['hold', 'rate_limited', 'circuit_open', 'deny'].map((d) => blocks(d as never))).toEqual([true, true, true, true]);
  });
});

describe('pipeline modes', () => {
  const pipeline = new Pipeline([denyAll, rateLimitAll]);

  it('passes every call when no policy selects the pod', () => {
    expect(pipeline.evaluateRequest(call, []).final.decision).toBe('allow');
  });
  it('enforces by default and skips sections a policy does not have', () => {
    const out = pipeline.evaluateRequest(call, [policy('p', { egress: {} })]);
    expect(out.final).toMatchObject({ decision: 'deny', policy: 'ns/p' });
    expect(out.findings).toHaveLength(1);
  });
  it('turns a stop into an audit note when the policy or the section says audit', () => {
    expect(pipeline.evaluateRequest(call, [policy('p', { mode: 'audit', egress: {} })]).final.decision).toBe('audit');
    expect(pipeline.evaluateRequest(call, [policy('p', { egress: { mode: 'audit' } })]).final.decision).toBe('audit');
  });
  it('drops a section that is off, even when the policy enforces', () => {
    expect(pipeline.evaluateRequest(call, [policy('p', { egress: { mode: 'off' }, rateLimits: { requestsPerMinute: 1 } })]).final.decision).toBe('rate_limited');
  });
  it('makes a call pass all selected policies: the strictest answer wins', () => {
    const out = pipeline.evaluateRequest(call, [policy('audit-only', { mode: 'audit', egress: {} }), policy('strict', { rateLimits: { requestsPerMinute: 1 } })]);
    expect(out.final.decision).toBe('rate_limited');
    expect(out.findings.map((f) => f.decision)).toEqual(['audit', 'rate_limited']);
  });
});
