// One WebSocket session as the policies see it. The upgrade is a Call, decided and recorded like any
// other. Each client message the checks read is a Call of its own (the session's agent, host and
// path, the message's facts), decided on the same decide-and-record path: it counts as a request
// for rate limits, and is settled at once (it spends no tokens itself) or, for a Realtime
// response.create, when its response is done (with the response's usage: budgets, token limits and
// the circuit breaker learn from it). Tool calls the model proposes are judged by the response checks
// against the call that asked for the response.
//
// Audit: one line per message the checks acted on or noted (decision not `allow`), one per tool call
// the model proposed, and one for the session when it ends (status 101, messages and bytes each
// way, tool calls judged, total tokens and cost). Tokens and cost go to the metrics as each
// response ends, so a long session's spend shows while it runs.
import { randomUUID } from 'node:crypto';
import type { ModelPricing } from '../../api/index.js';
import type { WebSocketFacts } from '../audit.js';
import { pathWithoutQuery } from '../audit.js';
import type { Call, RequestFacts, ToolCall, Usage } from '../call.js';
import type { ConfigSnapshot } from '../config.js';
import type { DataPath } from '../data-path.js';
import { countUsage, decide, prepareAndDecide, recordDecision, stopStatus } from '../decision.js';
import type { Identity } from '../identity.js';
import type { CallResult } from '../policy/pipeline.js';
import { blocks, type Decision, type Outcome, type Verdict } from '../policy/verdict.js';
import { costOf } from '../policy/pricing.js';
import type { RelayStats } from './relay.js';


/** The error kind a refusal is told with. */

/**
 * A verdict as a socket can carry it out. A hold waits for a person, and a socket cannot wait, nor
 * can what was refused be sent again the way an HTTP call can: it is refused, with the reason.
 */
export function asRefusal(v: Verdict): Verdict {
  if (v.decision !== 'hold') return v;
  const { holds: _h, ...rest } = v;
  return { ...rest, decision: 'deny', reason: `${v.reason ?? 'it needs a person\'s approval'}, and a WebSocket session cannot wait for one: refused` };
}

export class SocketSession {
  readonly started = process.hrtime.bigint();
  /** The model the session runs (from the URL, then the server's session events). */
  model: string | undefined;
  usage: Usage | undefined;
  costUsd: number | undefined;
  /** Findings noted along the way that have no line of their own (audit-mode notes on the model's text). */
  readonly findings: Verdict[] = [];
  readonly toolsDefined = new Set<string>();
  readonly toolCalls: string[] = [];
  toolCallsJudged = 0;
  private readonly overrides: ModelPricing[];

  constructor(
    readonly dp: DataPath,
    readonly snapshot: ConfigSnapshot,
    readonly identity: Identity,
    /** The upgrade. */
    readonly call: Call,
    readonly outcome: Outcome,
  ) {
    this.model = call.model;
    this.overrides = snapshot.policies.flatMap((p) => p.spec.budget?.pricing ?? []);
  }

  /** A client message's Call: the session's agent, host and path, the message's facts. */
  messageCall(facts: RequestFacts): Call {
    const model = facts.model ?? this.model;
    return {
      ...facts,
      id: randomUUID(),
      provider: this.call.provider,
      agent: this.call.agent,
      ...(this.call.session ? { session: this.call.session } : {}),
      host: this.call.host,
      port: this.call.port,
      method: 'GET',
      path: this.call.path,
      ...(model !== undefined ? { model } : {}),
    };
  }

  /** The selected policies' verdict on a message's call, already prepared (realtime-judge.ts); it is admitted when it may go on. */
  decide(call: Call): Outcome {
    return decide(this.dp, call, this.snapshot);
  }

  /** decide() after the prepare step (fleet-wide limits): for a message nothing else prepared. */
  prepareAndDecide(call: Call): Promise<Outcome> {
    return prepareAndDecide(this.dp, call, this.snapshot);
  }

  settle(call: Call, result: CallResult): void {
    this.dp.pipeline.settle(call, result, this.snapshot.policies);
  }

