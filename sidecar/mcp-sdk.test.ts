// MCP answered the MCP way, proven with the official TypeScript SDK on both ends: an McpServer
// behind the streamable HTTP transport (JSON and SSE answers), and an SDK Client whose fetch goes
// through the sidecar as its HTTP proxy. A tool the policy forbids comes back to the client as the
// call's result with isError (what the SDK hands to the agent), never as a transport error.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { fetch as undiciFetch, ProxyAgent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSidecar, type SidecarProcess } from '../e2e/harness/sidecar-process.js';
import { createWorld, writePolicy, type World } from '../e2e/harness/world.js';

const HOST = 'mcp.sdk.example.test';

const POLICY = `apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: mcp-tools, namespace: agents, generation: 1}
spec:
  intercept: {hosts: [${HOST}]}
  tools:
    agents:
      - {name: unknown, forbidden: [shell_exec]}
`;

let world: World;
let sidecar: SidecarProcess;
let server: Server;
/** Tools the upstream server ran: a forbidden one must never appear. */
const ran: string[] = [];

function sdkServer(): McpServer {
  const mcp = new McpServer({ name: 'sdk-upstream', version: '1.0.0' });
  for (const name of ['echo', 'shell_exec']) {
    mcp.registerTool(name, { description: `the ${name} tool` }, async () => {
      ran.push(name);
      return { content: [{ type: 'text', text: `${name} ran` }] };
    });
  }
  return mcp;
}

/** Sessions of the stateful path (/session): their transports, and what each was sent, by method. */
const sessions = new Map<string, { transport: StreamableHTTPServerTransport; mcp: McpServer; methods: string[] }>();

/**
 * The SDK's server: stateless on /mcp (one server per request; `x-test-json: 1` picks JSON answers
 * over SSE), stateful on /session (Mcp-Session-Id, the GET event stream, DELETE to end it).
 */
function mcpServer(): Server {
  return createServer(async (req, res) => {
    if (req.url?.startsWith('/session')) {
      const id = req.headers['mcp-session-id'] as string | undefined;
      const known = id ? sessions.get(id) : undefined;
      if (known) {
        known.methods.push(req.method ?? '');
        return known.transport.handleRequest(req, res);
      }
      const mcp = sdkServer();
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => void sessions.set(sid, { transport, mcp, methods: [req.method ?? ''] }),
      });
      await mcp.connect(transport);
      return transport.handleRequest(req, res);
    }
    const mcp = sdkServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: req.headers['x-test-json'] === '1' });
    res.on('close', () => void transport.close());
    await mcp.connect(transport);
    await transport.handleRequest(req, res);
  });
}

