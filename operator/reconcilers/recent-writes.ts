// Read-your-writes over the informer cache, for the objects a decision is made from (the CA and
// token Secrets): right after this replica writes one, the watch may not have delivered it yet, and
// a decision made from the older copy would act again (a second CA rotation would drop the CA the
// sidecars just started using). The object as written counts until the watch reports any change
// to it (our write arriving, or someone else's change or delete after it).

import type { KubernetesObject } from '@kubernetes/client-node';

const objectKey = (kind: string, namespace: string, name: string): string => `${kind}/${namespace}/${name}`;

export class RecentWrites {
  private readonly writes = new Map<string, KubernetesObject>();

  remember(stored: KubernetesObject): void {
    this.writes.set(objectKey(stored.kind ?? '', stored.metadata?.namespace ?? '', stored.metadata?.name ?? ''), stored);
  }

  /** The watch reported a change to this object: the cache is now at least as new as our write. */
  observed(obj: KubernetesObject, kind: string): void {
    this.writes.delete(objectKey(kind, obj.metadata?.namespace ?? '', obj.metadata?.name ?? ''));
  }

  /** The newest known copy: what we wrote, until the watch reported a change; else `cached`. */
  freshest<T extends KubernetesObject>(kind: string, namespace: string, name: string, cached: T | undefined): T | undefined {
    return (this.writes.get(objectKey(kind, namespace, name)) as T | undefined) ?? cached;
  }

  forgetNamespace(namespace: string): void {
    for (const key of this.writes.keys()) if (key.split('/')[1] === namespace) this.writes.delete(key);
  }
}
