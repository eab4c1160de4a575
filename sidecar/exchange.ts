// One HTTP exchange through the sidecar: agent -> adapter -> policy pipeline -> upstream ->
// response pipeline -> agent, then audit, metrics and settling the checks' state. Inspected calls
// (intercepted hosts and the base-URL routes) are buffered and parsed; other hosts' plain-HTTP
// calls stream straight through after the host-level checks.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { approvalHeader, holdBody, holdMessage, HOLD_STATUS, wantsAsync } from './approvals/hold-answer.js';
import { gate, useAll } from './approvals/resolve.js';
import { ApprovalStoreUnavailable, type ApprovalRecord } from './approvals/store.js';
import { pathWithoutQuery } from './audit.js';
import { decide as decideCall, prepareAndDecide, recordDecision, stopKind, stopStatus } from './decision.js';
import type { Call, OfferedTool, Provider, RequestFacts, ResponseFacts, StreamEvent, StreamFrame, Usage } from './call.js';
import type { ConfigSnapshot } from './config.js';
import type { DataPath, Target } from './data-path.js';
import { identify, type Identity } from './identity.js';
import {
  BodyTooLarge,
  elapsedMs,
  forwardableHeaders,
  headerValue,
  isJsonContentType,
  readBody,
  readUpTo,
  relayableHeaders,
  writeWithBackpressure,
} from './http-util.js';
import { effectiveMode, type LargeAnswers, type ModelPricing } from '../api/index.js';
import { malformedJsonMessage } from './json-syntax.js';
import { costOf } from './policy/pricing.js';
import { MalformedRequest, setAt, UnreadableStream, type ErrorKind, type ProviderAdapter, type RequestHead } from './providers/adapter.js';
import { adapterFor, likelyAdapterForHost, unknownAdapter } from './providers/index.js';
import { stringLeaves } from './providers/util.js';
import { passesUnread } from './policy/egress.js';
import { estimateInputTokens, estimateTokensOfText } from './policy/estimate.js';
import { closedPrefixInPieces, structuralProblem, structuralProblemInPieces } from './json-structure.js';
import { JSON_BOUNDS, JsonBeyondBounds, parseJsonInPieces, splitsPair, stringifyInPieces } from './json-pieces.js';
import { LARGE_BODIES_AT_ONCE, Turns } from './large-work.js';
import { decodeRequestBody, quoted, utf8Text } from './request-body.js';
import { noPause, type CallResult, type Pause } from './policy/pipeline.js';
import { mcpServerOf } from './tool-pins/book.js';
import { blocks, type Decision, type Outcome, type Verdict } from './policy/verdict.js';

/** Bodies (and whole answers) larger than this are read in steps, the event loop let run between them. */
const PAUSE_ABOVE_BYTES = 256 * 1024;
const letOthersRun = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** Large bodies read at once, taking turns (large-work.ts). */
const largeBodies = new Turns(LARGE_BODIES_AT_ONCE);

/** How a body of this many bytes (or characters) is read: in steps when it is large. */
const pauseFor = (size: number): Pause => (size > PAUSE_ABOVE_BYTES ? letOthersRun : noPause);

/** A JSON text read whole (small), or in pieces with the event loop let run between them (large). */
const parseJson = (text: string, pause: Pause): Promise<unknown> | unknown =>
  pause === noPause ? JSON.parse(text) : parseJsonInPieces(text, pause, JSON_BOUNDS);

/** structuralProblem, in steps for a large text. */
const structureProblemOf = (text: string, pause: Pause): Promise<string | undefined> | string | undefined =>
  pause === noPause ? structuralProblem(text) : structuralProblemInPieces(text, JSON_BOUNDS, pause);

/** The bytes of a JSON value, made in pieces for a large one. */
const stringifyJson = (value: unknown, pause: Pause): Promise<Buffer> | Buffer =>
  pause === noPause ? Buffer.from(JSON.stringify(value)) : stringifyInPieces(value, pause);


const NO_FACTS: RequestFacts = { operation: 'unknown', toolsDefined: [], toolCalls: [], texts: [], stream: false };
const EMPTY_RESPONSE: ResponseFacts = { toolCalls: [], texts: [] };

/** State of one exchange, filled in as it goes and read once by `finish`. */
class Exchange {
  readonly id = randomUUID();
  readonly started = process.hrtime.bigint();
  upstreamMs = 0;
  provider: Provider = 'unknown';
  adapter: ProviderAdapter = unknownAdapter;
  call: Call | undefined;
  /** Request-side outcome, then response-side findings appended. */
  outcome: Outcome | undefined;
  responseFindings: Verdict[] = [];
  /** The verdict reported in X-Chaperone-Rule / -Policy, when one stopped or changed the call. */
  reported: Verdict | undefined;
  response: ResponseFacts = EMPTY_RESPONSE;
  decision: Decision = 'allow';
  /** 100 Continue was sent: the client is sending its body. */
  continued = false;
  /** Set once the call went upstream: its checks must be told how it ended. */
  admitted = false;
  upstreamStatus = 0;
  failure: CallResult['failure'];
  costUsd: number | undefined;
  error: string | undefined;
  /** The answer was too large to hold: its checks read this many first bytes. */
  checkedBytes: number | undefined;
  /** The sidecar asked the upstream for stream usage the agent did not ask for (adapter.askForUsage). */
  usageAsked = false;

  readonly identity: Identity;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly target: Target,
    readonly snapshot: ConfigSnapshot,
  ) {
    this.identity = identify(headerValue(req.headers['x-chaperone-agent']), snapshot);
  }

  get agent(): string {
    return this.identity.agent;
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
  if (target.refused !== undefined) return refuseTarget(dp, ex, target.refused);
  try {
    if (target.inspect) await inspected(dp, ex);
    else await passThrough(dp, ex);
  } catch (err) {
    if (err instanceof BodyTooLarge) {
      // A client waiting for 100 Continue sends nothing more: close. One still sending is read to the
      // end (bounded) and dropped, so it reads the 413 instead of a reset connection.
      const waiting = expectsContinue(req) && !ex.continued;
      if (!waiting) drain(req, Math.max(DRAIN_FACTOR * err.limit, MIN_DRAIN_BYTES));
      answerError(dp, ex, 413, 'too_large', `request body exceeds the ${err.limit}-byte limit`, waiting ? { connection: 'close' } : {});
    } else if (err instanceof MalformedRequest) {
      answerError(dp, ex, 400, 'invalid_request', err.message);
    } else {
      upstreamFailed(dp, ex, err as UpstreamError);
    }
  }
}

