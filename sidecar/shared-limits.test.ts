// Fleet-wide rate limits end to end: three real sidecar processes (dist/) share one real
// redis-server (--shared-limits-url). 60 concurrent calls spread across them against
// requestsPerMinute: 10 let exactly 10 through; with the store killed, onStoreFailure holds (local:
// per replica; failClosed: 503 and not ready) and chaperone_shared_limits_up says 0; when the store
// is back, counting resumes fleet-wide without restarting a sidecar.
//
// The reservation is made in the pipeline's async prepare step, which the data path runs for every
// call when a shared store is configured (`pipeline.preparesEveryCall`): these are ordinary small calls.
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../e2e/harness/redis.js';
import { spawnSidecar, type SidecarProcess } from '../e2e/harness/sidecar-process.js';
import { createWorld, writePolicy, type World } from '../e2e/harness/world.js';

let world: World;
let redis: RedisServer;
let sidecars: SidecarProcess[] = [];

const POLICIES = `apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: fleet, namespace: agents}
spec:
  rateLimits:
    agents:
      - {name: fleet, requestsPerMinute: 10}
      - {name: local, requestsPerMinute: 2}
      - {name: after, requestsPerMinute: 3}
---
apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: strict, namespace: agents}
spec:
  rateLimits:
    onStoreFailure: failClosed
    agents:
      - {name: closed, requestsPerMinute: 100}
`;

const PROMPT = 'hello';

async function chat(sidecar: SidecarProcess, agent: string): Promise<{ status: number; body: any; retryAfter?: string }> {
  const res = await request(`${sidecar.proxyUrl}/openai/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-chaperone-agent': agent },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: PROMPT }] }),
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
  sidecars = await Promise.all([0, 1, 2].map(() => spawnSidecar(['--policy', policy, '--shared-limits-url', redis.url, ...world.upstreamFlags])));
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
});
