// The namespace controller's reconcile: a governed namespace gets its `chaperone-config`, CA and
// trust bundle, sidecar identity, NotInjected Events and policy statuses, in that order; one no
// longer governed loses what the operator made there. Reads come from the cache, writes go
// through the ClusterClient bound to the leader's signal.

import { INJECT_ANNOTATION } from '../../api/index.js';
import type { Logger } from '../../lib/logger.js';
import type { CachedKind, ClusterClient } from '../cluster-client.js';
import { isGoverned } from '../governed.js';
import type { ReconcileResult } from '../manager/controller.js';
import { desiredConfigMap } from '../namespace-config.js';
import { AppliedObjects } from './applied-objects.js';
import { reconcileCaAndTrust } from './ca-trust.js';
import { cleanUp } from './cleanup.js';
import { writePolicyStatuses } from './policy-status.js';
import { RecentWrites } from './recent-writes.js';
import { reconcileSidecarIdentity } from './sidecar-identity.js';
import { UninjectedPodReporter } from './uninjected-pods.js';

/** Never sooner than 10 s: a token that needs renewing at once again would otherwise loop. */
const MIN_REQUEUE_MS = 10_000;
/** The longest a namespace waits for its next look, whatever its token's lifetime (resyncs come sooner). */
const MAX_REQUEUE_MS = 60 * 60_000;

export interface NamespaceReconcilerOptions {
  /** The client of one reconcile, bound to its signal. */
  clientFor: (signal: AbortSignal) => ClusterClient;
  /** The operator's own namespace (never governed). */
  ownNamespace: string;
  /** Field manager and Event source. */
  component: string;
  /** reportingInstance of Events (the pod name). */
  identity: string;
  caDays: number;
  tokenTtlMs: number;
  log: Logger;
  clock?: () => Date;
}

export class NamespaceReconciler {
  /** What was applied, kept across resyncs (applied-objects.ts). */
  readonly applied = new AppliedObjects();
  /** Secrets written and not yet seen by the watch (recent-writes.ts). */
  readonly recent = new RecentWrites();
  private readonly uninjected: UninjectedPodReporter;
  private readonly clock: () => Date;

  constructor(private readonly opts: NamespaceReconcilerOptions) {
    this.uninjected = new UninjectedPodReporter({ ownNamespace: opts.ownNamespace, component: opts.component, instance: opts.identity, log: opts.log });
    this.clock = opts.clock ?? (() => new Date());
  }

  async reconcile(namespace: string, signal: AbortSignal): Promise<ReconcileResult> {
    const { log } = this.opts;
    const client = this.opts.clientFor(signal);
    const ns = client.namespace(namespace);
    if (!ns || ns.metadata?.deletionTimestamp) {
      this.forget(namespace); // gone or going: its objects go with it
      return {};
    }
    const policies = client.policies(namespace);
    const pods = client.pods(namespace);
    const hasInjectPods = pods.some((p) => p.metadata?.annotations?.[INJECT_ANNOTATION] === 'true');
    if (!isGoverned({ metadata: { name: namespace, labels: ns.metadata?.labels ?? null } }, policies.length > 0, hasInjectPods, this.opts.ownNamespace)) {
      const known = (kind: CachedKind, name: string): boolean =>
        !!client.cached(kind, namespace, name) || this.applied.has(kind, namespace, name) || !!this.recent.freshest(kind, namespace, name, undefined);
      await cleanUp(client, namespace, known, log);
      this.forget(namespace);
      return {};
    }

    const now = this.clock();
    const { configMap, results } = desiredConfigMap(namespace, policies);
    await this.applied.applyIfChanged(client, configMap);
    await reconcileCaAndTrust({ client, applied: this.applied, recent: this.recent, log, now, caDays: this.opts.caDays }, namespace);
    const renewInMs = await reconcileSidecarIdentity({ client, applied: this.applied, recent: this.recent, log, now, tokenTtlMs: this.opts.tokenTtlMs }, namespace);
    await this.uninjected.report(client, pods, now);
    await writePolicyStatuses(client, namespace, policies, results, pods, now);
    return { requeueAfterMs: Math.min(Math.max(renewInMs, MIN_REQUEUE_MS), MAX_REQUEUE_MS) };
  }

  private forget(namespace: string): void {
    this.applied.forgetNamespace(namespace);
    this.recent.forgetNamespace(namespace);
  }
}
