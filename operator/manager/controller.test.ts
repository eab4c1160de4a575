import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../lib/logger.js';
import { Controller, ReconcileMetrics, type Reconcile } from './controller.js';

const log = createLogger('operator', 'error');
let controllers: Controller[] = [];

function controller(reconcile: Reconcile, keys: string[] = []): { c: Controller; registry: Registry } {
  const registry = new Registry();
  const c = new Controller({ name: 'namespace', reconcile, allKeys: () => keys, logKey: 'namespace', failureMessage: 'reconcile failed; retrying', workers: 2 }, new ReconcileMetrics(registry), log);
  controllers.push(c);
  return { c, registry };
}

const count = async (registry: Registry, result: string): Promise<number> =>
  (await registry.getSingleMetric('chaperone_reconcile_total')!.get()).values.find((v) => v.labels.result === result && v.labels.controller === 'namespace')?.value ?? -1;

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(controllers.map((c) => c.stop()));
  controllers = [];
});

describe('Controller', () => {
  it('reconciles only while leading, with the leader\'s signal, and counts each reconcile', async () => {
    const seen: Array<[string, AbortSignal]> = [];
    const { c, registry } = controller(async (key, signal) => void seen.push([key, signal]), ['a', 'b']);
    expect(await count(registry, 'success')).toBe(0); // the series exist before the first reconcile
    let leadership: AbortController | undefined;
    c.start(() => leadership?.signal);
    c.enqueueAll();
    await vi.waitFor(() => expect(c.queue.length + c.queue.inFlight).toBe(0));
    expect(seen).toEqual([]); // a follower drops the keys

    leadership = new AbortController();
    c.enqueueAll();
    await vi.waitFor(() => expect(seen.map(([k]) => k).sort()).toEqual(['a', 'b']));
    expect(seen.every(([, s]) => s === leadership!.signal)).toBe(true);
    expect(await count(registry, 'success')).toBe(2);
  });

  it('retries a failed key with backoff and counts the error', async () => {
    let calls = 0;
    const { c, registry } = controller(async () => {
      if (++calls === 1) throw new Error('boom');
    });
    c.start(() => new AbortController().signal);
    c.queue.add('a');
    await vi.waitFor(() => expect(calls).toBe(2), { timeout: 2_000 });
    expect(await count(registry, 'error')).toBe(1);
    expect(await count(registry, 'success')).toBe(1);
  });

  it('a reconcile cut short by lost leadership is neither an error nor retried', async () => {
    const leadership = new AbortController();
    let calls = 0;
    const { c, registry } = controller(async (_key, signal) => {
      calls++;
      leadership.abort();
      signal.throwIfAborted();
    });
    c.start(() => leadership.signal);
    c.queue.add('a');
    await vi.waitFor(() => expect(calls).toBe(1));
    await new Promise((r) => setTimeout(r, 400)); // longer than the first retry's backoff
    expect(calls).toBe(1);
    expect(await count(registry, 'error')).toBe(0);
  });

  it('queues the key again when the reconcile asks to', async () => {
    vi.useFakeTimers();
    const keys: string[] = [];
    const { c } = controller(async (key) => {
      keys.push(key);
      return { requeueAfterMs: 10_000 };
    });
    c.start(() => new AbortController().signal);
    c.queue.add('a');
    await vi.advanceTimersByTimeAsync(0);
    expect(keys).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(9_999);
    expect(keys).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(1);
    expect(keys).toEqual(['a', 'a']);
  });
});
