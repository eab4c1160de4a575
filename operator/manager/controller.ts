// A controller of the manager: a work queue of keys and the reconcile that handles one key, run by
// a few workers on the leader only. A reconcile gets the leader's AbortSignal (aborted when
// leadership is lost or the manager stops) and may ask to see its key again later; one that throws
// is retried with per-key exponential backoff. Each reconcile is timed and counted.

import { Counter, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../../lib/logger.js';
import { WorkQueue } from './work-queue.js';

export interface ReconcileResult {
  /** Reconcile the key again after this long (the earliest pending time wins). */
  requeueAfterMs?: number;
}

export type Reconcile = (key: string, signal: AbortSignal) => Promise<ReconcileResult | void>;

export interface ControllerOptions {
  /** The `controller` label of the reconcile metrics ("namespace", "approval"). */
  name: string;
  reconcile: Reconcile;
  /** The keys a resync (and a new leader) queues: every object the controller looks after. */
  allKeys: () => Iterable<string>;
  /** How a failed key shows in the log (`{ [logKey]: key }`). */
  logKey: string;
  /** The message of a failed reconcile's log line. */
  failureMessage: string;
  workers?: number;
}

/** chaperone_reconcile_total and chaperone_reconcile_duration_seconds, shared by every controller. */
export class ReconcileMetrics {
  readonly total: Counter<'controller' | 'result'>;
  readonly duration: Histogram<'controller'>;

  constructor(registry: Registry) {
    this.total = new Counter({
      name: 'chaperone_reconcile_total',
      help: 'Reconciles by controller and result (success, error).',
      labelNames: ['controller', 'result'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'chaperone_reconcile_duration_seconds',
      help: 'Time one reconcile took.',
      labelNames: ['controller'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
  }

  /** Shows the controller's series (at zero) before its first reconcile. */
  register(controller: string): void {
    this.total.inc({ controller, result: 'success' }, 0);
    this.total.inc({ controller, result: 'error' }, 0);
    this.duration.zero({ controller });
  }
}

export class Controller {
  readonly queue = new WorkQueue<string>({ baseDelayMs: 200, maxDelayMs: 60_000 });
  private running: Promise<void> | undefined;

  constructor(
    private readonly opts: ControllerOptions,
    private readonly metrics: ReconcileMetrics,
    private readonly log: Logger,
  ) {
    metrics.register(opts.name);
  }

  get name(): string {
    return this.opts.name;
  }

  /** Queue every key the controller looks after. */
  enqueueAll(): void {
    for (const key of this.opts.allKeys()) this.queue.add(key);
  }

  /** Runs the workers; `leadership()` is the current leader's signal, undefined when not leading. */
  start(leadership: () => AbortSignal | undefined): void {
    this.running ??= this.queue.run((key) => this.handle(key, leadership()), this.opts.workers ?? 4, {
      onError: (key, err, requeues) => this.log.warn({ [this.opts.logKey]: key, err: err instanceof Error ? err.message : String(err), requeues }, this.opts.failureMessage),
    });
  }

  /** Stops taking keys and waits for the reconciles in flight. */
  async stop(): Promise<void> {
    await this.queue.shutDown();
    await this.running;
  }

  private async handle(key: string, signal: AbortSignal | undefined): Promise<void> {
    // Followers keep their caches warm but write nothing; a new leader queues every key.
    if (!signal || signal.aborted) return;
    const end = this.metrics.duration.startTimer({ controller: this.opts.name });
    try {
      const result = await this.opts.reconcile(key, signal);
      this.metrics.total.inc({ controller: this.opts.name, result: 'success' });
      if (result?.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      // Work cut short by a lost leadership is not a failure to retry: the next leader redoes it.
      if (signal.aborted) return;
      this.metrics.total.inc({ controller: this.opts.name, result: 'error' });
      throw err;
    } finally {
      end();
    }
  }
}
