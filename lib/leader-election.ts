// Leader election on a Lease (lease.ts), with client-go's leaderelection semantics: a candidate
// judges a lease held by someone else expired only when leaseDuration has passed, on its own
// monotonic clock, since it last saw the record change. The holder's renewTime is never compared
// with the local wall clock, so clocks skewed between nodes cannot make two leaders: a holder that
// keeps renewing keeps changing the record, whatever time it writes.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Lease, LeaseRecord, VersionedLeaseRecord } from './lease.js';

/** A candidate's identity: $POD_NAME in a pod, else the hostname plus a random suffix. */
export function defaultIdentity(): string {
  return process.env.POD_NAME || `${hostname()}-${randomBytes(3).toString('hex')}`;
}

export interface LeaderElectionOptions {
  /** This candidate's identity (pod name, or hostname + random suffix). */
  identity: string;
  /** How long a lease is valid after its holder's last observed renewal (stored in whole seconds). Default 15 s. */
  leaseDurationMs?: number;
  /** A leader that has not renewed for this long steps down. Default 10 s; must be < leaseDuration. */
  renewDeadlineMs?: number;
  /** How often to try to acquire or renew. Default 2 s. */
  retryPeriodMs?: number;
  /** Became leader. The signal aborts when leadership is lost or the elector stops. */
  onStartedLeading?: (signal: AbortSignal) => void | Promise<void>;
  /** Was leader and no longer is (lost the lease, renew deadline passed, or stop()). */
  onStoppedLeading?: () => void;
  /** Someone (maybe this candidate) was observed holding the lease for the first time. */
  onNewLeader?: (identity: string) => void;
  /** Errors talking to the lease store (the loop carries on). */
  onError?: (err: unknown) => void;
  /** Milliseconds on a clock that only moves forward (default performance.now); tests pass a fake one. */
  monotonicNow?: () => number;
  /** The wall clock, only for the times written into the record for people to read. */
  wallClock?: () => Date;
}

export interface StopOptions {
  /** Clear holderIdentity so another candidate can take over at once. Default true. */
  release?: boolean;
}

