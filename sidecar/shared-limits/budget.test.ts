// Fleet-wide budgets: the budget check with a StoreSpendLedger over a real redis-server. Several
// "replicas" (each its own budget check and local state) share one store: parallel calls cannot take
// the day's total past its cap, a replica that starts afresh (a restarted sidecar) continues from the
// day's spend, an abandoned reservation expires, and while the store is away onStoreFailure holds and
// the charges made meanwhile reach the store when it is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisCommand, type RedisServer } from '../../e2e/harness/redis.js';
import { validatePolicy, type GovernancePolicy } from '../../api/index.js';
import type { Call } from '../call.js';
import { costOf } from '../policy/pricing.js';
import { createBudgetCheck, utcDay } from '../policy/budget.js';
import { noPause, Pipeline, type CallResult } from '../policy/pipeline.js';
import { agentDayKey, sessionKey } from '../policy/shared-limit-keys.js';
import { AGENT_DAY_TTL_MS, StoreSpendLedger } from './spend-ledger.js';
import type { SharedLimitStore } from './store.js';
import { startStore, waitUp, type StoreFixture } from './testing.js';

let redis: RedisServer;
let store: SharedLimitStore;
let prefixN = 0;
let seq = 0;
const today = (): string => utcDay(new Date());

let fixture: StoreFixture | undefined;
beforeAll(async () => {
  fixture = await startStore();
  ({ redis, store } = fixture);
});
afterAll(async () => {
  await fixture?.stop();
});

// $1 per 1,000 output tokens: a call with max_tokens 100 may cost up to $0.10 (+ its input).
const PRICING = [{ model: 'priced-model', inputPerMTokUSD: 1, outputPerMTokUSD: 1000 }];

function policy(name: string, budget: object): GovernancePolicy {
  const { policy, errors } = validatePolicy({ apiVersion: 'chaperone.dev/v1alpha1', kind: 'GovernancePolicy', metadata: { name, namespace: 'ns' }, spec: { budget: { pricing: PRICING, ...budget } } });
  if (!policy) throw new Error(errors.join('; '));
  return policy;
}

function call(over: Partial<Call> = {}): Call {
  return {
    id: `b${++seq}`, provider: 'openai', agent: 'writer', host: 'api.openai.com', port: 443, method: 'POST', path: '/v1/chat/completions',
    operation: 'chat.completions', toolsDefined: [], toolCalls: [], texts: [{ path: ['messages', 0, 'content'], text: 'hello' }], stream: false,
    model: 'priced-model', maxOutputTokens: 100,
    ...over,
  };
}

/** A call's answer: `output` tokens used, priced as the data path prices it. */
const answer = (output: number): CallResult => {
  const usage = { inputTokens: 10, outputTokens: output };
  return { status: 200, usage, costUsd: costOf('priced-model', usage, PRICING)! };
};

interface Replica {
  pipeline: Pipeline;
  ledger: StoreSpendLedger;
}

/** `n` sidecars' budget checks sharing the store under one key prefix. */
function fleet(n: number, reservationTtlMs?: number): { replicas: Replica[]; prefix: string; start: () => Replica } {
  const prefix = `tb${++prefixN}:`;
  const start = (): Replica => {
    const ledger = new StoreSpendLedger(store, prefix);
    const check = createBudgetCheck(undefined, { ledger, ...(reservationTtlMs ? { reservationTtlMs } : {}) });
    return { pipeline: new Pipeline([check]), ledger };
  };
  return { replicas: Array.from({ length: n }, start), prefix, start };
}

async function decide(r: Replica, c: Call, policies: GovernancePolicy[]) {
  await r.pipeline.prepareRequest(c, policies, noPause);
  return r.pipeline.evaluateRequest(c, policies).final;
}

const storedSpent = async (key: string): Promise<number> => Number((await hget(key)) ?? 0) / 1e9;