/** How much of an over-limit body is read and dropped, in multiples of the limit, before the connection is cut. */
const DRAIN_FACTOR = 4;
const MIN_DRAIN_BYTES = 16 * 1024 * 1024;

/** Did the client send `Expect: 100-continue` (servers here answer it themselves, inner-server.ts)? */
function expectsContinue(req: IncomingMessage): boolean {
  return /\b100-continue\b/i.test(headerValue(req.headers.expect) ?? '');
}

function sendContinue(ex: Exchange): void {
  if (ex.continued || ex.res.headersSent) return;
  ex.continued = true;
  ex.res.writeContinue();
}

/** Reads and drops the rest of a request body; past `bound` bytes the connection is cut. */
function drain(req: IncomingMessage, bound: number): void {
  let dropped = 0;
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > bound) req.socket.destroy();
  });
  req.resume();
}

/**
 * A request target that could not be made canonical (canonical-path.ts): nothing can say which
 * checks it needs, so it is not forwarded. 400, in the shape the host's SDK reads, and audited.
 */
function refuseTarget(dp: DataPath, ex: Exchange, reason: string): void {
  ex.adapter = ex.target.inspect ? likelyAdapterForHost(ex.target.host) : unknownAdapter;
  ex.provider = ex.adapter.provider;
  answerError(dp, ex, 400, 'invalid_request', `malformed request target: ${reason}`, { connection: 'close' });
}

