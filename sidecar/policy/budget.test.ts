import { beforeEach, describe, expect, it } from 'vitest';
import { validatePolicy, type GovernancePolicy } from '../../api/index.js';
import type { Call } from '../call.js';
import { createBudgetCheck, RESERVATION_TTL_MS, SESSION_IDLE_MS, type BudgetCheck } from './budget.js';
import { Pipeline, type CallResult } from './pipeline.js';

function policy(name: string, spec: object): GovernancePolicy {
  const { policy, errors } = validatePolicy({ apiVersion: 'chaperone.dev/v1alpha1', kind: 'GovernancePolicy', metadata: { name, namespace: 'ns' }, spec });
  if (!policy) throw new Error(errors.join('; '));
  return policy;
}

let seq = 0;
function call(over: Partial<Call> = {}): Call {
  return {
    id: String(++seq), provider: 'openai', agent: 'writer', host: 'api.openai.com', port: 443, method: 'POST', path: '/v1/chat/completions',
    operation: 'chat.completions', toolsDefined: [], toolCalls: [], texts: [{ path: ['messages', 0, 'content'], text: 'hello' }], stream: false,
    model: 'gpt-4o', maxOutputTokens: 100,
    ...over,
  };
}

const cost = (costUsd: number | undefined, usage = { inputTokens: 1000, outputTokens: 1000 }): CallResult => ({ status: 200, usage, ...(costUsd === undefined ? {} : { costUsd }) });

