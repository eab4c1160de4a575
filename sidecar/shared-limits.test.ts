// Fleet-wide rate limits end to end: three real sidecar processes (dist/) share one real
// redis-server (--shared-limits-url). 60 concurrent calls spread across them against
// requestsPerMinute: 10 let exactly 10 through; with the store killed, onStoreFailure holds (local:
// per replica; failClosed: 503 and not ready) and chaperone_shared_limits_up says 0; when the store
// is back, counting resumes fleet-wide without restarting a sidecar.
//
// The reservation is made in the pipeline's async prepare step, which the data path runs for every
// call when a shared store is configured (`pipeline.preparesEveryCall`): these are ordinary small calls.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { curl } from '../e2e/harness/curl.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../e2e/harness/redis.js';
import { spawnSidecar, type SidecarProcess } from '../e2e/harness/sidecar-process.js';
import { createWorld, writePolicy, type World } from '../e2e/harness/world.js';

let world: World;
let redis: RedisServer;
let sidecars: SidecarProcess[] = [];
let sidecarArgs: string[] = [];

const POLICIES = `apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: fleet, namespace: agents}
spec:
  rateLimits:
    agents:
      - {name: fleet, requestsPerMinute: 10}
      - {name: local, requestsPerMinute: 2}
      - {name: after, requestsPerMinute: 3}
      - {name: tunneler, requestsPerMinute: 3}
---
apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: strict, namespace: agents}
spec:
  rateLimits:
    onStoreFailure: failClosed
    agents:
      - {name: closed, requestsPerMinute: 100}
---
apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: budget, namespace: agents}
spec:
  budget:
    maxCostPerAgentPerDayUSD: 0.05
    # The rate-limit agents' model costs nothing here: only budget-model calls count.
    pricing:
      - {model: "budget-model*", inputPerMTokUSD: 1000, outputPerMTokUSD: 1000}
      - {model: "gpt-4o-mini*", inputPerMTokUSD: 0, outputPerMTokUSD: 0}
`;

const PROMPT = 'hello';