async function inspected(dp: DataPath, ex: Exchange): Promise<void> {
  const { req, target } = ex;
  const head = { host: target.host, method: req.method ?? 'GET', path: target.path, contentType: headerValue(req.headers['content-type']), accept: headerValue(req.headers.accept) };
  // Chosen by host and path first, so even a 413 for an unread body speaks the provider's dialect.
  ex.adapter = adapterFor(head, undefined);
  ex.provider = ex.adapter.provider;
  const declared = headerValue(req.headers['content-length']);
  if (expectsContinue(req)) {
    if (declared !== undefined && Number(declared) > dp.maxBodyBytes) throw new BodyTooLarge(dp.maxBodyBytes);
    sendContinue(ex);
  }
  const raw = await readBody(req, dp.maxBodyBytes, declared);
  // A large body is read in steps with the event loop let run between them (other calls, health
  // checks), so no one request holds it long (bench/stall.ts measures how long). Large by what it
  // decodes to: 59 KiB of gzip can hold 10 MiB of JSON.
  let pause = pauseFor(raw.length);

  // Large bodies take turns while they are read (large-work.ts): a coded one may be large once decoded.
  const endTurn = raw.length > PAUSE_ABOVE_BYTES || req.headers['content-encoding'] !== undefined ? await largeBodies.take() : undefined;
  let call: Call;
  let forward: Buffer = raw;
  try {
    // Read as the provider would, whatever the content type claims: JSON in a form-encoded or
    // text/plain request, gzip, a BOM or UTF-16 are checked like plain JSON, and forwarded decoded.
    let body: unknown;
    let unreadable: { reason: string; malformedJson: boolean } | undefined;
    if (raw.length > 0) {
      const decoded = await decodeRequestBody(raw, headerValue(req.headers['content-encoding']), head.contentType, dp.maxBodyBytes, letOthersRun);
      if (decoded.ok) pause = pauseFor(decoded.text.length);
      await pause();
      if (!decoded.ok) {
        unreadable = { reason: decoded.reason, malformedJson: false };
      } else {
        try {
          body = await parseJson(decoded.text, pause);
          await pause();
          if (decoded.changed) forward = Buffer.from(decoded.text);
          // A body the provider could read otherwise than the checks do (a key repeated with another
          // value), or nested deeper than any provider's format, is refused before any check walks it.
          const problem = await structureProblemOf(decoded.text, pause);
          await pause();
          if (problem) throw new MalformedRequest(problem);
        } catch (err) {
          if (err instanceof MalformedRequest) throw err;
          if (err instanceof JsonBeyondBounds) throw new MalformedRequest(err.message);
          // JSON.parse's own message quotes the body.
          unreadable = { reason: await malformedJsonMessage(decoded.changed ? Buffer.from(decoded.text) : raw, pause), malformedJson: true };
        }
      }
    }
    ex.adapter = adapterFor(head, body);
    ex.provider = ex.adapter.provider;
    // Fail closed: what cannot be read on an intercepted host is not forwarded, unless a policy lets
    // this host and path through unread (multipart uploads, say).
    if (unreadable && !passesUnread(ex.snapshot.policies, target.host, target.path)) {
      if (ex.adapter.provider === 'unknown') ex.adapter = likelyAdapterForHost(target.host);
      // Broken JSON sent as JSON answers 400, as the provider would.
      if (unreadable.malformedJson && isJsonContentType(head.contentType)) throw new MalformedRequest(unreadable.reason);
      const what = unreadable.malformedJson ? `it is not JSON (content-type ${head.contentType === undefined ? 'none' : quoted(head.contentType)})` : unreadable.reason;
      return answerError(dp, ex, 415, 'invalid_request', `the request body on an intercepted host cannot be checked: ${what}; a policy can let this host and path through unread (spec.intercept.passThrough)`);
    }
    // JSON no adapter claims, on a host whose calls are checked: its format is unknown, but every
    // string in it is still text the server reads, so DLP reads it too.
    const facts = body === undefined ? bodilessFacts(ex.adapter, head) : ex.adapter.provider === 'unknown' ? { ...NO_FACTS, texts: stringLeaves(body, []) } : ex.adapter.parseRequest(head, body);
    await pause();

    call = {
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
    if (pause !== noPause || dp.pipeline.preparesEveryCall) await dp.pipeline.prepareRequest(call, ex.snapshot.policies, pause);
  } finally {
    endTurn?.();
  }
  if (call.provider === 'mcp' && call.toolCalls.length > 0 && pinsTools(ex)) call.toolPins = await dp.toolPins.view(serverOf(ex));
  const outcome = await decide(dp, ex, call);
  if (!outcome) return;

  let forwardBody: Buffer | null = forward.length > 0 ? forward : null;
  let rewritten = false;
  for (const rewrite of outcome.rewrites) rewritten = setAt(call.body, rewrite.path, rewrite.text) || rewritten;
  if (outcome.stripTools.length > 0) rewritten = ex.adapter.removeTools(call.body, new Set(outcome.stripTools)) > 0 || rewritten;
  // A stream that reports its usage only when asked is asked to, so that every stream is priced and
  // settled; what the agent did not ask for it does not get (StreamFrame.sidecarOnly).
  if (call.stream && ex.adapter.askForUsage?.(head, call.body)) rewritten = ex.usageAsked = true;
  if (rewritten) forwardBody = await stringifyJson(call.body, pause);
  // Ask for an uncompressed answer: usage and tool calls must be readable as they pass.
  // A decoded body goes without its content coding (and, read from UTF-16, as UTF-8 JSON).
  const decodedAway = forward !== raw;
  const headers = forwardableHeaders(req.headers, decodedAway ? ['content-length', 'accept-encoding', 'content-encoding', 'content-type'] : ['content-length', 'accept-encoding']);
  if (decodedAway) headers['content-type'] = 'application/json';
  headers['accept-encoding'] = 'identity';

  const upstream = await requestUpstream(dp, ex, headers, forwardBody);
  const contentType = headerValue(upstream.headers['content-type']);
  if (ex.provider === 'unknown') return relayRaw(dp, ex, upstream);
  const inspect = dp.pipeline.inspectsResponses(ex.snapshot.policies);
  // Where answers are checked, what the agent's SDK would read is read here first, whatever the
  // labels say: SDKs parse a 2xx answer as JSON or as a stream by what they asked for, not by its
  // content type, and an HTTP library undoes a content coding on its own.
  if (inspect) {
    const coding = headerValue(upstream.headers['content-encoding'])?.trim().toLowerCase();
    if (coding && coding !== 'identity') return refuseAnswer(dp, ex, upstream, `the upstream's answer cannot be checked: it comes with content-encoding ${quoted(coding)}, which was not asked for`);
  }
  if (ex.adapter.isStream(contentType)) return relayStream(dp, ex, upstream, inspect);
  // An answer of audio bytes has no text to check: relayed as it comes, unless it is JSON (an error).
  if (ex.adapter.binaryAnswer?.(call) && !isJsonContentType(contentType)) return relayRaw(dp, ex, upstream);
  if (isJsonContentType(contentType) || (inspect && upstream.statusCode < 300)) return relayJson(dp, ex, upstream, inspect);
  return relayRaw(dp, ex, upstream);
}

/**
 * A request without a body (a GET, a DELETE) carries no text to check, but its adapter may still
 * name it (MCP's GET event stream); one that reads only bodies refuses it, and it goes as unknown.
 */
function bodilessFacts(adapter: ProviderAdapter, head: RequestHead): RequestFacts {
  try {
    return adapter.parseRequest(head, undefined);
  } catch {
    // Nothing was sent to check, whatever an adapter made of nothing.
    return NO_FACTS;
  }
}

/** Does a policy of this call pin MCP tools (a toolPinning section not off)? */
const pinsTools = (ex: Exchange): boolean => ex.snapshot.policies.some((p) => p.spec.toolPinning !== undefined && effectiveMode(p.spec, 'toolPinning') !== 'off');

const serverOf = (ex: Exchange): string => mcpServerOf(ex.target.host, ex.target.port, ex.target.path);

/**
 * A server offered tools (an MCP tools/list answer, whole or in a stream): where tools are pinned,
 * the first listing pins them and the call carries the pins for the toolPinning check to compare.
 */
async function pinOffered(dp: DataPath, ex: Exchange, offered: readonly OfferedTool[] | undefined): Promise<void> {
  if (!offered || offered.length === 0 || !ex.call || !pinsTools(ex)) return;
  ex.call.toolPins = await dp.toolPins.observe(serverOf(ex), offered);
}

/** An upstream answer that is not relayed (unreadable, too large): its rest is dropped, the agent gets a 502. */
function refuseAnswer(dp: DataPath, ex: Exchange, upstream: Dispatcher.ResponseData, message: string): void {
  discard(upstream);
  ex.failure = 'server_error';
  answerError(dp, ex, 502, 'upstream_unavailable', message);
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
  if (!(await decide(dp, ex, call))) return;
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  if (hasBody && expectsContinue(req)) sendContinue(ex);
  const upstream = await requestUpstream(dp, ex, forwardableHeaders(req.headers), hasBody ? req : null);
  return relayRaw(dp, ex, upstream);
}

/**
 * Runs the request checks; answers a stop itself and returns undefined, else the outcome. Tool calls
 * held for approval are looked up: when every one is approved the checks run again with them
 * approved, and the approvals are used up once the call may go.
 */
async function decide(dp: DataPath, ex: Exchange, call: Call): Promise<Outcome | undefined> {
  let outcome = decideCall(dp, call, ex.snapshot);
  let approvals: ApprovalRecord[] = [];
  if (outcome.final.decision === 'hold') {
    ex.outcome = outcome;
    const held = await lookUpHolds(dp, ex, outcome, 'request');
    if (held.kind === 'stop') return void answerStop(dp, ex, held);
    approvals = held.use;
    call.approvedDigests = new Set(held.digests);
    // The hold gave back what the prepare step reserved: prepared again (fleet-wide limits).
    outcome = await prepareAndDecide(dp, call, ex.snapshot);
  }
  ex.outcome = outcome;
  if (outcome.final.decision !== 'allow') ex.reported = outcome.final;
  if (blocks(outcome.final.decision)) {
    answerVerdict(dp, ex, outcome.final);
    return undefined;
  }
  ex.decision = outcome.final.decision;
  ex.admitted = true;
  const used = await useApprovals(dp, ex, approvals);
  if (used.kind === 'stop') return void answerStop(dp, ex, used);
  return outcome;
}

/** Why a held call does not go on: waiting for a person, refused, or the store could not say. */
interface Stop {
  kind: 'stop';
  verdict: Verdict;
  /** The records the agent waits on (a hold). */
  records?: ApprovalRecord[];
  /** The approval store could not answer: not forwarded (503). */
  unavailable?: string;
}
type Held = { kind: 'pass'; use: ApprovalRecord[]; digests: string[] } | Stop;

/** Looks the outcome's held tool calls up in the approval store, creating records for new holds. */
async function lookUpHolds(dp: DataPath, ex: Exchange, outcome: Outcome, heldAt: 'request' | 'response'): Promise<Held> {
  const verdict = outcome.final;
  const holds = outcome.findings.flatMap((f) => (f.decision === 'hold' ? (f.holds ?? []) : []));
  try {
    const g = await gate(dp.approvals, holds, { requestId: ex.id, heldAt, provider: ex.provider });
    dp.metrics.approvalLookups.inc({ result: g.kind === 'pass' ? 'passed' : g.kind === 'deny' ? 'refused' : 'held' });
    if (g.kind === 'pass') return g;
    if (g.kind === 'deny') return { kind: 'stop', verdict: { decision: 'deny', rule: 'approval', ...(verdict.policy ? { policy: verdict.policy } : {}), reason: g.reason } };
    return { kind: 'stop', verdict, records: g.records };
  } catch (err) {
    if (!(err instanceof ApprovalStoreUnavailable)) throw err;
    dp.metrics.approvalLookups.inc({ result: 'unavailable' });
    return { kind: 'stop', verdict, unavailable: err.message };
  }
}

/** Uses the approvals up, one execution each; another execution that used one first stops this one. */
async function useApprovals(dp: DataPath, ex: Exchange, records: readonly ApprovalRecord[]): Promise<Held> {
  if (records.length === 0) return { kind: 'pass', use: [], digests: [] };
  try {
    const lost = await useAll(dp.approvals, records, ex.id);
    if (!lost) return { kind: 'pass', use: [...records], digests: records.map((r) => r.digest) };
    return { kind: 'stop', verdict: { decision: 'deny', rule: 'approval', reason: `approval ${lost.name} for tool ${lost.tool} was already used by another execution` } };
  } catch (err) {
    if (!(err instanceof ApprovalStoreUnavailable)) throw err;
    return { kind: 'stop', verdict: { decision: 'deny', rule: 'approval' }, unavailable: err.message };
  }
}

/** The words and error kind of a stop, for a whole answer or the end of a stream. */
function describeStop(dp: DataPath, stop: Stop): { kind: ErrorKind; message: string } {
  if (stop.unavailable) return { kind: 'upstream_unavailable', message: `chaperone: the call needs an approval and approvals are unavailable: ${stop.unavailable}` };
  if (stop.records) return { kind: 'approval_required', message: holdMessage(dp.approvals, stop.records, stop.verdict.reason) };
  return { kind: stopKind(stop.verdict.decision), message: `chaperone: ${stop.verdict.reason ?? 'denied by approval'}` };
}

function answerStop(dp: DataPath, ex: Exchange, stop: Stop): void {
  ex.reported = stop.verdict;
  if (stop.unavailable) {
    ex.decision = 'deny';
    const { kind, message } = describeStop(dp, stop);
    return writeError(dp, ex, 503, kind, message, { 'retry-after': '5' });
  }
  if (!stop.records) return answerVerdict(dp, ex, stop.verdict);
  ex.decision = 'hold';
  const { kind, message } = describeStop(dp, stop);
  const extra = { 'x-chaperone-approval': approvalHeader(stop.records) };
  if (wantsAsync(headerValue(ex.req.headers.prefer))) return writeAnswer(dp, ex, 202, 'application/json', holdBody(stop.records, message), { ...extra, 'preference-applied': 'respond-async' });
  writeError(dp, ex, HOLD_STATUS, kind, message, extra);
}

async function requestUpstream(
  dp: DataPath,
  ex: Exchange,
  headers: Record<string, string | string[]>,
  body: Buffer | IncomingMessage | null,
): Promise<Dispatcher.ResponseData> {
  const { target, res } = ex;
  // The agent hung up: stop the upstream call too (no tokens spent on an answer nobody reads).
  // undici takes an EventEmitter as a signal: an AbortController costs ~10 µs per call.
  const abort = new EventEmitter();
  res.once('close', () => {
    if (!res.writableFinished) abort.emit('abort');
  });
  const sent = process.hrtime.bigint();
  try {
    const answer = await dp.upstream.agent.request({
      origin: `${target.scheme}://${target.host}:${target.port}`,
      path: target.path,
      method: (ex.req.method ?? 'GET') as Dispatcher.HttpMethod,
      headers,
      body,
      signal: abort,
    });
    ex.upstreamStatus = answer.statusCode;
    if (answer.statusCode >= 500) ex.failure = 'server_error';
    return answer;
  } finally {
    ex.upstreamMs += elapsedMs(sent);
  }
}

function chaperoneHeaders(dp: DataPath, ex: Exchange, extra: OutgoingHttpHeaders = {}): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {
    'x-chaperone-request-id': ex.id,
    'x-chaperone-decision': ex.decision,
    'x-chaperone-latency-ms': elapsedMs(ex.started).toFixed(1),
    ...extra,
  };
  if (ex.reported?.rule) headers['x-chaperone-rule'] = ex.reported.rule;
  if (ex.reported?.policy) headers['x-chaperone-policy'] = ex.reported.policy;
  if (ex.costUsd !== undefined) headers['x-chaperone-cost-usd'] = ex.costUsd.toFixed(6);
  if (dp.draining) headers.connection = 'close';
  return headers;
}

