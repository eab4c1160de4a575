// One watched resource of the manager's cache: list + watch (client-node's informer), relisting
// with backoff after errors, and replaced every few minutes so a stalled watch cannot go unnoticed.
// Reads (get, list) come from its cache; changes go to the handlers the manager registers.

import { makeInformer, type Informer, type KubeConfig, type KubernetesListObject, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import { isNotFound } from '../../lib/kube.js';
import type { Logger } from '../../lib/logger.js';

export interface InformerOptions<T extends KubernetesObject> {
  /** For logs and readiness ("governancepolicies", "secrets", ...). */
  name: string;
  /** The watch path, e.g. /api/v1/secrets. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  /** Only objects with these labels are listed, watched and cached. */
  labelSelector?: string;
  /**
   * A resource whose CRD may not be installed yet (a chart upgrade does not add new CRDs): its 404
   * counts as synced and empty, so the rest of the operator becomes ready, and it is listed again
   * with backoff until it is served.
   */
  optional?: boolean;
  /** How often the watch is replaced, resuming from its resourceVersion (stall protection). */
  refreshMs: number;
}

export type ChangeHandler<T> = (obj: T, kind: 'add' | 'update' | 'delete') => void;

export class WatchedResource<T extends KubernetesObject> {
  private readonly informer: Informer<T> & ObjectCache<T>;
  private listed = false;
  private absent = false;
  private stopping = false;
  private refresher: ReturnType<typeof setInterval> | undefined;
  private failures = 0;
  private lastFailure = 0;

  constructor(
    kc: KubeConfig,
    private readonly opts: InformerOptions<T>,
    private readonly log: Logger,
  ) {
    this.informer = makeInformer<T>(
      kc,
      opts.path,
      async () => {
        try {
          const result = await opts.list();
          this.listed = true;
          this.absent = false;
          return result;
        } catch (err) {
          if (opts.optional && isNotFound(err)) {
            this.listed = true;
            if (!this.absent) log.warn({ informer: opts.name }, `${opts.name} are not served (CRD not installed?): nothing to do for them until they are; kubectl apply -f crds/`);
            this.absent = true;
          }
          throw err;
        }
      },
      opts.labelSelector,
    );
    this.informer.on('error', (err: unknown) => this.relistAfter(err));
  }

  get name(): string {
    return this.opts.name;
  }

  /** Listed at least once (the cache is complete, or the optional resource is not served). */
  get synced(): boolean {
    return this.listed;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  list(namespace?: string): T[] {
    return [...this.informer.list(namespace)];
  }

  onChange(handler: ChangeHandler<T>): void {
    this.informer.on('add', (obj: T) => handler(obj, 'add'));
    this.informer.on('update', (obj: T) => handler(obj, 'update'));
    this.informer.on('delete', (obj: T) => handler(obj, 'delete'));
  }

  /** Lists and starts watching; every `index` staggers the refresh so watches never restart together. */
  async start(index = 0): Promise<void> {
    await this.informer.start();
    // A watch can stall without an error (a half-open connection, a stuck proxy): like client-go's
    // watch timeouts, it is replaced every few minutes, resuming from its resourceVersion (a 410
    // Gone then makes it relist). Jittered per informer.
    this.refresher = setInterval(() => this.refresh(), this.opts.refreshMs + index * 17_000);
    this.refresher.unref();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.refresher);
    await this.informer.stop();
  }

  private refresh(): void {
    if (this.stopping) return;
    void this.informer.stop().then(() => {
      // Let the aborted watch's done callback run first, or two watches could start.
      setTimeout(() => {
        if (!this.stopping) this.informer.start().catch((err: unknown) => this.log.warn({ informer: this.opts.name, err: String(err) }, 'watch refresh failed'));
      }, 100).unref();
    });
  }

  /**
   * The informer stops on an error other than 410 Gone: relist and watch again, with backoff that
   * grows while failures follow each other (the informer reconnects before it lists, so a
   * reconnect is no sign of health) and starts over after a quiet minute.
   */
  private relistAfter(err: unknown): void {
    if (this.stopping) return;
    // An aborted watch is one this process replaced or stopped (informer start() aborts the watch
    // it replaces; refresh() stops it): whoever aborted it starts the next one. Restarting here as
    // well would abort that one in turn, a restart loop without end.
    if ((err as { name?: unknown } | null)?.name === 'AbortError') return;
    if (Date.now() - this.lastFailure > 60_000) this.failures = 0;
    this.lastFailure = Date.now();
    const delay = Math.min(200 * 2 ** this.failures++, 30_000);
    if (!(this.absent && isNotFound(err))) this.log.warn({ informer: this.opts.name, err: String(err), retryInMs: delay }, 'watch failed; relisting');
    setTimeout(() => {
      if (!this.stopping) void this.informer.start().catch(() => undefined);
    }, delay).unref();
  }
}
