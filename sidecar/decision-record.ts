// One decision, counted and audited the same way whether it was a call or a tunnel: the request
// counter, latency, tokens, cost, violations and DLP counts, the per-agent tally and the audit line.
import type { AuditRecord } from './audit.js';
import type { DataPath } from './exchange.js';
import type { Verdict } from './policy/verdict.js';

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