/** Notes a response-side verdict: it may stop the answer or change it. */
function noteResponseVerdict(ex: Exchange, outcome: Outcome): void {
  ex.responseFindings.push(...outcome.findings);
  const v = outcome.final;
  if (v.decision === 'allow') return;
  if (blocks(v.decision) || v.decision === 'redact' || !ex.reported) ex.reported = v;
  if (blocks(v.decision)) ex.decision = 'deny';
  else if (v.decision === 'redact' || ex.decision === 'allow') ex.decision = v.decision;
}

async function relayJson(dp: DataPath, ex: Exchange, upstream: Dispatcher.ResponseData, inspect: boolean): Promise<void> {
  const started = process.hrtime.bigint();
  // Checks need the whole answer, and one too large to hold is never buffered on: it is refused,
  // or (largeAnswers: checkPrefix) checked on its first bytes and relayed as it comes.
  const limit = dp.maxResponseBytes;
  const large = largeAnswersOf(ex.snapshot);
  const refuseLarge = (): void => refuseAnswer(dp, ex, upstream, `the upstream's answer exceeds the ${limit}-byte limit (--max-response-bytes): refused`);
  if (large === 'refuse' && Number(headerValue(upstream.headers['content-length'])) > limit) return refuseLarge();
  const read = await readUpTo(upstream.body, limit);
  ex.upstreamMs += elapsedMs(started);
  if (!read.complete) return large === 'refuse' ? refuseLarge() : relayLargeJson(dp, ex, upstream, read.chunks, read.size, inspect);
  /** What the agent gets: the answer as it came, or rewritten. */
  let out: readonly Buffer[] = read.chunks;
  const policies = ex.snapshot.policies;
  const pause = pauseFor(read.size);
  let json: unknown;
  // Large answers take turns while they are read (large-work.ts); not while the client takes them.
  const endTurn = pause !== noPause ? await largeBodies.take() : undefined;
  try {
    const text = await utf8Text(read.chunks, pause);
    await pause();
    let unreadable: string | undefined;
    try {
      json = await parseJson(text, pause);
    } catch (err) {
      unreadable = err instanceof JsonBeyondBounds ? err.message.replace('the JSON body', 'it') : 'it is not JSON';
    }
    await pause();
    // Where answers are checked, an answer typed JSON that the checks cannot read, or could read
    // otherwise than the agent's parser, is not relayed: a lenient reader (NaN, a repeated key) might
    // find a tool call in it that the checks never saw. Elsewhere it is relayed as is.
    if (inspect && read.size > 0) {
      unreadable ??= (await structureProblemOf(text, pause))?.replace('the JSON body', 'it');
      await pause();
      if (unreadable !== undefined) return refuseAnswer(dp, ex, upstream, `the upstream's answer cannot be checked: ${unreadable}`);
    }
    try {
      ex.response = json === undefined ? EMPTY_RESPONSE : ex.adapter.parseResponse(json);
    } catch {
      ex.response = EMPTY_RESPONSE;
      if (inspect) return refuseAnswer(dp, ex, upstream, `the upstream's answer cannot be checked: the sidecar could not read it`);
    }
    if (inspect) await pinOffered(dp, ex, ex.response.toolsOffered);
    ex.costUsd = priceCall(ex);
    if (json !== undefined && inspect && pause !== noPause) {
      await pause();
      await dp.pipeline.prepareResponse(ex.call!, ex.response, policies, pause);
    }
  } finally {
    endTurn?.();
  }
  if (json !== undefined && inspect) {
    const outcome = dp.pipeline.evaluateResponse(ex.call!, ex.response, policies);
    // The model proposed a tool call that needs a person's approval: the agent sees the answer only
    // with an approval for that exact call, used up by this answer; otherwise it sees the hold.
    if (outcome.final.decision === 'hold') {
      const stop = await releaseHeldAnswer(dp, ex, outcome);
      if (stop) return answerStop(dp, ex, stop);
    } else {
      noteResponseVerdict(ex, outcome);
    }
    // The model proposed something the agent must not act on: it never sees the answer.
    if (blocks(outcome.final.decision) && outcome.final.decision !== 'hold') return answerVerdict(dp, ex, { ...outcome.final, decision: 'deny' });
    if (outcome.rewrites.length > 0 || outcome.stripTools.length > 0) {
      for (const r of outcome.rewrites) setAt(json, r.path, r.text);
      ex.adapter.removeTools(json, new Set(outcome.stripTools));
      out = [await stringifyJson(json, pause)];
    }
  }
  const headers = relayableHeaders(upstream.headers, ['content-length']);
  ex.res.writeHead(upstream.statusCode, { ...headers, ...chaperoneHeaders(dp, ex), 'content-length': out.reduce((n, b) => n + b.length, 0) });
  // Chunk by chunk as the client takes them: one loop writing 32 MiB would hold the event loop.
  for (const bytes of out) if (!ex.res.destroyed) await writeWithBackpressure(ex.res, bytes);
  ex.res.end();
  finish(dp, ex, upstream.statusCode);
}

