// One canonical path through the running sidecar (issue 15, item 2): however a path is spelt, the
// adapter that checks it, the egress rule that judges it, the audit line and the upstream all see
// the same canonical path. curl runs with --path-as-is, or it would remove the dot segments itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl } from '../e2e/harness/curl.js';
import { spawnSidecar, type SidecarProcess } from '../e2e/harness/sidecar-process.js';
import { createWorld, writePolicy, type World } from '../e2e/harness/world.js';

let world: World;
let sidecar: SidecarProcess;

const POLICY = `apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: canonical, namespace: agents, generation: 1}
spec:
  mode: enforce
  egress:
    defaultAction: allow
    rules:
      - {match: "api.openai.com/v1/files*", action: deny, reason: "no file uploads"}
      - {match: "plain.example.test/admin*", action: deny, reason: "no admin pages"}
  tools:
    agents:
      - {name: unknown, forbidden: [shell_exec]}
`;

beforeAll(async () => {
  world = await createWorld();
  const policy = await writePolicy(world.dir, 'canonical', POLICY);
  sidecar = await spawnSidecar(['--policy', policy, '--ca-dir', world.caDir, ...world.upstreamFlags]);
});
afterAll(async () => {
  await sidecar?.stop();
  await world?.close();
});

const json = ['-H', 'content-type: application/json'];
const chat = (content: string) => JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });
const forbiddenTool = (content: string) =>
  JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content }],
    tools: [{ type: 'function', function: { name: 'shell_exec', parameters: { type: 'object', properties: {} } } }],
    tool_choice: { type: 'function', function: { name: 'shell_exec' } },
  });
/** Through HTTPS_PROXY: CONNECT, then TLS terminated by the sidecar. */
const viaTls = (url: string, ...args: string[]) => curl(['--path-as-is', '-x', sidecar.proxyUrl, '--cacert', world.caCertFile, ...args, url]);
/** An absolute-URI request to the proxy (plain HTTP forward proxy). */
const viaForward = (url: string, ...args: string[]) => curl(['--path-as-is', '-x', sidecar.proxyUrl, ...args, url]);
/** The base-URL routes, straight to the sidecar. */
const viaRoute = (path: string, ...args: string[]) => curl(['--path-as-is', ...args, `${sidecar.proxyUrl}${path}`]);
const auditOf = (requestId: string | undefined) => sidecar.waitForLine((l) => l.audit === true && l.requestId === requestId, 5_000);
const receivedWith = (fake: 'tls' | 'plain', marker: string) => world[fake].received.filter((q) => q.body.includes(marker) || q.path.includes(marker));

const CHAT_SPELLINGS = [
  '/v1/chat/./completions',
  '/v1/chat/completion%73',
  '/v1/%63hat/completions',
  '//v1//chat/completions',
  '/v1/x/../chat/completions',
  '/v1/x/%2e%2E/chat/completions',
  '/v1/chat/completions/',
  '/v1/chat/completions/.',
  '/../v1/chat/completions',
];

