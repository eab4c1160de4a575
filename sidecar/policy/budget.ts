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
// Fleet-wide (createBudgetCheck({ ledger })): with a shared counter store the day and session totals
// are the fleet's, kept in the store (shared-limits/spend-ledger.ts), so N replicas share one cap and
// a restarted sidecar continues from the day's spend. As with rate limits (rate-limit.ts), the store
// is asked in the async prepare step: prepareRequest() reserves the worst case atomically against
// every total the call counts against (or learns which total refuses it) and notes the answer on a
// per-call memo; request() reads the memo; release() gives a refused call's reservation back;
// settle() charges the real cost to the store. The local totals stay as a mirror: each store answer
// raises them to the fleet's figures, each settle adds to them, and while the store cannot answer
// budget.onStoreFailure decides: local (default) judges on this mirror, failOpen skips the day and
// session caps, failClosed refuses (503). The per-request cap needs no store and is always judged.
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
import type { GovernancePolicy, StoreFailureMode } from '../../api/index.js';
import type { Call } from '../call.js';
import { costOf, estimateCost, formatUsd, priceFor, worstCaseCost } from './pricing.js';
import { CallMemos } from './call-memos.js';
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

/** A spending total: an agent's UTC day or a session, under a policy ("namespace/name"). */
export type SpendScope = { kind: 'agent'; policy: string; agent: string; day: string } | { kind: 'session'; policy: string; session: string };

/** A total as the fleet's store holds it. */
export interface FleetTotal {
  spentUsd: number;
  reservedUsd: number;
}

/** The fleet's spending totals in the shared store (implemented by shared-limits/spend-ledger.ts). */
export interface SpendLedger {
  /** Whether the store answers now (when not, reserve() is not even tried). */
  readonly up: boolean;
  /**
   * Reserves `worstUsd` for the call in every total when each has room under its cap (the rule of
   * request() below); reads every total either way. Rejects when the store cannot answer.
   */
  reserve(callId: string, worstUsd: number, ttlMs: number, totals: ReadonlyArray<{ scope: SpendScope; capUsd: number }>): Promise<{ ok: boolean; refusedIndex: number; totals: FleetTotal[] }>;
  /**
   * Takes the call's reservation out of `reserved` and adds `usd` to `charge`; answers the new
   * spent of each charged total, or undefined when the store could not be reached (the ledger
   * keeps the charge and sends it when the store is back). Never rejects.
   */
  settle(callId: string, reserved: readonly SpendScope[], usd: number, charge: readonly SpendScope[]): Promise<number[] | undefined>;
}

export interface BudgetOptions {
  /** How long a reservation that is never settled is counted. Default RESERVATION_TTL_MS. */
  reservationTtlMs?: number;
  /** The fleet's totals in a shared store: caps hold across replicas and restarts. */
  ledger?: SpendLedger;
}

export const DEFAULT_BUDGET_STORE_FAILURE: StoreFailureMode = 'local';

