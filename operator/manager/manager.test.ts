import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../lib/logger.js';
import { MemoryLease } from '../../lib/testing.js';
import { Manager } from './manager.js';

// Two managers elect on one in-memory lease (short real timings), each with a controller whose
// reconcile runs until its signal aborts: only the leader reconciles, and losing leadership
// aborts the reconcile in flight.
const TIMINGS = { leaseDurationMs: 900, renewDeadlineMs: 600, retryPeriodMs: 100 };
const log = createLogger('operator', 'error');
let managers: Manager[] = [];

afterEach(async () => {
  await Promise.all(managers.map((m) => m.stop()));
  managers = [];
});

function replica(lease: MemoryLease, identity: string, started: string[], aborted: string[]): Manager {
  const m = new Manager({
    kubeconfig: new KubeConfig(),
    log,
    healthAddr: '127.0.0.1:0',
    healthTls: false,
    resyncMs: 60_000,
    watchRefreshMs: 60_000,
    leaderElection: { lease, identity, ...TIMINGS },
  });
  m.controller({
    name: 'namespace',
    logKey: 'namespace',
    failureMessage: 'reconcile failed; retrying',
    allKeys: () => ['team'],
    reconcile: (key, signal) =>
      new Promise((resolve) => {
        started.push(`${identity}:${key}`);
        signal.addEventListener('abort', () => {
          aborted.push(`${identity}:${key}`);
          resolve({});
        });
      }),
  });
  managers.push(m);
  return m;
}

describe('Manager', () => {
  it('only the leader reconciles; losing the lease aborts its reconcile in flight; the other takes over', async () => {
    const lease = new MemoryLease();
    const started: string[] = [];
    const aborted: string[] = [];
    const a = replica(lease, 'a', started, aborted);
    await a.start();
    await vi.waitFor(() => expect(a.isLeader()).toBe(true));
    const b = replica(lease, 'b', started, aborted);
    await b.start();
    await vi.waitFor(() => expect(started).toEqual(['a:team']));
    expect(b.isLeader()).toBe(false);

    // a's renewals fail from here (a partition): it steps down within its renew deadline and its
    // reconcile is aborted; b takes over once the lease has not changed for leaseDuration.
    const realUpdate = lease.update.bind(lease);
    lease.update = async (record, version) => (record.holderIdentity === 'a' ? Promise.reject(new Error('partitioned')) : realUpdate(record, version));
    await vi.waitFor(() => expect(aborted).toEqual(['a:team']), { timeout: 2_000 });
    expect(a.isLeader()).toBe(false);
    await vi.waitFor(() => expect(b.isLeader()).toBe(true), { timeout: 3_000 });
    await vi.waitFor(() => expect(started).toEqual(['a:team', 'b:team']));
  });

  it('without leader election it leads alone and serves health', async () => {
    const m = new Manager({ kubeconfig: new KubeConfig(), log, healthAddr: '127.0.0.1:0', healthTls: false, resyncMs: 60_000, watchRefreshMs: 60_000 });
    managers.push(m);
    await m.start();
    expect(m.isLeader()).toBe(true);
    expect(m.isReady()).toBe(true);
    const res = await fetch(`http://127.0.0.1:${m.healthAddress.port}/readyz`);
    expect(res.status).toBe(200);
  });
});