describe('budget check', () => {
  let now: Date;
  let budget: BudgetCheck;
  let pipeline: Pipeline;
  const clock = (): Date => now;

  beforeEach(() => {
    now = new Date('2025-06-01T10:00:00Z');
    budget = createBudgetCheck(clock);
    pipeline = new Pipeline([budget], clock);
  });

  /** Evaluates a call, and settles it with a cost when it goes through. */
  function run(c: Call, policies: GovernancePolicy[], result?: CallResult) {
    const out = pipeline.evaluateRequest(c, policies);
    if (result && out.final.decision !== 'deny') pipeline.settle(c, result, policies);
    return out.final;
  }

  it.each([
    // [caps, estimate-relevant call fields, expected decision]
    ['under the per-request cap', { maxCostPerRequestUSD: 0.01 }, { maxOutputTokens: 100 }, 'allow'],
    ['over the per-request cap', { maxCostPerRequestUSD: 0.01 }, { maxOutputTokens: 10_000 }, 'deny'],
    ['unknown price is never denied on its estimate', { maxCostPerRequestUSD: 0.000001 }, { model: 'in-house-7b', maxOutputTokens: 1_000_000 }, 'allow'],
    ['no model at all', { maxCostPerRequestUSD: 0.000001 }, { model: undefined }, 'allow'],
    ['policy pricing makes it free', { maxCostPerRequestUSD: 0.01, pricing: [{ model: 'gpt-4o*', inputPerMTokUSD: 0, outputPerMTokUSD: 0 }] }, { maxOutputTokens: 10_000 }, 'allow'],
    ['policy pricing makes it dear', { maxCostPerRequestUSD: 0.01, pricing: [{ model: 'gpt-4o*', inputPerMTokUSD: 1000, outputPerMTokUSD: 1000 }] }, { maxOutputTokens: 100 }, 'deny'],
  ])('per request: %s', (_name, spec, fields, decision) => {
    expect(run(call(fields as Partial<Call>), [policy('p', { budget: spec })]).decision).toBe(decision);
  });

  it('explains a per-request denial with the estimate and the cap', () => {
    // 2 input tokens ($0.000005) + 10,000 output tokens ($0.10) of gpt-4o
    const v = run(call({ maxOutputTokens: 10_000 }), [policy('p', { budget: { maxCostPerRequestUSD: 0.05 } })]);
    expect(v).toMatchObject({ decision: 'deny', rule: 'budget', policy: 'ns/p' });
    expect(v.reason).toBe('estimated cost $0.10 of this request exceeds the $0.05 per-request cap');
  });

  it('denies an agent once its spend today reaches the cap, and only that agent', () => {
    const p = [policy('p', { budget: { maxCostPerAgentPerDayUSD: 50 } })];
    expect(run(call(), p, cost(30)).decision).toBe('allow');
    expect(run(call(), p, cost(20.02)).decision).toBe('allow'); // 30 < 50 when it asked
    const v = run(call(), p);
    expect(v).toMatchObject({ decision: 'deny', rule: 'budget', policy: 'ns/p', reason: 'agent writer spent $50.02 of $50.00 today' });
    expect(run(call({ agent: 'reader' }), p).decision).toBe('allow');
  });

  it('starts a new day at UTC midnight', () => {
    const p = [policy('p', { budget: { maxCostPerAgentPerDayUSD: 1 } })];
    now = new Date('2025-06-01T23:59:59Z');
    run(call(), p, cost(1));
    expect(run(call(), p).decision).toBe('deny');
    now = new Date('2025-06-02T00:00:00Z');
    expect(run(call(), p).decision).toBe('allow');
    expect(budget.spendSnapshot().agents).toEqual([]); // yesterday's total is gone
    run(call(), p, cost(0.25));
    expect(budget.spendSnapshot()).toMatchObject({ day: '2025-06-02', agents: [{ policy: 'ns/p', agent: 'writer', day: '2025-06-02', spentUsd: 0.25 }] });
  });

  it('caps a session across agents, and ignores calls without a session', () => {
    const p = [policy('p', { budget: { maxCostPerSessionUSD: 2 } })];
    run(call({ session: 's1' }), p, cost(1.5));
    run(call({ session: 's1', agent: 'reader' }), p, cost(0.5));
    expect(run(call({ session: 's1', agent: 'third' }), p)).toMatchObject({ decision: 'deny', reason: 'session s1 spent $2.00 of $2.00' });
    expect(run(call({ session: 's2' }), p).decision).toBe('allow');
    expect(run(call(), p).decision).toBe('allow');
  });

  it('forgets idle sessions', () => {
    const p = [policy('p', { budget: { maxCostPerSessionUSD: 1 } })];
    run(call({ session: 'old' }), p, cost(1));
    expect(run(call({ session: 'old' }), p).decision).toBe('deny');
    now = new Date(now.getTime() + SESSION_IDLE_MS + 1000);
    expect(run(call({ session: 'old' }), p).decision).toBe('allow');
    expect(budget.spendSnapshot().sessions).toEqual([]);
  });

  it('keeps spend per policy, each with its own caps', () => {
    const small = policy('small', { budget: { maxCostPerAgentPerDayUSD: 1 } });
    const large = policy('large', { budget: { maxCostPerAgentPerDayUSD: 100 } });
    run(call(), [small, large], cost(5));
    expect(run(call(), [small, large])).toMatchObject({ decision: 'deny', policy: 'ns/small' });
    expect(run(call(), [large]).decision).toBe('allow');
    expect(budget.spendSnapshot().agents.map((a) => [a.policy, a.spentUsd])).toEqual([['ns/small', 5], ['ns/large', 5]]);
  });

  it('settles with the policy\'s own pricing when it matches the model, else with the data path\'s cost', () => {
    const own = policy('own', { budget: { maxCostPerAgentPerDayUSD: 100, pricing: [{ model: 'gpt-4o*', inputPerMTokUSD: 1000, outputPerMTokUSD: 0 }] } });
    const other = policy('other', { budget: { maxCostPerAgentPerDayUSD: 100, pricing: [{ model: 'claude-*', inputPerMTokUSD: 1, outputPerMTokUSD: 1 }] } });
    const none = policy('none', { budget: { maxCostPerAgentPerDayUSD: 100 } });
    run(call(), [own, other, none], cost(0.0125)); // 1000 input tokens at $1000/M = $1
    const spent = Object.fromEntries(budget.spendSnapshot().agents.map((a) => [a.policy, a.spentUsd]));
    expect(spent).toEqual({ 'ns/own': 1, 'ns/other': 0.0125, 'ns/none': 0.0125 });
  });

  it('adds nothing for calls of unknown price or that cost nothing', () => {
    const p = [policy('p', { budget: { maxCostPerAgentPerDayUSD: 1 } })];
    run(call({ model: 'mystery' }), p, cost(undefined));
    run(call(), p, { status: 502, failure: 'server_error' });
    expect(budget.spendSnapshot().agents).toEqual([]);
  });

  it('audits instead of denying in audit mode, and keeps counting when the section is off', () => {
    const audit = [policy('p', { budget: { mode: 'audit', maxCostPerAgentPerDayUSD: 1 } })];
    run(call(), audit, cost(2));
    expect(run(call(), audit)).toMatchObject({ decision: 'audit', rule: 'budget' });

    const off = policy('q', { budget: { mode: 'off', maxCostPerAgentPerDayUSD: 1 } });
    run(call({ agent: 'quiet' }), [off], cost(3));
    expect(run(call({ agent: 'quiet' }), [off]).decision).toBe('allow');
    // switched on, the state is already true
    const on = policy('q', { budget: { maxCostPerAgentPerDayUSD: 1 } });
    expect(run(call({ agent: 'quiet' }), [on]).decision).toBe('deny');
  });

  it('never changes state in request()', () => {
    const p = policy('p', { budget: { maxCostPerAgentPerDayUSD: 1, maxCostPerSessionUSD: 1, maxCostPerRequestUSD: 1 } });
    for (let i = 0; i < 5; i++) budget.request!(call({ session: 's' }), p, { now });
    expect(budget.spendSnapshot()).toEqual({ day: '2025-06-01', agents: [], sessions: [] });
  });

  it('reports sessions with their last activity', () => {
    const p = [policy('p', { budget: { maxCostPerSessionUSD: 10 } })];
    run(call({ session: 's1' }), p, cost(0.1));
    run(call({ session: 's1' }), p, cost(0.2));
    expect(budget.spendSnapshot().sessions).toEqual([{ policy: 'ns/p', session: 's1', spentUsd: 0.3, lastSeen: '2025-06-01T10:00:00.000Z' }]);
  });

  describe('reserve, then settle', () => {
    // gpt-4o: $2.50 / $10 per million tokens. 'hello' is 2 input tokens ($0.000005).
    const worstOf = (maxOutputTokens: number) => 0.000005 + maxOutputTokens / 100_000;
    const admit = (c: Call, policies: GovernancePolicy[]) => pipeline.evaluateRequest(c, policies).final;
    const settleAt = (c: Call, policies: GovernancePolicy[], usd: number) => pipeline.settle(c, cost(usd), policies);

    it('lets 20 parallel calls of ~$0.41 against a $0.50 cap spend at most the cap plus one call\'s estimate error', () => {
      const p = [policy('p', { budget: { maxCostPerAgentPerDayUSD: 0.5 } })];
      const calls = Array.from({ length: 20 }, () => call({ maxOutputTokens: 41_000 }));
      const admitted = calls.filter((c) => admit(c, p).decision === 'allow');
      expect(admitted).toHaveLength(1);
      // The rest are told why, in flight included.
      expect(admit(call({ maxOutputTokens: 41_000 }), p)).toMatchObject({
        decision: 'deny', rule: 'budget',
        reason: 'agent writer spent $0.00 of $0.50 today, calls in flight may cost up to $0.41 more, and this call may cost up to $0.41',
      });
      expect(budget.spendSnapshot().agents).toEqual([]);
      // Its real input was larger than estimated (the estimate error): $0.002 more than reserved.
      for (const c of admitted) settleAt(c, p, worstOf(41_000) + 0.002);
      const spent = budget.spendSnapshot().agents[0]!.spentUsd;
      expect(spent).toBeLessThanOrEqual(0.5 + 0.002);
    });

    it('admits as many parallel calls as fit, and never reserves past the cap', () => {
      const p = [policy('p', { budget: { maxCostPerAgentPerDayUSD: 0.5 } })];
      const decisions = Array.from({ length: 10 }, () => admit(call({ maxOutputTokens: 10_000 }), p).decision);
      expect(decisions.filter((d) => d === 'allow')).toHaveLength(4); // 5 × $0.100005 > $0.50
      expect(budget.spendSnapshot().agents).toEqual([]);
    });

    it('reserves the model\'s max output when the caller names no cap', () => {
      const p = [policy('p', { budget: { maxCostPerAgentPerDayUSD: 0.17 } })];
      // gpt-4o answers at most 16,384 tokens: $0.16384 + input; another $0.01 does not fit.
      expect(admit(call({ maxOutputTokens: undefined }), p).decision).toBe('allow');
      expect(admit(call({ maxOutputTokens: 1_000 }), p)).toMatchObject({ decision: 'deny', reason: expect.stringMatching(/in flight may cost up to \$0\.1638 more/) });
    });

    it('refunds on settle: the reservation gives way to the real cost, or to nothing when the call failed', () => {
      const p = [policy('p', { budget: { maxCostPerAgentPerDayUSD: 0.5 } })];
      const a = call({ maxOutputTokens: 41_000 });
      const b = call({ maxOutputTokens: 41_000 });
      expect(admit(a, p).decision).toBe('allow');
      expect(admit(b, p).decision).toBe('deny');
      settleAt(a, p, 0.01); // it answered briefly
      expect(budget.spendSnapshot().agents[0]).toEqual({ policy: 'ns/p', agent: 'writer', day: '2025-06-01', spentUsd: 0.01 });
      expect(admit(b, p).decision).toBe('allow');
      pipeline.settle(b, { status: 502, failure: 'server_error' }, p); // no usage: released, nothing charged
      expect(budget.spendSnapshot().agents[0]!.spentUsd).toBe(0.01);
      expect(admit(call({ maxOutputTokens: 41_000 }), p).decision).toBe('allow');
    });

    it('shows what is reserved in the snapshot while calls are in flight', () => {
      const p = [policy('p', { budget: { maxCostPerAgentPerDayUSD: 10, maxCostPerSessionUSD: 10 } })];
      run(call({ session: 's' }), p, cost(1));
      const c = call({ session: 's', maxOutputTokens: 10_000 });
      admit(c, p);
      const snap = budget.spendSnapshot();
      expect(snap.agents[0]).toMatchObject({ spentUsd: 1, reservedUsd: 0.100005 });
      expect(snap.sessions[0]).toMatchObject({ spentUsd: 1, reservedUsd: 0.100005 });
      settleAt(c, p, 0.05);
      expect(budget.spendSnapshot().agents[0]).toEqual({ policy: 'ns/p', agent: 'writer', day: '2025-06-01', spentUsd: 1.05 });
    });

    it('reserves against the session too, across agents', () => {
      const p = [policy('p', { budget: { maxCostPerSessionUSD: 0.5 } })];
      expect(admit(call({ session: 's', maxOutputTokens: 41_000 }), p).decision).toBe('allow');
      expect(admit(call({ session: 's', agent: 'reader', maxOutputTokens: 41_000 }), p)).toMatchObject({ decision: 'deny', reason: expect.stringMatching(/^session s spent \$0\.00 of \$0\.50, calls in flight/) });
      expect(admit(call({ session: 't', maxOutputTokens: 41_000 }), p).decision).toBe('allow');
    });

    it('lets a call larger than the cap go only on an empty total', () => {
      const p = [policy('p', { budget: { maxCostPerAgentPerDayUSD: 0.5 } })];
      const big = call({ maxOutputTokens: 100_000 }); // $1.00
      expect(admit(big, p).decision).toBe('allow');
      expect(admit(call({ maxOutputTokens: 100 }), p).decision).toBe('deny'); // while it is in flight
      settleAt(big, p, 0.2);
      expect(admit(call({ maxOutputTokens: 100_000 }), p)).toMatchObject({ decision: 'deny', reason: 'agent writer spent $0.20 of $0.50 today, and this call may cost up to $1.00' });
      expect(admit(call({ maxOutputTokens: 100 }), p).decision).toBe('allow');
    });

    it('forgets a reservation never settled (a client that vanished) after a few minutes', () => {
      const p = [policy('p', { budget: { maxCostPerAgentPerDayUSD: 0.5 } })];
      expect(admit(call({ maxOutputTokens: 41_000 }), p).decision).toBe('allow');
      now = new Date(now.getTime() + RESERVATION_TTL_MS - 1000);
      expect(admit(call({ maxOutputTokens: 41_000 }), p).decision).toBe('deny');
      now = new Date(now.getTime() + 2000);
      // Expired reservations no longer count, even before a sweep removes them.
      expect(admit(call({ maxOutputTokens: 41_000 }), p).decision).toBe('allow');
    });

    it('takes a shorter reservation TTL as an option', () => {
      budget = createBudgetCheck(clock, { reservationTtlMs: 1000 });
      pipeline = new Pipeline([budget], clock);
      const p = [policy('p', { budget: { maxCostPerAgentPerDayUSD: 0.5 } })];
      admit(call({ maxOutputTokens: 41_000 }), p);
      now = new Date(now.getTime() + 1001);
      expect(admit(call({ maxOutputTokens: 41_000 }), p).decision).toBe('allow');
    });

    it('reserves nothing for a model of unknown price, nor without a total cap', () => {
      const unknown = [policy('p', { budget: { maxCostPerAgentPerDayUSD: 0.000001 } })];
      for (let i = 0; i < 5; i++) expect(admit(call({ model: 'in-house-7b', maxOutputTokens: 1_000_000 }), unknown).decision).toBe('allow');
      const perRequestOnly = [policy('q', { budget: { maxCostPerRequestUSD: 1 } })];
      for (let i = 0; i < 5; i++) expect(admit(call({ maxOutputTokens: 41_000 }), perRequestOnly).decision).toBe('allow');
      expect(budget.spendSnapshot().agents).toEqual([]);
    });

    it('in audit mode notes the calls that would not fit, lets them go, and settles them all', () => {
      const p = [policy('p', { budget: { mode: 'audit', maxCostPerAgentPerDayUSD: 0.5 } })];
      const calls = Array.from({ length: 5 }, () => call({ maxOutputTokens: 41_000 }));
      expect(calls.map((c) => admit(c, p).decision)).toEqual(['allow', 'audit', 'audit', 'audit', 'audit']);
      for (const c of calls) settleAt(c, p, 0.1);
      expect(budget.spendSnapshot().agents[0]).toEqual({ policy: 'ns/p', agent: 'writer', day: '2025-06-01', spentUsd: 0.5 });
      expect(admit(call({ maxOutputTokens: 100 }), p)).toMatchObject({ decision: 'audit', reason: 'agent writer spent $0.50 of $0.50 today' });
    });

    it('settles the reservation of a policy reloaded meanwhile (same name, new object)', () => {
      const before = [policy('p', { budget: { maxCostPerAgentPerDayUSD: 0.5 } })];
      const after = [policy('p', { budget: { maxCostPerAgentPerDayUSD: 0.6 } })];
      const c = call({ maxOutputTokens: 41_000 });
      admit(c, before);
      expect(admit(call({ maxOutputTokens: 10_000 }), after).decision).toBe('allow'); // 0.41 + 0.10 <= 0.60
      settleAt(c, after, 0.01);
      expect(admit(call({ maxOutputTokens: 50_000 }), after).decision).toBe('deny'); // $0.01 spent + $0.10 in flight + $0.50 > $0.60
      expect(admit(call({ maxOutputTokens: 40_000 }), after).decision).toBe('allow'); // the $0.41 reservation is gone
    });
  });
});
