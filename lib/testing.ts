// A Lease store in memory, with the API server's optimistic concurrency: every write makes a new
// version, and an update from an older version is refused. Tests run elections on it without a
// cluster; `fail` makes the store unreachable (an API server outage, a partition).
import type { Lease, LeaseRecord, VersionedLeaseRecord } from './lease.js';

export class MemoryLease implements Lease {
  private stored: VersionedLeaseRecord | undefined;
  private writes = 0;
  /** While set, every call rejects with this error. */
  fail: Error | undefined;

  /** The current record (tests read and write it as another holder would). */
  peek(): LeaseRecord | undefined {
    return this.stored && { ...this.stored.record };
  }

  async get(): Promise<VersionedLeaseRecord | undefined> {
    this.check();
    return this.stored && { record: { ...this.stored.record }, version: this.stored.version };
  }

  async create(record: LeaseRecord): Promise<boolean> {
    this.check();
    if (this.stored) return false;
    this.store(record);
    return true;
  }

  async update(record: LeaseRecord, version: string): Promise<boolean> {
    this.check();
    if (!this.stored || this.stored.version !== version) return false;
    this.store(record);
    return true;
  }

  private store(record: LeaseRecord): void {
    this.stored = { record: { ...record }, version: String(++this.writes) };
  }

  private check(): void {
    if (this.fail) throw this.fail;
  }
}
