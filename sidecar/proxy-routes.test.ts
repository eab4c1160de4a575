// The /proxy/{scheme}/{host[:port]}/{path} routes (Akto-style): an agent that takes a base URL and
// no proxy (an MCP client given `http://127.0.0.1:14001/proxy/https/<server>/mcp`) still goes
// through the egress rules, the intercept rules and the checks, with its headers and credentials.
// Proven with curl and the MCP SDK against the real sidecar binary.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl } from '../e2e/harness/curl.js';
import { spawnSidecar, type SidecarProcess } from '../e2e/harness/sidecar-process.js';
import { createWorld, writePolicy, type World } from '../e2e/harness/world.js';

/** An MCP server the policy intercepts, served over TLS the sidecar trusts (--upstream-ca). */
const MCP_HOST = 'mcp.tools.example.com';

const POLICY = `apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: routes, namespace: agents, generation: 1}
spec:
  intercept: {hosts: [${MCP_HOST}]}
  egress:
    defaultAction: allow
    rules:
      - {match: "denied.example.test", action: deny, reason: "denied.example.test is off limits"}
  tools:
    agents:
      - {name: unknown, forbidden: [shell_exec]}
`;

let world: World;
let sidecar: SidecarProcess;
let mcp: Server;
/** Tools the MCP server ran, and the headers of the requests it got. */
const ran: string[] = [];
const mcpHeaders: Array<Record<string, string | string[] | undefined>> = [];

function sdkServer(): McpServer {
  const server = new McpServer({ name: 'routes-upstream', version: '1.0.0' });
  for (const name of ['echo', 'shell_exec']) {
    server.registerTool(name, { description: `the ${name} tool` }, async () => {
      ran.push(name);
      return { content: [{ type: 'text', text: `${name} ran` }] };
    });
  }
  return server;
}

beforeAll(async () => {
  world = await createWorld();
  mcp = createServer(world.upstreamTls, async (req, res) => {
    mcpHeaders.push(req.headers);
    const server = sdkServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: req.headers['x-test-json'] === '1' });
    res.on('close', () => void transport.close());
    await server.connect(transport);
    await transport.handleRequest(req, res);
  });
  await new Promise<void>((resolve) => mcp.listen(0, '127.0.0.1', resolve));
  // The world points MCP_HOST at its own fake: here it is the SDK server.
  const flags = world.upstreamFlags.filter((f, i, all) => !f.startsWith(`${MCP_HOST}=`) && !(f === '--resolve' && all[i + 1]?.startsWith(`${MCP_HOST}=`)));
  sidecar = await spawnSidecar([
    '--policy',
    await writePolicy(world.dir, 'routes', POLICY),
    ...flags,
    '--resolve',
    `${MCP_HOST}=127.0.0.1:${(mcp.address() as AddressInfo).port}`,
    '--resolve',
    `denied.example.test=127.0.0.1:${world.plain.port}`,
  ]);
}, 60_000);

afterAll(async () => {
  await sidecar?.stop();
  await new Promise((resolve) => mcp?.close(resolve));
  await world?.close();
});

const route = (rest: string): string => `${sidecar.proxyUrl}/proxy/${rest}`;

describe('an MCP server configured as http://localhost:<port>/proxy/https/<server>/mcp', () => {
  for (const json of [true, false]) {
    it(`is inspected like any call to an intercepted host: the tool list filtered, a forbidden call answered the MCP way (${json ? 'JSON' : 'SSE'})`, async () => {
      const transport = new StreamableHTTPClientTransport(new URL(route(`https/${MCP_HOST}/mcp`)), {
        requestInit: { headers: { authorization: 'Bearer mcp-token', ...(json ? { 'x-test-json': '1' } : {}) } },
      });
      const client = new Client({ name: 'routes-agent', version: '1.0.0' });
      await client.connect(transport);
      try {
        expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['echo']);
        expect(await client.callTool({ name: 'echo', arguments: {} })).toMatchObject({ content: [{ type: 'text', text: 'echo ran' }] });
        ran.length = 0;
        const denied = await client.callTool({ name: 'shell_exec', arguments: {} });
        expect(denied.isError).toBe(true);
        expect(denied.content).toEqual([{ type: 'text', text: expect.stringMatching(/^chaperone: .*shell_exec/) }]);
        expect(ran).toEqual([]);
        // The credentials reached the server; the proxy's own headers did not.
        expect(mcpHeaders.at(-1)).toMatchObject({ authorization: 'Bearer mcp-token', host: MCP_HOST });
      } finally {
        await client.close();
      }
      const line = await sidecar.waitForLine((l) => l.audit === true && l.operation === 'tools/call' && l.decision === 'deny');
      expect(line).toMatchObject({ provider: 'mcp', host: MCP_HOST, path: '/mcp', toolCalls: ['shell_exec'] });
    });
  }
});

