// The operator: a manager (manager/) with its cache of GovernancePolicies, Namespaces, Pods,
// ApprovalRequests and the ConfigMaps and Secrets it labels as its own, and two controllers: one
// keyed by namespace (reconcilers/namespace.ts: `chaperone-config`, `chaperone-ca`,
// `chaperone-trust`, the sidecar's identity and token, NotInjected Events, policy statuses, clean-up)
// and one keyed by ApprovalRequest (approval-controller.ts). Also `chaperone operator`'s defaults.

import { CoreV1Api, CustomObjectsApi, type KubeConfig, type KubernetesListObject, type KubernetesObject, type V1Namespace, type V1Pod } from '@kubernetes/client-node';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { APPROVAL_PLURAL } from '../api/approval-names.js';
import { INJECT_ANNOTATION, INJECTED_LABEL } from '../api/index.js';
import { API_GROUP, API_VERSION } from '../api/schema.js';
import { loadKubeConfig } from '../lib/kube.js';
import { kubernetesLease } from '../lib/kubernetes-lease.js';
import { defaultIdentity } from '../lib/leader-election.js';
import type { Logger } from '../lib/logger.js';
import { approvalKey, startApprovalController } from './approval-controller.js';
import type { ObservedApproval } from './approval-phases.js';
import type { GovernancePolicyObject } from './cluster-client.js';
import { GOVERNANCE_POLICY_PLURAL, kubeClusterClients } from './kube-cluster-client.js';
import { Manager } from './manager/manager.js';
import { MANAGED_SELECTOR } from './namespace-config.js';
import { NamespaceReconciler } from './reconcilers/namespace.js';
import { registerUninjectedGauge } from './reconcilers/uninjected-pods.js';

export const FIELD_MANAGER = 'chaperone-operator';
export const LEASE_NAME = 'chaperone-operator';
const DAY_MS = 24 * 60 * 60_000;
const VERSION = API_VERSION.split('/')[1]!;
/** The ConfigMaps and Secrets the operator caches: its own. */

export interface OperatorOptions {
  kubeconfig: KubeConfig;
  /** The operator's own namespace (never governed; holds the Lease). */
  namespace: string;
  leaderElection: boolean;
  /** HOST:PORT for /healthz, /readyz, /metrics (port 0: any free port). */
  healthAddr: string;
  /** Serve the health port over TLS with a self-signed certificate made at start (default: plain HTTP). */
  healthTls?: boolean;
  /** Leader-election identity (pod name). */
  identity: string;
  log: Logger;
  /** Lifetime of a new namespace CA in days (default 365). */
  caDays?: number;
  /** Every namespace is reconciled again this often, whatever the watches saw (default 5 min). */
  resyncMs?: number;
  /** How often each watch is replaced, resuming from its resourceVersion (stall protection). Default 8 min. */
  watchRefreshMs?: number;
  /** Leader-election timings (tests shorten them). */
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Lifetime of the sidecar tokens the operator mints (default 24 h; re-minted at half-life). */
  sidecarTokenTtlMs?: number;
  /** How long decided, expired and used ApprovalRequests are kept (default 24 h). */
  approvalRetentionMs?: number;
  /** POST a JSON message (Slack-compatible) here for every new pending ApprovalRequest. */
  approvalNotifyUrl?: string;
  /** Timeout of one notification (default 5 s). */
  approvalNotifyTimeoutMs?: number;
}

export interface Operator {
  /** Where /healthz, /readyz and /metrics listen. */
  healthAddress: AddressInfo;
  isLeader(): boolean;
  /** All informers have listed at least once. */
  isReady(): boolean;
  registry: Registry;
  stop(): Promise<void>;
}

