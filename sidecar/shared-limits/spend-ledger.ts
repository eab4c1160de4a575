// Fleet-wide budgets: the SpendLedger the budget check (policy/budget.ts) is given when the sidecar
// has a shared counter store, over the store's budget scripts (budget-scripts.ts). It turns spending
// totals into keys (policy/shared-limit-keys.ts) and US dollars into integer nano-dollars, so that many small costs sum
// exactly in the store.
//
// A charge that cannot reach the store (it is away, or a command failed) is kept and sent when the
// store is back (flush(), called when it reconnects), so the fleet's day totals lose nothing to an
// outage; the queue is bounded (MAX_PENDING_CHARGES, oldest dropped first).
import type { GovernancePolicy } from '../../api/index.js';
import { SESSION_IDLE_MS, utcDay, type FleetTotal, type SpendLedger, type SpendScope } from '../policy/budget.js';
import { agentDayKey, agentDayPattern, BUDGET_PREFIX, parseAgentDayKey, sessionKey } from '../policy/shared-limit-keys.js';
import type { SharedLimitStore, StoredTotal } from './store.js';

/** An agent's day total is kept a day after the day ends (for /status and late settles), then expires. */
export const AGENT_DAY_TTL_MS = 2 * 24 * 60 * 60 * 1000;
/** Charges waiting for the store at most; beyond, the oldest are dropped. */
export const MAX_PENDING_CHARGES = 10_000;

const NANO = 1e9;
const toNano = (usd: number): number => Math.max(0, Math.round(usd * NANO));
const fromNano = (nano: number): number => nano / NANO;

interface PendingCharge {
  callId: string;
  reserved: string[];
  nano: number;
  charge: Array<{ key: string; ttlMs: number }>;
}

/** One agent's spend today across the fleet, as /status shows it. */
export interface FleetAgentSpend {
  policy: string;
  agent: string;
  day: string;
  spentUsd: number;
  reservedUsd?: number;
}

export class StoreSpendLedger implements SpendLedger {
  private pending: PendingCharge[] = [];
  private flushing = false;

  constructor(
    private readonly store: Pick<SharedLimitStore, 'up' | 'reserveSpend' | 'settleSpend' | 'readTotals'>,
    private readonly prefix = BUDGET_PREFIX,
  ) {}

  get up(): boolean {
    return this.store.up;
  }

  /** Charges waiting for the store. */
  get pendingCharges(): number {
    return this.pending.length;
  }

  async reserve(callId: string, worstUsd: number, ttlMs: number, totals: ReadonlyArray<{ scope: SpendScope; capUsd: number }>) {
    const answer = await this.store.reserveSpend(
      callId,
      toNano(worstUsd),
      ttlMs,
      totals.map((t) => ({ key: this.keyOf(t.scope), capNanoUsd: toNano(t.capUsd), ttlMs: ttlOf(t.scope) })),
    );
    return { ok: answer.ok, refusedIndex: answer.refusedIndex, totals: answer.totals.map(usdOf) };
  }

  async settle(callId: string, reserved: readonly SpendScope[], usd: number, charge: readonly SpendScope[]): Promise<number[] | undefined> {
    const item: PendingCharge = {
      callId,
      reserved: reserved.map((s) => this.keyOf(s)),
      nano: toNano(usd),
      charge: charge.map((s) => ({ key: this.keyOf(s), ttlMs: ttlOf(s) })),
    };
    if (this.store.up) {
      try {
        return (await this.send(item)).map(fromNano);
      } catch {
        // Counted by the store (chaperone_shared_limits_errors_total); kept for when it is back.
      }
    }
    this.keep(item);
    return undefined;
  }

  /** Sends the charges kept while the store was away, oldest first; stops at the first failure. */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.pending.length > 0 && this.store.up) {
        await this.send(this.pending[0]!);
        this.pending.shift();
      }
    } catch {
      // Still away: the rest waits for the next reconnect.
    } finally {
      this.flushing = false;
    }
  }

  /** Every agent's spend today in a namespace, across the fleet (at most `limit` agents). */
  async agentsToday(namespace: string, day: string, limit = 1_000): Promise<FleetAgentSpend[]> {
    const totals = await this.store.readTotals(agentDayPattern(namespace, day, this.prefix), limit);
    const out: FleetAgentSpend[] = [];
    for (const [key, total] of totals) {
      const who = parseAgentDayKey(key, this.prefix);
      if (!who) continue;
      const { spentUsd, reservedUsd } = usdOf(total);
      out.push({ ...who, spentUsd, ...(reservedUsd > 0 ? { reservedUsd } : {}) });
    }
    return out.sort((a, b) => a.policy.localeCompare(b.policy) || a.agent.localeCompare(b.agent));
  }

  private send(item: PendingCharge): Promise<number[]> {
    return this.store.settleSpend(item.callId, item.reserved, item.nano, item.charge);
  }

  private keep(item: PendingCharge): void {
    // A release (nothing to charge) needs no retry: the reservation expires by itself.
    if (item.charge.length === 0) return;
    this.pending.push(item);
    if (this.pending.length > MAX_PENDING_CHARGES) this.pending.shift();
  }

  private keyOf(scope: SpendScope): string {
    return scope.kind === 'agent' ? agentDayKey(scope.policy, scope.agent, scope.day, this.prefix) : sessionKey(scope.policy, scope.session, this.prefix);
  }
}

const ttlOf = (scope: SpendScope): number => (scope.kind === 'agent' ? AGENT_DAY_TTL_MS : SESSION_IDLE_MS);
const usdOf = (t: StoredTotal): FleetTotal => ({ spentUsd: fromNano(t.spent), reservedUsd: fromNano(t.reserved) });

/**
 * /status's `fleetSpend`: every agent's spend today across the fleet, in the namespaces of the
 * loaded policies with a budget; or why the store could not say.
 */
export async function fleetSpend(ledger: StoreSpendLedger, policies: readonly GovernancePolicy[]): Promise<{ day: string; agents: FleetAgentSpend[] } | { error: string }> {
  const day = utcDay(new Date());
  const namespaces = [...new Set(policies.filter((p) => p.spec.budget).map((p) => p.metadata.namespace ?? 'default'))];
  if (!ledger.up) return { error: 'the shared limits store is unavailable' };
  try {
    const lists = await Promise.all(namespaces.map((ns) => ledger.agentsToday(ns, day)));
    return { day, agents: lists.flat() };
  } catch (err) {
    return { error: (err as Error).message };
  }
}
