// A WebSocket upgrade, from whichever way it came in (proxy.ts, inner-server.ts): decided like a
// call (the same decide-and-record path: egress, schedule, rate limits, budget, circuit breaker),
// then the upstream's handshake, then the session, relayed:
//   - on an intercepted host, frames read and every message judged (relay.ts) in its dialect:
//     OpenAI Realtime on a path ending in /realtime (realtime-judge.ts), else any text read by the
//     host-level checks and DLP (generic-judge.ts);
//   - elsewhere (or where a policy lets the host and path through unread), bytes relayed unread,
//     as a tunnel is, under the egress rules only.
// A refused upgrade gets an HTTP answer (403, 429, 503...) with the X-Chaperone-* headers of any
// other refusal, never a 101; so does an upstream that cannot be reached (502) or is silent (504).
// An upstream's own refusal (401, 404...) is relayed to the client as it came.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { pathWithoutQuery } from '../audit.js';
import type { Call } from '../call.js';
import type { DataPath, Target } from '../data-path.js';
import { prepareAndDecide, recordDecision, stopKind, stopStatus } from '../decision.js';
import { elapsedMs, headerValue } from '../http-util.js';
import { identify, type Identity } from '../identity.js';
import type { ErrorKind } from '../providers/adapter.js';
import { openAiError } from '../providers/openai-chat.js';
import { isRealtimePath, realtimeModel } from '../providers/realtime.js';
import { passesUnread } from '../policy/egress.js';
import { blocks, type Decision, type Outcome, type Verdict } from '../policy/verdict.js';
import { relay } from '../tunnel.js';
import { genericJudge } from './generic-judge.js';
import { answerProblem, handshakeProblem, HandshakeTimeout, relayedHeaders, upstreamHandshake, upstreamHeaders, writeAnswer, type UpstreamAnswer } from './handshake.js';
import { realtimeJudge } from './realtime-judge.js';
import { relayMessages } from './relay.js';
import { asRefusal, SocketSession } from './session.js';

/** What an upgrade needs of the listener it came through (proxy.ts's Gate has it all). */
export interface UpgradeContext {
  dp: DataPath;
  /** A WebSocket with no traffic for this long is closed (the tunnels' idle bound). */
  idleMs: number;
  /** Counts work in flight (drain waits for it) until the returned release runs. */
  busy(): () => void;
  /** A client connection closed last when draining. */
  keep(socket: Duplex): void;
}

/** Bookkeeping of one upgrade until it is answered. */
interface Attempt {
  ctx: UpgradeContext;
  socket: Duplex;
  call: Call;
  identity: Identity;
  started: bigint;
}

export async function handleUpgrade(ctx: UpgradeContext, req: IncomingMessage, socket: Duplex, head: Buffer, target: Target): Promise<void> {
  const { dp } = ctx;
  socket.on('error', () => socket.destroy());
  const release = ctx.busy();
  socket.once('close', release);
  const snapshot = dp.snapshot();
  if (!snapshot) return writeAnswer(socket, 503, [['Content-Type', 'application/json'], ['Retry-After', '1']], errorBody('upstream_unavailable', 'configuration not loaded yet'));

  const identity = identify(headerValue(req.headers['x-chaperone-agent']), snapshot);
  const realtime = target.inspect && isRealtimePath(target.path);
  const model = realtime ? realtimeModel(target.path) : undefined;
  const session = headerValue(req.headers['x-chaperone-session']) || undefined;
  const call: Call = {
    id: randomUUID(),
    provider: realtime ? 'openai' : 'unknown',
    agent: identity.agent,
    ...(session ? { session } : {}),
    host: target.host,
    port: target.port,
    method: 'GET',
    path: target.path,
    operation: realtime ? 'realtime' : 'websocket',
    ...(model !== undefined ? { model } : {}),
    toolsDefined: [],
    toolCalls: [],
    texts: [],
    stream: true,
    // The session itself spends nothing: each response it asks for is a call of its own.
    maxOutputTokens: 0,
  };
  const attempt: Attempt = { ctx, socket, call, identity, started: process.hrtime.bigint() };

  if (target.refused !== undefined) return answerError(attempt, 400, 'invalid_request', `malformed request target: ${target.refused}`);
  const problem = handshakeProblem(req);
  if (problem) return answerError(attempt, 400, 'invalid_request', problem);

  const outcome = await prepareAndDecide(dp, call, snapshot);
  if (blocks(outcome.final.decision)) {
    const refusal = asRefusal(outcome.final);
    const status = stopStatus(outcome.final.decision);
    const extra: Array<[string, string]> = outcome.final.retryAfterSeconds !== undefined ? [['Retry-After', String(Math.max(1, Math.ceil(outcome.final.retryAfterSeconds)))]] : [];
    answer(attempt, status, stopKind(outcome.final.decision), refusal.reason ?? `denied by ${refusal.rule ?? 'policy'}`, { verdict: refusal, findings: outcome.findings, extra });
    return;
  }

  // Frames are read on an intercepted host, unless a policy lets this host and path through unread.
  const readFrames = target.inspect && !passesUnread(snapshot.policies, target.host, target.path);
  const key = headerValue(req.headers['sec-websocket-key'])!;
  let upstream: UpstreamAnswer;
  try {
    upstream = await upstreamHandshake(dp.upstream, target, upstreamHeaders(req, target, readFrames), dp.upstream.responseTimeoutMs);
  } catch (err) {
    const timedOut = err instanceof HandshakeTimeout;
    dp.pipeline.settle(call, { status: 0, failure: timedOut ? 'timeout' : 'connect' }, snapshot.policies);
    dp.metrics.upstreamErrors.inc({ provider: call.provider, kind: timedOut ? 'timeout' : 'connect' });
    const message = timedOut ? (err as Error).message : `cannot reach ${target.host}:${target.port}: ${(err as Error).message}`;
    return answerError(attempt, timedOut ? 504 : 502, timedOut ? 'upstream_timeout' : 'upstream_unavailable', message, outcome);
  }
  if (upstream.kind === 'answered') {
    dp.pipeline.settle(call, { status: upstream.status, ...(upstream.status >= 500 ? { failure: 'server_error' as const } : {}) }, snapshot.policies);
    writeAnswer(socket, upstream.status, [...relayedHeaders(upstream.rawHeaders), ...chaperoneHeaders(attempt, outcome.final)], upstream.body);
    return record(attempt, upstream.status, outcome.final, outcome.findings);
  }
  const wrong = answerProblem(upstream.headers, key, readFrames);
  if (wrong || socket.destroyed) {
    upstream.socket.destroy();
    dp.pipeline.settle(call, { status: 0, failure: 'connect' }, snapshot.policies);
    if (socket.destroyed) return record(attempt, 499, outcome.final, outcome.findings, 'client went away');
    return answerError(attempt, 502, 'upstream_unavailable', wrong!, outcome);
  }

  writeAnswer(socket, 101, [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ...relayedHeaders(upstream.rawHeaders), ...chaperoneHeaders(attempt, outcome.final)]);
  ctx.keep(socket);
  const live = new SocketSession(dp, snapshot, identity, call, outcome);
  const end = (): void => live.settle(call, { status: 101 });
  if (!readFrames) {
    const bytes = { fromClient: 0, fromServer: 0 };
    socket.on('data', (chunk: Buffer) => (bytes.fromClient += chunk.length));
    upstream.socket.on('data', (chunk: Buffer) => (bytes.fromServer += chunk.length));
    if (upstream.head.length > 0) socket.write(upstream.head);
    bytes.fromServer += upstream.head.length;
    bytes.fromClient += head.length;
    relay(socket, upstream.socket, head, ctx.idleMs, () => {
      end();
      live.recordEnd({ bytes });
    });
    return;
  }
  const judge = realtime ? realtimeJudge(live) : genericJudge(live);
  relayMessages({
    client: socket,
    server: upstream.socket,
    clientHead: head,
    serverHead: upstream.head,
    judge,
    idleMs: ctx.idleMs,
    onEnd: (stats) => {
      judge.finish();
      end();
      live.recordEnd(stats);
    },
  });
}

