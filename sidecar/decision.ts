// One decision, made and recorded the same way whether it is a call or a tunnel: the policy
// pipeline decides (or a safeguard of the data path refuses, which no policy can lift), then the
// request counter, latency, tokens, cost, violations and DLP counts, the per-agent tally and the
// audit line.
import type { AuditRecord } from './audit.js';
import type { Call } from './call.js';
import type { ConfigSnapshot } from './config.js';
import type { DataPath } from './data-path.js';
import type { ErrorKind } from './providers/adapter.js';
import { noPause } from './policy/pipeline.js';
import { combine, type Decision, type Outcome, type Verdict } from './policy/verdict.js';

/**
 * The HTTP status a stop answers with (docs/design.md §4). A hold is `holdStatus`: 428 where the
 * agent can send the call again once approved (HTTP calls), else refused as 403 (a WebSocket).
 */
export function stopStatus(decision: Decision, holdStatus = 403): number {
  if (decision === 'hold') return holdStatus;
  return decision === 'rate_limited' ? 429 : decision === 'circuit_open' ? 503 : 403;
}

/** The error kind a stop is told with, in the provider's error shape. */
export function stopKind(decision: Decision): ErrorKind {
  return decision === 'hold' ? 'approval_required' : decision === 'rate_limited' ? 'rate_limited' : decision === 'circuit_open' ? 'upstream_unavailable' : 'forbidden';
}

/** The selected policies' verdict on a call or a tunnel (checks that count admit it when it passes). */
export function decide(dp: DataPath, call: Call, snapshot: ConfigSnapshot): Outcome {
  return dp.pipeline.evaluateRequest(call, snapshot.policies);
}

/**
 * decide(), after the pipeline's async prepare step when a check needs it for every call (fleet-wide
 * limits ask the shared store there): tunnels and WebSocket messages then count on the fleet's
 * buckets and budgets like any call. Their bodies are small or absent, so nothing needs pausing.
 */
export async function prepareAndDecide(dp: DataPath, call: Call, snapshot: ConfigSnapshot): Promise<Outcome> {
  if (dp.pipeline.preparesEveryCall) await dp.pipeline.prepareRequest(call, snapshot.policies, noPause);
  return decide(dp, call, snapshot);
}

/**
 * A refusal of the data path itself, before any policy: what it cannot read or name on a governed
 * path, or a tunnel whose TLS names another host than it claimed. Reported as an egress denial.
 */
export function refuse(reason: string): Outcome {
  return combine([{ decision: 'deny', rule: 'egress', reason }]);
}

/** The audit line's facts; rules, DLP counts, threat categories and rounding are derived here from the findings. */
export type DecisionFacts = Omit<AuditRecord, 'rules' | 'dlp' | 'threats'> & {
  findings: readonly Verdict[];
  /** Observe latency and overhead (calls); a tunnel's lifetime is not a request duration. */
  timed: boolean;
  /** The tokens and cost were counted in the metrics as they came (countUsage: a WebSocket session's responses); the line only reports them. */
  tokensCounted?: boolean;
};

const round = (ms: number): number => Math.round(ms * 100) / 100;

export function recordDecision(dp: DataPath, facts: DecisionFacts): void {
  const { findings, timed, tokensCounted, ...line } = facts;
  const m = dp.metrics;
  const agentLabel = m.agents.value(line.agent);
  m.requests.inc({ provider: line.provider, agent: agentLabel, decision: line.decision });
  if (timed) {
    m.duration.observe({ provider: line.provider }, line.latencyMs / 1000);
    m.overhead.observe({ provider: line.provider }, line.overheadMs / 1000);
  }
  if (!tokensCounted) countUsage(dp, line);
  const dlp = m.countFindings(findings);
  const threats = [...new Set(findings.flatMap((f) => f.threats ?? []))].sort();
  dp.stats.count(line.agent, line.decision);
  dp.audit.record({
    ...line,
    rules: [...new Set(findings.flatMap((f) => (f.rule ? [f.rule] : [])))],
    ...(Object.keys(dlp).length ? { dlp } : {}),
    ...(threats.length ? { threats } : {}),
    latencyMs: round(line.latencyMs),
    overheadMs: round(line.overheadMs),
  });
}

/**
 * Counts tokens and cost in the metrics. recordDecision does it for a call; a WebSocket session
 * calls it for each response as it ends, so a long session's spend shows while it runs.
 */
export function countUsage(dp: DataPath, usage: Pick<AuditRecord, 'provider' | 'agent' | 'model' | 'tokens' | 'costUsd'>): void {
  const m = dp.metrics;
  const modelLabel = usage.tokens || usage.costUsd !== undefined ? m.models.value(usage.model) : '';
  if (usage.tokens) {
    m.tokens.inc({ provider: usage.provider, model: modelLabel, type: 'input' }, usage.tokens.inputTokens);
    m.tokens.inc({ provider: usage.provider, model: modelLabel, type: 'output' }, usage.tokens.outputTokens);
  }
  if (usage.costUsd !== undefined) m.cost.inc({ provider: usage.provider, model: modelLabel, agent: m.agents.value(usage.agent) }, usage.costUsd);
}
