// MCP over streamable HTTP: the client POSTs JSON-RPC 2.0 messages (or a batch of them); the server
// answers with a JSON-RPC response as application/json, or as an SSE stream of JSON-RPC messages.
// Recognised by the body, on whatever host and path the server lives (the proxy only asks for
// intercepted hosts).
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../lib/canonical-json.js';
import type { OfferedTool, RequestFacts, ResponseFacts, StreamEvent, TextField, ToolCall } from '../call.js';
import type { ErrorKind, ProviderAdapter, RequestHead } from './adapter.js';
import { parseSseFrame, sseStreamParser, type SseEvent } from './sse.js';
import { arr, frameJson, isObject, malformed, parseJson, str, stringLeaves, type Obj } from './util.js';

/** A JSON-RPC 2.0 request, notification or response. */
function isMessage(v: unknown): v is Obj {
  return isObject(v) && v.jsonrpc === '2.0' && (typeof v.method === 'string' || 'result' in v || 'error' in v);
}

/**
 * Anything that claims to be JSON-RPC is read as MCP, so parseRequest refuses what is malformed
 * (a batch with one bad element, a message without a method) instead of it passing unread.
 */
const claimsJsonRpc = (v: unknown): boolean => isObject(v) && 'jsonrpc' in v;

/**
 * The client's GET that opens the server's event stream (streamable HTTP: server requests and
 * notifications, e.g. notifications/tools/list_changed or sampling/createMessage). It has no body,
 * so it is known by what it accepts; read as MCP, its frames are checked like any answer's.
 */
const opensEventStream = (head: RequestHead, body: unknown): boolean =>
  body === undefined && head.method === 'GET' && (head.accept?.toLowerCase().includes('text/event-stream') ?? false);

function matches(head: RequestHead, body: unknown): boolean {
  if (opensEventStream(head, body)) return true;
  if (Array.isArray(body)) return body.some(claimsJsonRpc);
  return claimsJsonRpc(body);
}

function parseRequest(head: RequestHead, body: unknown): RequestFacts {
  if (opensEventStream(head, body)) return { operation: 'events', toolsDefined: [], toolCalls: [], texts: [], stream: true };
  const batch = Array.isArray(body);
  const messages = batch ? body : [body];
  if (messages.length === 0) throw malformed([], 'must not be an empty batch');
  const texts: TextField[] = [];
  const toolCalls: ToolCall[] = [];
  let operation: string | undefined;
  messages.forEach((m, i) => {
    const base = batch ? [i] : [];
    if (!isMessage(m)) throw malformed(base, 'must be a JSON-RPC 2.0 message');
    if (typeof m.method !== 'string') return; // a response to a server request (sampling, elicitation)
    operation ??= m.method;
    const params = m.params;
    if (params !== undefined && !isObject(params) && !Array.isArray(params)) throw malformed([...base, 'params'], 'must be an object');
    if (m.method === 'tools/call') {
      if (!isObject(params) || typeof params.name !== 'string') throw malformed([...base, 'params', 'name'], 'must be a string');
      if (params.arguments !== undefined && !isObject(params.arguments)) throw malformed([...base, 'params', 'arguments'], 'must be an object');
      toolCalls.push({
        name: params.name,
        ...(params.arguments !== undefined && { arguments: params.arguments }),
        ...((typeof m.id === 'string' || typeof m.id === 'number') && { id: String(m.id) }),
      });
    }
    // tools/call and prompts/get both carry caller-chosen arguments: scan every string in them.
    if (isObject(params) && params.arguments !== undefined) stringLeaves(params.arguments, [...base, 'params', 'arguments'], texts);
  });
  return { operation: operation ?? 'response', toolsDefined: [], toolCalls, texts, stream: false };
}

/** Text a result carries: tools/call content blocks of type text. */
function resultTexts(msg: unknown, base: (string | number)[], out: TextField[]): void {
  if (!isObject(msg) || !isObject(msg.result)) return;
  arr(msg.result.content).forEach((c, i) => {
    if (isObject(c) && c.type === 'text' && typeof c.text === 'string') out.push({ path: [...base, 'result', 'content', i, 'text'], text: c.text });
  });
}

/** The tools a tools/list result offers: `result.tools`, an array of definitions with a name. */
function offeredTools(msg: unknown): Obj[] | undefined {
  if (!isObject(msg) || !isObject(msg.result) || !Array.isArray(msg.result.tools)) return undefined;
  return msg.result.tools as Obj[];
}

/**
 * The tools a message offers, each with a digest of what the agent's model reads of it: name,
 * title, description, input and output schema, annotations. A server that changes any of them
 * after they were pinned (a "rug pull": the same name, a new instruction) gets a new digest.
 */
const offeredToolsOf = (msg: unknown): OfferedTool[] =>
  (offeredTools(msg) ?? []).flatMap((t) => {
    if (!isObject(t) || typeof t.name !== 'string') return [];
    const { name, title, description, inputSchema, outputSchema, annotations } = t;
    const digest = createHash('sha256').update(canonicalJson({ name, title, description, inputSchema, outputSchema, annotations })).digest('hex');
    return [{ name, digest }];
  });

/** Server-to-client requests and notifications (on a stream): what they carry is text the agent reads. */
function serverRequestTexts(msg: Obj, out: TextField[]): void {
  if (typeof msg.method === 'string' && msg.params !== undefined) stringLeaves(msg.params, ['params'], out);
}

