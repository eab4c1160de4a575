// A ClusterClient in memory, for the reconcilers' unit tests: one store stands for the API server,
// the cache shows the store's labelled ConfigMaps and Secrets (or, with `cacheLag`, what it showed
// before), and every call is recorded so a test can count round trips.

import type { CoreV1Event, KubernetesObject, V1Namespace, V1Pod } from '@kubernetes/client-node';
import type { CachedKind, ClusterClient, GovernancePolicyObject, MintedToken, ObjectRef } from './cluster-client.js';
import { isManaged } from './namespace-config.js';

const key = (kind: string, namespace: string, name: string): string => `${kind}/${namespace}/${name}`;

export class FakeClusterClient implements ClusterClient {
  readonly namespaces = new Map<string, V1Namespace>();
  readonly policyList: GovernancePolicyObject[] = [];
  readonly podList: V1Pod[] = [];
  /** The API server's objects, by kind/namespace/name. */
  readonly store = new Map<string, KubernetesObject>();
  /** Every call that reached the "API server": `apply ConfigMap/ns/name`, `read ...`, ... */
  readonly calls: string[] = [];
  readonly events: CoreV1Event[] = [];
  readonly statuses = new Map<string, unknown>();
  /** While set, the cache shows this frozen copy instead of the store (a watch that has not caught up). */
  cacheLag: Map<string, KubernetesObject> | undefined;
  signal: AbortSignal = new AbortController().signal;
  caPem = '';
  private version = 0;
  private tokens = 0;

  namespace(name: string): V1Namespace | undefined {
    return this.namespaces.get(name);
  }

  policies(namespace: string): GovernancePolicyObject[] {
    return this.policyList.filter((p) => p.metadata?.namespace === namespace);
  }

  pods(namespace: string): V1Pod[] {
    return this.podList.filter((p) => p.metadata?.namespace === namespace);
  }

  cached(kind: CachedKind, namespace: string, name: string): KubernetesObject | undefined {
    const obj = (this.cacheLag ?? this.store).get(key(kind, namespace, name));
    const ours = obj && isManaged(obj);
    return ours ? obj : undefined;
  }

  /** Freezes the cache as it is now. */
  freezeCache(): void {
    this.cacheLag = new Map(this.store);
  }

  /** Puts an object in the store as someone else would (a new resourceVersion). */
  put(obj: KubernetesObject): KubernetesObject {
    const stored = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.version), uid: obj.metadata?.uid ?? `uid-${this.version}` } };
    this.store.set(key(obj.kind!, obj.metadata!.namespace!, obj.metadata!.name!), stored);
    return stored;
  }

  get(kind: string, namespace: string, name: string): KubernetesObject | undefined {
    return this.store.get(key(kind, namespace, name));
  }

  async read(ref: ObjectRef): Promise<KubernetesObject | undefined> {
    this.calls.push(`read ${key(ref.kind, ref.namespace, ref.name)}`);
    return this.store.get(key(ref.kind, ref.namespace, ref.name));
  }

  async apply<T extends KubernetesObject>(obj: T): Promise<T> {
    this.signal.throwIfAborted();
    const k = key(obj.kind!, obj.metadata!.namespace!, obj.metadata!.name!);
    this.calls.push(`apply ${k}`);
    const existing = this.store.get(k);
    // An unchanged apply is a no-op for the API server: same resourceVersion.
    if (existing && JSON.stringify(strip(existing)) === JSON.stringify(strip({ ...existing, ...obj, metadata: { ...existing.metadata, ...obj.metadata } }))) return existing as T;
    return this.put({ ...existing, ...obj, metadata: { ...existing?.metadata, ...obj.metadata, ...(existing?.metadata?.uid ? { uid: existing.metadata.uid } : {}) } }) as T;
  }

  async delete(ref: ObjectRef): Promise<void> {
    this.signal.throwIfAborted();
    this.calls.push(`delete ${key(ref.kind, ref.namespace, ref.name)}`);
    this.store.delete(key(ref.kind, ref.namespace, ref.name));
  }

  async createEvent(event: CoreV1Event): Promise<boolean> {
    this.signal.throwIfAborted();
    this.calls.push(`event ${event.metadata.name}`);
    if (this.events.some((e) => e.metadata.name === event.metadata.name)) return false;
    this.events.push(event);
    return true;
  }

  async writePolicyStatus(namespace: string, name: string, status: unknown): Promise<void> {
    this.signal.throwIfAborted();
    this.calls.push(`status ${namespace}/${name}`);
    this.statuses.set(`${namespace}/${name}`, status);
    const policy = this.policyList.find((p) => p.metadata?.namespace === namespace && p.metadata?.name === name);
    if (policy) policy.status = status;
  }

  async requestToken(namespace: string, serviceAccount: string, ttlSeconds: number): Promise<MintedToken> {
    this.signal.throwIfAborted();
    this.calls.push(`token ${namespace}/${serviceAccount}`);
    return { token: `token-${++this.tokens}`, expiresAt: new Date(Date.now() + ttlSeconds * 1000) };
  }

  clusterCaPem(): string {
    return this.caPem;
  }
}

function strip(obj: KubernetesObject): KubernetesObject {
  const { resourceVersion: _rv, uid: _uid, ...metadata } = obj.metadata ?? {};
  return { ...obj, metadata };
}