export async function startOperator(opts: OperatorOptions): Promise<Operator> {
  const { kubeconfig: kc, log } = opts;
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const manager = new Manager({
    kubeconfig: kc,
    log,
    healthAddr: opts.healthAddr,
    healthTls: opts.healthTls ?? false,
    resyncMs: opts.resyncMs ?? 5 * 60_000,
    watchRefreshMs: opts.watchRefreshMs ?? 8 * 60_000,
    ...(opts.leaderElection
      ? {
          leaderElection: {
            lease: kubernetesLease(kc, opts.namespace, LEASE_NAME),
            identity: opts.identity,
            ...(opts.leaseDurationMs !== undefined ? { leaseDurationMs: opts.leaseDurationMs } : {}),
            ...(opts.renewDeadlineMs !== undefined ? { renewDeadlineMs: opts.renewDeadlineMs } : {}),
            ...(opts.retryPeriodMs !== undefined ? { retryPeriodMs: opts.retryPeriodMs } : {}),
          },
        }
      : {}),
  });

  // --- the cache ---
  const policies = manager.watch<GovernancePolicyObject>({
    name: 'governancepolicies',
    path: `/apis/${API_GROUP}/${VERSION}/${GOVERNANCE_POLICY_PLURAL}`,
    list: async () => (await custom.listClusterCustomObject({ group: API_GROUP, version: VERSION, plural: GOVERNANCE_POLICY_PLURAL })) as KubernetesListObject<GovernancePolicyObject>,
  });
  const namespaces = manager.watch<V1Namespace>({ name: 'namespaces', path: '/api/v1/namespaces', list: () => core.listNamespace() });
  const pods = manager.watch<V1Pod>({ name: 'pods', path: '/api/v1/pods', list: () => core.listPodForAllNamespaces() });
  const approvalRequests = manager.watch<ObservedApproval & KubernetesObject>({
    name: 'approvalrequests',
    path: `/apis/${API_GROUP}/${VERSION}/${APPROVAL_PLURAL}`,
    list: async () => (await custom.listClusterCustomObject({ group: API_GROUP, version: VERSION, plural: APPROVAL_PLURAL })) as KubernetesListObject<ObservedApproval & KubernetesObject>,
    optional: true,
  });
  // Only the operator's own ConfigMaps and Secrets: resyncs read them here instead of asking.
  const configMaps = manager.watch<KubernetesObject>({
    name: 'configmaps',
    path: '/api/v1/configmaps',
    labelSelector: MANAGED_SELECTOR,
    list: () => core.listConfigMapForAllNamespaces({ labelSelector: MANAGED_SELECTOR }),
  });
  const secrets = manager.watch<KubernetesObject>({
    name: 'secrets',
    path: '/api/v1/secrets',
    labelSelector: MANAGED_SELECTOR,
    list: () => core.listSecretForAllNamespaces({ labelSelector: MANAGED_SELECTOR }),
  });

  // --- the namespace controller ---
  const reconciler = new NamespaceReconciler({
    clientFor: kubeClusterClients({ kubeconfig: kc, cache: { namespaces, policies, pods, configMaps, secrets }, fieldManager: FIELD_MANAGER }),
    ownNamespace: opts.namespace,
    component: FIELD_MANAGER,
    identity: opts.identity,
    caDays: opts.caDays ?? 365,
    tokenTtlMs: opts.sidecarTokenTtlMs ?? DAY_MS,
    log,
  });
  const namespaceController = manager.controller({
    name: 'namespace',
    reconcile: (namespace, signal) => reconciler.reconcile(namespace, signal),
    allKeys: () => namespaces.list().flatMap((ns) => (ns.metadata?.name ? [ns.metadata.name] : [])),
    logKey: 'namespace',
    failureMessage: 'reconcile failed; retrying',
  });
  const enqueueNamespace = (obj: KubernetesObject): void => {
    if (obj.metadata?.namespace) namespaceController.queue.add(obj.metadata.namespace);
  };
  // The operator's own status writes come back as policy updates with an unchanged generation:
  // reconciling on them would double the work of every change (and echo once more).
  const lastGeneration = new Map<string, number | undefined>();
  policies.onChange((policy, change) => {
    const uid = policy.metadata?.uid;
    if (change === 'update' && uid !== undefined && lastGeneration.has(uid) && lastGeneration.get(uid) === policy.metadata?.generation) return;
    if (uid) {
      if (lastGeneration.size > 100_000) lastGeneration.clear();
      lastGeneration.set(uid, policy.metadata?.generation);
    }
    enqueueNamespace(policy);
  });
  namespaces.onChange((ns) => {
    if (ns.metadata?.name) namespaceController.queue.add(ns.metadata.name);
  });
  pods.onChange((pod) => {
    const relevant = pod.metadata?.annotations?.[INJECT_ANNOTATION] === 'true' || pod.metadata?.labels?.[INJECTED_LABEL] === 'true';
    if (relevant) enqueueNamespace(pod);
  });
  // Our own writes come back as adds and updates and need no reconcile (drift others make is
  // repaired at the next resync); a deleted one is put back at once.
  configMaps.onChange((cm, change) => {
    if (change === 'delete') enqueueNamespace(cm);
  });
  secrets.onChange((secret, change) => {
    reconciler.recent.observed(secret, 'Secret');
    if (change === 'delete') enqueueNamespace(secret);
  });
  manager.beforeResync(() => reconciler.applied.forgetUncached());
  manager.whenLeading(() => reconciler.applied.forgetUncached());

  // --- the approval controller ---
  const approvalController = manager.controller({
    name: 'approval',
    // `approvals` is made just below, before the manager starts any worker.
    reconcile: (key, signal) => approvals.worker(key, signal),
    allKeys: () => approvalRequests.list().flatMap((ar) => approvalKey(ar) ?? []),
    logKey: 'approvalRequest',
    failureMessage: 'approval reconcile failed; retrying',
  });
  const approvals = startApprovalController({
    core,
    custom,
    cache: approvalRequests,
    queue: approvalController.queue,
    registry: manager.registry,
    log,
    identity: opts.identity,
    component: FIELD_MANAGER,
    isLeading: () => manager.isLeader(),
    retentionMs: opts.approvalRetentionMs ?? DAY_MS,
    ...(opts.approvalNotifyUrl ? { notifyUrl: opts.approvalNotifyUrl } : {}),
    ...(opts.approvalNotifyTimeoutMs !== undefined ? { notifyTimeoutMs: opts.approvalNotifyTimeoutMs } : {}),
  });
  approvalRequests.onChange((ar) => {
    const key = approvalKey(ar);
    if (key) approvalController.queue.add(key);
  });

  registerUninjectedGauge(manager.registry, () => pods.list(), opts.namespace);

  await manager.start();
  return {
    healthAddress: manager.healthAddress,
    isLeader: () => manager.isLeader(),
    isReady: () => manager.isReady(),
    registry: manager.registry,
    async stop(): Promise<void> {
      await manager.stop();
      await approvals.drain();
    },
  };
}