export class LeaderElector {
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly monotonicNow: () => number;
  private readonly wallClock: () => Date;
  private leading = false;
  /** Monotonic time of this leader's last successful renewal. */
  private lastRenew = 0;
  /** The record as last seen (serialised), and when on the monotonic clock it was first seen so. */
  private observedRecord: string | undefined;
  private observedAt = 0;
  private observedLeader: string | undefined;
  private leaderAbort: AbortController | undefined;
  private readonly stopAbort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly lease: Lease,
    private readonly opts: LeaderElectionOptions,
  ) {
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    this.monotonicNow = opts.monotonicNow ?? (() => performance.now());
    this.wallClock = opts.wallClock ?? (() => new Date());
    if (!(this.renewDeadlineMs < this.leaseDurationMs)) throw new Error('leader election: renewDeadline must be shorter than leaseDuration');
    if (!(this.retryPeriodMs < this.renewDeadlineMs)) throw new Error('leader election: retryPeriod must be shorter than renewDeadline');
    if (!opts.identity) throw new Error('leader election: identity is required');
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** The last holder seen on the lease (undefined when free). */
  leader(): string | undefined {
    return this.observedLeader;
  }

  /** Start campaigning in the background. Idempotent. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Stop campaigning; if leading, step down (and by default release the lease). */
  async stop(opts: StopOptions = {}): Promise<void> {
    this.stopAbort.abort();
    await this.loop;
    // The last attempt may have won the lease just as we stopped: release covers that case too.
    const mayHold = this.leading || this.observedLeader === this.opts.identity;
    if (mayHold && (opts.release ?? true)) {
      try {
        await this.release();
      } catch (err) {
        this.opts.onError?.(err);
      }
    }
    this.stepDown();
  }

  private async run(): Promise<void> {
    const stopped = this.stopAbort.signal;
    while (!stopped.aborted) {
      const ok = await this.attempt();
      if (stopped.aborted) break;
      if (ok) {
        this.lastRenew = this.monotonicNow();
        if (!this.leading) this.startLeading();
      } else if (this.leading && (this.observedLeader !== this.opts.identity || this.monotonicNow() - this.lastRenew >= this.renewDeadlineMs)) {
        // Someone else holds the lease now, or we could not renew in time: whoever takes over
        // must not find this replica still writing.
        this.stepDown();
      }
      // A leader never sleeps past its renew deadline: the attempt that would miss it must come
      // in time for this replica to step down before another may take over.
      const untilDeadline = this.leading ? Math.max(0, this.lastRenew + this.renewDeadlineMs - this.monotonicNow()) : Infinity;
      await sleep(Math.min(this.retryPeriodMs, untilDeadline), stopped);
    }
  }

  private startLeading(): void {
    this.leading = true;
    this.leaderAbort = new AbortController();
    const signal = this.leaderAbort.signal;
    void Promise.resolve()
      .then(() => this.opts.onStartedLeading?.(signal))
      .catch((err: unknown) => this.opts.onError?.(err));
  }

  /** One try at acquiring or renewing, bounded by the renew deadline when leading. */
  private async attempt(): Promise<boolean> {
    const limit = this.leading ? Math.max(0, this.lastRenew + this.renewDeadlineMs - this.monotonicNow()) : this.leaseDurationMs;
    const ac = new AbortController();
    try {
      return await Promise.race([
        this.tryAcquireOrRenew().catch((err: unknown) => {
          this.opts.onError?.(err);
          return false;
        }),
        sleep(limit, ac.signal).then(() => false),
      ]);
    } finally {
      ac.abort();
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { identity } = this.opts;
    const now = this.wallClock();
    const mine: LeaseRecord = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.max(1, Math.ceil(this.leaseDurationMs / 1000)),
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 0,
    };
    const current = await this.lease.get();
    if (!current) {
      if (!(await this.lease.create(mine))) return false; // another candidate created it first
      this.observe(mine);
      return true;
    }

    const { record } = current;
    this.observe(record);
    const holder = record.holderIdentity;
    if (holder && holder !== identity && !this.observedExpired(record)) return false;

    if (holder === identity) {
      mine.acquireTime = record.acquireTime;
      mine.leaseTransitions = record.leaseTransitions;
    } else {
      mine.leaseTransitions = record.leaseTransitions + (holder ? 1 : 0);
    }
    if (!(await this.lease.update(mine, current.version))) return false; // someone wrote in between
    this.observe(mine);
    return true;
  }

  /** Expired when the record has not changed for its leaseDuration, as this replica saw it. */
  private observedExpired(record: LeaseRecord): boolean {
    return this.observedAt + record.leaseDurationSeconds * 1000 <= this.monotonicNow();
  }

  /** Give the lease up: clear holderIdentity with a 1 s lease, if we still hold it. */
  private async release(): Promise<void> {
    const current: VersionedLeaseRecord | undefined = await this.lease.get();
    if (current?.record.holderIdentity !== this.opts.identity) return;
    const now = this.wallClock();
    const released: LeaseRecord = { ...current.record, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now };
    if (await this.lease.update(released, current.version)) this.observe(released);
  }

  private stepDown(): void {
    if (!this.leading) return;
    this.leading = false;
    this.leaderAbort?.abort();
    this.leaderAbort = undefined;
    this.opts.onStoppedLeading?.();
  }

  /** Note the record; a change (any field) restarts its expiry on our clock. */
  private observe(record: LeaseRecord): void {
    const serialised = JSON.stringify(record);
    if (serialised !== this.observedRecord) {
      this.observedRecord = serialised;
      this.observedAt = this.monotonicNow();
    }
    const holder = record.holderIdentity || undefined;
    if (holder === this.observedLeader) return;
    this.observedLeader = holder;
    if (holder) this.opts.onNewLeader?.(holder);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
