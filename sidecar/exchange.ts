// One HTTP exchange through the sidecar: agent -> adapter -> policy pipeline -> upstream ->
// response pipeline -> agent, then audit and metrics. Inspected calls (intercepted hosts and the
// base-URL routes) are buffered and parsed; other hosts' plain-HTTP calls stream straight through
// after the host-level checks.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Logger } from '../lib/logger.js';
import { AgentStats, Audit, pathWithoutQuery, type AuditRecord } from './audit.js';
import type { Call, Provider, RequestFacts, ResponseFacts, Usage } from './call.js';
import type { ConfigSnapshot } from './config.js';
import {
  BodyTooLarge,
  elapsedMs,
  forwardableHeaders,
  headerValue,
  isJsonContentType,
  readBody,
  relayableHeaders,
  writeWithBackpressure,
} from './http-util.js';
import type { SidecarMetrics } from './metrics.js';
import { MalformedRequest, setAt, type ErrorKind, type ProviderAdapter } from './providers/adapter.js';
import { adapterFor, unknownAdapter } from './providers/index.js';
import type { Pipeline } from './policy/pipeline.js';
import { blocks, type Decision, type Outcome, type Verdict } from './policy/verdict.js';
import type { Upstream } from './upstream.js';

/** Everything the data path needs, built once by the sidecar. */
export interface DataPath {
  maxBodyBytes: number;
  snapshot(): ConfigSnapshot | undefined;
  upstream: Upstream;
  pipeline: Pipeline;
  metrics: SidecarMetrics;
  audit: Audit;
  stats: AgentStats;
  log: Logger;
  /** Set on SIGTERM: answers close their connections so clients reconnect elsewhere. */
  draining: boolean;
}

/** Where a request goes. `inspect` = parse and apply the body-level checks. */
export interface Target {
  scheme: 'http' | 'https';
  host: string;
  port: number;
  path: string;
  inspect: boolean;
}

const NO_FACTS: RequestFacts = { operation: 'unknown', toolsDefined: [], toolCalls: [], texts: [], stream: false };
const EMPTY_RESPONSE: ResponseFacts = { toolCalls: [], texts: [] };

/** The status a blocking decision answers with (DESIGN §4). */
const STATUS_OF: Partial<Record<Decision, number>> = { deny: 403, rate_limited: 429, hold: 202, circuit_open: 503 };
const KIND_OF: Partial<Record<Decision, ErrorKind>> = {
  deny: 'forbidden',
  rate_limited: 'rate_limited',
  circuit_open: 'upstream_unavailable',
};

/** State of one exchange, filled in as it goes and read once by `finish`. */
class Exchange {
  readonly id = randomUUID();
  readonly started = process.hrtime.bigint();
  upstreamMs = 0;
  provider: Provider = 'unknown';
  adapter: ProviderAdapter = unknownAdapter;
  call: Call | undefined;
  outcome: Outcome | undefined;
  response: ResponseFacts = EMPTY_RESPONSE;
  decision: Decision = 'allow';
  error: string | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly target: Target,
    readonly snapshot: ConfigSnapshot,
  ) {}

  get agent(): string {
    return headerValue(this.req.headers['x-chaperone-agent']) || this.snapshot.podAgent || 'unknown';
  }

  get session(): string | undefined {
    return headerValue(this.req.headers['x-chaperone-session']) || undefined;
  }
}

export async function handleExchange(dp: DataPath, req: IncomingMessage, res: ServerResponse, target: Target): Promise<void> {
  const snapshot = dp.snapshot();
  if (!snapshot) {
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
    res.end(JSON.stringify({ error: { message: 'chaperone: configuration not loaded yet', type: 'unavailable' } }));
    return;
  }
  const ex = new Exchange(req, res, target, snapshot);
  try {
    if (target.inspect) await inspected(dp, ex);
    else await passThrough(dp, ex);
  } catch (err) {
    if (err instanceof BodyTooLarge) {
      answerError(dp, ex, 413, 'too_large', `request body exceeds the ${err.limit}-byte limit`, { connection: 'close' });
    } else if (err instanceof MalformedRequest) {
      answerError(dp, ex, 400, 'invalid_request', err.message);
    } else {
      upstreamFailed(dp, ex, err as UpstreamError);
    }
  }
}