/** The audit line of the next call of this operation after `seen` lines of it (written once the answer is). */
async function nextAudit(operation: string, seen: number): Promise<Record<string, unknown>> {
  for (let waited = 0; waited < 5_000; waited += 20) {
    const lines = sidecar.audits().filter((l) => l.operation === operation);
    if (lines.length > seen) return lines[seen]!;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no audit line for ${operation}`);
}
const auditCount = (operation: string): number => sidecar.audits().filter((l) => l.operation === operation).length;

/** An SDK client whose every request goes through the sidecar (absolute-URI HTTP proxying). */
async function sdkClient(json: boolean, path = '/mcp'): Promise<Client> {
  const agent = new ProxyAgent({ uri: sidecar.proxyUrl, proxyTunnel: false });
  const transport = new StreamableHTTPClientTransport(new URL(`http://${HOST}${path}`), {
    requestInit: { headers: json ? { 'x-test-json': '1' } : {} },
    fetch: (url, init) => undiciFetch(url, { ...(init as object), dispatcher: agent }) as unknown as Promise<Response>,
  });
  const client = new Client({ name: 'sdk-agent', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

beforeAll(async () => {
  world = await createWorld();
  server = mcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  sidecar = await spawnSidecar(['--policy', await writePolicy(world.dir, 'mcp', POLICY), '--resolve', `${HOST}=127.0.0.1:${port}`]);
}, 60_000);

afterAll(async () => {
  await sidecar?.stop();
  await new Promise((resolve) => server?.close(resolve));
  await world?.close();
});

describe('MCP through the sidecar, with the official SDK on both ends', () => {
  for (const json of [true, false]) {
    it(`tools/list shows only the allowed tool; a forbidden call is its result with isError, the allowed one runs (${json ? 'JSON' : 'SSE'} answers)`, async () => {
      const client = await sdkClient(json);
      try {
        // The server offers both; the agent is shown only what it may use.
        const lists = auditCount('tools/list');
        const listed = await client.listTools();
        expect(listed.tools.map((t) => t.name)).toEqual(['echo']);
        // The audit line says what was taken out.
        expect(await nextAudit('tools/list', lists)).toMatchObject({ provider: 'mcp', decision: 'redact', rules: ['tools'], toolsRemoved: ['shell_exec'], status: 200 });

        const calls = auditCount('tools/call');
        const ok = await client.callTool({ name: 'echo', arguments: {} });
        expect(await nextAudit('tools/call', calls)).toMatchObject({ decision: 'allow', toolCalls: ['echo'] });
        expect(ok.isError).toBeFalsy();
        expect(ok.content).toEqual([{ type: 'text', text: 'echo ran' }]);

        ran.length = 0;
        // The SDK resolves with the result: an agent loop goes on, and its model reads why.
        const denied = await client.callTool({ name: 'shell_exec', arguments: {} });
        expect(denied.isError).toBe(true);
        expect(await nextAudit('tools/call', calls + 1)).toMatchObject({ decision: 'deny', rules: ['tools'], toolCalls: ['shell_exec'], status: 200 });
        expect(denied.content).toEqual([{ type: 'text', text: expect.stringMatching(/^chaperone: .*shell_exec/) }]);
        expect(ran).toEqual([]);
      } finally {
        await client.close();
      }
    });
  }

  it('keeps a stateful session: Mcp-Session-Id passes through, the GET event stream carries server notifications, DELETE ends it', async () => {
    const client = await sdkClient(false, '/session');
    const transport = client.transport as StreamableHTTPClientTransport;
    const sessionId = transport.sessionId;
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
    const changed = new Promise<void>((resolve) => client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['echo']);
    expect(await client.callTool({ name: 'shell_exec', arguments: {} })).toMatchObject({ isError: true });
    // The server speaks first, on the GET stream the client opened through the sidecar.
    const session = sessions.get(sessionId!)!;
    await expect.poll(() => session.methods.includes('GET')).toBe(true);
    session.mcp.sendToolListChanged();
    await changed;
    await transport.terminateSession();
    expect(session.methods).toContain('DELETE');
    await client.close();
    expect(ran).not.toContain('shell_exec');
    // The GET stream was read as MCP (its frames checked like any answer's), not relayed unread.
    await expect.poll(() => sidecar.audits().find((l) => l.operation === 'events'), { timeout: 5_000 }).toMatchObject({ provider: 'mcp', method: 'GET', status: 200 });
  });

  it('answers each request of a batch under its own id; a body it cannot read under id null, with its 4xx', async () => {
    const post = async (body: string) => {
      const res = await request(`http://${HOST}/mcp`, {
        method: 'POST',
        dispatcher: new ProxyAgent({ uri: sidecar.proxyUrl, proxyTunnel: false }),
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body,
      });
      return { status: res.statusCode, body: (await res.body.json()) as unknown };
    };
    const call = (id: unknown, name: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });
    const batch = await post(JSON.stringify([call(7, 'shell_exec'), { jsonrpc: '2.0', method: 'notifications/progress' }, call('seven', 'echo')]));
    expect(batch.status).toBe(200);
    expect(batch.body).toEqual([
      { jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: expect.stringContaining('shell_exec') }], isError: true } },
      { jsonrpc: '2.0', id: 'seven', result: { content: [{ type: 'text', text: expect.stringContaining('shell_exec') }], isError: true } },
    ]);
    const single = await post(JSON.stringify(call(42, 'shell_exec')));
    expect(single).toMatchObject({ status: 200, body: { jsonrpc: '2.0', id: 42, result: { isError: true } } });
    const broken = await post('{"jsonrpc": "2.0", "id": 5, "method": "tools/call"');
    expect(broken).toMatchObject({ status: 400, body: { jsonrpc: '2.0', id: null, error: { code: -32600 } } });
    expect(ran).not.toContain('shell_exec');
  });
});