// --- `chaperone operator` ---

export const OPERATOR_DEFAULTS = Object.freeze({
  namespace: 'chaperone-system',
  /** /healthz /readyz /metrics; next to the sidecar's admin port 14090. */
  healthAddr: '0.0.0.0:14091',
  /** HTTPS with a self-signed certificate (probes and scrapes do not verify it). */
  healthTls: true,
  leaderElection: true,
  /** Lifetime of the sidecar tokens (re-minted at half-life). */
  sidecarTokenTtlMs: 24 * 60 * 60_000,
  /** How long decided, expired and used ApprovalRequests are kept. */
  approvalRetentionMs: 24 * 60 * 60_000,
});

/** Where the approval notification URL comes from when --approval-notify-url is not given (a Secret, in the chart). */
export const APPROVAL_NOTIFY_URL_ENV = 'CHAPERONE_APPROVAL_NOTIFY_URL';

export interface OperatorConfig {
  namespace: string;
  healthAddr: string;
  healthTls: boolean;
  leaderElection: boolean;
  /** A kubeconfig file; default $KUBECONFIG, ~/.kube/config, else in-cluster. */
  kubeconfigFile?: string;
  /** Leader-election identity; default $POD_NAME, else hostname plus a random suffix. */
  identity?: string;
  sidecarTokenTtlMs: number;
  approvalRetentionMs: number;
  /** POST a JSON message for every new pending ApprovalRequest. */
  approvalNotifyUrl?: string;
}

export function runOperator(config: OperatorConfig, log: Logger): Promise<Operator> {
  return startOperator({
    kubeconfig: loadKubeConfig(config.kubeconfigFile),
    namespace: config.namespace,
    healthAddr: config.healthAddr,
    healthTls: config.healthTls,
    leaderElection: config.leaderElection,
    identity: config.identity ?? defaultIdentity(),
    sidecarTokenTtlMs: config.sidecarTokenTtlMs,
    approvalRetentionMs: config.approvalRetentionMs,
    ...(config.approvalNotifyUrl ? { approvalNotifyUrl: config.approvalNotifyUrl } : {}),
    log,
  });
}
