// The rate-limit checks with a shared store: prepare reserves, request() reads the memo, release
// gives back, settle refunds or charges, and onStoreFailure decides while the store is away. The
// store is a real redis-server (e2e/harness/redis.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisCommand, type RedisServer } from '../../e2e/harness/redis.js';
import type { Call } from '../call.js';
import { noPause, Pipeline, type Check } from '../policy/pipeline.js';
import { createRateLimitChecks } from '../policy/rate-limit.js';
import { testCall, testPolicy } from '../policy/testing.js';
import type { SharedLimitStore } from './store.js';
import { startStore, type StoreFixture } from './testing.js';

let redis: RedisServer;
let store: SharedLimitStore;
let prefixN = 0;
let seq = 0;

let fixture: StoreFixture | undefined;
beforeAll(async () => {
  fixture = await startStore();
  ({ redis, store } = fixture);
});
afterAll(async () => {
  await fixture?.stop();
});

/** `replicas` sidecars' pipelines sharing the store (each with its own local state), plus `extra` checks. */
function fleet(replicas: number, extra: Check[] = []) {
  const prefix = `t${++prefixN}:`;
  const errors: Error[] = [];
  return {
    prefix,
    errors,
    pipelines: Array.from({ length: replicas }, () => {
      const checks = createRateLimitChecks({ shared: { store, prefix, onError: (e) => errors.push(e) } });
      return new Pipeline([...extra, checks.rateLimitCheck, checks.egressRateLimitCheck]);
    }),
  };
}

const call = (over: Partial<Call> = {}): Call => testCall({ id: `c${++seq}`, ...over });

/** What the data path does: prepare (async), then decide in one turn. */
async function decide(p: Pipeline, c: Call, policies: ReturnType<typeof testPolicy>[]) {
  await p.prepareRequest(c, policies, noPause);
  return p.evaluateRequest(c, policies).final;
}

