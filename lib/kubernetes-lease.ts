// The Lease store of leader election on a coordination.k8s.io/v1 Lease. Every replace carries the
// resourceVersion that was read, so of two candidates racing for a free or expired lease the API
// server lets exactly one win (the other gets 409 Conflict).
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { isConflict, isNotFound } from './kube.js';
import type { Lease, LeaseRecord, VersionedLeaseRecord } from './lease.js';

export function kubernetesLease(kc: KubeConfig, namespace: string, name: string): Lease {
  const api = kc.makeApiClient(CoordinationV1Api);
  /** The object last read, so an update keeps the fields leader election does not own. */
  let lastRead: V1Lease | undefined;
  const spec = (record: LeaseRecord): V1Lease['spec'] => ({
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    acquireTime: new V1MicroTime(record.acquireTime.getTime()),
    renewTime: new V1MicroTime(record.renewTime.getTime()),
    leaseTransitions: record.leaseTransitions,
  });
  return {
    async get(): Promise<VersionedLeaseRecord | undefined> {
      try {
        lastRead = await api.readNamespacedLease({ name, namespace });
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
      const s = lastRead.spec ?? {};
      return {
        version: lastRead.metadata?.resourceVersion ?? '',
        record: {
          holderIdentity: s.holderIdentity ?? '',
          leaseDurationSeconds: s.leaseDurationSeconds ?? 0,
          acquireTime: new Date(s.acquireTime ?? 0),
          renewTime: new Date(s.renewTime ?? 0),
          leaseTransitions: s.leaseTransitions ?? 0,
        },
      };
    },
    async create(record: LeaseRecord): Promise<boolean> {
      try {
        await api.createNamespacedLease({ namespace, body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: spec(record) } });
        return true;
      } catch (err) {
        if (isConflict(err)) return false;
        throw err;
      }
    },
    async update(record: LeaseRecord, version: string): Promise<boolean> {
      const base: V1Lease = lastRead ?? { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace } };
      const body: V1Lease = { ...base, metadata: { ...base.metadata, resourceVersion: version }, spec: { ...base.spec, ...spec(record) } };
      try {
        await api.replaceNamespacedLease({ name, namespace, body });
        return true;
      } catch (err) {
        if (isConflict(err)) return false;
        throw err;
      }
    },
  };
}
