// What a check noted about a call in its async prepare step, for request(), admit(), release() and
// settle() of the same call: fleet-wide rate limits and budgets note the shared store's answer here
// (shared-limits.ts, budget.ts). Keyed by call id and owner (check + policy).
//
// Entries of calls that never reach settle or release (a client that vanished between prepare and
// decision; a tunnel, which is never settled) are forgotten after a TTL, and there are never more
// than `max` (the oldest go first), so an agent opening connection after connection cannot grow the
// sidecar's memory. A call whose memo is gone is settled as one the store never answered for: its
// estimate stays charged and its reservation expires in the store, the safe side.
export class CallMemos<M extends { at: number }> {
  private readonly memos = new Map<string, M>();
  private lastSweep = 0;

  constructor(
    private readonly ttlMs = 5 * 60_000,
    private readonly sweepMs = 60_000,
    private readonly max = 100_000,
  ) {}

  set(callId: string, owner: string, memo: M): void {
    const key = `${callId}\u0000${owner}`;
    this.memos.delete(key);
    this.memos.set(key, memo);
    if (this.memos.size > this.max) this.memos.delete(this.memos.keys().next().value!);
    this.sweep(memo.at);
  }

  get(callId: string, owner: string): M | undefined {
    return this.memos.get(`${callId}\u0000${owner}`);
  }

  /** Reads and forgets the memo (settle, release). */
  take(callId: string, owner: string): M | undefined {
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
    // Oldest first: stop at the first one still fresh.
    for (const [key, memo] of this.memos) {
      if (t - memo.at <= this.ttlMs) break;
      this.memos.delete(key);
    }
  }
}