async function inspected(dp: DataPath, ex: Exchange): Promise<void> {
  const { req, target } = ex;
  const head = { host: target.host, method: req.method ?? 'GET', path: target.path, contentType: headerValue(req.headers['content-type']) };
  // Chosen by host and path first, so even a 413 for an unread body speaks the provider's dialect.
  ex.adapter = adapterFor(head, undefined);
  ex.provider = ex.adapter.provider;
  const raw = await readBody(req, dp.maxBodyBytes, headerValue(req.headers['content-length']));

  let body: unknown;
  let parseError: string | undefined;
  if (raw.length > 0 && isJsonContentType(head.contentType)) {
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      parseError = (err as Error).message;
    }
  }
  ex.adapter = adapterFor(head, body);
  ex.provider = ex.adapter.provider;
  // A provider endpoint that gets broken JSON answers 400 in its own shape; elsewhere bytes are bytes.
  if (parseError !== undefined && ex.adapter.provider !== 'unknown') throw new MalformedRequest(`malformed JSON body: ${parseError}`);
  const facts = body === undefined || ex.adapter.provider === 'unknown' ? NO_FACTS : ex.adapter.parseRequest(head, body);

  const call: Call = {
    id: ex.id,
    provider: ex.provider,
    agent: ex.agent,
    ...(ex.session ? { session: ex.session } : {}),
    host: target.host,
    port: target.port,
    method: head.method,
    path: target.path,
    body,
    ...facts,
  };
  ex.call = call;
  const outcome = dp.pipeline.evaluateRequest(call, ex.snapshot.policies);
  ex.outcome = outcome;
  if (blocks(outcome.final.decision)) return answerVerdict(dp, ex, outcome.final);
  ex.decision = outcome.final.decision;

  let forwardBody: Buffer | null = raw.length > 0 ? raw : null;
  if (outcome.rewrites.length > 0) {
    for (const rewrite of outcome.rewrites) setAt(call.body, rewrite.path, rewrite.text);
    forwardBody = Buffer.from(JSON.stringify(call.body));
  }
  // Ask for an uncompressed answer: usage and tool calls must be readable as they pass.
  const headers = forwardableHeaders(req.headers, ['content-length', 'accept-encoding']);
  headers['accept-encoding'] = 'identity';

  const upstream = await requestUpstream(dp, ex, headers, forwardBody);
  const contentType = headerValue(upstream.headers['content-type']);
  if (ex.provider !== 'unknown' && ex.adapter.isStream(contentType)) return relayStream(dp, ex, upstream);
  if (ex.provider !== 'unknown' && isJsonContentType(contentType)) return relayJson(dp, ex, upstream);
  return relayRaw(dp, ex, upstream);
}

async function passThrough(dp: DataPath, ex: Exchange): Promise<void> {
  const { req, target } = ex;
  const call: Call = {
    id: ex.id,
    provider: 'unknown',
    agent: ex.agent,
    ...(ex.session ? { session: ex.session } : {}),
    host: target.host,
    port: target.port,
    method: req.method ?? 'GET',
    path: target.path,
    ...NO_FACTS,
  };
  ex.call = call;
  const outcome = dp.pipeline.evaluateRequest(call, ex.snapshot.policies);
  ex.outcome = outcome;
  if (blocks(outcome.final.decision)) return answerVerdict(dp, ex, outcome.final);
  ex.decision = outcome.final.decision;
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  const upstream = await requestUpstream(dp, ex, forwardableHeaders(req.headers), hasBody ? req : null);
  return relayRaw(dp, ex, upstream);
}

async function requestUpstream(
  dp: DataPath,
  ex: Exchange,
  headers: Record<string, string | string[]>,
  body: Buffer | IncomingMessage | null,
): Promise<Dispatcher.ResponseData> {
  const { target, res } = ex;
  const abort = new AbortController();
  // The agent hung up: stop the upstream call too (no tokens spent on an answer nobody reads).
  res.once('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  const sent = process.hrtime.bigint();
  try {
    return await dp.upstream.agent.request({
      origin: `${target.scheme}://${target.host}:${target.port}`,
      path: target.path,
      method: (ex.req.method ?? 'GET') as Dispatcher.HttpMethod,
      headers,
      body,
      signal: abort.signal,
    });
  } finally {
    ex.upstreamMs += elapsedMs(sent);
  }
}

function chaperoneHeaders(dp: DataPath, ex: Exchange, decision: Decision, extra: OutgoingHttpHeaders = {}): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {
    'x-chaperone-request-id': ex.id,
    'x-chaperone-decision': decision,
    'x-chaperone-latency-ms': elapsedMs(ex.started).toFixed(1),
    ...extra,
  };
  const final = ex.outcome?.final;
  if (final?.rule) headers['x-chaperone-rule'] = final.rule;
  if (final?.policy) headers['x-chaperone-policy'] = final.policy;
  if (dp.draining) headers.connection = 'close';
  return headers;
}