describe('adapter routing reads the canonical path', () => {
  it.each(CHAT_SPELLINGS)('%s in intercepted TLS: a forbidden tool is denied as on /v1/chat/completions', async (path) => {
    const marker = `deny-${path}`;
    const r = await viaTls(`https://api.openai.com${path}`, ...json, '-d', forbiddenTool(marker));
    expect(r.status).toBe(403);
    expect(r.headers['x-chaperone-rule']).toBe('tools');
    expect(JSON.parse(r.body).error).toMatchObject({ type: 'invalid_request_error', message: expect.stringMatching(/shell_exec/) });
    expect(receivedWith('tls', marker)).toEqual([]);
    expect(await auditOf(r.headers['x-chaperone-request-id'])).toMatchObject({ provider: 'openai', operation: 'chat.completions', path: '/v1/chat/completions', decision: 'deny' });
  });

  it.each(CHAT_SPELLINGS)('%s in intercepted TLS: an allowed call reaches the provider on the canonical path', async (path) => {
    const marker = `allow-${path}`;
    const r = await viaTls(`https://api.openai.com${path}?trace=a/./b`, ...json, '-d', chat(marker));
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).choices[0].message.content).toBe(`Echo: ${marker}`);
    // The query is kept byte for byte; only the path is canonical.
    expect(receivedWith('tls', marker).map((q) => q.path)).toEqual(['/v1/chat/completions?trace=a/./b']);
    expect(await auditOf(r.headers['x-chaperone-request-id'])).toMatchObject({ provider: 'openai', operation: 'chat.completions', path: '/v1/chat/completions' });
  });

  it('the base-URL routes are chosen and read on the canonical path (Anthropic)', async () => {
    const tool = { name: 'shell_exec', input_schema: { type: 'object', properties: {} } };
    const body = (content: string, extra: object = {}) => JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content }], ...extra });
    const denied = await viaRoute('/anthropic/./v1//messag%65s/', ...json, '-d', body('route deny', { tools: [tool], tool_choice: { type: 'tool', name: 'shell_exec' } }));
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body)).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
    const ok = await viaRoute('/x/../anthropic/v1/./messages', ...json, '-d', body('route allow'));
    expect(ok.status).toBe(200);
    expect(receivedWith('tls', 'route allow').map((q) => q.path)).toEqual(['/v1/messages']);
    expect(await auditOf(ok.headers['x-chaperone-request-id'])).toMatchObject({ provider: 'anthropic', host: 'api.anthropic.com', path: '/v1/messages' });
  });
});

describe('path-scoped egress rules read the canonical path', () => {
  const FILES_SPELLINGS = ['/v1/files', '/v1/./files', '/v1//files', '/v1/fil%65s', '/v1/x/../files', '/v1/files/', '/v1/%66iles/abc/..'];
  const upload = (marker: string) => [...json, '-d', JSON.stringify({ purpose: 'fine-tune', marker })];

  it.each(FILES_SPELLINGS)('api.openai.com/v1/files* denies %s in intercepted TLS', async (path) => {
    const marker = `tls-${path}`;
    const r = await viaTls(`https://api.openai.com${path}`, ...upload(marker));
    expect(r.status).toBe(403);
    expect(r.headers['x-chaperone-rule']).toBe('egress');
    expect(JSON.parse(r.body).error.message).toMatch(/no file uploads/);
    expect(receivedWith('tls', marker)).toEqual([]);
  });

  it.each(FILES_SPELLINGS)('api.openai.com/v1/files* denies %s on the base-URL route', async (path) => {
    const marker = `route-${path}`;
    const r = await viaRoute(`/openai${path}`, ...upload(marker));
    expect(r.status).toBe(403);
    expect(r.headers['x-chaperone-rule']).toBe('egress');
    expect(receivedWith('tls', marker)).toEqual([]);
  });

  it.each(FILES_SPELLINGS)('api.openai.com/v1/files* denies %s as a plain-HTTP absolute URI and inside a plain CONNECT', async (path) => {
    const marker = `plain-${path}`;
    const forward = await viaForward(`http://api.openai.com${path}`, ...upload(marker));
    expect(forward.status).toBe(403);
    expect(forward.headers['x-chaperone-rule']).toBe('egress');
    const tunnelled = await viaForward(`http://api.openai.com${path}`, '-p', ...upload(marker));
    expect(tunnelled.status).toBe(403);
    expect(tunnelled.headers['x-chaperone-rule']).toBe('egress');
    expect(receivedWith('plain', marker)).toEqual([]);
  });

  it('holds on a host it does not intercept, which keeps its trailing slash', async () => {
    for (const path of ['/admin', '/./admin', '//admin', '/%61dmin', '/x/../admin/', '/admin/users/..']) {
      const r = await viaForward(`http://plain.example.test${path}`);
      expect(r.status, path).toBe(403);
      expect(r.headers['x-chaperone-rule'], path).toBe('egress');
      expect(r.body, path).toMatch(/no admin pages/);
    }
    expect(world.plain.received.filter((q) => q.path.includes('dmin'))).toEqual([]);
    // Canonical, but a directory stays a directory: the server tells /dir from /dir/.
    const r = await viaForward('http://plain.example.test/dir/./sub%2fx//%7Euser/');
    expect(r.headers['x-chaperone-decision']).toBe('allow');
    expect(world.plain.received.at(-1)!.path).toBe('/dir/sub%2Fx/~user/');
  });
});

