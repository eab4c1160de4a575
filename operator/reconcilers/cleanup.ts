// A namespace no longer governed loses the objects the operator made there (the tool pins stay:
// they are the sidecars' record, not ours). Decided from what the operator knows without asking:
// its cache, plus what it wrote that the watch may not have delivered yet. So a namespace that
// never was governed costs no request at all, at every resync. The sidecar identity
// (ServiceAccount, Role, RoleBinding) is not cached: it is looked up by name, and only while one of
// those ConfigMaps or Secrets is left, which is why they go last.

import { SIDECAR_ROLE, SIDECAR_SERVICE_ACCOUNT, SIDECAR_TOKEN_SECRET } from '../../api/approval-names.js';
import { CA_SECRET_NAME, CONFIG_MAP_NAME, TRUST_CONFIG_MAP_NAME } from '../../api/index.js';
import type { Logger } from '../../lib/logger.js';
import type { CachedKind, ClusterClient, ObjectRef } from '../cluster-client.js';
import { MANAGED_BY_LABEL, MANAGED_LABELS } from '../namespace-config.js';


const CACHED_LEFTOVERS: ReadonlyArray<{ kind: CachedKind; name: string }> = [
  { kind: 'ConfigMap', name: CONFIG_MAP_NAME },
  { kind: 'ConfigMap', name: TRUST_CONFIG_MAP_NAME },
  { kind: 'Secret', name: CA_SECRET_NAME },
  { kind: 'Secret', name: SIDECAR_TOKEN_SECRET },
];

const IDENTITY: ReadonlyArray<Omit<ObjectRef, 'namespace'>> = [
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', name: SIDECAR_ROLE },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', name: SIDECAR_ROLE },
  { apiVersion: 'v1', kind: 'ServiceAccount', name: SIDECAR_SERVICE_ACCOUNT },
];

export interface CleanupPlan {
  /** Deleted if they carry the operator's managed-by label (looked up by name first). */
  identity: ObjectRef[];
  /** In the cache with the operator's labels: deleted, after the identity. */
  leftovers: ObjectRef[];
}

/** Whether the operator knows of its object `kind`/`name` in the namespace. */
export type KnownObject = (kind: CachedKind, name: string) => boolean;

/** What to delete in `namespace`. */
function planCleanup(namespace: string, known: KnownObject): CleanupPlan {
  const leftovers = CACHED_LEFTOVERS.filter(({ kind, name }) => known(kind, name)).map(({ kind, name }) => ({ apiVersion: 'v1', kind, name, namespace }));
  if (leftovers.length === 0) return { identity: [], leftovers: [] };
  return { identity: IDENTITY.map((r) => ({ ...r, namespace })), leftovers };
}

export async function cleanUp(client: ClusterClient, namespace: string, known: KnownObject, log: Logger): Promise<void> {
  const plan = planCleanup(namespace, known);
  for (const ref of plan.identity) {
    const found = await client.read(ref);
    if (found?.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_LABELS[MANAGED_BY_LABEL]) continue;
    await client.delete(ref);
    log.info({ namespace, kind: ref.kind, name: ref.name }, 'deleted (namespace no longer governed)');
  }
  for (const ref of plan.leftovers) {
    await client.delete(ref);
    log.info({ namespace, kind: ref.kind, name: ref.name }, 'deleted (namespace no longer governed)');
  }
}
