// Fleet-wide rate limits: what the rate-limit checks (rate-limit.ts) are given when the
// sidecar has a shared counter store (--shared-limits-url), so that N replicas of an agent share one
// requestsPerMinute / tokensPerMinute instead of getting N times it.
//
// Design. request() and admit() run in one synchronous turn (policy/pipeline.ts) and a store round
// trip is asynchronous, so the store is asked *before* them, in the pipeline's async prepare step:
//   prepareRequest()  reserves atomically in the store (shared-limits/scripts.ts: 1 request and the
//                     token estimate, or nothing and how long until it would fit) and writes the
//                     answer on a per-call memo (call-memos.ts).
//   request()         stays pure: it reads the memo. Taken: passes; refused: rate_limited with
//                     Retry-After; the store could not answer: the section's onStoreFailure
//                     (local: this replica's own buckets, as without a store; failOpen: passes
//                     uncounted; failClosed: refused, 503). No memo (the data path did not prepare
//                     this call): local buckets.
//   admit()           nothing more to take for a reserved call; local buckets otherwise.
//   release()         another check refused the call after its reservation: the request and the
//                     tokens go back to the store.
//   settle()          replaces the token estimate with the real usage in the store (refund or charge
//                     the difference), exactly as the local buckets do.
// A reservation is one EVALSHA on the store, so parallel calls on any number of replicas cannot
// overshoot; the price is one round trip per limited call.
//
// The store's state is the buckets only (two small hashes per limited party, each with a TTL); the
// memo lives in the sidecar and is forgotten after settle, release or a few minutes.
//
// The checks know the store only by the interface below; shared-limits/store.ts (Redis) implements it.
import type { StoreFailureMode } from '../../api/index.js';

/** What reserve answers: taken, or not and how long until it would fit. */
export interface ReserveResult {
  ok: boolean;
  waitMs: number;
}

/** The shared counter store, as the rate-limit checks use it. */
export interface SharedCounterStore {
  /** Whether the store answers now. */
  readonly up: boolean;
  /** Atomically takes 1 request (rpm) and `tokens` (tpm) when they fit, else nothing. */
  reserve(requestsKey: string, tokensKey: string, rpm: number | undefined, tpm: number | undefined, tokens: number): Promise<ReserveResult>;
  /** Moves a bucket's level by delta (refund > 0, charge < 0), within [-capacity, capacity]. */
  adjust(key: string, capacity: number, delta: number): Promise<void>;
}

export interface SharedLimits {
  store: SharedCounterStore;
  /** Key prefix (tests isolate themselves with their own). Default chaperone:rl:. */
  prefix?: string;
  /** A command failed (counted in chaperone_shared_limits_errors_total by the sidecar). */
  onError?: (err: Error) => void;
}

export const DEFAULT_STORE_FAILURE: StoreFailureMode = 'local';