async function relayJson(dp: DataPath, ex: Exchange, upstream: Dispatcher.ResponseData): Promise<void> {
  const started = process.hrtime.bigint();
  const raw = Buffer.from(await upstream.body.arrayBuffer());
  ex.upstreamMs += elapsedMs(started);
  try {
    ex.response = ex.adapter.parseResponse(JSON.parse(raw.toString('utf8')));
  } catch {
    ex.response = EMPTY_RESPONSE; // not JSON after all: relay as is
  }
  const headers = relayableHeaders(upstream.headers, ['content-length']);
  ex.res.writeHead(upstream.statusCode, { ...headers, ...chaperoneHeaders(dp, ex, ex.decision), 'content-length': raw.length });
  ex.res.end(raw);
  finish(dp, ex, upstream.statusCode);
}

async function relayStream(dp: DataPath, ex: Exchange, upstream: Dispatcher.ResponseData): Promise<void> {
  const { res } = ex;
  const parser = ex.adapter.streamParser();
  // Frames are forwarded whole, as soon as they are complete; the length changes if we cut the stream.
  const headers = relayableHeaders(upstream.headers, ['content-length']);
  res.writeHead(upstream.statusCode, { ...headers, ...chaperoneHeaders(dp, ex, ex.decision) });
  res.flushHeaders();
  const chunks = upstream.body[Symbol.asyncIterator]();
  try {
    for (;;) {
      const waited = process.hrtime.bigint();
      const next = await chunks.next();
      ex.upstreamMs += elapsedMs(waited);
      if (next.done) break;
      const frames = parser.push(next.value as Buffer);
      if (frames.length === 0) continue;
      const bytes = frames.length === 1 ? frames[0]!.bytes : Buffer.concat(frames.map((f) => f.bytes));
      await writeWithBackpressure(res, bytes);
      if (res.destroyed) break;
    }
    for (const frame of parser.end()) res.write(frame.bytes);
    res.end();
  } catch (err) {
    // The upstream broke mid-stream: the agent sees a truncated stream, as it would without us.
    ex.error = `upstream stream failed: ${(err as Error).message}`;
    res.destroy();
  }
  ex.response = parser.facts();
  finish(dp, ex, upstream.statusCode);
}

async function relayRaw(dp: DataPath, ex: Exchange, upstream: Dispatcher.ResponseData): Promise<void> {
  const { res } = ex;
  res.writeHead(upstream.statusCode, { ...relayableHeaders(upstream.headers), ...chaperoneHeaders(dp, ex, ex.decision) });
  const chunks = upstream.body[Symbol.asyncIterator]();
  try {
    for (;;) {
      const waited = process.hrtime.bigint();
      const next = await chunks.next();
      ex.upstreamMs += elapsedMs(waited);
      if (next.done) break;
      await writeWithBackpressure(res, next.value as Buffer);
      if (res.destroyed) break;
    }
    res.end();
  } catch (err) {
    ex.error = `upstream body failed: ${(err as Error).message}`;
    res.destroy();
  }
  finish(dp, ex, upstream.statusCode);
}

/** Answers a blocking verdict without calling upstream. */
function answerVerdict(dp: DataPath, ex: Exchange, verdict: Verdict): void {
  ex.decision = verdict.decision;
  const status = STATUS_OF[verdict.decision] ?? 403;
  const extra: OutgoingHttpHeaders = {};
  if (verdict.retryAfterSeconds !== undefined) extra['retry-after'] = String(Math.max(1, Math.ceil(verdict.retryAfterSeconds)));
  const kind = KIND_OF[verdict.decision] ?? 'forbidden';
  const answer = ex.adapter.errorAnswer(kind, `chaperone: ${verdict.reason ?? `denied by ${verdict.rule ?? 'policy'}`}`);
  writeAnswer(dp, ex, status, answer.contentType, answer.body, { ...answer.headers, ...extra });
}

