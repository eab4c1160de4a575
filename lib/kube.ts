// The Kubernetes client helpers every component shares: one way to load the kubeconfig, one way
// to write objects (server-side apply), and one way to recognise API errors.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ApiException, KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';

/**
 * The cluster to talk to: `file` when given, else $KUBECONFIG when set (colon-separated list
 * allowed), else ~/.kube/config when it exists, else the in-cluster service account.
 */
export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file) {
    kc.loadFromFile(file);
    if (!kc.getCurrentCluster()) throw new Error(`${file}: no current cluster`);
    return kc;
  }
  const inCluster = !process.env.KUBECONFIG && !existsSync(join(homedir(), '.kube', 'config')) && !!process.env.KUBERNETES_SERVICE_HOST;
  if (inCluster) kc.loadFromCluster();
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) throw new Error('no Kubernetes cluster configured: set KUBECONFIG or run in a cluster');
  return kc;
}

const objectApis = new WeakMap<KubeConfig, KubernetesObjectApi>();

/** One KubernetesObjectApi per KubeConfig (it caches API resource discovery). */
export function objectApi(kc: KubeConfig): KubernetesObjectApi {
  let api = objectApis.get(kc);
  if (!api) {
    api = KubernetesObjectApi.makeApiClient(kc);
    objectApis.set(kc, api);
  }
  return api;
}

/**
 * Server-side apply `obj` (namespaced or cluster-scoped; apiVersion, kind and metadata.name set)
 * as `fieldManager`, forcing ownership of the fields it sets. Returns the object as stored.
 */
export async function applyObject<T extends KubernetesObject>(kc: KubeConfig, obj: T, fieldManager: string): Promise<T> {
  if (!obj.apiVersion || !obj.kind || !obj.metadata?.name) {
    throw new Error('applyObject: apiVersion, kind and metadata.name are required');
  }
  // Server-side apply rejects managedFields in the body and resourceVersion would make it a
  // conditional update; the caller's object describes intent only.
  const { managedFields: _mf, resourceVersion: _rv, ...metadata } = obj.metadata;
  const body = { ...obj, metadata } as T;
  return objectApi(kc).patch<T>(body, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply);
}

/** The HTTP status of a Kubernetes API error, or undefined for anything else. */
export function apiStatus(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export const isNotFound = (err: unknown): boolean => apiStatus(err) === 404;
export const isConflict = (err: unknown): boolean => apiStatus(err) === 409;
export const isAlreadyExists = isConflict;
