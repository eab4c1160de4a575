// The registry of policy checks, in the order they run. Each lives in its own file in this folder.
// Order matters only for ties: when two verdicts are equally strict, the first registered is
// reported, so the plain deny checks come first.
import type { SidecarMetrics } from '../metrics.js';
import { approvalsCheck } from './approvals.js';
import { createBudgetCheck, type SpendLedger } from './budget.js';
import { createCircuitBreakerCheck } from './circuit-breaker.js';
import { dlpCheck } from './dlp.js';
import { egressCheck } from './egress.js';
import type { Check } from './pipeline.js';
import { createRateLimitChecks } from './rate-limit.js';
import type { SharedLimits } from '../shared-limits/shared-limits.js';
import { scheduleCheck } from './schedule.js';
import { threatsCheck } from './threats.js';
import { toolPinningCheck } from './tool-pinning.js';
import { toolsCheck } from './tools.js';

export interface CheckSet {
  all: Check[];
  /** State worth showing on /status: spend so far, breakers. */
  status(): Record<string, unknown>;
  /** Mirrors check state into gauges before a scrape. */
  refreshGauges(metrics: SidecarMetrics): void;
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
    refreshGauges(metrics) {
      const open = new Set(breaker.openCircuits());
      // A breaker that closed goes back to 0 rather than vanishing, so graphs show it close.
      for (const upstream of shownOpen) if (!open.has(upstream)) metrics.circuitOpen.set({ upstream }, 0);
      for (const upstream of open) metrics.circuitOpen.set({ upstream }, 1);
      shownOpen = new Set([...shownOpen, ...open]);
      // Today's totals: the fleet's as this replica last read them from the store, else its own.
      const scope = options.ledger ? 'fleet' : 'replica';
      metrics.budgetSpent.reset();
      for (const a of budget.spendSnapshot().agents) metrics.budgetSpent.set({ policy: a.policy, agent: metrics.agents.value(a.agent), scope }, a.spentUsd);
    },
  };
}
