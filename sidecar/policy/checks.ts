// The registry of policy checks, in the order they run. Each lives in its own file in this folder.
// Order matters only for ties: when two verdicts are equally strict, the first registered is
// reported, so the plain deny checks come first.
import { approvalsCheck } from './approvals.js';
import { createBudgetCheck, type SpendLedger } from './budget.js';
import { createCircuitBreakerCheck } from './circuit-breaker.js';
import { dlpCheck } from './dlp.js';
import { egressCheck } from './egress.js';
import type { Check } from './pipeline.js';
import { createRateLimitChecks } from './rate-limit.js';
import type { SharedLimits } from './shared-limits.js';
import { scheduleCheck } from './schedule.js';
import { threatsCheck } from './threats.js';
import { toolPinningCheck } from './tool-pinning.js';
import { toolsCheck } from './tools.js';

export interface CheckSet {
  all: Check[];
  /** State worth showing on /status: spend so far, breakers. */
  status(): Record<string, unknown>;
  /** Mirrors check state into the sidecar's gauges before a scrape. */
  refreshGauges(gauges: CheckGauges): void;
}

/** The gauges that follow check state, as the sidecar's metrics have them (metrics.ts). */
export interface CheckGauges {
  /** chaperone_circuit_open: 1 open, 0 closed again. */
  circuitOpen: { set(labels: { upstream: string }, value: number): void };
  /** chaperone_budget_spent_usd: each agent's spend today. */
  budgetSpent: { reset(): void; set(labels: { policy: string; agent: string; scope: string }, value: number): void };
  /** An agent's label value (bounded: the first ones seen, then `other`). */
  agentLabel(agent: string): string;
}

/** Builds the checks with their state; one set per sidecar (`shared`, `ledger`: fleet-wide rate limits and budgets). */
export function createChecks(clock?: () => Date, options: { shared?: SharedLimits; ledger?: SpendLedger } = {}): CheckSet {
  const limits = createRateLimitChecks(options.shared ? { shared: options.shared } : {});
  const budget = createBudgetCheck(clock, options.ledger ? { ledger: options.ledger } : {});
  const breaker = createCircuitBreakerCheck(clock);
  let shownOpen = new Set<string>();
  return {
    all: [
      egressCheck,
      scheduleCheck,
      toolsCheck,
      toolPinningCheck,
      dlpCheck,
      threatsCheck,
      approvalsCheck,
      budget,
      limits.rateLimitCheck,
      limits.egressRateLimitCheck,
      breaker,
    ],
    status: () => ({ spend: budget.spendSnapshot(), circuits: breaker.circuitSnapshot() }),
    refreshGauges({ circuitOpen, budgetSpent, agentLabel }) {
      const open = new Set(breaker.openCircuits());
      // A breaker that closed goes back to 0 rather than vanishing, so graphs show it close.
      for (const upstream of shownOpen) if (!open.has(upstream)) circuitOpen.set({ upstream }, 0);
      for (const upstream of open) circuitOpen.set({ upstream }, 1);
      shownOpen = new Set([...shownOpen, ...open]);
      // Today's totals: the fleet's as this replica last read them from the store, else its own.
      const scope = options.ledger ? 'fleet' : 'replica';
      budgetSpent.reset();
      for (const a of budget.spendSnapshot().agents) budgetSpent.set({ policy: a.policy, agent: agentLabel(a.agent), scope }, a.spentUsd);
    },
  };
}
