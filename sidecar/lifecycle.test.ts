// The sidecar as a pod runs it: config and pod info from projected volumes, hot reload without
// dropping calls, readiness, the admin port, and a draining SIGTERM.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeProjectedVolume } from '../e2e/harness/configmap-dir.js';
import { spawnSidecar, type SidecarProcess } from '../e2e/harness/sidecar-process.js';
import { createWorld, type World } from '../e2e/harness/world.js';

let world: World;

const policy = (name: string, generation: number, selector = '{}') => `apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: ${name}, namespace: agents, generation: ${generation}}
spec:
  podSelector: ${selector}
  mode: audit
`;

beforeAll(async () => {
  world = await createWorld();
});
afterAll(async () => {
  await world?.close();
});

async function podSidecar(files: string, extra: string[] = []): Promise<{ sidecar: SidecarProcess; configDir: string; podinfoDir: string }> {
  const configDir = join(world.dir, files, 'config');
  const podinfoDir = join(world.dir, files, 'podinfo');
  await writeProjectedVolume(configDir, { 'policies.yaml': policy('first', 1) });
  await writeProjectedVolume(podinfoDir, { labels: 'app="researcher"\n', annotations: 'chaperone.dev/agent="pod-agent"\n' });
  const sidecar = await spawnSidecar([
    '--config', join(configDir, 'policies.yaml'), '--podinfo', podinfoDir, '--ca-dir', world.caDir, ...world.upstreamFlags, ...extra,
  ]);
  return { sidecar, configDir, podinfoDir };
}

/** Starts the fake's slow stream (10 frames, 200 ms apart) through the sidecar; resolves with all of it. */
function slowStream(sidecar: SidecarProcess): Promise<{ status: number; text: string }> {
  return request(`${sidecar.proxyUrl}/openai/slow-stream`, { method: 'GET' }).then(async (res) => ({ status: res.statusCode, text: await res.body.text() }));
}

interface Status {
  policies: Array<{ namespace: string; name: string; generation: number; mode: string }>;
  config: { podAgent: string | null; caLoaded: boolean; lastReloadError: string | null };
  agents: Record<string, Record<string, number>>;
}
const getStatus = async (sidecar: SidecarProcess): Promise<Status> => (await (await fetch(`${sidecar.adminUrl}/status`)).json()) as Status;

const metric = async (sidecar: SidecarProcess, pattern: RegExp): Promise<number> => {
  const text = await (await fetch(`${sidecar.adminUrl}/metrics`)).text();
  const m = pattern.exec(text);
  return m ? Number(m[1]) : NaN;
};

describe('in a pod', () => {
  let pod: Awaited<ReturnType<typeof podSidecar>>;
  beforeAll(async () => {
    pod = await podSidecar('pod-a');
  });
  afterAll(async () => {
    await pod?.sidecar.stop();
  });

  it('is ready, and reports its policies and the pod agent on /status', async () => {
    expect((await fetch(`${pod.sidecar.adminUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${pod.sidecar.adminUrl}/readyz`)).status).toBe(200);
    const status = await getStatus(pod.sidecar);
    expect(status.policies).toEqual([{ namespace: 'agents', name: 'first', generation: 1, mode: 'audit' }]);
    expect(status.config.podAgent).toBe('pod-agent');
    expect(status.config.caLoaded).toBe(true);
  });

  it('uses the pod agent annotation as the default identity, in audit, metrics and /status', async () => {
    const res = await request(`${pod.sidecar.proxyUrl}/openai/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.statusCode).toBe(200);
    await res.body.text();
    const audit = await pod.sidecar.waitForLine((l) => l.audit === true && l.requestId === res.headers['x-chaperone-request-id']);
    expect(audit.agent).toBe('pod-agent');
    expect(await metric(pod.sidecar, /chaperone_requests_total\{provider="openai",agent="pod-agent",decision="allow"\} (\d+)/)).toBe(1);
    expect(await metric(pod.sidecar, /chaperone_tokens_total\{provider="openai",model="gpt-4o",type="output"\} (\d+)/)).toBeGreaterThan(0);
    expect(await metric(pod.sidecar, /chaperone_proxy_overhead_seconds_count\{provider="openai"\} (\d+)/)).toBe(1);
    const status = await getStatus(pod.sidecar);
    expect(status.agents['pod-agent']).toEqual({ allow: 1 });
  });

  it('reloads on a ConfigMap symlink swap while a call is in flight, and the call completes', async () => {
    const inflight = slowStream(pod.sidecar);
    await new Promise((r) => setTimeout(r, 300));
    await writeProjectedVolume(pod.configDir, { 'policies.yaml': [policy('first', 2), policy('second', 1, '{matchLabels: {app: researcher}}'), policy('not-me', 1, '{matchLabels: {app: other}}')].join('---\n') });
    await expect
      .poll(async () => (await getStatus(pod.sidecar)).policies.map((p) => `${p.name}@${p.generation}`).join(','), { timeout: 5_000 })
      .toBe('first@2,second@1');
    const done = await inflight;
    expect(done.status).toBe(200);
    expect(done.text.match(/tick \d+/g)).toHaveLength(10);
    expect(await metric(pod.sidecar, /chaperone_config_reloads_total\{result="success"\} (\d+)/)).toBe(2);
  });

  it('keeps the old config when the new one is invalid, says why, and counts the error', async () => {
    await writeProjectedVolume(pod.configDir, { 'policies.yaml': policy('broken', 3).replace('mode: audit', 'mode: loud') });
    const logged = await pod.sidecar.waitForLine((l) => l.msg === 'configuration rejected; keeping the previous one');
    expect(String(logged.reason)).toMatch(/spec\.mode: must be one of/);
    expect(await metric(pod.sidecar, /chaperone_config_reloads_total\{result="error"\} (\d+)/)).toBe(1);
    const status = await getStatus(pod.sidecar);
    expect(status.policies.map((p) => p.name)).toEqual(['first', 'second']);
    expect(status.config.lastReloadError).toMatch(/spec\.mode/);
    expect((await fetch(`${pod.sidecar.adminUrl}/readyz`)).status).toBe(200);
  });

  it('follows label changes from the downward API', async () => {
    await writeProjectedVolume(pod.configDir, { 'policies.yaml': [policy('first', 2), policy('second', 1, '{matchLabels: {app: researcher}}'), policy('not-me', 1, '{matchLabels: {app: other}}')].join('---\n') });
    await writeProjectedVolume(pod.podinfoDir, { labels: 'app="other"\n', annotations: 'chaperone.dev/agent="pod-agent"\n' });
    await expect
      .poll(async () => (await getStatus(pod.sidecar)).policies.map((p) => p.name).join(','), { timeout: 5_000 })
      .toBe('first,not-me');
  });
});

describe('readiness', () => {
  it('is not ready in a pod until the CA is mounted, and becomes ready when it appears', async () => {
    const caDir = join(world.dir, 'late-ca');
    await mkdir(caDir, { recursive: true });
    const { sidecar } = await podSidecar('pod-b', ['--ca-dir', caDir]);
    try {
      const res = await fetch(`${sidecar.adminUrl}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.text()).toMatch(/not ready: configuration not loaded: .*tls\.crt/);
      const { readFile, writeFile } = await import('node:fs/promises');
      await writeFile(join(caDir, 'tls.key'), await readFile(join(world.caDir, 'tls.key')));
      await writeFile(join(caDir, 'tls.crt'), await readFile(join(world.caDir, 'tls.crt')));
      await expect.poll(async () => (await fetch(`${sidecar.adminUrl}/readyz`)).status, { timeout: 8_000 }).toBe(200);
    } finally {
      await sidecar.stop();
    }
  });
});