describe('the egress rules', () => {
  it('deny a host named in the route (403), without reaching it', async () => {
    const before = world.plain.received.length;
    const r = await curl([route('https/denied.example.test/v1/anything')]);
    expect(r.status).toBe(403);
    expect(r.headers).toMatchObject({ 'x-chaperone-decision': 'deny', 'x-chaperone-rule': 'egress', 'x-chaperone-policy': 'agents/routes' });
    expect(r.body).toMatch(/denied\.example\.test is off limits/);
    expect(world.plain.received.length).toBe(before);
  });
});

describe('a host that is not intercepted', () => {
  it('gets the request as sent: path and query, credentials and end-to-end headers; not the hop-by-hop or X-Chaperone-* ones', async () => {
    const r = await curl([
      '-H', 'authorization: Bearer plain-token',
      '-H', 'x-custom: kept',
      '-H', 'x-chaperone-agent: router',
      '-H', 'connection: keep-alive, x-hop',
      '-H', 'x-hop: dropped',
      route('http/plain.example.test/v1/x/?q=1&r=%2F'),
    ]);
    expect(r.status).toBe(404); // the fake's answer to an unknown path, relayed
    expect(r.headers['x-chaperone-decision']).toBe('allow');
    const got = world.plain.received.at(-1)!;
    // Canonical, with the trailing slash kept on a host that is not intercepted, the query as sent.
    expect(got.path).toBe('/v1/x/?q=1&r=%2F');
    expect(got.headers).toMatchObject({ authorization: 'Bearer plain-token', 'x-custom': 'kept', host: 'plain.example.test' });
    expect(got.headers['x-hop']).toBeUndefined();
    expect(got.headers['x-chaperone-agent']).toBeUndefined();
    const line = await sidecar.waitForLine((l) => l.audit === true && l.host === 'plain.example.test' && l.path === '/v1/x/');
    expect(line).toMatchObject({ provider: 'unknown', agent: 'router', decision: 'allow', status: 404 });
  });

  it('over https too, the route naming the port', async () => {
    const r = await curl([route(`https/tunnel.example.test:443/status/418`)]);
    expect(r.status).toBe(418);
    expect(world.tls.received.at(-1)).toMatchObject({ path: '/status/418', headers: { host: 'tunnel.example.test' } });
  });
});

describe('streams', () => {
  it('relays an SSE answer as it comes, not at its end', async () => {
    const started = Date.now();
    const res = await request(route('http/plain.example.test/slow-stream'));
    expect(res.headers['content-type']).toMatch(/text\/event-stream/);
    const arrivals: number[] = [];
    for await (const chunk of res.body) if (String(chunk).includes('data:')) arrivals.push(Date.now() - started);
    expect(arrivals.length).toBeGreaterThanOrEqual(5);
    // The fake sends a frame every 200 ms: the first arrived long before the last.
    expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThan(1_000);
  });

  it('streams an intercepted provider answer through the checks', async () => {
    const r = await curl([
      '-H', 'content-type: application/json',
      '-d', JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      route('https/api.openai.com/v1/chat/completions'),
    ]);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/text\/event-stream/);
    expect(r.body).toMatch(/^data: .*\n\n[\s\S]*data: \[DONE\]/);
    expect(await sidecar.waitForLine((l) => l.audit === true && l.host === 'api.openai.com' && l.operation === 'chat.completions')).toMatchObject({ provider: 'openai', decision: 'allow' });
  });
});

describe('malformed routes', () => {
  const cases: Array<[string, RegExp]> = [
    ['ftp/example.com/file', /scheme "ftp" is not one the proxy route takes/],
    ['https', /no host/],
    ['https/', /no host/],
    ['https/example.com:99999/x', /port "99999" is not a port/],
    ['https/example.com:http/x', /port "http" is not a port/],
    ['https/user:secret@example.com/x', /userinfo/],
    ['https/user%40example.com/x', /userinfo/],
    ['http/exa_mple.com/x', /is not a host name or address/],
    ['', /no scheme/],
  ];
  for (const [rest, message] of cases) {
    it(`/proxy/${rest} → 400 naming the problem`, async () => {
      const r = await curl([route(rest)]);
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body).error.message).toMatch(message);
    });
  }

  it('refuses a route back to the sidecar itself', async () => {
    const { port } = new URL(sidecar.proxyUrl);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      const r = await curl([route(`http/${host}/proxy/http/${host}/x`)]);
      expect(r.status, host).toBe(400);
      expect(JSON.parse(r.body).error.message).toMatch(/is this sidecar/);
    }
  });

  it('routes on the canonical path, and refuses what cannot be made canonical in the provider shape', async () => {
    const dotted = await curl([`${sidecar.proxyUrl}/proxy/./http/plain.example.test/v1/y`]);
    expect(dotted.status).toBe(404);
    expect(world.plain.received.at(-1)!.path).toBe('/v1/y');
    const broken = await curl([route(`http/plain.example.test/v1/%zz-${randomUUID()}`)]);
    expect(broken.status).toBe(400);
    expect(JSON.parse(broken.body).error.message).toMatch(/malformed request target/);
  });
});
