// The data path's Prometheus metrics (docs/design.md §5). One registry per sidecar, so tests can run several.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BoundedLabels } from '../lib/bounded-labels.js';

// Proxy overhead is sub-millisecond when healthy; upstream calls take seconds. Two bucket sets.
const OVERHEAD_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export class SidecarMetrics {
  readonly registry = new Registry();
  readonly agents: BoundedLabels;
  readonly models: BoundedLabels;

  readonly requests = new Counter({
    name: 'chaperone_requests_total',
    help: 'Calls handled by the sidecar, by provider, agent and decision.',
    labelNames: ['provider', 'agent', 'decision'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'chaperone_request_duration_seconds',
    help: 'Whole call time as the agent sees it, upstream included.',
    labelNames: ['provider'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly overhead = new Histogram({
    name: 'chaperone_proxy_overhead_seconds',
    help: 'Time spent in the sidecar itself, upstream time excluded.',
    labelNames: ['provider'] as const,
    buckets: OVERHEAD_BUCKETS,
    registers: [this.registry],
  });
  readonly tokens = new Counter({
    name: 'chaperone_tokens_total',
    help: 'Tokens reported by provider responses, by type (input, output).',
    labelNames: ['provider', 'model', 'type'] as const,
    registers: [this.registry],
  });
  readonly configReloads = new Counter({
    name: 'chaperone_config_reloads_total',
    help: 'Configuration loads, by result (success, error).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly policiesLoaded = new Gauge({
    name: 'chaperone_policies_loaded',
    help: 'GovernancePolicies that select this pod in the active configuration.',
    registers: [this.registry],
  });
  readonly upstreamErrors = new Counter({
    name: 'chaperone_upstream_errors_total',
    help: 'Upstream failures answered by the sidecar itself, by kind (connect, timeout, reset).',
    labelNames: ['provider', 'kind'] as const,
    registers: [this.registry],
  });

  readonly violations = new Counter({
    name: 'chaperone_policy_violations_total',
    help: 'Policy findings, by policy, rule and the action taken (deny, audit, redact, rate_limited, hold, circuit_open).',
    labelNames: ['policy', 'rule', 'action'] as const,
    registers: [this.registry],
  });
  readonly dlpFindings = new Counter({
    name: 'chaperone_dlp_findings_total',
    help: 'Sensitive-data findings, by detector and the action taken. Values are never recorded.',
    labelNames: ['detector', 'action'] as const,
    registers: [this.registry],
  });
  readonly threatsDetected = new Counter({
    name: 'chaperone_threats_detected_total',
    help: 'Threats found in tool-call arguments (spec.threats), by category: sql_injection, command_injection, path_traversal, ssrf, exfiltration, custom. Values are never recorded.',
    labelNames: ['category'] as const,
    registers: [this.registry],
  });
  readonly cost = new Counter({
    name: 'chaperone_cost_usd_total',
    help: 'Spend in US dollars computed from response usage and the price table.',
    labelNames: ['provider', 'model', 'agent'] as const,
    registers: [this.registry],
  });
  readonly budgetSpent = new Gauge({
    name: 'chaperone_budget_spent_usd',
    help: "Each agent's spend today (UTC) under each policy with a budget section, in US dollars. scope=fleet: the fleet's total from the shared store (--shared-limits-url) as this replica last read it (take the max across replicas); scope=replica: this replica's own (sum across replicas).",
    labelNames: ['policy', 'agent', 'scope'] as const,
    registers: [this.registry],
  });
  /** Pending approvals are counted by the operator, from the ApprovalRequest objects (chaperone_approvals_pending). */
  readonly approvalLookups = new Counter({
    name: 'chaperone_approval_lookups_total',
    help: 'Held tool calls looked up in the approval store, by result: held (waits for a person), passed (used an approval), refused (denied or expired), unavailable (the store could not answer; not forwarded).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly toolPinChanges = new Counter({
    name: 'chaperone_tool_pin_changes_total',
    help: "MCP tools offered unlike their pins (toolPinning), counted once per sidecar and definition, by kind: changed (a pinned tool's definition differs) or added (a tool that was never pinned).",
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly circuitOpen = new Gauge({
    name: 'chaperone_circuit_open',
    help: '1 while a circuit breaker for the upstream is open (or half-open), else 0.',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });
  readonly sharedLimitsUp = new Gauge({
    name: 'chaperone_shared_limits_up',
    help: '1 while the shared counter store of fleet-wide rate limits and budgets (--shared-limits-url) answers, else 0 (each section follows its onStoreFailure). Absent without a store.',
    registers: [],
  });
  readonly sharedLimitsErrors = new Counter({
    name: 'chaperone_shared_limits_errors_total',
    help: 'Failed commands and connection errors of the shared counter store of fleet-wide rate limits and budgets.',
    registers: [],
  });

  /** Shows the shared-limits series (only sidecars with a store have them). */
  enableSharedLimits(): void {
    this.registry.registerMetric(this.sharedLimitsUp);
    this.registry.registerMetric(this.sharedLimitsErrors);
    this.sharedLimitsUp.set(0);
  }

  /**
   * Counts a call's policy findings (violations by policy, rule and action; DLP findings by
   * detector; threats by category) and returns the DLP counts per detector for the audit line.
   */
  countFindings(findings: ReadonlyArray<{ decision: string; rule?: string; policy?: string; dlp?: Record<string, number>; threats?: readonly string[] }>): Record<string, number> {
    const dlp: Record<string, number> = {};
    for (const f of findings) {
      if (f.rule && f.policy) this.violations.inc({ policy: f.policy, rule: f.rule, action: f.decision });
      for (const [detector, n] of Object.entries(f.dlp ?? {})) {
        this.dlpFindings.inc({ detector, action: f.decision }, n);
        dlp[detector] = (dlp[detector] ?? 0) + n;
      }
      for (const category of f.threats ?? []) this.threatsDetected.inc({ category });
    }
    return dlp;
  }

  constructor(maxAgentLabels = 100) {
    this.agents = new BoundedLabels(maxAgentLabels);
    this.models = new BoundedLabels(maxAgentLabels);
    collectDefaultMetrics({ register: this.registry });
    // prom-client names three gauges `*_total`, which Prometheus reserves for counters (promtool
    // rejects them); their per-type twins (nodejs_active_handles etc.) carry the same numbers.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(name);
    }
    // Make the reload series visible from the start, so `rate()` and alerts work before the first error.
    this.configReloads.inc({ result: 'error' }, 0);
  }
}
