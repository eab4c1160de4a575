// The operator's manager, after controller-runtime's: it owns the watched resources (the cache the
// reconcilers read), the controllers and their work queues, leader election, the periodic resync
// and the health and metrics port. Every replica keeps its cache warm and serves health; only the
// leader reconciles. Leadership comes with an AbortSignal that every reconcile receives, aborted the
// moment leadership is lost, so no write of a former leader follows its successor's.

import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import type { Lease } from '../../lib/lease.js';
import { LeaderElector } from '../../lib/leader-election.js';
import type { Logger } from '../../lib/logger.js';
import { Controller, ReconcileMetrics, type ControllerOptions } from './controller.js';
import { startHealthServer, type HealthServer } from './health-server.js';
import { WatchedResource, type InformerOptions } from './informer.js';

export interface LeaderElectionSettings {
  /** Where the election is held (kubernetesLease in production, MemoryLease in tests). */
  lease: Lease;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

export interface ManagerOptions {
  kubeconfig: KubeConfig;
  log: Logger;
  /** Absent: this replica leads alone. */
  leaderElection?: LeaderElectionSettings;
  /** HOST:PORT of /healthz, /readyz, /metrics. */
  healthAddr: string;
  healthTls: boolean;
  /** Every controller queues all its keys this often, whatever the watches saw. */
  resyncMs: number;
  /** How often each watch is replaced. */
  watchRefreshMs: number;
}

export class Manager {
  readonly registry = new Registry();
  private readonly metrics = new ReconcileMetrics(this.registry);
  private readonly resources: Array<WatchedResource<KubernetesObject>> = [];
  private readonly controllers: Controller[] = [];
  private readonly onResync: Array<() => void> = [];
  private readonly onLeading: Array<() => void> = [];
  private leadership: AbortController | undefined;
  private elector: LeaderElector | undefined;
  private health: HealthServer | undefined;
  private resyncTimer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly opts: ManagerOptions) {}

  /** A resource to list, watch and cache. Call before start(). */
  watch<T extends KubernetesObject>(options: Omit<InformerOptions<T>, 'refreshMs'>): WatchedResource<T> {
    const resource = new WatchedResource<T>(this.opts.kubeconfig, { ...options, refreshMs: this.opts.watchRefreshMs }, this.opts.log);
    this.resources.push(resource as unknown as WatchedResource<KubernetesObject>);
    return resource;
  }

  /** A controller with its own queue. Call before start(). */
  controller(options: ControllerOptions): Controller {
    const controller = new Controller(options, this.metrics, this.opts.log);
    this.controllers.push(controller);
    return controller;
  }

  /** Called before each resync queues every key (e.g. to forget what must be checked again). */
  beforeResync(hook: () => void): void {
    this.onResync.push(hook);
  }

  /** Called when this replica becomes leader, before every key is queued. */
  whenLeading(hook: () => void): void {
    this.onLeading.push(hook);
  }

  isLeader(): boolean {
    return !!this.leadership && !this.leadership.signal.aborted;
  }

  /** Every watched resource has listed at least once. */
  isReady(): boolean {
    return this.resources.every((r) => r.synced);
  }

  get healthAddress(): AddressInfo {
    if (!this.health) throw new Error('manager not started');
    return this.health.address;
  }

  async start(): Promise<void> {
    const { log } = this.opts;
    this.health = await startHealthServer({ addr: this.opts.healthAddr, tls: this.opts.healthTls, isReady: () => this.isReady(), registry: this.registry });
    for (const [i, resource] of this.resources.entries()) await resource.start(i);
    for (const controller of this.controllers) controller.start(() => this.leadership?.signal);
    this.resyncTimer = setInterval(() => this.resync(), this.opts.resyncMs);
    this.resyncTimer.unref();

    const election = this.opts.leaderElection;
    if (!election) {
      this.lead(new AbortController().signal);
      return;
    }
    this.elector = new LeaderElector(election.lease, {
      identity: election.identity,
      ...(election.leaseDurationMs !== undefined ? { leaseDurationMs: election.leaseDurationMs } : {}),
      ...(election.renewDeadlineMs !== undefined ? { renewDeadlineMs: election.renewDeadlineMs } : {}),
      ...(election.retryPeriodMs !== undefined ? { retryPeriodMs: election.retryPeriodMs } : {}),
      onStartedLeading: (signal) => {
        log.info({ identity: election.identity }, 'started leading');
        this.lead(signal);
      },
      onStoppedLeading: () => {
        this.leadership?.abort();
        log.info({ identity: election.identity }, 'stopped leading');
      },
      onNewLeader: (identity) => log.info({ leader: identity }, 'leader observed'),
      onError: (err) => log.warn({ err: err instanceof Error ? err.message : String(err) }, 'leader election'),
    });
    this.elector.start();
  }

  /**
   * As controller-runtime on shutdown: reconciles in flight stop at their next write (the next
   * leader redoes them), the queues drain, then the lease is released so another replica takes over
   * at once.
   */
  async stop(): Promise<void> {
    clearInterval(this.resyncTimer);
    this.leadership?.abort();
    await Promise.all(this.controllers.map((c) => c.stop()));
    for (const resource of this.resources) await resource.stop();
    await this.elector?.stop();
    await this.health?.close();
  }

  /** Leadership begins: `signal` aborts when it ends. */
  private lead(signal: AbortSignal): void {
    const leadership = new AbortController();
    signal.addEventListener('abort', () => leadership.abort(), { once: true });
    this.leadership = leadership;
    for (const hook of this.onLeading) hook();
    for (const controller of this.controllers) controller.enqueueAll();
  }

  private resync(): void {
    for (const hook of this.onResync) hook();
    for (const controller of this.controllers) controller.enqueueAll();
  }
}
