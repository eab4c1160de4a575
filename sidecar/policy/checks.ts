// The registry of policy checks, in the order they run. Each lives in its own file in this folder.
// Order matters only for ties: when two verdicts are equally strict, the first registered is
// reported, so the plain deny checks come first.
import { approvalsCheck } from './approvals.js';
import { createBudgetCheck } from './budget.js';
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
  /** Mirrors the circuit breakers into a gauge (1 open, 0 closed again) before a scrape. */
  refreshGauges(circuitOpen: UpstreamGauge): void;
}

/** A gauge labelled by upstream, as the sidecar's metrics have it (chaperone_circuit_open). */
export interface UpstreamGauge {
  set(labels: { upstream: string }, value: number): void;
}

/** Builds the checks with their state; one set per sidecar (`shared`: fleet-wide rate limits). */
export function createChecks(clock?: () => Date, options: { shared?: SharedLimits } = {}): CheckSet {
  const limits = createRateLimitChecks(options.shared ? { shared: options.shared } : {});
  const budget = createBudgetCheck(clock);
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
    refreshGauges(circuitOpen) {
      const open = new Set(breaker.openCircuits());
      // A breaker that closed goes back to 0 rather than vanishing, so graphs show it close.
      for (const upstream of shownOpen) if (!open.has(upstream)) circuitOpen.set({ upstream }, 0);
      for (const upstream of open) circuitOpen.set({ upstream }, 1);
      shownOpen = new Set([...shownOpen, ...open]);
    },
  };
}