async function relayStream(dp: DataPath, ex: Exchange, upstream: Dispatcher.ResponseData, inspect: boolean): Promise<void> {
  const { res } = ex;
  const call = ex.call!;
  const policies = ex.snapshot.policies;
  const parser = ex.adapter.streamParser(ex.usageAsked ? { usageAskedBySidecar: true } : undefined);
  /** Characters of text the model streamed: its output, estimated, if the stream ends without usage. */
  let streamedChars = 0;
  /** The upstream's stream ran to its end (not cut by a check, the client or a failure). */
  let ended = false;
  // Frames are forwarded whole, as soon as they are complete; the length changes if we cut the stream.
  const headers = relayableHeaders(upstream.headers, ['content-length']);
  res.writeHead(upstream.statusCode, { ...headers, ...chaperoneHeaders(dp, ex) });
  res.flushHeaders();
  const chunks = upstream.body[Symbol.asyncIterator]();
  let cut: Verdict | undefined;
  // From a tool call that needs approval on, frames are held back (bounded) until the stream ends
  // and the call's arguments are complete; then they go out only if that exact call is approved.
  let holding = false;
  const heldFrames: Buffer[] = [];
  let heldBytes = 0;
  /** Characters of text judged since the event loop last ran. */
  let judgedChars = 0;
  /** Judges whole frames and sends (or holds back) those that may go; sets `cut` on a stop. */
  const pass = async (frames: readonly StreamFrame[]): Promise<void> => {
    const out: Buffer[] = [];
    for (const frame of frames) {
      // What the checks cannot read, they cannot pass: the agent's reader might see a tool call in it.
      if (inspect && frame.unreadable) throw new UnreadableStream(`a frame of the upstream's stream cannot be checked: ${frame.unreadable}`);
      for (const event of frame.events) if (event.type === 'text') streamedChars += event.text.length;
      let bytes = frame.bytes;
      // Judge every event before its frame leaves: a forbidden tool call is cut before the agent sees its name.
      if (inspect) {
        for (const event of piecesOf(frame.events)) {
          // A huge delta is judged a piece at a time, the event loop let run in between.
          if (event.type === 'text' && (judgedChars += event.text.length) >= STREAM_PIECE_CHARS) {
            judgedChars = 0;
            await letOthersRun();
          }
          if (event.type === 'tools_offered') await pinOffered(dp, ex, event.tools);
          const outcome = dp.pipeline.evaluateStreamEvent(call, event, policies);
          if (outcome.final.decision === 'hold') {
            holding = true;
            ex.responseFindings.push(...outcome.findings.filter((f) => f.decision !== 'hold'));
            continue;
          }
          noteResponseVerdict(ex, outcome);
          if (blocks(outcome.final.decision)) cut = outcome.final;
          // Tools a server offers that the agent may not use leave the frame (an MCP tools/list result).
          if (outcome.stripTools.length > 0 && ex.adapter.removeFrameTools) bytes = ex.adapter.removeFrameTools(bytes, new Set(outcome.stripTools));
        }
      }
      if (cut) break;
      // Read, not relayed: what only the sidecar asked for (a usage chunk the agent did not want).
      if (frame.sidecarOnly) continue;
      if (!holding) {
        out.push(bytes);
        continue;
      }
      heldFrames.push(bytes);
      heldBytes += bytes.length;
      if (heldBytes > dp.maxBodyBytes) {
        cut = { decision: 'deny', rule: 'approval', reason: `a stream held for approval may hold at most ${dp.maxBodyBytes} bytes` };
        break;
      }
    }
    if (out.length > 0) await writeWithBackpressure(res, out.length === 1 ? out[0]! : Buffer.concat(out));
  };
  try {
    for (let chunk = await nextChunk(ex, chunks); chunk; chunk = await nextChunk(ex, chunks)) {
      await pass(parser.push(chunk));
      if (cut || res.destroyed) break;
    }
    // A last event the upstream did not end with a blank line is judged like any other.
    if (!cut && !res.destroyed) await pass(parser.end());
    ended = !cut && !res.destroyed;
    if (cut) {
      res.end(streamStop(ex, stopKind(cut.decision), `chaperone: ${cut.reason ?? `stopped by ${cut.rule ?? 'policy'}`}`));
      discard(upstream);
    } else {
      const stop = holding ? await releaseHeldStream(dp, ex, parser.facts()) : undefined;
      if (stop) {
        ex.reported = stop.verdict;
        ex.decision = stop.records ? 'hold' : 'deny';
        const { kind, message } = describeStop(dp, stop);
        res.end(streamStop(ex, kind, message));
      } else {
        for (const bytes of heldFrames) await writeWithBackpressure(res, bytes);
        res.end();
      }
    }
  } catch (err) {
    if (err instanceof UnreadableStream) {
      // The framing is lost, an event is too large to hold, or a frame cannot be read: what the
      // sidecar cannot read, it does not forward.
      ex.error = `upstream stream refused: ${err.message}`;
      ex.decision = 'error';
      res.end(streamStop(ex, 'upstream_unavailable', `chaperone: ${err.message}`));
      discard(upstream);
    } else {
      // The upstream broke mid-stream: the agent sees a truncated stream, as it would without us.
      ex.error = `upstream stream failed: ${(err as Error).message}`;
      ex.failure = 'connect';
      res.destroy();
    }
  }
  ex.response = withStreamedUsage(ex, parser.facts(), streamedChars, ended);
  ex.costUsd = priceCall(ex);
  finish(dp, ex, upstream.statusCode);
}

