// The operator's runtime against the real API server: server-side apply through lib/kube.ts, and
// Lease-based leader election between two candidates.
import { randomBytes } from 'node:crypto';
import { CoordinationV1Api, CoreV1Api, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyObject, loadKubeConfig } from '../lib/kube.js';
import { kubernetesLease } from '../lib/kubernetes-lease.js';
import { LeaderElector, type LeaderElectionOptions } from '../lib/leader-election.js';
import { kubeconfig } from './harness/kubectl.js';

const NS = `chaperone-e2e-runtime-${randomBytes(3).toString('hex')}`;
const MANAGER = 'chaperone-operator';

let kc: KubeConfig;
let core: CoreV1Api;

beforeAll(async () => {
  process.env.KUBECONFIG ??= kubeconfig();
  kc = loadKubeConfig();
  core = kc.makeApiClient(CoreV1Api);
  await applyObject(kc, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }, MANAGER);
});

afterAll(async () => {
  await core?.deleteNamespace({ name: NS }).catch(() => undefined);
});

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 15_000, stepMs = 50): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await cond()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

describe('applyObject (server-side apply)', () => {
  it('creates, updates and records the field manager with operation Apply', async () => {
    const cm = (data: Record<string, string>): V1ConfigMap => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ssa', namespace: NS, labels: { app: 'chaperone' } }, data });

    const created = await applyObject(kc, cm({ 'policies.yaml': 'one' }), MANAGER);
    expect(created.metadata?.uid).toBeTruthy();
    const first = await core.readNamespacedConfigMap({ name: 'ssa', namespace: NS });
    expect(first.data).toEqual({ 'policies.yaml': 'one' });

    const updated = await applyObject(kc, cm({ 'policies.yaml': 'two', extra: 'x' }), MANAGER);
    expect(updated.metadata?.uid).toBe(created.metadata?.uid);
    const second = await core.readNamespacedConfigMap({ name: 'ssa', namespace: NS });
    expect(second.data).toEqual({ 'policies.yaml': 'two', extra: 'x' });

    // A field dropped from the applied object is removed: the manager owned it.
    await applyObject(kc, cm({ 'policies.yaml': 'three' }), MANAGER);
    const third = await core.readNamespacedConfigMap({ name: 'ssa', namespace: NS });
    expect(third.data).toEqual({ 'policies.yaml': 'three' });

    const entries = (third.metadata?.managedFields ?? []).filter((f) => f.manager === MANAGER);
    expect(entries).toHaveLength(1);
    expect(entries[0]!.operation).toBe('Apply');

    // Applying again with the same content is a no-op for the stored object.
    const again = await applyObject(kc, cm({ 'policies.yaml': 'three' }), MANAGER);
    expect(again.metadata?.resourceVersion).toBe(third.metadata?.resourceVersion);
  });

  it('forces ownership of fields another manager set', async () => {
    await applyObject(kc, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'contested', namespace: NS }, data: { k: 'theirs' } }, 'someone-else');
    await applyObject(kc, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'contested', namespace: NS }, data: { k: 'ours' } }, MANAGER);
    const got = await core.readNamespacedConfigMap({ name: 'contested', namespace: NS });
    expect(got.data).toEqual({ k: 'ours' });
  });
});

describe('LeaderElector on a Lease', () => {
  const LEASE = 'chaperone-operator-leader';
  const timings = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 300 } as const;
  const events: string[] = [];
  const electors: LeaderElector[] = [];

  const candidate = (identity: string, extra: Partial<LeaderElectionOptions> = {}): LeaderElector => {
    const e = new LeaderElector(kubernetesLease(kc, NS, LEASE), {
      identity,
      ...timings,
      onStartedLeading: () => void events.push(`${identity} started`),
      onStoppedLeading: () => void events.push(`${identity} stopped`),
      ...extra,
    });
    electors.push(e);
    return e;
  };
  const holder = async (): Promise<string | undefined> => (await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: LEASE, namespace: NS })).spec?.holderIdentity || undefined;

  afterAll(async () => {
    await Promise.all(electors.map((e) => e.stop({ release: false })));
  });

  it('exactly one of two candidates leads; a released lease is taken over at once; an abandoned one after it expires', async () => {
    const a = candidate('replica-a');
    const b = candidate('replica-b');
    a.start();
    b.start();

    await waitFor('a leader', () => a.isLeader() || b.isLeader());
    // For a few renew periods, exactly one leads and the Lease names it.
    for (let i = 0; i < 8; i++) {
      expect(Number(a.isLeader()) + Number(b.isLeader())).toBe(1);
      await new Promise((r) => setTimeout(r, 250));
    }
    const [leader, follower] = a.isLeader() ? [a, b] : [b, a];
    const leaderId = leader === a ? 'replica-a' : 'replica-b';
    const followerId = leader === a ? 'replica-b' : 'replica-a';
    expect(await holder()).toBe(leaderId);
    expect(follower.leader()).toBe(leaderId);

    // Graceful stop: the leader releases, the follower takes over within a couple of retry periods.
    const stopAt = Date.now();
    await leader.stop();
    expect(leader.isLeader()).toBe(false);
    expect(events).toContain(`${leaderId} stopped`);
    await waitFor('the follower to take over', () => follower.isLeader(), 5000);
    const handover = Date.now() - stopAt;
    expect(handover).toBeLessThan(2000);
    expect(await holder()).toBe(followerId);

    // A third candidate joins and waits; the leader then dies without releasing (stops renewing).
    const c = candidate('replica-c');
    c.start();
    await new Promise((r) => setTimeout(r, 1000));
    expect(c.isLeader()).toBe(false);
    expect(follower.isLeader()).toBe(true);
    const killedAt = Date.now();
    await follower.stop({ release: false });
    expect(await holder()).toBe(followerId); // not released
    await waitFor('the lease to expire and replica-c to take over', () => c.isLeader(), 10_000);
    const takeover = Date.now() - killedAt;
    // Not before the lease could have expired (lease 3 s, last renew at most one retry period before the kill) ...
    expect(takeover).toBeGreaterThanOrEqual(timings.leaseDurationMs - timings.retryPeriodMs - 100);
    // ... and soon after.
    expect(takeover).toBeLessThan(timings.leaseDurationMs + 2000);
    expect(await holder()).toBe('replica-c');

    const lease = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: LEASE, namespace: NS });
    expect(lease.spec?.leaseDurationSeconds).toBe(3);
    expect(lease.spec?.leaseTransitions).toBeGreaterThanOrEqual(1);

    await c.stop();
    expect(await holder()).toBeUndefined();
  });
});