function answerError(dp: DataPath, ex: Exchange, status: number, kind: ErrorKind, message: string, extra: OutgoingHttpHeaders = {}): void {
  ex.error = message;
  ex.decision = 'error';
  const answer = ex.adapter.errorAnswer(kind, `chaperone: ${message}`);
  writeAnswer(dp, ex, status, answer.contentType, answer.body, { ...answer.headers, ...extra });
}

function writeAnswer(dp: DataPath, ex: Exchange, status: number, contentType: string, body: string, extra: OutgoingHttpHeaders): void {
  const { res } = ex;
  if (res.headersSent) {
    res.destroy();
  } else {
    res.writeHead(status, {
      ...chaperoneHeaders(dp, ex, ex.decision, extra),
      'content-type': contentType,
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  }
  finish(dp, ex, status);
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

/** Maps an upstream failure to 502 (unreachable, refused, TLS) or 504 (timed out). */
type UpstreamError = Error & { code?: string; cause?: { code?: string; message?: string } };

function upstreamFailed(dp: DataPath, ex: Exchange, err: UpstreamError): void {
  if (ex.res.destroyed || err.name === 'AbortError' || err.name === 'RequestAbortedError') {
    ex.error = 'client went away';
    ex.decision = 'error';
    finish(dp, ex, 499);
    return;
  }
  const code = err.code ?? err.cause?.code ?? '';
  const timedOut = TIMEOUT_CODES.has(code);
  dp.metrics.upstreamErrors.inc({ provider: ex.provider, kind: timedOut ? 'timeout' : 'connect' });
  const detail = err.cause?.message ? `${err.message}: ${err.cause.message}` : err.message;
  if (timedOut) answerError(dp, ex, 504, 'upstream_timeout', `upstream ${ex.target.host} timed out (${code})`);
  else answerError(dp, ex, 502, 'upstream_unavailable', `upstream ${ex.target.host} unreachable: ${detail}`);
}

/** Audit line, metrics and per-agent counts, exactly once per exchange. */
function finish(dp: DataPath, ex: Exchange, status: number): void {
  const latencyMs = elapsedMs(ex.started);
  const overheadMs = Math.max(0, latencyMs - ex.upstreamMs);
  const agentLabel = dp.metrics.agents.value(ex.agent);
  const call = ex.call;
  const usage: Usage | undefined = ex.response.usage;
  const model = ex.response.model ?? call?.model;
  dp.metrics.requests.inc({ provider: ex.provider, agent: agentLabel, decision: ex.decision });
  dp.metrics.duration.observe({ provider: ex.provider }, latencyMs / 1000);
  dp.metrics.overhead.observe({ provider: ex.provider }, overheadMs / 1000);
  if (usage) {
    const modelLabel = dp.metrics.models.value(model);
    dp.metrics.tokens.inc({ provider: ex.provider, model: modelLabel, type: 'input' }, usage.inputTokens);
    dp.metrics.tokens.inc({ provider: ex.provider, model: modelLabel, type: 'output' }, usage.outputTokens);
  }
  dp.stats.count(ex.agent, ex.decision);

  const findings = ex.outcome?.findings ?? [];
  const record: AuditRecord = {
    requestId: ex.id,
    agent: ex.agent,
    ...(ex.session ? { session: ex.session } : {}),
    provider: ex.provider,
    ...(call && call.operation !== 'unknown' ? { operation: call.operation } : {}),
    host: ex.target.host,
    method: ex.req.method ?? 'GET',
    path: pathWithoutQuery(ex.target.path),
    ...(model ? { model } : {}),
    ...(call?.toolsDefined.length ? { tools: call.toolsDefined } : {}),
    ...(ex.response.toolCalls.length ? { toolCalls: ex.response.toolCalls.map((t) => t.name) } : {}),
    decision: ex.decision,
    rules: [...new Set(findings.flatMap((f) => (f.rule ? [f.rule] : [])))],
    ...(ex.outcome?.final.policy ? { policy: ex.outcome.final.policy } : {}),
    status,
    latencyMs: round(latencyMs),
    overheadMs: round(overheadMs),
    ...(usage ? { tokens: usage } : {}),
    ...(ex.error ? { error: ex.error } : {}),
  };
  dp.audit.record(record);
}

const round = (ms: number): number => Math.round(ms * 100) / 100;
