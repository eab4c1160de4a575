// budget: spending caps in USD. Per policy, the check keeps what each agent spent on the current UTC
// day and what each session (X-Chaperone-Session) spent, and denies a call that would take a total
// past its cap, or that alone is expected to cost more than the per-request cap.
//
// Reserve, then settle (life cycle in pipeline.ts):
//   request()  pure: denies when settled spend + reservations in flight + this call's reservation
//              would exceed the agent's day cap or the session's cap.
//   admit()    reserves the call's worst-case cost (pricing.ts worstCaseCost: estimated input + the
//              caller's output cap, else the model's max output) against the agent's day total and
//              the session total.
//   settle()   replaces the reservation with the real cost; a call that failed without usage
//              releases it. A reservation never settled (a client that vanished) expires after a
//              few minutes (reservationTtlMs).
// request() and admit() run in one synchronous turn, so parallel calls cannot all pass a cap that
// only some of them fit: they can exceed it only by the error of the input estimate, never by
// whole calls.
//
// Choices:
// - A call whose worst case alone exceeds the cap may go only on an empty total (nothing spent,
//   nothing in flight), as a rate-limited call larger than its bucket needs a full bucket: else a
//   cap smaller than a model's worst case would refuse every call to it for good. That one call may
//   overshoot by its own cost (maxCostPerRequestUSD bounds it); every other call waits for it. An
//   agent that names its output cap (max_tokens...) reserves that much rather than the model's max.
// - The per-request cap is judged on the expected cost (output cap, else DEFAULT_OUTPUT_ESTIMATE
//   tokens), not on the worst case.
// - A model with no known price reserves nothing, is never denied on its estimate and adds nothing
//   to the totals.
// - Reservations count against the agent's current total whatever day they were made on (a call in
//   flight at midnight counts against the new day until it settles, which is the day it is charged to).
import type { GovernancePolicy } from '../../api/index.js';
import type { Call } from '../call.js';
import { costOf, estimateCost, formatUsd, priceFor, worstCaseCost } from './pricing.js';
import type { CallResult, Check, CheckContext } from './pipeline.js';
import type { Verdict } from './verdict.js';

/** A session idle this long is forgotten (its total restarts from zero if it comes back). */
export const SESSION_IDLE_MS = 24 * 60 * 60 * 1000;
/** Upper bounds on remembered agents (for the current day) and sessions; the least recently used go first. */
export const MAX_AGENTS = 10_000;
export const MAX_SESSIONS = 50_000;
/** How long a reservation that is never settled counts (a client that vanished), by default. */
export const RESERVATION_TTL_MS = 5 * 60 * 1000;
/** How often expired reservations are swept (on admit, settle and snapshots). */
const SWEEP_INTERVAL_MS = 60 * 1000;

export interface BudgetOptions {
  /** How long a reservation that is never settled is counted. Default RESERVATION_TTL_MS. */
  reservationTtlMs?: number;
}

export interface AgentSpend {
  policy: string;
  agent: string;
  /** UTC day, YYYY-MM-DD. */
  day: string;
  spentUsd: number;
  /** Worst-case cost of this agent's calls in flight (reserved, not yet settled). */
  reservedUsd?: number;
}

