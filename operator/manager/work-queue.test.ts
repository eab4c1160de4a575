import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkQueue } from './work-queue.js';

/** A promise the test resolves by hand, to hold a worker mid-reconcile. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('WorkQueue', () => {
  it('coalesces a burst of adds of one key into one reconcile', async () => {
    const q = new WorkQueue();
    const seen: string[] = [];
    for (let i = 0; i < 10; i++) q.add('a');
    q.add('b');
    q.add('a');
    expect(q.length).toBe(2);
    const running = q.run((k) => {
      seen.push(k);
    });
    await vi.advanceTimersByTimeAsync(0);
    await q.shutDown();
    await running;
    expect(seen).toEqual(['a', 'b']);
  });

  it('never gives one key to two workers; a key added while in flight runs again afterwards', async () => {
    const q = new WorkQueue();
    const g1 = gate();
    let active = 0;
    let maxActive = 0;
    const runs: string[] = [];
    let first = true;
    const running = q.run(async (k) => {
      active++;
      maxActive = Math.max(maxActive, active);
      runs.push(k);
      if (first) {
        first = false;
        await g1.promise;
      }
      active--;
    }, 4);
    q.add('a');
    await vi.advanceTimersByTimeAsync(0);
    expect(q.inFlight).toBe(1);
    // Added three times while in flight: coalesced into one re-run after the worker finishes.
    q.add('a');
    q.add('a');
    q.add('a');
    await vi.advanceTimersByTimeAsync(0);
    expect(runs).toEqual(['a']);
    expect(q.length).toBe(0);
    g1.open();
    await vi.advanceTimersByTimeAsync(0);
    expect(runs).toEqual(['a', 'a']);
    expect(maxActive).toBe(1);
    await q.shutDown();
    await running;
  });

  it('bounds concurrency across keys', async () => {
    const q = new WorkQueue();
    const gates = new Map<string, ReturnType<typeof gate>>();
    let active = 0;
    let maxActive = 0;
    const running = q.run(async (k) => {
      active++;
      maxActive = Math.max(maxActive, active);
      const g = gate();
      gates.set(k, g);
      await g.promise;
      active--;
    }, 2);
    for (const k of ['a', 'b', 'c', 'd', 'e']) q.add(k);
    await vi.advanceTimersByTimeAsync(0);
    expect(active).toBe(2);
    expect([...gates.keys()]).toEqual(['a', 'b']);
    gates.get('a')!.open();
    await vi.advanceTimersByTimeAsync(0);
    expect([...gates.keys()]).toEqual(['a', 'b', 'c']);
    for (const k of ['b', 'c']) gates.get(k)!.open();
    await vi.advanceTimersByTimeAsync(0);
    for (const k of ['d', 'e']) gates.get(k)!.open();
    await vi.advanceTimersByTimeAsync(0);
    expect(maxActive).toBe(2);
    await q.shutDown();
    await running;
  });

  it('retries a failing key with exponential backoff, capped, and forget resets it', async () => {
    const q = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000 });
    expect([0, 1, 2, 3, 4, 5].map((n) => q.backoff(n))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(new WorkQueue().backoff(100)).toBe(30_000);
    expect(new WorkQueue().backoff(5000)).toBe(30_000);

    const times: number[] = [];
    const start = Date.now();
    let failuresLeft = 6;
    const errors: number[] = [];
    const running = q.run(
      () => {
        times.push(Date.now() - start);
        if (failuresLeft-- > 0) throw new Error('boom');
      },
      1,
      { onError: (_k, _e, n) => errors.push(n) },
    );
    q.add('a');
    await vi.advanceTimersByTimeAsync(10_000);
    // Runs at 0, then after 100, 200, 400, 800, 1000, 1000 more.
    expect(times).toEqual([0, 100, 300, 700, 1500, 2500, 3500]);
    expect(errors).toEqual([1, 2, 3, 4, 5, 6]);
    // The success forgot the key: the next failure starts from the base delay again.
    expect(q.numRequeues('a')).toBe(0);
    q.addRateLimited('a');
    expect(q.numRequeues('a')).toBe(1);
    await vi.advanceTimersByTimeAsync(99);
    expect(times).toHaveLength(7);
    await vi.advanceTimersByTimeAsync(1);
    expect(times).toHaveLength(8);
    await q.shutDown();
    await running;
  });

  it('backoff is per key', () => {
    const q = new WorkQueue();
    q.addRateLimited('a');
    q.addRateLimited('a');
    q.addRateLimited('b');
    expect(q.numRequeues('a')).toBe(2);
    expect(q.numRequeues('b')).toBe(1);
    q.forget('a');
    expect(q.numRequeues('a')).toBe(0);
    expect(q.numRequeues('b')).toBe(1);
  });

  it('addAfter delays the add; the earliest pending time wins; a direct add is not delayed', async () => {
    const q = new WorkQueue();
    q.addAfter('a', 1000);
    q.addAfter('a', 5000); // later: ignored
    q.addAfter('a', 500); // earlier: replaces
    expect(q.length).toBe(0);
    await vi.advanceTimersByTimeAsync(499);
    expect(q.length).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(q.length).toBe(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(q.length).toBe(1); // no second add from the dropped timers
    q.addAfter('b', 0);
    expect(q.length).toBe(2);
  });

  it('get waits for a key; manual get/done re-queues a key added in flight', async () => {
    const q = new WorkQueue();
    const p = q.get();
    q.add('x');
    expect(await p).toBe('x');
    q.add('x');
    expect(q.length).toBe(0);
    q.done('x');
    expect(q.length).toBe(1);
    expect(await q.get()).toBe('x');
    q.done('x');
  });

  it('shutDown drains queued keys, waits for in-flight work, drops delayed adds and refuses new keys', async () => {
    const q = new WorkQueue();
    const g = gate();
    const runs: string[] = [];
    const running = q.run(async (k) => {
      runs.push(k);
      if (k === 'a') await g.promise;
    }, 1);
    q.add('a');
    q.add('b');
    q.addAfter('c', 100);
    await vi.advanceTimersByTimeAsync(0);
    expect(runs).toEqual(['a']);
    let drained = false;
    const shut = q.shutDown().then(() => (drained = true));
    q.add('d');
    await vi.advanceTimersByTimeAsync(1000);
    expect(drained).toBe(false);
    g.open();
    await shut;
    await running;
    expect(runs).toEqual(['a', 'b']);
    expect(await q.get()).toBeUndefined();
  });

  it('shutDown with idle workers ends run at once', async () => {
    const q = new WorkQueue();
    const running = q.run(() => {}, 3);
    await vi.advanceTimersByTimeAsync(0);
    await q.shutDown();
    await expect(running).resolves.toBeUndefined();
  });
});