describe('what cannot be made canonical is refused, never forwarded', () => {
  it.each([
    ['a malformed escape', '/v1/chat/completions%zz'],
    ['a backslash', '/v1/chat\\completions'],
    ['an escaped backslash', '/v1/x%5C..%5Cchat/completions'],
    ['an escaped NUL', '/v1/chat/completions%00'],
  ])('%s in intercepted TLS: 400 in the provider shape', async (_what, target) => {
    const marker = `refused-${target}`;
    const r = await viaTls('https://api.openai.com/v1/chat/completions', '--request-target', target, ...json, '-d', chat(marker));
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request', message: expect.stringMatching(/malformed request target/) });
    expect(r.headers['x-chaperone-decision']).toBe('error');
    expect(receivedWith('tls', marker)).toEqual([]);
    expect(await auditOf(r.headers['x-chaperone-request-id'])).toMatchObject({ host: 'api.openai.com', decision: 'error', status: 400 });
  });

  it('on the Anthropic route: 400 in Anthropic shape', async () => {
    const r = await viaRoute('/anthropic/v1/messages%g0', ...json, '-d', '{"marker":"anthropic-refused"}');
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringMatching(/malformed percent escape/) } });
    expect(receivedWith('tls', 'anthropic-refused')).toEqual([]);
  });

  it('on a host it does not intercept: 400 too (its egress rules could not be applied)', async () => {
    const r = await viaForward('http://plain.example.test/admin%', '-d', 'marker=plain-refused');
    expect(r.status).toBe(400);
    expect(receivedWith('plain', 'plain-refused')).toEqual([]);
  });
});

describe('absolute-form targets inside intercepted TLS', () => {
  it('naming the TLS host: the path is canonicalised and checked like any other', async () => {
    const denied = await viaTls('https://api.openai.com/', '--request-target', 'https://api.openai.com/v1/chat/./completion%73', ...json, '-d', forbiddenTool('absolute deny'));
    expect(denied.status).toBe(403);
    expect(denied.headers['x-chaperone-rule']).toBe('tools');
    const files = await viaTls('https://api.openai.com/', '--request-target', 'https://API.openai.com:443/v1//files', ...json, '-d', '{"marker":"absolute-files"}');
    expect(files.status).toBe(403);
    expect(files.headers['x-chaperone-rule']).toBe('egress');
    const ok = await viaTls('https://api.openai.com/', '--request-target', 'https://api.openai.com/v1/x/../chat/completions', ...json, '-d', chat('absolute allow'));
    expect(ok.status).toBe(200);
    expect(receivedWith('tls', 'absolute allow').map((q) => q.path)).toEqual(['/v1/chat/completions']);
    expect(receivedWith('tls', 'absolute deny')).toEqual([]);
    expect(receivedWith('tls', 'absolute-files')).toEqual([]);
  });

  it.each([
    ['another host', 'https://tunnel.example.test/v1/chat/completions'],
    ['another port', 'https://api.openai.com:8443/v1/chat/completions'],
    ['another scheme', 'http://api.openai.com/v1/chat/completions'],
    ['userinfo', 'https://user@api.openai.com/v1/chat/completions'],
    ['the asterisk form', '*'],
  ])('naming %s: refused with a 400 in the provider shape, nothing forwarded', async (what, target) => {
    const marker = `absolute-refused-${what}`;
    const r = await viaTls('https://api.openai.com/', '--request-target', target, ...json, '-d', chat(marker));
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).error.message).toMatch(/this connection's own destination, https:\/\/api\.openai\.com:443/);
    expect(receivedWith('tls', marker)).toEqual([]);
  });
});
