// MCP over streamable HTTP: the client POSTs JSON-RPC 2.0 messages (or a batch of them); the server
// answers with a JSON-RPC response as application/json, or as an SSE stream of JSON-RPC messages.
// Recognised by the body, on whatever host and path the server lives (the proxy only asks for
// intercepted hosts).
import type { RequestFacts, ResponseFacts, StreamEvent, TextField, ToolCall } from '../call.js';
import type { ErrorKind, ProviderAdapter } from './adapter.js';
import { sseStreamParser, type SseEvent } from './sse.js';
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

function matches(body: unknown): boolean {
  if (Array.isArray(body)) return body.some(claimsJsonRpc);
  return claimsJsonRpc(body);
}

function parseRequest(_head: unknown, body: unknown): RequestFacts {
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

function parseResponse(body: unknown): ResponseFacts {
  const texts: TextField[] = [];
  if (Array.isArray(body)) body.forEach((m, i) => resultTexts(m, [i], texts));
  else resultTexts(body, [], texts);
  return { toolCalls: [], texts };
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
      for (const t of texts) events.push({ type: 'text', text: t.text });
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

/** The request's id is not known here, so the error answers id null as JSON-RPC allows. */
function rpcError(kind: ErrorKind, message: string): string {
  return JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: CODES[kind], message, data: { reason: kind } } });
}

export const mcpAdapter: ProviderAdapter = {
  provider: 'mcp',
  // Any method: a server may read a JSON-RPC body sent with PUT or PATCH as well, so it is checked whatever the method.
  matches: (_head, body) => matches(body),
  parseRequest,
  parseResponse,
  isStream: (contentType) => contentType?.toLowerCase().includes('text/event-stream') ?? false,
  streamParser,
  errorAnswer: (kind, message) => ({ contentType: 'application/json', body: rpcError(kind, message) }),
  streamError: (kind, message) => Buffer.from(`event: message\ndata: ${rpcError(kind, message)}\n\n`),
  // A tools/call request offers no tool list to strip (tools/list results are the server's).
  removeTools: () => 0,
};