describe('fleet-wide budgets (budget check with a shared store)', () => {
  it('asks to be prepared for every call only with a ledger', () => {
    expect(fleet(1).replicas[0]!.pipeline.preparesEveryCall).toBe(true);
    expect(new Pipeline([createBudgetCheck()]).preparesEveryCall).toBe(false);
  });

  it('3 replicas, 60 concurrent calls, waves until refused: the day total never passes the cap', async () => {
    const { replicas, prefix } = fleet(3);
    const cap = 0.5;
    const p = policy('day', { maxCostPerAgentPerDayUSD: cap });
    let spent = 0;
    let admitted = 0;
    let refusals = 0;
    // Waves of 60 concurrent calls spread over the replicas; each admitted call ends with 60-100
    // output tokens (under its worst case), in its own time; until a whole wave is refused.
    for (let wave = 0; wave < 20; wave++) {
      const calls = Array.from({ length: 60 }, () => call());
      const finals = await Promise.all(calls.map((c, i) => decide(replicas[i % 3]!, c, [p])));
      const passed = calls.filter((_, i) => finals[i]!.decision === 'allow');
      refusals += finals.filter((f) => f.decision === 'deny').length;
      admitted += passed.length;
      await Promise.all(
        passed.map(async (c, i) => {
          await new Promise((r) => setTimeout(r, (i * 7) % 40));
          const result = answer(60 + ((i * 13) % 41));
          spent += result.costUsd!;
          replicas[calls.indexOf(c) % 3]!.pipeline.settle(c, result, [p]);
        }),
      );
      if (passed.length === 0) break;
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(admitted).toBeGreaterThan(4);
    expect(refusals).toBeGreaterThan(50);
    // Every worst case is above the real cost: the cap holds exactly (the input estimate is exact here).
    expect(spent).toBeLessThanOrEqual(cap + 1e-9);
    expect(spent).toBeGreaterThan(cap - 0.1 - 1e-9);
    // The store's total is the sum of what every replica charged.
    expect(await storedSpent(agentDayKey('ns/day', 'writer', today(), prefix))).toBeCloseTo(spent, 9);
    const refused = await decide(replicas[1]!, call(), [p]);
    expect(refused).toMatchObject({ decision: 'deny', rule: 'budget', policy: 'ns/day' });
    expect(refused.reason).toMatch(/^agent writer spent \$0\.\d+ of \$0\.50 today \(fleet-wide\)/);
  });

  it('a replica started afresh (a restarted sidecar) continues from the day and session spend', async () => {
    const { replicas, prefix, start } = fleet(1);
    const p = policy('restart', { maxCostPerAgentPerDayUSD: 0.25, maxCostPerSessionUSD: 0.15 });
    const first = call({ session: 's-1' });
    expect((await decide(replicas[0]!, first, [p])).decision).toBe('allow');
    replicas[0]!.pipeline.settle(first, answer(100), [p]);
    await new Promise((r) => setTimeout(r, 50));
    const restarted = start();
    // Session s-1 spent $0.10 of $0.15: a call that may cost $0.10 more is refused by the store.
    const refused = await decide(restarted, call({ session: 's-1' }), [p]);
    expect(refused.decision).toBe('deny');
    expect(refused.reason).toContain('session s-1 spent $0.10 of $0.15 (fleet-wide)');
    // Another session passes, and takes the agent's day to $0.20 + $0.10 in flight > $0.25...
    const second = call({ session: 's-2' });
    expect((await decide(restarted, second, [p])).decision).toBe('allow');
    const third = await decide(start(), call({ session: 's-3' }), [p]);
    expect(third.reason).toContain('agent writer spent $0.10 of $0.25 today (fleet-wide), calls in flight may cost up to $0.10 more');
    restarted.pipeline.settle(second, answer(100), [p]);
    await new Promise((r) => setTimeout(r, 50));
    // ...and the fleet's view for /status: the agent's spend today, from the store.
    expect(await restarted.ledger.agentsToday('ns', today())).toEqual([{ policy: 'ns/restart', agent: 'writer', day: today(), spentUsd: 0.20002 }]);
    const ttl = Number((await redisCommand(redis.port, 'PTTL', agentDayKey('ns/restart', 'writer', today(), prefix))).slice(1));
    expect(ttl).toBeGreaterThan(AGENT_DAY_TTL_MS - 60_000);
    expect(await redisCommand(redis.port, 'EXISTS', sessionKey('ns/restart', 's-1', prefix))).toBe(':1');
  });

  it('a reservation never settled (a sidecar that died mid-call) expires', async () => {
    const { replicas } = fleet(2, 300);
    const p = policy('abandoned', { maxCostPerAgentPerDayUSD: 0.16 });
    const first = call();
    expect((await decide(replicas[0]!, first, [p])).decision).toBe('allow');
    replicas[0]!.pipeline.settle(first, answer(50), [p]);
    await new Promise((r) => setTimeout(r, 50));
    // $0.05 spent; this call reserves $0.10 and is never settled.
    expect((await decide(replicas[0]!, call(), [p])).decision).toBe('allow');
    expect((await decide(replicas[1]!, call(), [p])).decision).toBe('deny');
    await new Promise((r) => setTimeout(r, 400));
    expect((await decide(replicas[1]!, call(), [p])).decision).toBe('allow');
  });

  it('while the store is away: local judges on the mirror, failOpen passes, failClosed refuses (503); charges reach the store when it is back', async () => {
    const { replicas, prefix } = fleet(2);
    const local = policy('local', { maxCostPerAgentPerDayUSD: 0.25 });
    const open = policy('open', { maxCostPerAgentPerDayUSD: 0.25, onStoreFailure: 'failOpen' });
    const closed = policy('closed', { maxCostPerAgentPerDayUSD: 0.25, onStoreFailure: 'failClosed' });
    // Replica 0 spends $0.20 under `local` while the store is up; replica 1 only reads it (refused).
    for (const output of [100, 100]) {
      const c = call();
      expect((await decide(replicas[0]!, c, [local])).decision).toBe('allow');
      replicas[0]!.pipeline.settle(c, answer(output), [local]);
      await new Promise((r) => setTimeout(r, 30));
    }
    expect((await decide(replicas[1]!, call(), [local])).decision).toBe('deny');
    await redis.kill();
    for (let i = 0; i < 200 && store.up; i++) await new Promise((r) => setTimeout(r, 10));
    try {
      // local: both replicas' mirrors know the fleet's $0.20 (replica 1 read it when refused).
      for (const r of replicas) expect((await decide(r, call(), [local])).decision).toBe('deny');
      // failOpen: the day cap is not judged; the calls' cost is kept for the store.
      const uncounted = [call(), call()];
      for (const c of uncounted) {
        expect((await decide(replicas[0]!, c, [open])).decision).toBe('allow');
        replicas[0]!.pipeline.settle(c, answer(100), [open]);
      }
      expect(replicas[0]!.ledger.pendingCharges).toBe(2);
      const refused = await decide(replicas[1]!, call(), [closed]);
      expect(refused).toMatchObject({ decision: 'circuit_open', rule: 'budget', policy: 'ns/closed' });
      expect(refused.reason).toContain('shared limits store is unavailable');
    } finally {
      await redis.restart();
    }
    await waitUp(store);
    // The restarted store is empty (this test's redis persists nothing): what was charged during the
    // outage arrives with the flush the sidecar runs on reconnect.
    await replicas[0]!.ledger.flush();
    expect(replicas[0]!.ledger.pendingCharges).toBe(0);
    expect(await storedSpent(agentDayKey('ns/open', 'writer', today(), prefix))).toBeCloseTo(0.20002, 9);
    // Counting resumes in the store: failClosed passes again.
    expect((await decide(replicas[1]!, call(), [closed])).decision).toBe('allow');
  });

  it('a session id that is long or not plain ASCII becomes a digest in the key', () => {
    expect(sessionKey('ns/p', 'abc')).toBe('chaperone:budget:ns/p:session:abc');
    expect(sessionKey('ns/p', 'x'.repeat(200))).toMatch(/^chaperone:budget:ns\/p:session:sha256:[0-9a-f]{64}$/);
    expect(sessionKey('ns/p', 'a b\n')).toMatch(/session:sha256:/);
  });
});

async function hget(key: string): Promise<string | undefined> {
  const { connect } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = connect(redis.port, '127.0.0.1');
    let data = '';
    s.setEncoding('utf8');
    s.on('connect', () => s.write(`*3\r\n$4\r\nHGET\r\n$${key.length}\r\n${key}\r\n$5\r\nspent\r\n`));
    s.on('data', (c: string) => {
      data += c;
      const lines = data.split('\r\n');
      if (lines[0] === '$-1') {
        s.end();
        resolve(undefined);
      } else if (lines.length >= 3) {
        s.end();
        resolve(lines[1]);
      }
    });
    s.on('error', reject);
  });
}