const errorBody = (kind: ErrorKind, message: string): Buffer => Buffer.from(JSON.stringify({ error: openAiError(kind, `chaperone: ${message}`) }));

function chaperoneHeaders(a: Attempt, verdict: Verdict | undefined, decision: Decision = verdict?.decision ?? 'error'): Array<[string, string]> {
  const headers: Array<[string, string]> = [
    ['X-Chaperone-Request-Id', a.call.id],
    ['X-Chaperone-Decision', decision],
    ['X-Chaperone-Latency-Ms', elapsedMs(a.started).toFixed(1)],
  ];
  if (verdict && verdict.decision !== 'allow') {
    if (verdict.rule) headers.push(['X-Chaperone-Rule', verdict.rule]);
    if (verdict.policy) headers.push(['X-Chaperone-Policy', verdict.policy]);
  }
  return headers;
}

/** The sidecar's own answer to an upgrade it does not carry, and its line. */
function answer(a: Attempt, status: number, kind: ErrorKind, message: string, o: { verdict?: Verdict; findings?: readonly Verdict[]; extra?: Array<[string, string]>; error?: string }): void {
  const decision: Decision = o.error !== undefined ? 'error' : (o.verdict?.decision ?? 'error');
  writeAnswer(a.socket, status, [['Content-Type', 'application/json'], ...(o.extra ?? []), ...chaperoneHeaders(a, o.verdict, decision)], errorBody(kind, message));
  record(a, status, o.verdict ?? { decision }, o.findings ?? [], o.error, decision);
}

function answerError(a: Attempt, status: number, kind: ErrorKind, message: string, admitted?: Outcome): void {
  answer(a, status, kind, message, { ...(admitted ? { findings: admitted.findings } : {}), error: message });
}

function record(a: Attempt, status: number, verdict: Verdict, findings: readonly Verdict[], error?: string, decision: Decision = verdict.decision): void {
  const { call, identity } = a;
  const latencyMs = elapsedMs(a.started);
  recordDecision(a.ctx.dp, {
    requestId: call.id,
    agent: call.agent,
    ...(identity.subAgent ? { subAgent: identity.subAgent } : {}),
    ...(call.session ? { session: call.session } : {}),
    provider: call.provider,
    operation: call.operation,
    host: call.host,
    method: 'GET',
    path: pathWithoutQuery(call.path),
    ...(call.model ? { model: call.model } : {}),
    decision,
    ...(verdict.decision !== 'allow' && verdict.policy ? { policy: verdict.policy } : {}),
    status,
    latencyMs,
    overheadMs: latencyMs,
    ...(error !== undefined ? { error } : blocks(verdict.decision) && verdict.reason ? { reason: verdict.reason } : {}),
    findings,
    timed: true,
  });
}