/**
 * A model's stream that ended without reporting usage (cut short by the client, the upstream or a
 * check) is not free: its usage is estimated, input from the request as the checks estimate it and
 * output from the text streamed so far at ~4 characters per token (tool-call arguments counted as
 * text), so budgets, cost and token limits settle on that rather than on $0. A stream cut before
 * its last usage report (Anthropic's message_delta) is charged at least that estimate of its output.
 */
function withStreamedUsage(ex: Exchange, facts: ResponseFacts, streamedChars: number, ended: boolean): ResponseFacts {
  const call = ex.call;
  if (!call || call.provider === 'mcp' || call.provider === 'unknown') return facts;
  if (ex.upstreamStatus < 200 || ex.upstreamStatus >= 300) return facts;
  if (facts.usage && ended) return facts;
  let chars = streamedChars;
  for (const t of facts.toolCalls) chars += t.arguments === undefined ? 0 : typeof t.arguments === 'string' ? t.arguments.length : JSON.stringify(t.arguments).length;
  const output = estimateTokensOfText(chars);
  if (facts.usage) return facts.usage.outputTokens >= output ? facts : { ...facts, usage: { ...facts.usage, outputTokens: output } };
  return { ...facts, usage: { inputTokens: estimateInputTokens(call), outputTokens: output } };
}

/**
 * A whole JSON answer over --max-response-bytes under `largeAnswers: checkPrefix`: the checks read its
 * first bytes made whole (closedPrefix: every tool call the prefix names, with what of it arrived);
 * if they let it pass it is relayed as it comes, never buffered. What would need the answer held or
 * changed (a stop, a hold for approval, a redaction) refuses it: nothing of it has been sent yet.
 */
