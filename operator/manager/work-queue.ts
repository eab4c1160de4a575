// A keyed work queue in the manner of client-go's workqueue: a key added while it is waiting is
// coalesced (one reconcile per burst); a key added while a worker holds it is queued again once the
// worker is done (never two workers on one key); failed keys are retried with per-key exponential
// backoff. Pure TypeScript on the global timers, so vitest fake timers drive it.

export interface WorkQueueOptions {
  /** First retry delay of addRateLimited (ms). */
  baseDelayMs?: number;
  /** Largest retry delay of addRateLimited (ms). */
  maxDelayMs?: number;
}

export type Worker<K> = (key: K) => Promise<void> | void;

export interface RunOptions<K> {
  /** Called when the worker throws; the key has already been re-added with backoff. */
  onError?: (key: K, err: unknown, requeues: number) => void;
}

export class WorkQueue<K = string> {
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  /** Keys waiting for a worker, in order. */
  private readonly queue: K[] = [];
  /** Keys that need processing: waiting in `queue`, or held by a worker and to be re-queued. */
  private readonly dirty = new Set<K>();
  /** Keys held by a worker. */
  private readonly processing = new Set<K>();
  /** Retry counts for addRateLimited. */
  private readonly failures = new Map<K, number>();
  /** Pending addAfter timers, one per key (the earliest wins). */
  private readonly delayed = new Map<K, { at: number; timer: ReturnType<typeof setTimeout> }>();
  private readonly waiters: Array<(key: K | undefined) => void> = [];
  private readonly drainWaiters: Array<() => void> = [];
  private shuttingDown = false;

  constructor(opts: WorkQueueOptions = {}) {
    this.baseDelayMs = opts.baseDelayMs ?? 100;
    this.maxDelayMs = opts.maxDelayMs ?? 30_000;
  }

  /** Keys waiting for a worker (not those being processed). */
  get length(): number {
    return this.queue.length;
  }

  /** Keys currently held by a worker. */
  get inFlight(): number {
    return this.processing.size;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Queue `key` now. Coalesces with a queued copy; re-queues after the worker if it is in flight. */
  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // done() re-queues it
    this.push(key);
  }

  /** Queue `key` after `ms` milliseconds (immediately when ms <= 0). An earlier pending time wins. */
  addAfter(key: K, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + ms;
    const pending = this.delayed.get(key);
    if (pending) {
      if (pending.at <= at) return;
      clearTimeout(pending.timer);
    }
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, timer });
  }

  /** Queue `key` after its backoff: base * 2^failures, capped; the count grows until forget(key). */
  addRateLimited(key: K): void {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    this.addAfter(key, this.backoff(n));
  }

  /** The delay addRateLimited would use for the n-th retry (0-based). */
  backoff(n: number): number {
    // 2^n overflows to Infinity for large n, which min() caps.
    return Math.min(this.baseDelayMs * 2 ** n, this.maxDelayMs);
  }

  /** Reset the key's backoff (call after a successful reconcile). */
  forget(key: K): void {
    this.failures.delete(key);
  }

  /** How many times addRateLimited was called for `key` since it was last forgotten. */
  numRequeues(key: K): number {
    return this.failures.get(key) ?? 0;
  }

  /**
   * The next key, held by the caller until done(key). Waits while the queue is empty; resolves
   * undefined once the queue is shut down and empty.
   */
  get(): Promise<K | undefined> {
    const key = this.take();
    if (key !== undefined || this.shuttingDown) return Promise.resolve(key);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Release a key taken by get(); if it was added meanwhile, it goes back on the queue. */
  done(key: K): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) this.push(key);
    this.checkDrained();
  }

  /**
   * Process keys with at most `concurrency` workers until shut down. A worker that resolves
   * forgets the key's backoff; one that throws re-adds it rate limited. Resolves when all
   * workers have exited.
   */
  async run(worker: Worker<K>, concurrency = 1, opts: RunOptions<K> = {}): Promise<void> {
    const loop = async (): Promise<void> => {
      for (;;) {
        const key = await this.get();
        if (key === undefined) return;
        try {
          await worker(key);
          this.forget(key);
        } catch (err) {
          // During shutdown the retry is dropped (addAfter ignores it), but the error is still reported.
          this.addRateLimited(key);
          opts.onError?.(key, err, this.numRequeues(key));
        } finally {
          this.done(key);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, () => loop()));
  }

  /**
   * Stop accepting keys and drop pending delayed adds; keys already queued are still handed out,
   * and the promise resolves once the queue is empty and no key is in flight.
   */
  shutDown(): Promise<void> {
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    // Keys in flight that were added again are not re-run: the queue is closing.
    for (const key of this.processing) if (!this.queue.includes(key)) this.dirty.delete(key);
    if (this.queue.length === 0) {
      for (const w of this.waiters.splice(0)) w(undefined);
    }
    return new Promise((resolve) => {
      this.drainWaiters.push(resolve);
      this.checkDrained();
    });
  }

  private push(key: K): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      // Hand the key straight to a waiting get().
      this.dirty.delete(key);
      this.processing.add(key);
      waiter(key);
      return;
    }
    this.queue.push(key);
  }

  private take(): K | undefined {
    const key = this.queue.shift();
    if (key === undefined) return undefined;
    this.dirty.delete(key);
    this.processing.add(key);
    if (this.shuttingDown && this.queue.length === 0) {
      for (const w of this.waiters.splice(0)) w(undefined);
    }
    return key;
  }

  private checkDrained(): void {
    if (!this.shuttingDown) return;
    if (this.queue.length === 0) for (const w of this.waiters.splice(0)) w(undefined);
    if (this.queue.length === 0 && this.processing.size === 0) {
      for (const d of this.drainWaiters.splice(0)) d();
    }
  }
}
