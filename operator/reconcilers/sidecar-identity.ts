// The sidecar's identity in a governed namespace (sidecar-identity.ts computes it): the
// ServiceAccount, Role and RoleBinding, the tool pins ConfigMap, and a token minted with the
// TokenRequest API when the Secret has none, less than half its lifetime is left, the ServiceAccount
// was recreated or the cluster CA changed. Returns when to look again (before the half-life runs out).

import type { KubernetesObject, V1Secret } from '@kubernetes/client-node';
import { SIDECAR_SERVICE_ACCOUNT, SIDECAR_TOKEN_KEYS, SIDECAR_TOKEN_SECRET } from '../../api/approval-names.js';
import type { Logger } from '../../lib/logger.js';
import type { ClusterClient } from '../cluster-client.js';
import { desiredSidecarIdentity, desiredTokenSecret, tokenNeedsMint, tokenRenewAt } from '../sidecar-identity.js';
import type { AppliedObjects } from './applied-objects.js';
import type { RecentWrites } from './recent-writes.js';

export interface SidecarIdentityContext {
  client: ClusterClient;
  applied: AppliedObjects;
  recent: RecentWrites;
  log: Logger;
  now: Date;
  /** Lifetime of the tokens asked for. */
  tokenTtlMs: number;
}

const unb64 = (s: string | undefined): string | undefined => (s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8'));

/** Reconciles the identity; returns the milliseconds until the token must be renewed (0: now). */
export async function reconcileSidecarIdentity(ctx: SidecarIdentityContext, namespace: string): Promise<number> {
  const { client, now, tokenTtlMs } = ctx;
  const { serviceAccount, role, roleBinding, toolPins } = desiredSidecarIdentity(namespace);
  // Applied every time (a no-op for the API server when unchanged): its UID tells a recreated account.
  const sa = await client.apply(serviceAccount as KubernetesObject);
  await ctx.applied.applyIfChanged(client, role as KubernetesObject);
  await ctx.applied.applyIfChanged(client, roleBinding as KubernetesObject);
  // Applied without data, so the entries the sidecars add are theirs and stay; every time, so one
  // a person deleted (to re-pin every server at once) is back at the next reconcile.
  await client.apply(toolPins as KubernetesObject);

  let secret = ctx.recent.freshest('Secret', namespace, SIDECAR_TOKEN_SECRET, client.cached('Secret', namespace, SIDECAR_TOKEN_SECRET)) as V1Secret | undefined;
  const caPem = client.clusterCaPem();
  const uid = sa.metadata?.uid;
  if (tokenNeedsMint(secret, now, tokenTtlMs, uid) || (unb64(secret?.data?.[SIDECAR_TOKEN_KEYS.ca]) ?? '') !== caPem) {
    const minted = await client.requestToken(namespace, SIDECAR_SERVICE_ACCOUNT, Math.round(tokenTtlMs / 1000));
    const expiresAt = minted.expiresAt ?? new Date(now.getTime() + tokenTtlMs);
    secret = await client.apply(desiredTokenSecret(namespace, { token: minted.token, issuedAt: now, expiresAt, ...(uid ? { serviceAccountUid: uid } : {}) }, caPem) as V1Secret);
    ctx.recent.remember(secret);
    ctx.log.info({ namespace, expiresAt: expiresAt.toISOString() }, 'minted sidecar token');
  }
  const renewAt = tokenRenewAt(secret, tokenTtlMs);
  return renewAt ? renewAt.getTime() - now.getTime() : 0;
}