describe('--admin-tls', () => {
  it('serves the admin port over HTTPS with a certificate from the interception CA', async () => {
    const { sidecar } = await podSidecar('pod-tls', ['--admin-tls']);
    const admin = new Agent({ connect: { ca: await readFile(world.caCertFile, 'utf8') } });
    try {
      expect(sidecar.adminUrl).toMatch(/^https:\/\/127\.0\.0\.1:/);
      const ready = await request(`${sidecar.adminUrl}/readyz`, { dispatcher: admin });
      expect(ready.statusCode).toBe(200);
      await ready.body.text();
      // Verified against the CA, not merely encrypted: a client without it is refused.
      await expect(request(`${sidecar.adminUrl}/readyz`)).rejects.toThrow(/certificate/);
      const quit = await request(`${sidecar.adminUrl}/quitquitquit`, { method: 'POST', dispatcher: admin });
      expect(quit.statusCode).toBe(200);
      expect(await sidecar.stop()).toBe(0);
    } finally {
      await admin.close();
    }
  });
});

describe('SIGTERM', () => {
  it('drains a call in flight, refuses new ones, then exits 0', async () => {
    const { sidecar } = await podSidecar('pod-c');
    const inflight = slowStream(sidecar);
    await new Promise((r) => setTimeout(r, 300));
    sidecar.proc.kill('SIGTERM');
    await sidecar.waitForLine((l) => l.msg === 'draining');
    await new Promise((r) => setTimeout(r, 100));
    await expect(fetch(`${sidecar.proxyUrl}/openai/v1/models`)).rejects.toThrow();
    const done = await inflight;
    expect(done.status).toBe(200);
    expect(done.text.match(/tick \d+/g)).toHaveLength(10);
    expect(await sidecar.stop()).toBe(0);
    expect(sidecar.lines.find((l) => l.msg === 'stopped')?.clean).toBe(true);
    expect(sidecar.audits().some((l) => l.path === '/slow-stream' && l.status === 200)).toBe(true);
  });

  it('POST /quitquitquit from loopback drains and exits 0, as a Job pod without native sidecars needs', async () => {
    const { sidecar } = await podSidecar('pod-q');
    const res = await fetch(`${sidecar.adminUrl}/quitquitquit`, { method: 'POST' });
    expect(res.status).toBe(200);
    await sidecar.waitForLine((l) => l.msg === 'draining');
    expect(await sidecar.stop()).toBe(0);
    expect(sidecar.lines.find((l) => l.msg === 'stopped')?.clean).toBe(true);
  });

  it('cuts off what does not finish within --drain-timeout-ms, and still exits', async () => {
    const { sidecar } = await podSidecar('pod-d', ['--drain-timeout-ms', '300']);
    const inflight = slowStream(sidecar).catch((err: Error) => ({ status: -1, text: err.message }));
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    expect(await sidecar.stop('SIGTERM')).toBe(0);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(sidecar.lines.find((l) => l.msg === 'stopped')?.clean).toBe(false);
    const result = await inflight;
    expect(result.text.match(/tick \d+/g)?.length ?? 0).toBeLessThan(10);
  });
});