  /**
   * A response's usage: priced, counted in the metrics now, added to the session's totals, and
   * settled on the call that asked for the response.
   */
  addUsage(call: Call, usage: Usage): void {
    const model = this.model ?? call.model;
    const costUsd = costOf(model, usage, this.overrides);
    countUsage(this.dp, { provider: this.call.provider, agent: this.call.agent, ...(model ? { model } : {}), tokens: usage, ...(costUsd !== undefined ? { costUsd } : {}) });
    this.usage = { inputTokens: (this.usage?.inputTokens ?? 0) + usage.inputTokens, outputTokens: (this.usage?.outputTokens ?? 0) + usage.outputTokens };
    if (costUsd !== undefined) this.costUsd = (this.costUsd ?? 0) + costUsd;
    this.settle(call, { status: 200, usage, ...(costUsd !== undefined ? { costUsd } : {}) });
  }

  /** The line of a message the checks acted on, or of a tool call the model proposed. */
  recordMessage(m: { call: Call; from: 'client' | 'server'; event?: string; verdict: Verdict; findings: readonly Verdict[]; toolCalls?: readonly ToolCall[]; error?: string }): void {
    const refused = blocks(m.verdict.decision);
    const status = m.error !== undefined ? 400 : refused ? stopStatus(m.verdict.decision) : 101;
    this.record({
      requestId: m.call.id,
      method: 'WEBSOCKET',
      ...(m.call.model ? { model: m.call.model } : {}),
      ...(m.toolCalls?.length ? { toolCalls: m.toolCalls.map((t) => t.name) } : m.call.toolCalls.length ? { toolCalls: m.call.toolCalls.map((t) => t.name) } : {}),
      ...(m.call.toolsDefined.length ? { tools: m.call.toolsDefined } : {}),
      decision: m.error !== undefined ? 'error' : m.verdict.decision,
      ...(m.verdict.decision !== 'allow' && m.verdict.policy ? { policy: m.verdict.policy } : {}),
      status,
      latencyMs: 0,
      ...(m.error !== undefined ? { error: m.error } : refused && m.verdict.reason ? { reason: m.verdict.reason } : {}),
      websocket: { session: this.call.id, from: m.from, ...(m.event ? { event: m.event } : {}) },
      findings: m.findings,
    });
  }

  /** The session's line, when it ends. */
  recordEnd(stats: RelayStats | { bytes: RelayStats['bytes']; closeCode?: number; error?: string }): void {
    const websocket: WebSocketFacts = {
      ...('messages' in stats ? { messages: stats.messages } : {}),
      bytes: stats.bytes,
      ...(this.toolCallsJudged > 0 ? { toolCallsJudged: this.toolCallsJudged } : {}),
      ...(stats.closeCode !== undefined ? { closeCode: stats.closeCode } : {}),
    };
    this.record({
      requestId: this.call.id,
      method: 'GET',
      ...(this.model ? { model: this.model } : {}),
      ...(this.toolsDefined.size ? { tools: [...this.toolsDefined] } : {}),
      ...(this.toolCalls.length ? { toolCalls: this.toolCalls } : {}),
      decision: this.outcome.final.decision,
      ...(this.outcome.final.decision !== 'allow' && this.outcome.final.policy ? { policy: this.outcome.final.policy } : {}),
      status: 101,
      latencyMs: Number(process.hrtime.bigint() - this.started) / 1e6,
      ...(this.usage ? { tokens: this.usage } : {}),
      ...(this.costUsd !== undefined ? { costUsd: this.costUsd } : {}),
      ...(stats.error ? { error: stats.error } : {}),
      websocket,
      findings: [...this.outcome.findings, ...this.findings],
      tokensCounted: true,
    });
  }

  private record(line: {
    requestId: string;
    method: string;
    model?: string;
    tools?: string[];
    toolCalls?: string[];
    decision: Decision;
    policy?: string;
    status: number;
    latencyMs: number;
    tokens?: Usage;
    costUsd?: number;
    error?: string;
    reason?: string;
    websocket: WebSocketFacts;
    findings: readonly Verdict[];
    tokensCounted?: boolean;
  }): void {
    recordDecision(this.dp, {
      agent: this.call.agent,
      ...(this.identity.subAgent ? { subAgent: this.identity.subAgent } : {}),
      ...(this.call.session ? { session: this.call.session } : {}),
      provider: this.call.provider,
      operation: this.call.operation,
      host: this.call.host,
      path: pathWithoutQuery(this.call.path),
      overheadMs: 0,
      timed: false,
      ...line,
    });
  }
}
