// The ClusterClient on the manager's cache and the API server. One is made per reconcile with the
// leader's AbortSignal: every write checks it first, so a reconcile in flight when leadership is
// lost stops at its next write instead of racing the new leader.

import { readFileSync } from 'node:fs';
import { CoreV1Api, CustomObjectsApi, type CoreV1Event, type KubeConfig, type KubernetesObject, type V1Namespace, type V1Pod } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION } from '../api/schema.js';
import { applyObject, isConflict, isNotFound, objectApi } from '../lib/kube.js';
import type { CachedKind, ClusterClient, GovernancePolicyObject, MintedToken, ObjectRef } from './cluster-client.js';
import type { WatchedResource } from './manager/informer.js';

export const GOVERNANCE_POLICY_PLURAL = 'governancepolicies';

export interface OperatorCache {
  namespaces: WatchedResource<V1Namespace>;
  policies: WatchedResource<GovernancePolicyObject>;
  pods: WatchedResource<V1Pod>;
  configMaps: WatchedResource<KubernetesObject>;
  secrets: WatchedResource<KubernetesObject>;
}

export interface KubeClusterClientOptions {
  kubeconfig: KubeConfig;
  cache: OperatorCache;
  fieldManager: string;
}

/** Makes the client of one reconcile, bound to its signal. */
export function kubeClusterClients(opts: KubeClusterClientOptions): (signal: AbortSignal) => ClusterClient {
  const { kubeconfig: kc, cache, fieldManager } = opts;
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const version = API_VERSION.split('/')[1]!;
  const ref = (r: ObjectRef) => ({ apiVersion: r.apiVersion, kind: r.kind, metadata: { name: r.name, namespace: r.namespace } });

  return (signal) => ({
    namespace: (name) => cache.namespaces.get(name),
    policies: (namespace) => cache.policies.list(namespace),
    pods: (namespace) => cache.pods.list(namespace),
    cached: (kind: CachedKind, namespace, name) => (kind === 'Secret' ? cache.secrets : cache.configMaps).get(name, namespace),

    async read(r) {
      try {
        return await objectApi(kc).read(ref(r));
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async apply(obj) {
      signal.throwIfAborted();
      return applyObject(kc, obj, fieldManager);
    },
    async delete(r) {
      signal.throwIfAborted();
      try {
        await objectApi(kc).delete(ref(r));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    },
    async createEvent(event: CoreV1Event) {
      signal.throwIfAborted();
      try {
        await core.createNamespacedEvent({ namespace: event.metadata.namespace!, body: event });
        return true;
      } catch (err) {
        if (isConflict(err)) return false;
        throw err;
      }
    },
    async writePolicyStatus(namespace, name, status) {
      signal.throwIfAborted();
      try {
        await custom.patchNamespacedCustomObjectStatus({
          group: API_GROUP,
          version,
          plural: GOVERNANCE_POLICY_PLURAL,
          namespace,
          name,
          body: [{ op: 'add', path: '/status', value: status }],
          fieldManager,
        });
      } catch (err) {
        if (!isNotFound(err)) throw err; // deleted meanwhile: nothing to report
      }
    },
    async requestToken(namespace, serviceAccount, ttlSeconds): Promise<MintedToken> {
      signal.throwIfAborted();
      const answer = await core.createNamespacedServiceAccountToken({
        name: serviceAccount,
        namespace,
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [], expirationSeconds: ttlSeconds } },
      });
      const token = answer.status?.token;
      if (!token) throw new Error(`TokenRequest for ${namespace}/${serviceAccount} returned no token`);
      return { token, ...(answer.status?.expirationTimestamp ? { expiresAt: new Date(answer.status.expirationTimestamp) } : {}) };
    },
    clusterCaPem() {
      const cluster = kc.getCurrentCluster();
      if (cluster?.caData) return Buffer.from(cluster.caData, 'base64').toString('utf8');
      if (cluster?.caFile) return readFileSync(cluster.caFile, 'utf8');
      return '';
    },
  });
}
