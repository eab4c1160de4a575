// budget: spending caps in USD. Per policy, the check keeps what each agent spent on the current UTC
// day and what each session (X-Chaperone-Session) spent, and denies a call once a cap is reached, or
// when the call alone is expected to cost more than the per-request cap.
//
// Caps are checked against settled spend (real usage, after the call); nothing is reserved while a
// call is in flight, so calls running in parallel when a cap is reached may overshoot it by their own
// cost. The per-request cap bounds each of them. A model with no known price is never denied on its
// estimate and adds nothing to the totals.
import type { GovernancePolicy } from '../../api/index.js';
import type { Call } from '../call.js';
import { costOf, estimateCost, formatUsd, priceFor } from '../pricing.js';
import type { CallResult, Check, CheckContext } from './pipeline.js';
import type { Verdict } from './verdict.js';

/** A session idle this long is forgotten (its total restarts from zero if it comes back). */
export const SESSION_IDLE_MS = 24 * 60 * 60 * 1000;
/** Upper bounds on remembered agents (for the current day) and sessions; the least recently used go first. */
export const MAX_AGENTS = 10_000;
export const MAX_SESSIONS = 50_000;

export interface AgentSpend {
  policy: string;
  agent: string;
  /** UTC day, YYYY-MM-DD. */
  day: string;
  spentUsd: number;
}

export interface SessionSpend {
  policy: string;
  session: string;
  spentUsd: number;
  /** ISO time of the last call that settled in this session. */
  lastSeen: string;
}

export interface SpendSnapshot {
  /** The current UTC day, YYYY-MM-DD. */
  day: string;
  agents: AgentSpend[];
  sessions: SessionSpend[];
}

export interface BudgetCheck extends Check {
  /** Totals for the admin status page: agents' spend today and sessions' spend. */
  spendSnapshot(): SpendSnapshot;
}

interface AgentEntry {
  policy: string;
  agent: string;
  day: string;
  usd: number;
}

interface SessionEntry {
  policy: string;
  session: string;
  usd: number;
  lastSeenMs: number;
}

const policyKey = (policy: GovernancePolicy): string => `${policy.metadata.namespace ?? 'default'}/${policy.metadata.name}`;
/** "YYYY-MM-DD" in UTC, computed once per day rather than per call (toISOString is not free). */
let lastDay = { number: NaN, text: '' };
const utcDay = (d: Date): string => {
  const number = Math.floor(d.getTime() / 86_400_000);
  if (number !== lastDay.number) lastDay = { number, text: d.toISOString().slice(0, 10) };
  return lastDay.text;
};
const keyOf = (...parts: string[]): string => parts.join('\u0000');
const addUsd = (a: number, b: number): number => Math.round((a + b) * 1e10) / 1e10;

/** Re-inserts a key so that Map order is least recently used first. */
function touch<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
}

function trimToSize<V>(map: Map<string, V>, max: number): void {
  while (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done) break;
    map.delete(oldest.value);
  }
}

export function createBudgetCheck(clock: () => Date = () => new Date()): BudgetCheck {
  /** policy + agent -> spend on `day`; entries of past days read as zero and are pruned. */
  const agents = new Map<string, AgentEntry>();
  /** policy + session -> spend; least recently settled first. */
  const sessions = new Map<string, SessionEntry>();
  let prunedDay = '';

  const agentSpent = (policy: string, agent: string, day: string): number => {
    const e = agents.get(keyOf(policy, agent));
    return e && e.day === day ? e.usd : 0;
  };

  const sessionSpent = (policy: string, session: string, nowMs: number): number => {
    const e = sessions.get(keyOf(policy, session));
    return e && nowMs - e.lastSeenMs <= SESSION_IDLE_MS ? e.usd : 0;
  };

  /** Drops past days' agent totals (once a day) and idle sessions (oldest first, so this is cheap). */
  const prune = (now: Date): void => {
    const day = utcDay(now);
    if (day !== prunedDay) {
      for (const [k, e] of agents) if (e.day !== day) agents.delete(k);
      prunedDay = day;
    }
    const cutoff = now.getTime() - SESSION_IDLE_MS;
    for (const [k, e] of sessions) {
      if (e.lastSeenMs >= cutoff) break;
      sessions.delete(k);
    }
  };

  return {
    section: 'budget',

    request(call: Call, policy: GovernancePolicy, ctx: CheckContext): Verdict | undefined {
      const spec = policy.spec.budget;
      if (!spec) return undefined;
      const pk = policyKey(policy);
      const deny = (reason: string): Verdict => ({ decision: 'deny', rule: 'budget', policy: pk, reason });

      const dayCap = spec.maxCostPerAgentPerDayUSD;
      if (dayCap !== undefined) {
        const spent = agentSpent(pk, call.agent, utcDay(ctx.now));
        if (spent >= dayCap) return deny(`agent ${call.agent} spent ${formatUsd(spent)} of ${formatUsd(dayCap)} today`);
      }
      const sessionCap = spec.maxCostPerSessionUSD;
      if (sessionCap !== undefined && call.session) {
        const spent = sessionSpent(pk, call.session, ctx.now.getTime());
        if (spent >= sessionCap) return deny(`session ${call.session} spent ${formatUsd(spent)} of ${formatUsd(sessionCap)}`);
      }
      const requestCap = spec.maxCostPerRequestUSD;
      if (requestCap !== undefined) {
        const estimate = estimateCost(call, spec.pricing);
        if (estimate !== undefined && estimate > requestCap) {
          return deny(`estimated cost ${formatUsd(estimate)} of this request exceeds the ${formatUsd(requestCap)} per-request cap`);
        }
      }
      return undefined;
    },

    settle(call: Call, result: CallResult, policy: GovernancePolicy, ctx: CheckContext): void {
      const spec = policy.spec.budget;
      if (!spec) return;
      prune(ctx.now);
      // This policy's own prices win over whatever the data path priced the call at.
      let usd = result.costUsd;
      if (result.usage && spec.pricing?.length && priceFor(call.model, spec.pricing)?.source === 'policy') {
        usd = costOf(call.model, result.usage, spec.pricing);
      }
      if (usd === undefined || !Number.isFinite(usd) || usd <= 0) return;

      const pk = policyKey(policy);
      const nowMs = ctx.now.getTime();
      const day = utcDay(ctx.now);
      const ak = keyOf(pk, call.agent);
      touch(agents, ak, { policy: pk, agent: call.agent, day, usd: addUsd(agentSpent(pk, call.agent, day), usd) });
      trimToSize(agents, MAX_AGENTS);
      if (call.session) {
        const sk = keyOf(pk, call.session);
        touch(sessions, sk, { policy: pk, session: call.session, usd: addUsd(sessionSpent(pk, call.session, nowMs), usd), lastSeenMs: nowMs });
        trimToSize(sessions, MAX_SESSIONS);
      }
    },

    spendSnapshot(): SpendSnapshot {
      const now = clock();
      prune(now);
      const day = utcDay(now);
      return {
        day,
        agents: [...agents.values()]
          .filter((e) => e.day === day)
          .map((e) => ({ policy: e.policy, agent: e.agent, day: e.day, spentUsd: e.usd })),
        sessions: [...sessions.values()].map((e) => ({
          policy: e.policy,
          session: e.session,
          spentUsd: e.usd,
          lastSeen: new Date(e.lastSeenMs).toISOString(),
        })),
      };
    },
  };
}
