// The operator's controller: informers (list + watch, relisting after errors) on GovernancePolicies,
// Namespaces and Pods feed a keyed work queue of namespace names; the leader reconciles each governed
// namespace into its `chaperone-config`, `chaperone-ca` and `chaperone-trust` objects and the sidecar's
// identity (ServiceAccount, Role and RoleBinding `chaperone-sidecar`, and a minted token in Secret
// `chaperone-sidecar-token`) by server-side apply (field manager `chaperone-operator`), and writes every
// policy's status. A namespace that is no longer governed loses the objects the operator made there.
// A second informer and queue drive the ApprovalRequests (approval-controller.ts).

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  CoreV1Api,
  CustomObjectsApi,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
  type V1Namespace,
  type V1Pod,
  type V1Secret,
} from '@kubernetes/client-node';
import { APPROVAL_PLURAL, SIDECAR_ROLE, SIDECAR_SERVICE_ACCOUNT, SIDECAR_TOKEN_KEYS, SIDECAR_TOKEN_SECRET } from '../api/approval-names.js';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import {
  CA_SECRET_NAME,
  CONFIG_MAP_NAME,
  INJECT_ANNOTATION,
  INJECTED_LABEL,
  NEVER_INJECTED_NAMESPACES,
  PROXY_CONTAINER,
  TRUST_CONFIG_MAP_NAME,
  isPlainObject,
  selectorMatches,
  type LabelSelector,
} from '../api/index.js';
import { applyObject, isConflict, isNotFound, objectApi } from '../lib/kube.js';
import type { Logger } from '../lib/logger.js';
import { splitHostPort } from '../lib/cli.js';
import { createCa, needsRenewal, parseCertificates, selfSignedServing } from '../lib/x509.js';
import { approvalKey, startApprovalController } from './approval-controller.js';
import type { ObservedApproval } from './approvals.js';
import { isGoverned } from './governed.js';
import { MANAGED_LABELS, desiredConfigMap } from './namespace-config.js';
import { desiredStatus, statusChanged } from './policy-status.js';
import { desiredSidecarIdentity, desiredTokenSecret, tokenNeedsMint, tokenRenewAt } from './sidecar-identity.js';
import { kubernetesLease } from '../lib/kubernetes-lease.js';
import { LeaderElector } from '../lib/leader-election.js';
import { WorkQueue } from './runtime/work-queue.js';
import { desiredTrust } from './trust-bundle.js';

export const FIELD_MANAGER = 'chaperone-operator';
export const LEASE_NAME = 'chaperone-operator';
/** Key in `chaperone-ca` holding the previous CA certificate during a rotation's overlap. */
export const PREVIOUS_CA_KEY = 'previous.crt';
/** Event reason on a pod annotated for injection that has no sidecar. */
export const NOT_INJECTED_REASON = 'NotInjected';
const GROUP = 'chaperone.dev';
const VERSION = 'v1alpha1';
const PLURAL = 'governancepolicies';
const MANAGED_BY = 'app.kubernetes.io/managed-by';
const DAY_MS = 24 * 60 * 60_000;
/** The longest a namespace waits for its next look, whatever its token's lifetime (resyncs come sooner). */
const MAX_NAMESPACE_REQUEUE_MS = 60 * 60_000;

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

