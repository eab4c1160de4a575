// What leader election needs from a lease store, and nothing more: read the record with its
// version, create it, and replace it only if it is still the version read. The Kubernetes Lease
// (kubernetes-lease.ts) is one such store; testing.ts's MemoryLease is another, for tests.

/** The fields of a coordination.k8s.io/v1 LeaseSpec that leader election reads and writes. */
export interface LeaseRecord {
  /** Who holds the lease; "" when it was released. */
  holderIdentity: string;
  leaseDurationSeconds: number;
  /**
   * Wall-clock times written by the holder, for people (kubectl) only: election never compares
   * them with its own clock, which may be skewed from the holder's.
   */
  acquireTime: Date;
  renewTime: Date;
  leaseTransitions: number;
}

export interface VersionedLeaseRecord {
  record: LeaseRecord;
  /** Opaque; changes on every write (the resourceVersion). */
  version: string;
}

export interface Lease {
  /** The record, or undefined when the lease does not exist. */
  get(): Promise<VersionedLeaseRecord | undefined>;
  /** Creates the lease; false when it already exists (another candidate was first). */
  create(record: LeaseRecord): Promise<boolean>;
  /** Replaces the record if it is still at `version`; false when someone wrote in between. */
  update(record: LeaseRecord, version: string): Promise<boolean>;
}