describe('fleet-wide rate limits (checks with a shared store)', () => {
  it('asks to be prepared for every call', () => {
    expect(fleet(1).pipelines[0]!.preparesEveryCall).toBe(true);
    expect(new Pipeline([createRateLimitChecks().rateLimitCheck]).preparesEveryCall).toBe(false);
  });

  it('3 replicas share one requestsPerMinute: 60 concurrent calls, exactly 10 pass', async () => {
    const { pipelines } = fleet(3);
    const policy = testPolicy({ rateLimits: { requestsPerMinute: 10 } });
    const finals = await Promise.all(Array.from({ length: 60 }, (_, i) => decide(pipelines[i % 3]!, call(), [policy])));
    expect(finals.filter((f) => f.decision === 'allow')).toHaveLength(10);
    const limited = finals.filter((f) => f.decision === 'rate_limited');
    expect(limited).toHaveLength(50);
    expect(limited[0]).toMatchObject({ rule: 'rate_limit', policy: 'ns/p', retryAfterSeconds: 6 });
    expect(limited[0]!.reason).toBe('rate limit for agent a exceeded (10 requests per minute); retry in 6 s');
  });

  it('keys buckets by namespace/policy, section or egress rule, and agent', async () => {
    const { pipelines, prefix } = fleet(1);
    const policy = testPolicy({ rateLimits: { requestsPerMinute: 5 }, egress: { defaultAction: 'allow', rules: [{ match: 'api.openai.com', action: 'allow', rateLimit: { tokensPerMinute: 10000 } }] } }, 'limits');
    expect((await decide(pipelines[0]!, call({ agent: 'writer', maxOutputTokens: 100 }), [policy])).decision).toBe('allow');
    const exists = async (key: string) => (await redisCommand(redis.port, 'EXISTS', key)) === ':1';
    expect(await exists(`${prefix}ns/limits:rateLimits:writer:requests`)).toBe(true);
    expect(await exists(`${prefix}ns/limits:egress:0:api.openai.com:writer:tokens`)).toBe(true);
  });

  it('settle refunds the unused estimate in the store; release gives a stopped call back', async () => {
    const { pipelines } = fleet(2, [{ section: 'tools', request: (c) => (c.agent === 'blocked' ? { decision: 'deny', rule: 'tools', reason: 'no' } : undefined) }]);
    const policy = testPolicy({ tools: { defaultAction: 'allow' }, rateLimits: { tokensPerMinute: 1000, requestsPerMinute: 100 } });
    const first = call({ maxOutputTokens: 900 });
    expect((await decide(pipelines[0]!, first, [policy])).decision).toBe('allow');
    // The other replica sees the 900 reserved.
    expect((await decide(pipelines[1]!, call({ maxOutputTokens: 500 }), [policy])).decision).toBe('rate_limited');
    pipelines[0]!.settle(first, { status: 200, usage: { inputTokens: 50, outputTokens: 50 } }, [policy]);
    await new Promise((r) => setTimeout(r, 50));
    expect((await decide(pipelines[1]!, call({ maxOutputTokens: 500 }), [policy])).decision).toBe('allow');

    // A call another check stops gives its reservation back.
    const policy2 = testPolicy({ tools: { defaultAction: 'allow' }, rateLimits: { requestsPerMinute: 1 } }, 'one');
    expect((await decide(pipelines[0]!, call({ agent: 'blocked' }), [policy2])).decision).toBe('deny');
    await new Promise((r) => setTimeout(r, 50));
    expect((await decide(pipelines[1]!, call({ agent: 'blocked' }), [policy2])).decision).toBe('deny');
  });

  it('audit mode charges the store for calls over the limit, as the local buckets do', async () => {
    const { pipelines } = fleet(2);
    const audited = testPolicy({ rateLimits: { mode: 'audit', requestsPerMinute: 2 } }, 'audited');
    const finals = [];
    for (let i = 0; i < 4; i++) finals.push((await decide(pipelines[i % 2]!, call(), [audited])).decision);
    expect(finals).toEqual(['allow', 'allow', 'audit', 'audit']);
    await new Promise((r) => setTimeout(r, 50));
    // The same policy enforced: the bucket is 2 below empty, so the wait is a whole minute
    // (30 s if the audited calls over the limit had not been charged).
    const enforced = testPolicy({ rateLimits: { requestsPerMinute: 2 } }, 'audited');
    const limited = await decide(pipelines[0]!, call(), [enforced]);
    expect(limited.decision).toBe('rate_limited');
    expect(limited.retryAfterSeconds).toBeGreaterThan(50);
  });

  it('while the store is away: local counts per replica, failOpen passes, failClosed refuses (503); then it resumes', async () => {
    const { pipelines, errors } = fleet(2);
    const local = testPolicy({ rateLimits: { requestsPerMinute: 2 } }, 'local');
    const open = testPolicy({ rateLimits: { requestsPerMinute: 2, onStoreFailure: 'failOpen' } }, 'open');
    const closed = testPolicy({ rateLimits: { requestsPerMinute: 2, onStoreFailure: 'failClosed' } }, 'closed');
    await redis.kill();
    for (let i = 0; i < 200 && store.up; i++) await new Promise((r) => setTimeout(r, 10));
    try {
      // local: each replica holds the limit on its own (2 each).
      const perReplica = await Promise.all(pipelines.map(async (p) => {
        const out = [];
        for (let i = 0; i < 4; i++) out.push((await decide(p, call(), [local])).decision);
        return out;
      }));
      expect(perReplica).toEqual([['allow', 'allow', 'rate_limited', 'rate_limited'], ['allow', 'allow', 'rate_limited', 'rate_limited']]);
      for (let i = 0; i < 4; i++) expect((await decide(pipelines[0]!, call(), [open])).decision).toBe('allow');
      const refused = await decide(pipelines[0]!, call(), [closed]);
      expect(refused).toMatchObject({ decision: 'circuit_open', rule: 'rate_limit', policy: 'ns/closed' });
      expect(refused.reason).toContain('shared limits store is unavailable');
    } finally {
      await redis.restart();
    }
    for (let i = 0; i < 200 && !store.up; i++) await new Promise((r) => setTimeout(r, 25));
    expect(store.up).toBe(true);
    // Counting resumes in the (restarted, empty) store: 2 fleet-wide.
    const after = [];
    for (let i = 0; i < 4; i++) after.push((await decide(pipelines[i % 2]!, call(), [closed])).decision);
    expect(after).toEqual(['allow', 'allow', 'rate_limited', 'rate_limited']);
    expect(errors).toEqual([]); // the store was known to be down: no command was even tried
  });
});