function parseResponse(body: unknown): ResponseFacts {
  const texts: TextField[] = [];
  const messages = Array.isArray(body) ? body : [body];
  messages.forEach((m, i) => resultTexts(m, Array.isArray(body) ? [i] : [], texts));
  const offered = messages.flatMap(offeredToolsOf);
  return { toolCalls: [], texts, ...(offered.length > 0 && { toolsOffered: offered }) };
}

/** Drops the named tools from every tools/list result in an answer (a request has none to drop). */
function removeOfferedTools(body: unknown, names: ReadonlySet<string>): number {
  let removed = 0;
  for (const msg of Array.isArray(body) ? body : [body]) {
    const tools = offeredTools(msg);
    if (!tools) continue;
    const kept = tools.filter((t) => !(isObject(t) && typeof t.name === 'string' && names.has(t.name)));
    removed += tools.length - kept.length;
    (msg as { result: Obj }).result.tools = kept;
  }
  return removed;
}

function streamParser() {
  const read = (frame: SseEvent): StreamEvent[] => {
    if (!frame.hasData) return [];
    // JSON-RPC messages travel as the default event; another event (the old transport's `endpoint`) is not one.
    const data = frame.event === undefined || frame.event === 'message' ? frameJson(frame.data) : parseJson(frame.data);
    const events: StreamEvent[] = [];
    for (const msg of Array.isArray(data) ? data : [data]) {
      if (!isObject(msg)) continue;
      if (isObject(msg.error)) events.push({ type: 'error', message: str(msg.error.message) ?? 'JSON-RPC error' });
      const texts: TextField[] = [];
      resultTexts(msg, [], texts);
      serverRequestTexts(msg, texts);
      for (const t of texts) events.push({ type: 'text', text: t.text });
      if (offeredTools(msg)) events.push({ type: 'tools_offered', tools: offeredToolsOf(msg) });
    }
    return events;
  };
  return sseStreamParser(read, () => ({ toolCalls: [], texts: [] }));
}

/**
 * JSON-RPC error codes: the spec's own where one fits, the implementation-defined server range
 * (-32000..-32099) for policy outcomes so clients can tell them apart.
 */
const CODES: Record<ErrorKind, number> = {
  invalid_request: -32600,
  too_large: -32600,
  forbidden: -32001,
  approval_required: -32005,
  rate_limited: -32002,
  upstream_unavailable: -32003,
  upstream_timeout: -32004,
  internal: -32603,
};

/**
 * Outcomes a tools/call gets as a tool result with `isError: true` rather than a JSON-RPC error: the
 * MCP way to say a tool could not run, which the SDKs hand to the agent (and its model) as the call's
 * result. The rest (a malformed request, an upstream failure) are JSON-RPC errors.
 */
const TOOL_RESULT_KINDS = new Set<ErrorKind>(['forbidden', 'approval_required', 'rate_limited']);

/** The requests of a body that expect an answer: JSON-RPC messages with a method and an id. */
function requestsOf(body: unknown): Obj[] {
  const messages = Array.isArray(body) ? body : [body];
  return messages.filter((m): m is Obj => isMessage(m) && typeof m.method === 'string' && (typeof m.id === 'string' || typeof m.id === 'number'));
}

function rpcAnswerTo(request: Obj | undefined, kind: ErrorKind, message: string): Obj {
  const id = request?.id ?? null;
  if (request?.method === 'tools/call' && TOOL_RESULT_KINDS.has(kind)) {
    return { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: message }], isError: true } };
  }
  return { jsonrpc: '2.0', id, error: { code: CODES[kind], message, data: { reason: kind } } };
}

/**
 * The answer to a request the sidecar does not forward, the JSON-RPC way: one answer per request
 * of the body, each with its own id (a batch gets a batch), with HTTP 200 so that a client takes
 * them as answers, not as a failed transport. A body not read (or with only notifications) gets
 * one error with id null, as JSON-RPC allows, and the data path's status.
 */
function rpcAnswer(kind: ErrorKind, message: string, request: unknown): { body: string; status?: number } {
  const requests = requestsOf(request);
  if (requests.length === 0) return { body: JSON.stringify(rpcAnswerTo(undefined, kind, message)) };
  const answers = requests.map((r) => rpcAnswerTo(r, kind, message));
  return { body: JSON.stringify(Array.isArray(request) ? answers : answers[0]), status: 200 };
}

/** An SSE frame whose JSON-RPC message offers tools, written again without the named ones (its event and id kept). */
function removeFrameTools(frame: Buffer, names: ReadonlySet<string>): Buffer {
  const parsed = parseSseFrame(frame);
  const data = parseJson(parsed.data);
  if (removeOfferedTools(data, names) === 0) return frame;
  const head = [parsed.event !== undefined ? `event: ${parsed.event}\n` : '', parsed.id !== undefined ? `id: ${parsed.id}\n` : ''].join('');
  return Buffer.from(`${head}data: ${JSON.stringify(data)}\n\n`);
}

export const mcpAdapter: ProviderAdapter = {
  provider: 'mcp',
  // Any method: a server may read a JSON-RPC body sent with PUT or PATCH as well, so it is checked whatever the method.
  matches,
  parseRequest,
  parseResponse,
  isStream: (contentType) => contentType?.toLowerCase().includes('text/event-stream') ?? false,
  streamParser,
  errorAnswer: (kind, message, request) => ({ contentType: 'application/json', ...rpcAnswer(kind, message, request) }),
  streamError: (kind, message, request) => Buffer.from(`event: message\ndata: ${rpcAnswer(kind, message, request).body}\n\n`),
  removeTools: removeOfferedTools,
  removeFrameTools,
};
