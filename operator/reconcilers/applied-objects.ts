// What this replica last applied, by object: a digest of the desired object and the
// resourceVersion the apply left. An object is applied again only when its desired form changed, or
// the cache shows that someone else changed (or deleted) it since: resyncs then send nothing for
// the unchanged (the trust bundle alone is ~200 KB) and still repair drift. Objects no cache holds
// (Role, RoleBinding) cannot be checked that way: they are applied again after each resync.

import { createHash } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import { CACHED_KINDS, type CachedKind, type ClusterClient } from '../cluster-client.js';

interface Applied {
  digest: string;
  cached: boolean;
  /** The resourceVersion the apply returned, and the one the cache showed before it (the cache may lag behind our own write). */
  resourceVersions: Array<string | undefined>;
}

const digestOf = (obj: KubernetesObject): string => createHash('sha256').update(JSON.stringify(obj)).digest('hex');

export class AppliedObjects {
  private readonly entries = new Map<string, Applied>();

  /** Applies `obj` unless it is what was last applied and the cache shows it unchanged since. */
  async applyIfChanged<T extends KubernetesObject>(client: ClusterClient, obj: T): Promise<void> {
    await this.applyBuiltIfChanged(client, { kind: obj.kind ?? '', namespace: obj.metadata?.namespace ?? '', name: obj.metadata?.name ?? '' }, digestOf(obj), () => obj);
  }

  /**
   * The same for an object costly to build and hash (the ~400 KB trust bundle): `inputs` stand for
   * it (equal inputs build an equal object), and it is built only when it has to be sent.
   */
  async applyBuiltIfChanged(client: ClusterClient, ref: { kind: string; namespace: string; name: string }, inputs: string, build: () => KubernetesObject): Promise<void> {
    const key = `${ref.kind}/${ref.namespace}/${ref.name}`;
    const digest = createHash('sha256').update(inputs).digest('hex');
    const cached = CACHED_KINDS.has(ref.kind);
    const seen = cached ? client.cached(ref.kind as CachedKind, ref.namespace, ref.name) : undefined;
    if (this.upToDate(this.entries.get(key), digest, cached, seen)) return;
    const stored = await client.apply(build());
    const resourceVersions = [stored.metadata?.resourceVersion, ...(seen ? [seen.metadata?.resourceVersion] : [])];
    this.entries.set(key, { digest, cached, resourceVersions });
  }

  /** Whether this replica applied the object (and has not forgotten it). */
  has(kind: string, namespace: string, name: string): boolean {
    return this.entries.has(`${kind}/${namespace}/${name}`);
  }

  /** At resync: objects no cache can vouch for are applied again. */
  forgetUncached(): void {
    for (const [key, entry] of this.entries) if (!entry.cached) this.entries.delete(key);
  }

  /** A namespace no longer governed (its objects are deleted). */
  forgetNamespace(namespace: string): void {
    for (const key of this.entries.keys()) if (key.split('/')[1] === namespace) this.entries.delete(key);
  }

  private upToDate(entry: Applied | undefined, digest: string, cached: boolean, seen: KubernetesObject | undefined): boolean {
    if (!entry || entry.digest !== digest) return false;
    if (!cached) return true;
    // Gone from the cache (deleted), or at a version we did not write: apply again.
    return !!seen && entry.resourceVersions.includes(seen.metadata?.resourceVersion);
  }
}