async function chat(sidecar: SidecarProcess, agent: string, model = 'gpt-4o-mini', maxTokens?: number): Promise<{ status: number; body: any; retryAfter?: string }> {
  const res = await request(`${sidecar.proxyUrl}/openai/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-chaperone-agent': agent },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: PROMPT }], ...(maxTokens ? { max_tokens: maxTokens } : {}) }),
  });
  const text = await res.body.text();
  const retryAfter = res.headers['retry-after'];
  return { status: res.statusCode, body: JSON.parse(text), ...(typeof retryAfter === 'string' ? { retryAfter } : {}) };
}

const metric = async (s: SidecarProcess, name: string): Promise<number | undefined> => {
  const text = await (await fetch(`${s.adminUrl}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
};

async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const allUp = (value: number) => until(`chaperone_shared_limits_up ${value} on every sidecar`, async () => (await Promise.all(sidecars.map((s) => metric(s, 'chaperone_shared_limits_up')))).every((v) => v === value));

beforeAll(async () => {
  world = await createWorld();
  redis = await startRedis();
  const policy = await writePolicy(world.dir, 'fleet', POLICIES);
  sidecarArgs = ['--policy', policy, '--shared-limits-url', redis.url, ...world.upstreamFlags];
  sidecars = await Promise.all([0, 1, 2].map(() => spawnSidecar(sidecarArgs)));
  await allUp(1);
}, 60_000);
afterAll(async () => {
  await Promise.all(sidecars.map((s) => s.stop()));
  await redis?.stop();
  await world?.close();
});

describe('fleet-wide rate limits across three sidecars', () => {
  it('refuses a password in the URL and a password file without a store', async () => {
    await expect(spawnSidecar(['--policy', join(world.dir, 'fleet.yaml'), '--shared-limits-url', 'redis://:secret@127.0.0.1:1'])).rejects.toThrow(/must not carry a password/);
    await expect(spawnSidecar(['--policy', join(world.dir, 'fleet.yaml'), '--shared-limits-password-file', '/nonexistent'])).rejects.toThrow(/--shared-limits-password-file needs --shared-limits-url/);
  });

  it('60 concurrent calls spread across 3 sidecars against 10 per minute: exactly 10 pass', async () => {
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => chat(sidecars[i % 3]!, 'fleet')));
    expect(results.filter((r) => r.status === 200)).toHaveLength(10);
    const limited = results.filter((r) => r.status === 429);
    expect(limited).toHaveLength(50);
    // In the provider's (OpenAI's) shape, with Retry-After.
    expect(limited[0]!.body.error).toMatchObject({ message: expect.stringContaining('rate limit for agent fleet exceeded (10 requests per minute)') });
    expect(Number(limited[0]!.retryAfter)).toBeGreaterThanOrEqual(1);
    const status = (await (await fetch(`${sidecars[0]!.adminUrl}/status`)).json()) as any;
    expect(status.sharedLimits).toMatchObject({ store: `${redis.url}`, up: true });
  }, 60_000);

  it('with the store killed: local holds per replica, failClosed refuses (503, not ready), the metric says 0; then counting resumes', async () => {
    await redis.kill();
    await allUp(0);
    // local (the default): each replica counts on its own, 2 per minute each.
    const local = await Promise.all(sidecars.flatMap((s) => [0, 1, 2, 3].map(() => chat(s, 'local'))));
    expect(local.filter((r) => r.status === 200)).toHaveLength(6);
    expect(local.filter((r) => r.status === 429)).toHaveLength(6);
    // failClosed: refused as unavailable, and the sidecar says it is not ready (and why).
    const closed = await chat(sidecars[1]!, 'closed');
    expect(closed.status).toBe(503);
    expect(closed.retryAfter).toBe('1');
    expect(JSON.stringify(closed.body)).toContain('shared limits store is unavailable');
    const ready = await fetch(`${sidecars[1]!.adminUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toContain('shared limits store unavailable');
    const status = (await (await fetch(`${sidecars[1]!.adminUrl}/status`)).json()) as any;
    expect(status.sharedLimits.up).toBe(false);
    expect(status.sharedLimits.reason).toContain('unavailable');
    expect(await metric(sidecars[1]!, 'chaperone_shared_limits_errors_total')).toBeGreaterThan(0);

    await redis.restart();
    await allUp(1);
    expect((await fetch(`${sidecars[1]!.adminUrl}/readyz`)).status).toBe(200);
    expect((await chat(sidecars[1]!, 'closed')).status).toBe(200);
    // Fleet-wide again: 12 calls over 3 sidecars against 3 per minute.
    const after = await Promise.all(Array.from({ length: 12 }, (_, i) => chat(sidecars[i % 3]!, 'after')));
    expect(after.filter((r) => r.status === 200)).toHaveLength(3);
  }, 60_000);

  it('tunnels count fleet-wide too: 9 CONNECTs across 3 sidecars against 3 per minute, exactly 3 open', async () => {
    // An IP literal is not intercepted: the CONNECT is judged by host, as a tunnel.
    const results = await Promise.all(
      Array.from({ length: 9 }, (_, i) => curl(['-x', sidecars[i % 3]!.proxyUrl, '--proxy-header', 'X-Chaperone-Agent: tunneler', '-k', '-s', '-o', '/dev/null', `https://127.0.0.1:${world.tls.port}/v1/models`])),
    );
    expect(results.filter((r) => r.exitCode === 0)).toHaveLength(3);
  }, 60_000);

  it('a daily budget across 3 sidecars: 30 concurrent calls keep the fleet within the cap ($0.05); a restarted sidecar keeps the day\'s spend', async () => {
    // budget-model: $0.001 a token; max_tokens 10 reserves ~$0.012; the fake answers in 5 tokens ($0.005).
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => chat(sidecars[i % 3]!, 'spender', 'budget-model-1', 10)));
    const passed = results.filter((r) => r.status === 200);
    expect(passed.length).toBeGreaterThanOrEqual(3);
    expect(results.filter((r) => r.status === 403).length).toBeGreaterThanOrEqual(20);
    const usage = passed.map((r) => (r.body.usage.prompt_tokens + r.body.usage.completion_tokens) * 0.001);
    const spent = usage.reduce((a, b) => a + b, 0);
    // Within the cap plus one call's input estimate error (~4 characters a token; allow 5 tokens).
    expect(spent).toBeLessThanOrEqual(0.05 + 0.005);
    // Every sidecar shows the fleet's spend today, read from the store.
    const fleetSpent = async (s: SidecarProcess): Promise<number | undefined> => {
      const status = (await (await fetch(`${s.adminUrl}/status`)).json()) as any;
      return status.fleetSpend?.agents?.find((a: any) => a.policy === 'agents/budget' && a.agent === 'spender')?.spentUsd;
    };
    await until('every sidecar to show the fleet spend', async () => (await Promise.all(sidecars.map(fleetSpent))).every((v) => v !== undefined && Math.abs(v - spent) < 1e-6));

    // Spend the rest of the day's budget with small calls until refused.
    // (A call can also be refused for the reservation of the one before, whose settle is still on
    // its way to the store: stop when the settled spend itself leaves no room.)
    for (let i = 0; i < 60; i++) {
      if ((await chat(sidecars[i % 3]!, 'spender', 'budget-model-1', 10)).status !== 200 && (await fleetSpent(sidecars[0]!))! + 0.012 > 0.05) break;
    }
    const refused = await chat(sidecars[0]!, 'spender', 'budget-model-1', 10);
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toMatch(/agent spender spent \$0\.0\d+ of \$0\.05 today \(fleet-wide\)/);

    // A sidecar killed and started again continues from the day's spend: still refused.
    await sidecars[2]!.stop();
    sidecars[2] = await spawnSidecar(sidecarArgs);
    await allUp(1);
    const again = await chat(sidecars[2]!, 'spender', 'budget-model-1', 10);
    expect(again.status).toBe(403);
    expect(again.body.error.message).toContain('(fleet-wide)');
    expect(await fleetSpent(sidecars[2]!)).toBeGreaterThan(0.035);
    // The gauge for Grafana: the fleet's total today as this replica read it.
    const metrics = await (await fetch(`${sidecars[2]!.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/^chaperone_budget_spent_usd\{policy="agents\/budget",agent="spender",scope="fleet"\} 0\.0\d+$/m);
  }, 60_000);
});

describe('a call re-checked after an approval hold', () => {
  const TOKEN = 'approver-token';
  let held: SidecarProcess;
  beforeAll(async () => {
    const tokenFile = join(world.dir, 'approver-token');
    await writeFile(tokenFile, `${TOKEN}\n`);
    const policy = await writePolicy(world.dir, 'held', `apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: held, namespace: agents}
spec:
  intercept: {hosts: [mcp.tools.example.com]}
  approvals: {tools: [send_email], timeoutSeconds: 600}
  rateLimits:
    agents: [{name: researcher, requestsPerMinute: 2}]
`);
    held = await spawnSidecar(['--policy', policy, '--ca-dir', world.caDir, '--shared-limits-url', redis.url, '--admin-token-file', tokenFile, ...world.upstreamFlags]);
  }, 30_000);
  afterAll(async () => {
    await held?.stop();
  });
  const toolCall = (id: number, name: string) =>
    curl(['-x', held.proxyUrl, '--cacert', world.caCertFile, '-H', 'content-type: application/json', '-H', 'x-chaperone-agent: researcher',
      '-d', JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: { to: 'ceo@example.com' } } }), 'https://mcp.tools.example.com/mcp']);

  it('is counted in the shared store, not only on the replica', async () => {
    const first = await toolCall(1, 'send_email');
    expect(first.headers['x-chaperone-decision']).toBe('hold');
    const id = first.headers['x-chaperone-approval']!;
    const approved = await fetch(`${held.adminUrl}/approvals/${id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(approved.status).toBe(200);
    // The resend passes and takes 1 of the 2 requests a minute from the store (the hold took none)...
    expect((await toolCall(2, 'send_email')).headers['x-chaperone-decision']).toBe('allow');
    // ...so one more call fits, and the next is limited by the store's count.
    expect((await toolCall(3, 'search')).headers['x-chaperone-decision']).toBe('allow');
    const limited = await toolCall(4, 'search');
    expect(limited.headers['x-chaperone-decision']).toBe('rate_limited');
  }, 30_000);
});
