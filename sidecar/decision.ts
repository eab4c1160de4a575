// One decision, made and recorded the same way whether it is a call or a tunnel: the policy
// pipeline decides (or a safeguard of the data path refuses, which no policy can lift), then the
// request counter, latency, tokens, cost, violations and DLP counts, the per-agent tally and the
// audit line.
import type { AuditRecord } from './audit.js';
import type { Call } from './call.js';
import type { ConfigSnapshot } from './config.js';
import type { DataPath } from './data-path.js';
import { combine, type Outcome, type Verdict } from './policy/verdict.js';

/** The selected policies' verdict on a call or a tunnel (checks that count admit it when it passes). */
export function decide(dp: DataPath, call: Call, snapshot: ConfigSnapshot): Outcome {
  return dp.pipeline.evaluateRequest(call, snapshot.policies);
}

/**
 * A refusal of the data path itself, before any policy: what it cannot read or name on a governed
 * path, or a tunnel whose TLS names another host than it claimed. Reported as an egress denial.
 */
export function refuse(reason: string): Outcome {
  return combine([{ decision: 'deny', rule: 'egress', reason }]);
}

/** The audit line's facts; rules, DLP counts and rounding are derived here from the findings. */
export type DecisionFacts = Omit<AuditRecord, 'rules' | 'dlp'> & {
  findings: readonly Verdict[];
  /** Observe latency and overhead (calls); a tunnel's lifetime is not a request duration. */
  timed: boolean;
};

const round = (ms: number): number => Math.round(ms * 100) / 100;

export function recordDecision(dp: DataPath, facts: DecisionFacts): void {
  const { findings, timed, ...line } = facts;
  const m = dp.metrics;
  const agentLabel = m.agents.value(line.agent);
  m.requests.inc({ provider: line.provider, agent: agentLabel, decision: line.decision });
  if (timed) {
    m.duration.observe({ provider: line.provider }, line.latencyMs / 1000);
    m.overhead.observe({ provider: line.provider }, line.overheadMs / 1000);
  }
  const modelLabel = line.tokens || line.costUsd !== undefined ? m.models.value(line.model) : '';
  if (line.tokens) {
    m.tokens.inc({ provider: line.provider, model: modelLabel, type: 'input' }, line.tokens.inputTokens);
    m.tokens.inc({ provider: line.provider, model: modelLabel, type: 'output' }, line.tokens.outputTokens);
  }
  if (line.costUsd !== undefined) m.cost.inc({ provider: line.provider, model: modelLabel, agent: agentLabel }, line.costUsd);
  const dlp = m.countFindings(findings);
  dp.stats.count(line.agent, line.decision);
  dp.audit.record({
    ...line,
    rules: [...new Set(findings.flatMap((f) => (f.rule ? [f.rule] : [])))],
    ...(Object.keys(dlp).length ? { dlp } : {}),
    latencyMs: round(line.latencyMs),
    overheadMs: round(line.overheadMs),
  });
}
