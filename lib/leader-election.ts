// Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection package.
// Every write carries the resourceVersion that was read, so of two candidates racing for a free or
// expired lease the API server lets exactly one win (the other gets 409 Conflict and keeps waiting).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { isConflict, isNotFound } from './kube.js';

/** A candidate's identity: $POD_NAME in a pod, else the hostname plus a random suffix. */
export function defaultIdentity(): string {
  return process.env.POD_NAME || `${hostname()}-${randomBytes(3).toString('hex')}`;
}

export interface LeaderElectionOptions {
  /** Lease name and namespace. */
  name: string;
  namespace: string;
  /** This candidate's identity (pod name, or hostname + random suffix). */
  identity: string;
  /** How long a lease is valid after its last renewal (stored in whole seconds). Default 15 s. */
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
  /** Errors talking to the API server (the loop carries on). */
  onError?: (err: unknown) => void;
}

export interface StopOptions {
  /** Clear holderIdentity so another candidate can take over at once. Default true. */
  release?: boolean;
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly opts: LeaderElectionOptions;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private leading = false;
  private lastRenew = 0;
  private observedLeader: string | undefined;
  private leaderAbort: AbortController | undefined;
  private readonly stopAbort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(kc: KubeConfig, opts: LeaderElectionOptions) {
    this.api = kc.makeApiClient(CoordinationV1Api);
    this.opts = opts;
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
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
      const now = Date.now();
      if (ok) {
        this.lastRenew = now;
        if (!this.leading) {
          this.leading = true;
          this.leaderAbort = new AbortController();
          const signal = this.leaderAbort.signal;
          void Promise.resolve()
            .then(() => this.opts.onStartedLeading?.(signal))
            .catch((err: unknown) => this.opts.onError?.(err));
        }
      } else if (this.leading && now - this.lastRenew >= this.renewDeadlineMs) {
        this.stepDown();
      }
      await sleep(this.retryPeriodMs, stopped);
    }
  }

  /** One try at acquiring or renewing, bounded by the renew deadline when leading. */
  private async attempt(): Promise<boolean> {
    const limit = this.leading ? Math.max(0, this.lastRenew + this.renewDeadlineMs - Date.now()) : this.leaseDurationMs;
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
    const { name, namespace, identity } = this.opts;
    const now = new V1MicroTime(Date.now());
    const durationSeconds = Math.max(1, Math.ceil(this.leaseDurationMs / 1000));
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await this.api.createNamespacedLease({
          namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name, namespace },
            spec: { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
          },
        });
      } catch (createErr) {
        if (isConflict(createErr)) return false; // another candidate created it first
        throw createErr;
      }
      this.observe(identity);
      return true;
    }

    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity || undefined;
    this.observe(holder);
    if (holder && holder !== identity && !expired(spec.renewTime, spec.leaseDurationSeconds, Date.now())) return false;

    const taking = holder !== identity;
    const body: V1Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: now,
        acquireTime: taking ? now : (spec.acquireTime ?? now),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (taking && holder !== undefined ? 1 : 0),
      },
    };
    try {
      // metadata.resourceVersion is the one read: a concurrent writer makes this a 409.
      await this.api.replaceNamespacedLease({ name, namespace, body });
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
    this.observe(identity);
    return true;
  }

  /** Give the lease up: clear holderIdentity, if we still hold it. */
  private async release(): Promise<void> {
    const { name, namespace, identity } = this.opts;
    const lease = await this.api.readNamespacedLease({ name, namespace });
    if (lease.spec?.holderIdentity !== identity) return;
    const now = new V1MicroTime(Date.now());
    await this.api.replaceNamespacedLease({
      name,
      namespace,
      body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now } },
    });
    this.observe(undefined);
  }

  private stepDown(): void {
    if (!this.leading) return;
    this.leading = false;
    this.leaderAbort?.abort();
    this.leaderAbort = undefined;
    this.opts.onStoppedLeading?.();
  }

  private observe(holder: string | undefined): void {
    if (holder === this.observedLeader) return;
    this.observedLeader = holder;
    if (holder) this.opts.onNewLeader?.(holder);
  }
}

/** A lease is expired when renewTime + leaseDurationSeconds lies in the past (or it was never renewed). */
export function expired(renewTime: Date | undefined, leaseDurationSeconds: number | undefined, nowMs: number): boolean {
  if (!renewTime) return true;
  return new Date(renewTime).getTime() + (leaseDurationSeconds ?? 0) * 1000 < nowMs;
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