async function relayLargeJson(dp: DataPath, ex: Exchange, upstream: Dispatcher.ResponseData, prefix: readonly Buffer[], size: number, inspect: boolean): Promise<void> {
  const policies = ex.snapshot.policies;
  ex.checkedBytes = size;
  // Its prefix is a large body: read in turns with the others (large-work.ts).
  const endTurn = await largeBodies.take();
  try {
    const closed = await closedPrefixInPieces(await utf8Text(prefix, letOthersRun), JSON_BOUNDS.maxDepth, letOthersRun);
    await letOthersRun();
    try {
      if (closed === undefined || (await structuralProblemInPieces(closed, JSON_BOUNDS, letOthersRun)) !== undefined) throw new Error('unreadable');
      const json: unknown = await parseJsonInPieces(closed, letOthersRun, JSON_BOUNDS);
      await letOthersRun();
      ex.response = ex.adapter.parseResponse(json);
    } catch {
      return refuseAnswer(dp, ex, upstream, `the upstream's answer exceeds the ${dp.maxResponseBytes}-byte limit, and its first bytes cannot be checked: refused`);
    }
    if (inspect) await pinOffered(dp, ex, ex.response.toolsOffered);
    if (inspect) await dp.pipeline.prepareResponse(ex.call!, ex.response, policies, letOthersRun);
  } finally {
    endTurn();
  }
  if (inspect) {
    const outcome = dp.pipeline.evaluateResponse(ex.call!, ex.response, policies);
    noteResponseVerdict(ex, outcome);
    const v = outcome.final;
    if (blocks(v.decision) || outcome.rewrites.length > 0 || outcome.stripTools.length > 0) {
      const why = v.decision === 'hold' ? 'needs a person\'s approval' : blocks(v.decision) ? (v.reason ?? `is stopped by ${v.rule ?? 'policy'}`) : 'would need redacting';
      discard(upstream);
      // A stop like any other (403, decision deny, the rule named), though a hold or a redaction caused it.
      return answerVerdict(dp, ex, { ...v, decision: 'deny', reason: `the upstream's answer ${why}, and at over ${dp.maxResponseBytes} bytes it is too large to hold: refused` });
    }
  }
  return relayRaw(dp, ex, upstream, prefix);
}

async function relayRaw(dp: DataPath, ex: Exchange, upstream: Dispatcher.ResponseData, first: readonly Buffer[] = []): Promise<void> {
  const { res } = ex;
  res.writeHead(upstream.statusCode, { ...relayableHeaders(upstream.headers), ...chaperoneHeaders(dp, ex) });
  const chunks = upstream.body[Symbol.asyncIterator]();
  try {
    for (const bytes of first) await writeWithBackpressure(res, bytes);
    for (let chunk = await nextChunk(ex, chunks); chunk; chunk = await nextChunk(ex, chunks)) {
      await writeWithBackpressure(res, chunk);
      if (res.destroyed) break;
    }
    res.end();
  } catch (err) {
    ex.error = `upstream body failed: ${(err as Error).message}`;
    ex.failure = 'connect';
    res.destroy();
  }
  finish(dp, ex, upstream.statusCode);
}

/**
 * The end of a stream held for approval: its tool calls are complete now. Returns why the held
 * frames must not go out, or undefined when every held call is approved (and now used).
 */
async function releaseHeldStream(dp: DataPath, ex: Exchange, facts: ResponseFacts): Promise<Stop | undefined> {
  const outcome = dp.pipeline.evaluateResponse(ex.call!, facts, ex.snapshot.policies);
  if (outcome.final.decision !== 'hold') {
    if (!blocks(outcome.final.decision)) return undefined;
    return { kind: 'stop', verdict: outcome.final };
  }
  return releaseHeldAnswer(dp, ex, outcome);
}

/**
 * An answer whose proposed tool calls are held: released (undefined) only when every one is approved
 * and now used by this answer; otherwise why not.
 */
async function releaseHeldAnswer(dp: DataPath, ex: Exchange, outcome: Outcome): Promise<Stop | undefined> {
  ex.responseFindings.push(...outcome.findings);
  const held = await lookUpHolds(dp, ex, outcome, 'response');
  const used = held.kind === 'pass' ? await useApprovals(dp, ex, held.use) : held;
  return used.kind === 'stop' ? used : undefined;
}

/** What to do with a whole JSON answer too large to hold: checkPrefix only when every policy that says something says so. */
function largeAnswersOf(snapshot: ConfigSnapshot): LargeAnswers {
  const said = snapshot.policies.flatMap((p) => (p.spec.intercept?.largeAnswers ? [p.spec.intercept.largeAnswers] : []));
  return said.length > 0 && said.every((a) => a === 'checkPrefix') ? 'checkPrefix' : 'refuse';
}

/** Text events longer than this are judged in pieces (see piecesOf). */
const STREAM_PIECE_CHARS = 256 * 1024;

/**
 * A stream's events as the checks judge them: a huge text delta (one 8 MiB event) as consecutive
 * smaller deltas. The checks read a stream's text as a sequence of deltas anyway (DLP keeps a window
 * across them), so the verdicts are the same, and the event loop can run between two pieces. Cuts
 * never split a surrogate pair.
 */
function* piecesOf(events: readonly StreamEvent[]): Generator<StreamEvent> {
  for (const event of events) {
    if (event.type !== 'text' || event.text.length <= STREAM_PIECE_CHARS) {
      yield event;
      continue;
    }
    const { text } = event;
    for (let at = 0; at < text.length; ) {
      let end = Math.min(at + STREAM_PIECE_CHARS, text.length);
      if (splitsPair(text, end)) end += end - 1 > at ? -1 : 1;
      yield { type: 'text', text: text.slice(at, end) };
      at = end;
    }
  }
}

/**
 * Drops the rest of an upstream answer. Destroying undici's body emits an 'error' (the request was
 * aborted) that nobody may be listening for any more, which would end the process: it is caught here.
 */
function discard(upstream: Dispatcher.ResponseData): void {
  upstream.body.on('error', () => undefined);
  upstream.body.destroy();
}

/** The selected policies' price overrides, in order, once per config snapshot. */
const overridesOf = new WeakMap<ConfigSnapshot, ModelPricing[]>();

/** The next upstream chunk (undefined at the end); the wait counts as upstream time, not overhead. */
async function nextChunk(ex: Exchange, chunks: AsyncIterator<unknown>): Promise<Buffer | undefined> {
  const waited = process.hrtime.bigint();
  const next = await chunks.next();
  ex.upstreamMs += elapsedMs(waited);
  return next.done ? undefined : (next.value as Buffer);
}