/** What the store answered when a call was prepared (see the header). */
type Memo =
  | { kind: 'taken'; scopes: SpendScope[]; reservedUsd: number; at: number }
  | { kind: 'refused'; reason: string; at: number }
  | { kind: 'unavailable'; at: number };

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
  /** Totals for the admin status page: agents' spend today and sessions' spend (this replica's view). */
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
export const utcDay = (d: Date): string => {
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
/** The key of a total's reservations in flight (an agent's reservations count whatever their day). */
const scopeKey = (s: SpendScope): string => (s.kind === 'agent' ? agentScope(s.policy, s.agent) : sessionScope(s.policy, s.session));
const whoOf = (s: SpendScope): string => (s.kind === 'agent' ? `agent ${s.agent}` : `session ${s.session}`);

/**
 * Why a call whose worst case is `worst` does not fit a total under `cap`, if it does not. The same
 * rule runs in the store (shared-limits/budget-scripts.ts): spent at the cap refuses; otherwise the
 * call fits when spent + reserved + worst stays within the cap, or when the total is empty (header).
 */
function overCap(who: string, total: FleetTotal, cap: number, worst: number, where: string): string | undefined {
  const { spentUsd: spent, reservedUsd: reserved } = total;
  const when = who.startsWith('agent') ? ' today' : '';
  if (spent >= cap) return `${who} spent ${formatUsd(spent)} of ${formatUsd(cap)}${when}${where}`;
  if ((spent === 0 && reserved === 0) || addUsd(addUsd(spent, reserved), worst) <= cap) return undefined;
  const inFlight = reserved > 0 ? `, calls in flight may cost up to ${formatUsd(reserved)} more,` : ',';
  return `${who} spent ${formatUsd(spent)} of ${formatUsd(cap)}${when}${where}${inFlight} and this call may cost up to ${formatUsd(worst)}`;
}

export function createBudgetCheck(clock: () => Date = () => new Date(), options: BudgetOptions = {}): BudgetCheck {
  const ttlMs = options.reservationTtlMs ?? RESERVATION_TTL_MS;
  const ledger = options.ledger;
  /** policy + call id -> the call's reservation. */
  const reservations = new Map<string, Reservation>();
  /** scope -> the reservations in flight against it. */
  const inFlight = new Map<string, Set<Reservation>>();
  /** Prepared calls' store answers, by policy; forgotten at settle, release or after the reservation TTL. */
  const memos = new CallMemos<Memo>(ttlMs);
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

  const addToSession = (pk: string, session: string, usd: number, nowMs: number): void => {
    touch(sessions, keyOf(pk, session), { policy: pk, session, usd: addUsd(sessionSpent(pk, session, nowMs), usd), lastSeenMs: nowMs });
    trimToSize(sessions, MAX_SESSIONS);
  };

  /** The store's figure for a total: this replica's mirror never shows less than the fleet spent. */
  const observe = (scope: SpendScope, fleetUsd: number, nowMs: number): void => {
    const mine = spentOf(scope, nowMs);
    if (fleetUsd <= mine) return;
    if (scope.kind === 'agent') {
      if (scope.day !== utcDay(new Date(nowMs))) return;
      touch(agents, keyOf(scope.policy, scope.agent), { policy: scope.policy, agent: scope.agent, day: scope.day, usd: fleetUsd });
      trimToSize(agents, MAX_AGENTS);
    } else addToSession(scope.policy, scope.session, addUsd(fleetUsd, -mine), nowMs);
  };

  const spentOf = (scope: SpendScope, nowMs: number): number =>
    scope.kind === 'agent' ? agentSpent(scope.policy, scope.agent, scope.day) : sessionSpent(scope.policy, scope.session, nowMs);

  /** The totals with a cap that a call counts against under a policy (day: the UTC day to count on). */
  const capsOf = (call: Call, policy: GovernancePolicy, day: string): Array<{ scope: SpendScope; capUsd: number }> => {
    const spec = policy.spec.budget;
    const pk = policyKey(policy);
    const out: Array<{ scope: SpendScope; capUsd: number }> = [];
    if (spec?.maxCostPerAgentPerDayUSD !== undefined) out.push({ scope: { kind: 'agent', policy: pk, agent: call.agent, day }, capUsd: spec.maxCostPerAgentPerDayUSD });
    if (spec?.maxCostPerSessionUSD !== undefined && call.session) out.push({ scope: { kind: 'session', policy: pk, session: call.session }, capUsd: spec.maxCostPerSessionUSD });
    return out;
  };

  return {
    section: 'budget',

    ...(ledger
      ? {
          prepareEveryCall: true,
          async prepareRequest(call: Call, policy: GovernancePolicy): Promise<void> {
            const spec = policy.spec.budget;
            if (!spec) return;
            const now = clock();
            const totals = capsOf(call, policy, utcDay(now));
            if (totals.length === 0) return;
            const pk = policyKey(policy);
            const at = now.getTime();
            if (!ledger.up) return void memos.set(call.id, pk, { kind: 'unavailable', at });
            const worst = worstCaseCost(call, spec.pricing) ?? 0;
            try {
              const answer = await ledger.reserve(call.id, worst, ttlMs, totals);
              answer.totals.forEach((t, i) => observe(totals[i]!.scope, t.spentUsd, at));
              const refused = totals[answer.refusedIndex];
              memos.set(
                call.id,
                pk,
                answer.ok
                  ? { kind: 'taken', scopes: totals.map((t) => t.scope), reservedUsd: worst, at }
                  : { kind: 'refused', reason: overCap(whoOf(refused!.scope), answer.totals[answer.refusedIndex]!, refused!.capUsd, worst, ' (fleet-wide)') ?? 'over budget', at },
              );
            } catch {
              // The ledger counts the failure (chaperone_shared_limits_errors_total).
              memos.set(call.id, pk, { kind: 'unavailable', at });
            }
          },
          release(call: Call, policy: GovernancePolicy): void {
            const m = memos.take(call.id, policyKey(policy));
            if (m?.kind === 'taken' && m.reservedUsd > 0) void ledger.settle(call.id, m.scopes, 0, []);
          },
        }
      : {}),

    request(call: Call, policy: GovernancePolicy, ctx: CheckContext): Verdict | undefined {
      const spec = policy.spec.budget;
      if (!spec) return undefined;
      const pk = policyKey(policy);
      const deny = (reason: string): Verdict => ({ decision: 'deny', rule: 'budget', policy: pk, reason });
      const m = ledger ? memos.get(call.id, pk) : undefined;
      if (m?.kind === 'refused') return deny(m.reason);
      const mode = spec.onStoreFailure ?? DEFAULT_BUDGET_STORE_FAILURE;
      // The day and session caps: judged by the store (taken), skipped (failOpen), refused
      // (failClosed) or judged on this replica's totals (local, no store, or not prepared).
      if (m?.kind !== 'taken' && !(m?.kind === 'unavailable' && mode === 'failOpen')) {
        const caps = capsOf(call, policy, utcDay(ctx.now));
        if (m?.kind === 'unavailable' && mode === 'failClosed' && caps.length > 0) {
          return {
            decision: 'circuit_open',
            rule: 'budget',
            policy: pk,
            retryAfterSeconds: 1,
            reason: `the budget of ${pk} cannot be counted: the shared limits store is unavailable (onStoreFailure: failClosed)`,
          };
        }
        const nowMs = ctx.now.getTime();
        let worst: number | undefined;
        for (const { scope, capUsd } of caps) {
          worst ??= worstCaseCost(call, spec.pricing) ?? 0;
          const why = overCap(whoOf(scope), { spentUsd: spentOf(scope, nowMs), reservedUsd: reservedUsd(scopeKey(scope), nowMs) }, capUsd, worst, '');
          if (why) return deny(why);
        }
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
      const pk = policyKey(policy);
      // Reserved in the store already, or not counted at all (failOpen while it is away).
      const m = ledger ? memos.get(call.id, pk) : undefined;
      if (m?.kind === 'taken' || (m?.kind === 'unavailable' && (spec.onStoreFailure ?? DEFAULT_BUDGET_STORE_FAILURE) === 'failOpen')) return;
      const scopes = capsOf(call, policy, utcDay(ctx.now)).map((t) => scopeKey(t.scope));
      if (scopes.length === 0) return;
      const usd = worstCaseCost(call, spec.pricing);
      if (usd === undefined || !Number.isFinite(usd) || usd <= 0) return;
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
      const pk = policyKey(policy);
      // The reservation gives way to the real cost (none when the call failed without usage).
      release(keyOf(pk, call.id));
      const memo = ledger ? memos.take(call.id, pk) : undefined;
      sweep(ctx.now.getTime());
      prune(ctx.now);
      // This policy's own prices win over whatever the data path priced the call at.
      let usd = result.costUsd;
      if (result.usage && spec.pricing?.length && priceFor(call.model, spec.pricing)?.source === 'policy') {
        usd = costOf(call.model, result.usage, spec.pricing);
      }
      const charged = usd !== undefined && Number.isFinite(usd) && usd > 0 ? usd : 0;
      const nowMs = ctx.now.getTime();
      const day = utcDay(ctx.now);
      if (charged > 0) {
        const ak = keyOf(pk, call.agent);
        touch(agents, ak, { policy: pk, agent: call.agent, day, usd: addUsd(agentSpent(pk, call.agent, day), charged) });
        trimToSize(agents, MAX_AGENTS);
        if (call.session) addToSession(pk, call.session, charged, nowMs);
      }
      if (!ledger) return;
      // The fleet's totals: every charge goes to the store (also for calls judged locally while it
      // was away), to the totals of the day the call ends on.
      const reserved = memo?.kind === 'taken' && memo.reservedUsd > 0 ? memo.scopes : [];
      const charge = charged > 0 ? capsOf(call, policy, day).map((t) => t.scope) : [];
      if (reserved.length === 0 && charge.length === 0) return;
      void ledger.settle(call.id, reserved, charged, charge).then((spent) => spent?.forEach((usd, i) => observe(charge[i]!, usd, nowMs)));
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