export interface SessionSpend {
  policy: string;
  session: string;
  spentUsd: number;
  /** Worst-case cost of this session's calls in flight. */
  reservedUsd?: number;
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

/** One call's worst-case cost, held against an agent's and a session's totals until it settles. */
interface Reservation {
  usd: number;
  /** ms since the epoch after which it no longer counts. */
  expires: number;
  /** Scope keys (policy + agent, policy + session) it counts against. */
  scopes: string[];
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

const agentScope = (pk: string, agent: string): string => keyOf('agent', pk, agent);
const sessionScope = (pk: string, session: string): string => keyOf('session', pk, session);

export function createBudgetCheck(clock: () => Date = () => new Date(), options: BudgetOptions = {}): BudgetCheck {
  const ttlMs = options.reservationTtlMs ?? RESERVATION_TTL_MS;
  /** policy + call id -> the call's reservation. */
  const reservations = new Map<string, Reservation>();
  /** scope -> the reservations in flight against it. */
  const inFlight = new Map<string, Set<Reservation>>();
  let lastSweep = -Infinity;

  /** What is reserved against a scope now (expired reservations no longer count, swept or not). */
  const reservedUsd = (scope: string, nowMs: number): number => {
    const set = inFlight.get(scope);
    if (!set) return 0;
    let usd = 0;
    for (const r of set) if (r.expires > nowMs) usd = addUsd(usd, r.usd);
    return usd;
  };

  const release = (key: string): void => {
    const r = reservations.get(key);
    if (!r) return;
    reservations.delete(key);
    for (const scope of r.scopes) {
      const set = inFlight.get(scope);
      if (!set) continue;
      set.delete(r);
      if (set.size === 0) inFlight.delete(scope);
    }
  };

  /** Forgets expired reservations, at most once per sweep interval. */
  const sweep = (nowMs: number): void => {
    if (nowMs - lastSweep < SWEEP_INTERVAL_MS) return;
    lastSweep = nowMs;
    for (const [key, r] of reservations) if (r.expires <= nowMs) release(key);
  };

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

      const nowMs = ctx.now.getTime();
      const dayCap = spec.maxCostPerAgentPerDayUSD;
      const sessionCap = spec.maxCostPerSessionUSD;
      const worst = dayCap !== undefined || (sessionCap !== undefined && call.session) ? (worstCaseCost(call, spec.pricing) ?? 0) : 0;
      /** Why the call does not fit this total, if it does not. */
      const overCap = (who: string, spent: number, reserved: number, cap: number, when: string): string | undefined => {
        if (spent >= cap) return `${who} spent ${formatUsd(spent)} of ${formatUsd(cap)}${when}`;
        // On an empty total even a call larger than the cap goes (see the header).
        if ((spent === 0 && reserved === 0) || addUsd(addUsd(spent, reserved), worst) <= cap) return undefined;
        const inFlight = reserved > 0 ? `, calls in flight may cost up to ${formatUsd(reserved)} more,` : ',';
        return `${who} spent ${formatUsd(spent)} of ${formatUsd(cap)}${when}${inFlight} and this call may cost up to ${formatUsd(worst)}`;
      };
      if (dayCap !== undefined) {
        const why = overCap(`agent ${call.agent}`, agentSpent(pk, call.agent, utcDay(ctx.now)), reservedUsd(agentScope(pk, call.agent), nowMs), dayCap, ' today');
        if (why) return deny(why);
      }
      if (sessionCap !== undefined && call.session) {
        const why = overCap(`session ${call.session}`, sessionSpent(pk, call.session, nowMs), reservedUsd(sessionScope(pk, call.session), nowMs), sessionCap, '');
        if (why) return deny(why);
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

    admit(call: Call, policy: GovernancePolicy, ctx: CheckContext): void {
      const spec = policy.spec.budget;
      if (!spec) return;
      const nowMs = ctx.now.getTime();
      sweep(nowMs);
      const dayCap = spec.maxCostPerAgentPerDayUSD;
      const session = spec.maxCostPerSessionUSD !== undefined ? call.session : undefined;
      if (dayCap === undefined && !session) return;
      const usd = worstCaseCost(call, spec.pricing);
      if (usd === undefined || !Number.isFinite(usd) || usd <= 0) return;
      const pk = policyKey(policy);
      const scopes: string[] = [];
      if (dayCap !== undefined) scopes.push(agentScope(pk, call.agent));
      if (session) scopes.push(sessionScope(pk, session));
      const key = keyOf(pk, call.id);
      release(key);
      const r: Reservation = { usd, expires: nowMs + ttlMs, scopes };
      reservations.set(key, r);
      for (const scope of scopes) {
        let set = inFlight.get(scope);
        if (!set) inFlight.set(scope, (set = new Set()));
        set.add(r);
      }
    },

    settle(call: Call, result: CallResult, policy: GovernancePolicy, ctx: CheckContext): void {
      const spec = policy.spec.budget;
      if (!spec) return;
      // The reservation gives way to the real cost (none when the call failed without usage).
      release(keyOf(policyKey(policy), call.id));
      sweep(ctx.now.getTime());
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
      const nowMs = now.getTime();
      prune(now);
      sweep(nowMs);
      const day = utcDay(now);
      const reserved = (scope: string): { reservedUsd?: number } => {
        const usd = reservedUsd(scope, nowMs);
        return usd > 0 ? { reservedUsd: usd } : {};
      };
      return {
        day,
        agents: [...agents.values()]
          .filter((e) => e.day === day)
          .map((e) => ({ policy: e.policy, agent: e.agent, day: e.day, spentUsd: e.usd, ...reserved(agentScope(e.policy, e.agent)) })),
        sessions: [...sessions.values()].map((e) => ({
          policy: e.policy,
          session: e.session,
          spentUsd: e.usd,
          ...reserved(sessionScope(e.policy, e.session)),
          lastSeen: new Date(e.lastSeenMs).toISOString(),
        })),
      };
    },
  };
}