type GovernancePolicyObject = KubernetesObject & { spec?: unknown; status?: unknown };
type Cache<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined): string | undefined => (s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8'));

/**
 * A pod annotated `chaperone.dev/inject: "true"` without the `chaperone-proxy` container (created while
 * the webhook was down or failing open). Pods the webhook never injects (hostNetwork, system and
 * Chaperone's own namespaces) and pods being deleted are not counted.
 */
export function isUninjected(pod: V1Pod, ownNamespace: string): boolean {
  const ns = pod.metadata?.namespace ?? '';
  if (NEVER_INJECTED_NAMESPACES.includes(ns) || ns === ownNamespace) return false;
  if (pod.metadata?.annotations?.[INJECT_ANNOTATION] !== 'true' || pod.metadata.deletionTimestamp) return false;
  if (pod.spec?.hostNetwork) return false;
  const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  return !containers.some((c) => c.name === PROXY_CONTAINER);
}

function stillValid(pem: string | undefined, now: Date): boolean {
  if (!pem) return false;
  try {
    const cert = parseCertificates(pem)[0];
    return !!cert && cert.notAfter.getTime() > now.getTime();
  } catch {
    return false;
  }
}

export async function startOperator(opts: OperatorOptions): Promise<Operator> {
  const { kubeconfig: kc, log } = opts;
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);

  // --- metrics ---
  const registry = new Registry();
  const reconcileTotal = new Counter({
    name: 'chaperone_reconcile_total',
    help: 'Reconciles by controller and result (success, error).',
    labelNames: ['controller', 'result'],
    registers: [registry],
  });
  const reconcileDuration = new Histogram({
    name: 'chaperone_reconcile_duration_seconds',
    help: 'Time one reconcile took.',
    labelNames: ['controller'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  // Computed from the pod informer's cache at scrape time (every replica reports it, leader or not).
  new Gauge({
    name: 'chaperone_uninjected_pods',
    help: 'Pods annotated chaperone.dev/inject="true" that have no chaperone-proxy container, per namespace.',
    labelNames: ['namespace'],
    registers: [registry],
    collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const pod of pods.list()) {
        if (isUninjected(pod, opts.namespace)) counts.set(pod.metadata!.namespace!, (counts.get(pod.metadata!.namespace!) ?? 0) + 1);
      }
      for (const [namespace, n] of counts) this.set({ namespace }, n);
    },
  });
  for (const controller of ['namespace', 'approval']) {
    reconcileTotal.inc({ controller, result: 'success' }, 0);
    reconcileTotal.inc({ controller, result: 'error' }, 0);
    reconcileDuration.zero({ controller });
  }

  // --- informers ---
  const queue = new WorkQueue<string>({ baseDelayMs: 200, maxDelayMs: 60_000 });
  /** ApprovalRequests, keyed `namespace/name`. */
  const approvalQueue = new WorkQueue<string>({ baseDelayMs: 200, maxDelayMs: 60_000 });
  const synced = new Set<string>();
  let stopping = false;

  function informer<T extends KubernetesObject>(
    name: string,
    path: string,
    list: () => Promise<KubernetesListObject<T>>,
    keyOf: (obj: T) => string | undefined,
    /** Updates that change nothing the reconcile reads (e.g. our own status writes) are skipped. */
    ignoreUpdate: (obj: T) => boolean = () => false,
    target: WorkQueue<string> = queue,
    /**
     * A resource whose CRD may not be installed yet (a chart upgrade does not add new CRDs): its 404
     * counts as synced and empty, so the rest of the operator becomes ready, and it is listed again
     * with backoff until it is served.
     */
    optional = false,
  ): Cache<T> {
    let absent = false;
    const inf = makeInformer<T>(kc, path, async () => {
      try {
        const result = await list();
        synced.add(name);
        absent = false;
        return result;
      } catch (err) {
        if (optional && isNotFound(err)) {
          synced.add(name);
          if (!absent) log.warn({ informer: name }, `${name} are not served (CRD not installed?): nothing to do for them until they are; kubectl apply -f crds/`);
          absent = true;
        }
        throw err;
      }
    });
    const enqueue = (obj: T): void => {
      const key = keyOf(obj);
      if (key) target.add(key);
    };
    inf.on('add', enqueue);
    inf.on('update', (obj: T) => {
      if (!ignoreUpdate(obj)) enqueue(obj);
    });
    inf.on('delete', enqueue);
    // The informer stops on an error other than 410 Gone: relist and watch again, with backoff that
    // grows while failures follow each other (the informer reconnects before it lists, so a
    // reconnect is no sign of health) and starts over after a quiet minute.
    let failures = 0;
    let lastFailure = 0;
    inf.on('error', (err: unknown) => {
      if (stopping) return;
      // An aborted watch is one this process replaced or stopped (informer start() aborts the watch
      // it replaces; the refresh below stops it): whoever aborted it starts the next one. Restarting
      // here as well would abort that one in turn, a restart loop without end.
      if ((err as { name?: unknown } | null)?.name === 'AbortError') return;
      if (Date.now() - lastFailure > 60_000) failures = 0;
      lastFailure = Date.now();
      const delay = Math.min(200 * 2 ** failures++, 30_000);
      if (!(absent && isNotFound(err))) log.warn({ informer: name, err: String(err), retryInMs: delay }, 'watch failed; relisting');
      setTimeout(() => {
        if (!stopping) void inf.start().catch(() => undefined);
      }, delay).unref();
    });
    return inf;
  }

  // The operator's own status writes come back as policy updates with an unchanged generation:
  // reconciling on them would double the work of every change (and echo once more).
  const lastGeneration = new Map<string, number | undefined>();
  const policies = informer<GovernancePolicyObject>(
    'governancepolicies',
    `/apis/${GROUP}/${VERSION}/${PLURAL}`,
    async () => (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as KubernetesListObject<GovernancePolicyObject>,
    (obj) => {
      const uid = obj.metadata?.uid;
      if (uid) {
        if (lastGeneration.size > 100_000) lastGeneration.clear();
        lastGeneration.set(uid, obj.metadata?.generation);
      }
      return obj.metadata?.namespace;
    },
    (obj) => {
      const uid = obj.metadata?.uid;
      return uid !== undefined && lastGeneration.has(uid) && lastGeneration.get(uid) === obj.metadata?.generation;
    },
  );
  const namespaces = informer<V1Namespace>('namespaces', '/api/v1/namespaces', () => core.listNamespace(), (obj) => obj.metadata?.name);
  const pods = informer<V1Pod>('pods', '/api/v1/pods', () => core.listPodForAllNamespaces(), (obj) => {
    const relevant = obj.metadata?.annotations?.[INJECT_ANNOTATION] === 'true' || obj.metadata?.labels?.[INJECTED_LABEL] === 'true';
    return relevant ? obj.metadata?.namespace : undefined;
  });
  const approvalRequests = informer<ObservedApproval & KubernetesObject>(
    'approvalrequests',
    `/apis/${GROUP}/${VERSION}/${APPROVAL_PLURAL}`,
    async () => (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: APPROVAL_PLURAL })) as KubernetesListObject<ObservedApproval & KubernetesObject>,
    approvalKey,
    () => false,
    approvalQueue,
    true,
  );
  const informers: Array<[string, Cache<KubernetesObject>]> = [
    ['governancepolicies', policies as Cache<KubernetesObject>],
    ['namespaces', namespaces as Cache<KubernetesObject>],
    ['pods', pods as Cache<KubernetesObject>],
    ['approvalrequests', approvalRequests as Cache<KubernetesObject>],
  ];
  const isReady = (): boolean => informers.every(([name]) => synced.has(name));

  // --- reconcile ---
  let leading = !opts.leaderElection;

  const approvals = startApprovalController({
    core,
    custom,
    cache: approvalRequests,
    queue: approvalQueue,
    registry,
    log,
    identity: opts.identity,
    component: FIELD_MANAGER,
    isLeading: () => leading,
    retentionMs: opts.approvalRetentionMs ?? DAY_MS,
    ...(opts.approvalNotifyUrl ? { notifyUrl: opts.approvalNotifyUrl } : {}),
    ...(opts.approvalNotifyTimeoutMs !== undefined ? { notifyTimeoutMs: opts.approvalNotifyTimeoutMs } : {}),
  });

  /** An object the operator made, found by name and recognised by its managed-by label, deleted. */
  async function deleteManaged(apiVersion: string, kind: string, name: string, namespace: string): Promise<void> {
    const ref = { apiVersion, kind, metadata: { name, namespace } };
    try {
      const obj = await objectApi(kc).read(ref);
      if (obj.metadata?.labels?.[MANAGED_BY] !== MANAGED_LABELS[MANAGED_BY]) return;
      await objectApi(kc).delete(ref);
      log.info({ namespace, kind, name }, 'deleted (namespace no longer governed)');
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** The cluster CA the operator trusts (its kubeconfig's), for the sidecars' token Secret. */
  function clusterCaPem(): string {
    const cluster = kc.getCurrentCluster();
    if (cluster?.caData) return Buffer.from(cluster.caData, 'base64').toString('utf8');
    if (cluster?.caFile) return readFileSync(cluster.caFile, 'utf8');
    return '';
  }

  const tokenTtlMs = opts.sidecarTokenTtlMs ?? DAY_MS;
  /**
   * The sidecar's identity in `namespace`, and a token for it: minted with the TokenRequest API when
   * the Secret has none, less than half its lifetime is left, the ServiceAccount was recreated or the
   * cluster CA changed. Returns when to look again (before the half-life runs out).
   */
  async function ensureSidecarIdentity(namespace: string, now: Date): Promise<number> {
    const { serviceAccount, role, roleBinding, toolPins } = desiredSidecarIdentity(namespace);
    // Applied every time (a no-op for the API server when unchanged): its UID tells a recreated account.
    const sa = await applyObject(kc, serviceAccount as KubernetesObject, FIELD_MANAGER);
    await applyIfChanged(role as KubernetesObject);
    await applyIfChanged(roleBinding as KubernetesObject);
    // Applied without data, so the entries the sidecars add are theirs and stay; every time, so one
    // a person deleted (to re-pin every server at once) is back at the next reconcile.
    await applyObject(kc, toolPins as KubernetesObject, FIELD_MANAGER);

    let secret: V1Secret | undefined;
    try {
      secret = await core.readNamespacedSecret({ name: SIDECAR_TOKEN_SECRET, namespace });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const caPem = clusterCaPem();
    const uid = sa.metadata?.uid;
    if (tokenNeedsMint(secret, now, tokenTtlMs, uid) || (unb64(secret?.data?.[SIDECAR_TOKEN_KEYS.ca]) ?? '') !== caPem) {
      const answer = await core.createNamespacedServiceAccountToken({
        name: SIDECAR_SERVICE_ACCOUNT,
        namespace,
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [], expirationSeconds: Math.round(tokenTtlMs / 1000) } },
      });
      const token = answer.status?.token;
      if (!token) throw new Error(`TokenRequest for ${namespace}/${SIDECAR_SERVICE_ACCOUNT} returned no token`);
      const expiresAt = answer.status?.expirationTimestamp ? new Date(answer.status.expirationTimestamp) : new Date(now.getTime() + tokenTtlMs);
      secret = await applyObject(kc, desiredTokenSecret(namespace, { token, issuedAt: now, expiresAt, ...(uid ? { serviceAccountUid: uid } : {}) }, caPem) as V1Secret, FIELD_MANAGER);
      log.info({ namespace, expiresAt: expiresAt.toISOString() }, 'minted sidecar token');
    }
    const renewAt = tokenRenewAt(secret, tokenTtlMs);
    return renewAt ? renewAt.getTime() - now.getTime() : 0;
  }

  /** The namespace CA: created once, rotated well before it expires. Returns the certificates to trust. */
  async function ensureCa(namespace: string, now: Date): Promise<string[]> {
    let secret: V1Secret | undefined;
    try {
      secret = await core.readNamespacedSecret({ name: CA_SECRET_NAME, namespace });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const cert = unb64(secret?.data?.['tls.crt']);
    const key = unb64(secret?.data?.['tls.key']);
    let previous = unb64(secret?.data?.[PREVIOUS_CA_KEY]);
    let rotate = !cert || !key;
    if (cert && key) {
      try {
        rotate = needsRenewal(cert, now);
      } catch {
        rotate = true; // unreadable certificate: replace it
      }
    }
    if (!rotate && secret?.metadata?.labels?.[MANAGED_BY] === MANAGED_LABELS[MANAGED_BY]) {
      return [cert!, ...(stillValid(previous, now) ? [previous!] : [])];
    }
    let current = { certPem: cert!, keyPem: key! };
    if (rotate) {
      current = await createCa(`chaperone ${namespace} CA`, opts.caDays ?? 365);
      previous = cert && stillValid(cert, now) ? cert : undefined;
      log.info({ namespace, rotation: !!cert }, cert ? 'rotated namespace CA' : 'created namespace CA');
    }
    const keepPrevious = stillValid(previous, now);
    await applyObject(
      kc,
      {
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'kubernetes.io/tls',
        metadata: { name: CA_SECRET_NAME, namespace, labels: { ...MANAGED_LABELS } },
        data: {
          'tls.crt': b64(current.certPem),
          'tls.key': b64(current.keyPem),
          ...(keepPrevious ? { [PREVIOUS_CA_KEY]: b64(previous!) } : {}),
        },
      } as V1Secret,
      FIELD_MANAGER,
    );
    return [current.certPem, ...(keepPrevious ? [previous!] : [])];
  }

  /**
   * A Warning Event `NotInjected` on the pod, once per pod uid: the Event's name is derived from the
   * uid, so a second attempt (this replica after a restart, or another leader) gets AlreadyExists.
   */
  const reported = new Set<string>();
  async function reportUninjected(pod: V1Pod): Promise<void> {
    const uid = pod.metadata?.uid;
    const name = pod.metadata?.name;
    const namespace = pod.metadata?.namespace;
    if (!uid || !name || !namespace || reported.has(uid)) return;
    const now = new Date();
    try {
      await core.createNamespacedEvent({
        namespace,
        body: {
          metadata: { name: `${name}.not-injected.${uid.slice(0, 8)}`, namespace, labels: { ...MANAGED_LABELS } },
          involvedObject: { apiVersion: 'v1', kind: 'Pod', name, namespace, uid },
          reason: NOT_INJECTED_REASON,
          type: 'Warning',
          message: `pod is annotated ${INJECT_ANNOTATION}="true" but has no ${PROXY_CONTAINER} container (created while the webhook was unavailable?); recreate it to get the sidecar`,
          source: { component: FIELD_MANAGER },
          reportingComponent: FIELD_MANAGER,
          reportingInstance: opts.identity,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
      log.warn({ namespace, pod: name }, 'pod annotated for injection has no sidecar');
    } catch (err) {
      if (!isConflict(err)) throw err; // 409: already reported
    }
    reported.add(uid);
  }

  /**
   * What this replica last applied, by object, as a digest: an unchanged desired object is not sent
   * again (the trust bundle alone is ~200 KB). Forgotten on every resync and leadership change, so
   * drift made by others is still repaired.
   */
  const applied = new Map<string, string>();
  async function applyIfChanged(obj: KubernetesObject): Promise<void> {
    const key = `${obj.kind}/${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
    const digest = createHash('sha256').update(JSON.stringify(obj)).digest('hex');
    if (applied.get(key) === digest) return;
    await applyObject(kc, obj, FIELD_MANAGER);
    applied.set(key, digest);
  }

  async function reconcile(namespace: string): Promise<void> {
    const ns = namespaces.get(namespace);
    if (!ns || ns.metadata?.deletionTimestamp) return; // gone or going: its objects go with it
    const nsPolicies = [...policies.list(namespace)];
    const nsPods = pods.list(namespace);
    const hasInjectPods = nsPods.some((p) => p.metadata?.annotations?.[INJECT_ANNOTATION] === 'true');
    const governed = isGoverned(
      { metadata: { name: namespace, labels: ns.metadata?.labels ?? null } },
      nsPolicies.length > 0,
      hasInjectPods,
      opts.namespace,
    );
    if (!governed) {
      for (const key of applied.keys()) if (key.split('/')[1] === namespace) applied.delete(key);
      await deleteManaged('v1', 'ConfigMap', CONFIG_MAP_NAME, namespace);
      await deleteManaged('v1', 'ConfigMap', TRUST_CONFIG_MAP_NAME, namespace);
      await deleteManaged('v1', 'Secret', CA_SECRET_NAME, namespace);
      await deleteManaged('v1', 'Secret', SIDECAR_TOKEN_SECRET, namespace);
      await deleteManaged('rbac.authorization.k8s.io/v1', 'RoleBinding', SIDECAR_ROLE, namespace);
      await deleteManaged('rbac.authorization.k8s.io/v1', 'Role', SIDECAR_ROLE, namespace);
      await deleteManaged('v1', 'ServiceAccount', SIDECAR_SERVICE_ACCOUNT, namespace);
      return;
    }

    const now = new Date();
    const { configMap, results } = desiredConfigMap(namespace, nsPolicies);
    await applyIfChanged(configMap as KubernetesObject);
    const caCerts = await ensureCa(namespace, now);
    await applyIfChanged(desiredTrust(namespace, caCerts) as KubernetesObject);
    const renewInMs = await ensureSidecarIdentity(namespace, now);
    // Never sooner than 10 s: a token that needs renewing at once again would otherwise loop.
    queue.addAfter(namespace, Math.min(Math.max(renewInMs, 10_000), MAX_NAMESPACE_REQUEUE_MS));

    for (const pod of nsPods) if (isUninjected(pod, opts.namespace)) await reportUninjected(pod);

    const injected = nsPods.filter((p) => p.metadata?.labels?.[INJECTED_LABEL] === 'true');
    for (const [i, policy] of nsPolicies.entries()) {
      const result = results[i]!;
      const spec = isPlainObject(policy.spec) ? policy.spec : {};
      const selector = isPlainObject(spec.podSelector) ? (spec.podSelector as LabelSelector) : undefined;
      let selected = 0;
      for (const pod of injected) {
        try {
          if (selectorMatches(selector, pod.metadata?.labels ?? {})) selected++;
        } catch {
          // an unusable selector selects nothing; the validator reports it
        }
      }
      const status = desiredStatus(policy, result, selected, now);
      if (!statusChanged(policy.status, status)) continue;
      try {
        await custom.patchNamespacedCustomObjectStatus({
          group: GROUP,
          version: VERSION,
          plural: PLURAL,
          namespace,
          name: policy.metadata!.name!,
          body: [{ op: 'add', path: '/status', value: status }],
          fieldManager: FIELD_MANAGER,
        });
      } catch (err) {
        if (!isNotFound(err)) throw err; // deleted meanwhile: nothing to report
      }
    }
  }

  /** A queue's worker: the leader reconciles, timed and counted per controller. */
  const measured =
    (controller: 'namespace' | 'approval', reconcileOne: (key: string) => Promise<void>) =>
    async (key: string): Promise<void> => {
      if (!leading) return;
      const end = reconcileDuration.startTimer({ controller });
      try {
        await reconcileOne(key);
        reconcileTotal.inc({ controller, result: 'success' });
      } catch (err) {
        reconcileTotal.inc({ controller, result: 'error' });
        throw err;
      } finally {
        end();
      }
    };

  const enqueueAll = (): void => {
    applied.clear();
    for (const ns of namespaces.list()) if (ns.metadata?.name) queue.add(ns.metadata.name);
    approvals.enqueueAll();
  };

  const running = queue.run(measured('namespace', reconcile), 4, {
    onError: (namespace, err, requeues) => log.warn({ namespace, err: err instanceof Error ? err.message : String(err), requeues }, 'reconcile failed; retrying'),
  });
  const approvalsRunning = approvalQueue.run(
    measured('approval', (key) => approvals.worker(key)),
    4,
    {
      onError: (key, err, requeues) => log.warn({ approvalRequest: key, err: err instanceof Error ? err.message : String(err), requeues }, 'approval reconcile failed; retrying'),
    },
  );

  // --- health server ---
  const serve: RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const ready = isReady();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ok\n' : 'informers not synced\n');
    } else if (path === '/metrics') {
      registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  };
  // TLS without a CA to trust: kubelet's HTTPS probes do not verify, and Prometheus scrapes it with
  // insecureSkipVerify (as controller-runtime's secure metrics do); it keeps the traffic private.
  const server: Server = opts.healthTls
    ? createHttpsServer({ ...(await selfSignedServing([hostname(), 'localhost'], ['127.0.0.1'])), minVersion: 'TLSv1.2' }, serve)
    : createHttpServer(serve);
  const { host, port } = splitHostPort(opts.healthAddr, '--health-addr');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  for (const [, inf] of informers) await inf.start();
  enqueueAll();
  const resync = setInterval(enqueueAll, opts.resyncMs ?? 5 * 60_000);
  resync.unref();
  // A watch can stall without an error (a half-open connection, a stuck proxy): like client-go's
  // watch timeouts, each watch is replaced every few minutes, resuming from its resourceVersion
  // (a 410 Gone then makes it relist). Jittered so the three never restart together.
  const refreshers = informers.map(([name, inf], i) => {
    const every = (opts.watchRefreshMs ?? 8 * 60_000) + i * 17_000;
    const timer = setInterval(() => {
      if (stopping) return;
      void inf.stop().then(() => {
        // Let the aborted watch's done callback run first, or two watches could start.
        setTimeout(() => {
          if (!stopping) inf.start().catch((err: unknown) => log.warn({ informer: name, err: String(err) }, 'watch refresh failed'));
        }, 100).unref();
      });
    }, every);
    timer.unref();
    return timer;
  });

  // --- leader election ---
  let elector: LeaderElector | undefined;
  if (opts.leaderElection) {
    elector = new LeaderElector(kubernetesLease(kc, opts.namespace, LEASE_NAME), {
      identity: opts.identity,
      ...(opts.leaseDurationMs !== undefined ? { leaseDurationMs: opts.leaseDurationMs } : {}),
      ...(opts.renewDeadlineMs !== undefined ? { renewDeadlineMs: opts.renewDeadlineMs } : {}),
      ...(opts.retryPeriodMs !== undefined ? { retryPeriodMs: opts.retryPeriodMs } : {}),
      onStartedLeading: () => {
        leading = true;
        log.info({ identity: opts.identity }, 'started leading');
        enqueueAll();
      },
      onStoppedLeading: () => {
        leading = false;
        log.info({ identity: opts.identity }, 'stopped leading');
      },
      onNewLeader: (identity) => log.info({ leader: identity }, 'leader observed'),
      onError: (err) => log.warn({ err: err instanceof Error ? err.message : String(err) }, 'leader election'),
    });
    elector.start();
  }

  return {
    healthAddress: server.address() as AddressInfo,
    isLeader: () => leading,
    isReady,
    registry,
    async stop(): Promise<void> {
      stopping = true;
      clearInterval(resync);
      for (const t of refreshers) clearInterval(t);
      for (const [, inf] of informers) await inf.stop();
      await Promise.all([queue.shutDown(), approvalQueue.shutDown()]);
      await Promise.all([running, approvalsRunning]);
      await approvals.drain();
      await elector?.stop();
      leading = false;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
