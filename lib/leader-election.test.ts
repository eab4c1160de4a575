import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LeaderElector, type LeaderElectionOptions } from './leader-election.js';
import type { LeaseRecord } from './lease.js';
import { MemoryLease } from './testing.js';

// Fake timers drive the loops; the electors' monotonic clock is the (fake) Date.now, so only the
// time the test advances counts. Lease 3 s, renew deadline 2 s, retry 250 ms.
const TIMINGS = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 250 } as const;
const HOUR = 60 * 60_000;

let electors: LeaderElector[] = [];
let events: string[] = [];

function candidate(lease: MemoryLease, identity: string, extra: Partial<LeaderElectionOptions> = {}): LeaderElector {
  const e = new LeaderElector(lease, {
    identity,
    ...TIMINGS,
    monotonicNow: () => Date.now(),
    onStartedLeading: (signal) => {
      events.push(`${identity} started`);
      signal.addEventListener('abort', () => events.push(`${identity} aborted`));
    },
    onStoppedLeading: () => void events.push(`${identity} stopped`),
    ...extra,
  });
  electors.push(e);
  e.start();
  return e;
}

const advance = (ms: number): Promise<void> => vi.advanceTimersByTimeAsync(ms).then(() => undefined);

/** Another process holding the lease, writing renewTime from its own (maybe skewed) clock. */
async function writeAsOtherHolder(lease: MemoryLease, holder: string, renewTime: Date): Promise<void> {
  const current = await lease.get();
  const record: LeaseRecord = { holderIdentity: holder, leaseDurationSeconds: 3, acquireTime: renewTime, renewTime, leaseTransitions: current?.record.leaseTransitions ?? 0 };
  expect(current ? await lease.update(record, current.version) : await lease.create(record)).toBe(true);
}

beforeEach(() => {
  vi.useFakeTimers();
  electors = [];
  events = [];
});

afterEach(async () => {
  const stopping = Promise.all(electors.map((e) => e.stop({ release: false })));
  await vi.runOnlyPendingTimersAsync();
  await stopping;
  vi.useRealTimers();
});

