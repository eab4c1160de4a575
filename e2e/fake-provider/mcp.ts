// A fake MCP tool server (streamable HTTP transport): initialize, ping, tools/list, tools/call.
// Answers application/json, or SSE when the client accepts only text/event-stream (or asks with
// `x-fake-sse: 1`). Every tool "succeeds" by echoing its arguments.

export const FAKE_TOOLS = ['echo', 'web_search', 'file_reader', 'shell_exec', 'send_email', 'execute_payment'];
export const MCP_SESSION_ID = 'fake-mcp-session';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

export function isJsonRpc(body: unknown): boolean {
  const first = Array.isArray(body) ? body[0] : body;
  return isObj(first) && first.jsonrpc === '2.0';
}

function result(msg: Obj): unknown {
  const params = isObj(msg.params) ? msg.params : {};
  switch (msg.method) {
    case 'initialize':
      return {
        protocolVersion: typeof params.protocolVersion === 'string' ? params.protocolVersion : '2025-06-18',
        capabilities: { tools: { listChanged: false } },
        serverInfo: { name: 'chaperone-fake-mcp', version: '0.1.0' },
      };
    case 'ping':
      return {};
    case 'tools/list':
      return {
        tools: FAKE_TOOLS.map((name) => ({
          name,
          description: `Fake ${name} tool`,
          inputSchema: { type: 'object', properties: { q: { type: 'string' } } },
        })),
      };
    case 'tools/call':
      return { content: [{ type: 'text', text: `${String(params.name)} result: ${JSON.stringify(params.arguments ?? {})}` }], isError: false };
    default:
      return undefined;
  }
}

/** The JSON-RPC responses to a POSTed message or batch; notifications and responses get none. */
export function mcpResponses(body: unknown): unknown[] {
  const out: unknown[] = [];
  for (const msg of Array.isArray(body) ? body : [body]) {
    if (!isObj(msg) || typeof msg.method !== 'string' || msg.id === undefined) continue;
    const r = result(msg);
    out.push(r !== undefined ? { jsonrpc: '2.0', id: msg.id, result: r } : { jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: `Method not found: ${msg.method}` } });
  }
  return out;
}

/** Whether to answer as SSE: the client accepts only text/event-stream, or the test asks. */
export function wantsSse(accept: string | undefined, fakeSse: string | undefined): boolean {
  if (fakeSse === '1') return true;
  const types = (accept ?? '').split(',').map((t) => t.split(';')[0]!.trim().toLowerCase()).filter(Boolean);
  return types.length > 0 && types.every((t) => t === 'text/event-stream');
}