/** Cost of the call from its usage, with the selected policies' price overrides first. */
function priceCall(ex: Exchange): number | undefined {
  const usage = ex.response.usage;
  const model = ex.response.model ?? ex.call?.model;
  if (!usage || !model) return undefined;
  let overrides = overridesOf.get(ex.snapshot);
  if (!overrides) overridesOf.set(ex.snapshot, (overrides = ex.snapshot.policies.flatMap((p) => p.spec.budget?.pricing ?? [])));
  return costOf(model, usage, overrides);
}

/** Answers a blocking verdict without calling upstream (or instead of relaying the upstream's answer). */
function answerVerdict(dp: DataPath, ex: Exchange, verdict: Verdict): void {
  ex.decision = verdict.decision;
  ex.reported = verdict;
  const status = stopStatus(verdict.decision, HOLD_STATUS);
  const extra: OutgoingHttpHeaders = {};
  if (verdict.retryAfterSeconds !== undefined) extra['retry-after'] = String(Math.max(1, Math.ceil(verdict.retryAfterSeconds)));
  const kind = stopKind(verdict.decision);
  writeError(dp, ex, status, kind, `chaperone: ${verdict.reason ?? `denied by ${verdict.rule ?? 'policy'}`}`, extra);
}

function answerError(dp: DataPath, ex: Exchange, status: number, kind: ErrorKind, message: string, extra: OutgoingHttpHeaders = {}): void {
  ex.error = message;
  ex.decision = 'error';
  writeError(dp, ex, status, kind, `chaperone: ${message}`, extra);
}

/**
 * An answer of the sidecar's own, in the adapter's shape: for the request as read, when it was (a
 * JSON-RPC answer names the request's ids), with the adapter's status when its format has its own.
 */
function writeError(dp: DataPath, ex: Exchange, status: number, kind: ErrorKind, message: string, extra: OutgoingHttpHeaders = {}): void {
  const answer = ex.adapter.errorAnswer(kind, message, ex.call?.body);
  writeAnswer(dp, ex, answer.status ?? status, answer.contentType, answer.body, { ...answer.headers, ...extra });
}

/** The frame that ends a stream the sidecar stops, in the adapter's shape, for the request as read. */
const streamStop = (ex: Exchange, kind: ErrorKind, message: string): Buffer => ex.adapter.streamError(kind, message, ex.call?.body);

function writeAnswer(dp: DataPath, ex: Exchange, status: number, contentType: string, body: string, extra: OutgoingHttpHeaders): void {
  const { res } = ex;
  if (res.headersSent) {
    res.destroy();
  } else {
    res.writeHead(status, {
      ...chaperoneHeaders(dp, ex, extra),
      'content-type': contentType,
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  }
  finish(dp, ex, status);
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

type UpstreamError = Error & { code?: string; cause?: { code?: string; message?: string } };

/** Maps an upstream failure to 502 (unreachable, refused, TLS) or 504 (timed out). */
function upstreamFailed(dp: DataPath, ex: Exchange, err: UpstreamError): void {
  if (ex.res.destroyed || err.name === 'AbortError' || err.name === 'RequestAbortedError') {
    ex.error = 'client went away';
    ex.decision = 'error';
    finish(dp, ex, 499);
    return;
  }
  const code = err.code ?? err.cause?.code ?? '';
  const timedOut = TIMEOUT_CODES.has(code);
  ex.failure = timedOut ? 'timeout' : 'connect';
  dp.metrics.upstreamErrors.inc({ provider: ex.provider, kind: ex.failure });
  const detail = err.cause?.message ? `${err.message}: ${err.cause.message}` : err.message;
  if (timedOut) answerError(dp, ex, 504, 'upstream_timeout', `upstream ${ex.target.host} timed out (${code})`);
  else answerError(dp, ex, 502, 'upstream_unavailable', `upstream ${ex.target.host} unreachable: ${detail}`);
}

/** Settles the checks, then audit line, metrics and per-agent counts, exactly once per exchange. */
function finish(dp: DataPath, ex: Exchange, status: number): void {
  const latencyMs = elapsedMs(ex.started);
  const overheadMs = Math.max(0, latencyMs - ex.upstreamMs);
  const call = ex.call;
  const usage: Usage | undefined = ex.response.usage;
  const model = ex.response.model ?? call?.model;
  const policies = ex.snapshot.policies;
  if (call && ex.admitted) {
    dp.pipeline.settle(call, { status: ex.upstreamStatus, ...(usage ? { usage } : {}), ...(ex.costUsd !== undefined ? { costUsd: ex.costUsd } : {}), ...(ex.failure ? { failure: ex.failure } : {}) }, policies);
  }

  const toolCalls = toolCallNames(call, ex.response);
  const findings = [...(ex.outcome?.findings ?? []), ...ex.responseFindings];
  const toolsRemoved = [...new Set(findings.flatMap((f) => f.stripTools ?? []))];
  recordDecision(dp, {
    requestId: ex.id,
    agent: ex.agent,
    ...(ex.identity.subAgent ? { subAgent: ex.identity.subAgent } : {}),
    ...(ex.session ? { session: ex.session } : {}),
    provider: ex.provider,
    ...(call && call.operation !== 'unknown' ? { operation: call.operation } : {}),
    host: ex.target.host,
    method: ex.req.method ?? 'GET',
    path: pathWithoutQuery(ex.target.path),
    ...(model ? { model } : {}),
    ...(call?.toolsDefined.length ? { tools: call.toolsDefined } : {}),
    ...(toolCalls.length ? { toolCalls } : {}),
    ...(toolsRemoved.length ? { toolsRemoved } : {}),
    decision: ex.decision,
    ...(ex.reported?.policy ? { policy: ex.reported.policy } : {}),
    status,
    latencyMs,
    overheadMs,
    ...(usage ? { tokens: usage } : {}),
    ...(ex.costUsd !== undefined ? { costUsd: ex.costUsd } : {}),
    ...(ex.error ? { error: ex.error } : {}),
    ...(ex.checkedBytes !== undefined ? { checkedBytes: ex.checkedBytes } : {}),
    findings,
    timed: true,
  });
}

/** Tool calls the request carried and the model proposed, by name, for the audit line. */
function toolCallNames(call: Call | undefined, response: ResponseFacts): string[] {
  return [...(call?.toolCalls ?? []), ...response.toolCalls].map((t) => t.name);
}