describe('LeaderElector', () => {
  it('acquires a missing lease, records itself as holder and keeps renewing', async () => {
    const lease = new MemoryLease();
    const a = candidate(lease, 'a');
    await advance(0);
    expect(a.isLeader()).toBe(true);
    expect(events).toEqual(['a started']);
    const first = lease.peek()!;
    expect(first).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 3, leaseTransitions: 0 });
    await advance(1_000);
    expect(lease.peek()!.renewTime.getTime()).toBeGreaterThan(first.renewTime.getTime());
    expect(lease.peek()!.acquireTime).toEqual(first.acquireTime);
  });

  it('of two candidates exactly one leads, and the other waits while the holder renews', async () => {
    const lease = new MemoryLease();
    const a = candidate(lease, 'a');
    const b = candidate(lease, 'b');
    for (let i = 0; i < 40; i++) {
      await advance(250);
      expect(Number(a.isLeader()) + Number(b.isLeader())).toBe(1);
    }
    expect(b.leader()).toBe(a.isLeader() ? 'a' : 'b');
  });

  it('takes over once the holder stops renewing, not before leaseDuration since the last change it saw', async () => {
    const lease = new MemoryLease();
    const a = candidate(lease, 'a');
    await advance(0);
    const b = candidate(lease, 'b');
    await advance(1_000);
    expect(b.isLeader()).toBe(false);

    await a.stop({ release: false }); // a crash: the record stays a's
    const stoppedAt = Date.now();
    await advance(TIMINGS.leaseDurationMs - TIMINGS.retryPeriodMs - 1);
    expect(b.isLeader()).toBe(false);
    await advance(2 * TIMINGS.retryPeriodMs + 1);
    expect(b.isLeader()).toBe(true);
    expect(Date.now() - stoppedAt).toBeLessThanOrEqual(TIMINGS.leaseDurationMs + TIMINGS.retryPeriodMs);
    expect(lease.peek()).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
  });

  it('respects a holder whose renewTime is hours behind or ahead of the local clock while it keeps renewing', async () => {
    for (const skew of [-5 * HOUR, +5 * HOUR]) {
      const lease = new MemoryLease();
      await writeAsOtherHolder(lease, 'skewed', new Date(Date.now() + skew));
      const b = candidate(lease, `b${skew}`);
      for (let i = 0; i < 20; i++) {
        await advance(1_000);
        await writeAsOtherHolder(lease, 'skewed', new Date(Date.now() + skew));
        expect(b.isLeader()).toBe(false);
      }
      expect(b.leader()).toBe('skewed');
      // It stops renewing: leaseDuration later (on b's clock) the lease is b's, future renewTime or not.
      await advance(TIMINGS.leaseDurationMs + TIMINGS.retryPeriodMs);
      expect(b.isLeader()).toBe(true);
      await b.stop({ release: false });
    }
  });

  it('a new candidate waits a full leaseDuration even when the record looks long expired', async () => {
    const lease = new MemoryLease();
    await writeAsOtherHolder(lease, 'gone', new Date(Date.now() - 24 * HOUR));
    const b = candidate(lease, 'b');
    await advance(TIMINGS.leaseDurationMs - TIMINGS.retryPeriodMs);
    expect(b.isLeader()).toBe(false);
    await advance(2 * TIMINGS.retryPeriodMs);
    expect(b.isLeader()).toBe(true);
  });

  it('steps down and aborts its work when it cannot renew within renewDeadline', async () => {
    const lease = new MemoryLease();
    const a = candidate(lease, 'a');
    await advance(0);
    expect(a.isLeader()).toBe(true);
    lease.fail = new Error('API server unreachable');
    await advance(TIMINGS.renewDeadlineMs - TIMINGS.retryPeriodMs);
    expect(a.isLeader()).toBe(true);
    await advance(2 * TIMINGS.retryPeriodMs);
    expect(a.isLeader()).toBe(false);
    expect(events).toEqual(['a started', 'a aborted', 'a stopped']);
    // Stepped down before the lease could expire for anyone else.
    expect(TIMINGS.renewDeadlineMs + TIMINGS.retryPeriodMs).toBeLessThan(TIMINGS.leaseDurationMs);

    lease.fail = undefined;
    await advance(TIMINGS.retryPeriodMs);
    expect(a.isLeader()).toBe(true); // still its own lease: it leads again
  });

  it('steps down at once when it finds another holder on the record', async () => {
    const lease = new MemoryLease();
    const a = candidate(lease, 'a');
    await advance(0);
    await writeAsOtherHolder(lease, 'usurper', new Date());
    await advance(TIMINGS.retryPeriodMs);
    expect(a.isLeader()).toBe(false);
    expect(events).toContain('a aborted');
  });

  it('releases on stop: holderIdentity cleared, a 1 s lease, and another candidate takes over within a retry period', async () => {
    const lease = new MemoryLease();
    const a = candidate(lease, 'a');
    await advance(0);
    const b = candidate(lease, 'b');
    await advance(500);
    await a.stop();
    expect(a.isLeader()).toBe(false);
    expect(events).toEqual(['a started', 'a aborted', 'a stopped']);
    expect(lease.peek()).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
    await advance(TIMINGS.retryPeriodMs);
    expect(b.isLeader()).toBe(true);
  });

  it('stop without release leaves the record to expire', async () => {
    const lease = new MemoryLease();
    const a = candidate(lease, 'a');
    await advance(0);
    await a.stop({ release: false });
    expect(lease.peek()?.holderIdentity).toBe('a');
  });

  it('refuses timings that could make two leaders', () => {
    const lease = new MemoryLease();
    expect(() => new LeaderElector(lease, { identity: 'a', leaseDurationMs: 2_000, renewDeadlineMs: 2_000 })).toThrow(/renewDeadline/);
    expect(() => new LeaderElector(lease, { identity: 'a', renewDeadlineMs: 1_000, retryPeriodMs: 1_000 })).toThrow(/retryPeriod/);
  });
});
