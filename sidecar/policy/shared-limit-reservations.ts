// The per-call memo of fleet-wide rate limits: what the store answered when a call was prepared,
// read by request(), admit(), release() and settle() of the same call (shared-limits.ts). Keyed by
// call id and owner (check + policy). Entries of calls that never reach settle or release (a client
// that vanished between prepare and decision) are forgotten after a TTL.
import type { SharedKeys } from './shared-limit-keys.js';

export type Memo =
  | { kind: 'taken'; keys: SharedKeys; rpm?: number; tpm?: number; tokens: number; at: number }
  | { kind: 'refused'; waitMs: number; keys: SharedKeys; rpm?: number; tpm?: number; tokens: number; at: number }
  | { kind: 'unavailable'; at: number };

export class Reservations {
  private readonly memos = new Map<string, Memo>();
  private lastSweep = 0;

  constructor(
    private readonly ttlMs = 5 * 60_000,
    private readonly sweepMs = 60_000,
  ) {}

  set(callId: string, owner: string, memo: Memo): void {
    this.memos.set(`${callId}\u0000${owner}`, memo);
    this.sweep(memo.at);
  }

  get(callId: string, owner: string): Memo | undefined {
    return this.memos.get(`${callId}\u0000${owner}`);
  }

  /** Reads and forgets the memo (settle, release). */
  take(callId: string, owner: string): Memo | undefined {
    const key = `${callId}\u0000${owner}`;
    const memo = this.memos.get(key);
    this.memos.delete(key);
    return memo;
  }

  get size(): number {
    return this.memos.size;
  }

  private sweep(t: number): void {
    if (t - this.lastSweep < this.sweepMs) return;
    this.lastSweep = t;
    for (const [key, memo] of this.memos) if (t - memo.at > this.ttlMs) this.memos.delete(key);
  }
}
