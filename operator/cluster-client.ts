// What the namespace reconcilers may do to the cluster: read what the manager's cache holds, read
// by name what no informer holds, and write (server-side apply, delete, Events, status, tokens).
// kube-cluster-client.ts implements it on the API server and the manager's cache; the unit tests
// implement it in memory.

import type { CoreV1Event, KubernetesObject, V1Namespace, V1Pod } from '@kubernetes/client-node';

export type GovernancePolicyObject = KubernetesObject & { spec?: unknown; status?: unknown };

/** The kinds of objects the manager caches when they carry the operator's labels. */
export type CachedKind = 'ConfigMap' | 'Secret';
export const CACHED_KINDS: ReadonlySet<string> = new Set<CachedKind>(['ConfigMap', 'Secret']);

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}

export interface MintedToken {
  token: string;
  /** What the API server granted (it may shorten the lifetime asked for). */
  expiresAt?: Date;
}

export interface ClusterClient {
  namespace(name: string): V1Namespace | undefined;
  policies(namespace: string): GovernancePolicyObject[];
  pods(namespace: string): V1Pod[];
  /** A ConfigMap or Secret labelled as the operator's, as the cache last saw it. */
  cached(kind: CachedKind, namespace: string, name: string): KubernetesObject | undefined;

  /** Reads from the API server (for what no cache holds); undefined when absent. */
  read(ref: ObjectRef): Promise<KubernetesObject | undefined>;
  /** Server-side apply as the operator's field manager; returns the object as stored. */
  apply<T extends KubernetesObject>(obj: T): Promise<T>;
  /** Deletes; an object already gone is no error. */
  delete(ref: ObjectRef): Promise<void>;
  /** Creates an Event; false when one of that name exists (already reported). */
  createEvent(event: CoreV1Event): Promise<boolean>;
  /** Writes a GovernancePolicy's status; a policy deleted meanwhile is no error. */
  writePolicyStatus(namespace: string, name: string, status: unknown): Promise<void>;
  /** A token for a ServiceAccount (TokenRequest API). */
  requestToken(namespace: string, serviceAccount: string, ttlSeconds: number): Promise<MintedToken>;
  /** The cluster CA the operator trusts (PEM, "" when none is configured). */
  clusterCaPem(): string;
}
