// Rate limits: requests per minute and LLM tokens per minute, for spec.rateLimits (per policy and
// agent; an `agents[]` entry overrides the policy-wide numbers it sets, field by field) and for the
// `rateLimit` of egress rules (per policy, rule and agent).
//
// Token buckets rather than sliding windows: a bucket is two numbers (level and when it was last
// read), refills continuously at limit/60 per second up to a capacity of one minute's limit, can
// be charged after the fact (settle) and even go below zero, and answers "how long until this fits"
// with one division. A sliding window would have to remember every call of the last minute.
//
// Life of one call (see pipeline.ts):
//   request()  pure: does 1 request and the token estimate fit the buckets now? If not:
//              rate_limited with retryAfterSeconds = seconds until it would (at least 1).
//   admit()    takes the request and the estimate out of the buckets and remembers the token
//              reservation under the call's id.
//   settle()   replaces the estimate with the real usage: refunds or charges the difference.
// request() and admit() run in one synchronous turn, so parallel calls cannot overshoot a limit.
//
// Choices:
// - A call whose estimate alone exceeds tokensPerMinute needs a full bucket, not more (or it could
//   never go); it then drives the bucket below zero, so the calls after it wait.
// - No bucket falls below minus its capacity: the debt one call (or audit mode, which admits calls
//   over the limit) can leave is at most one minute of waiting beyond the refill.
// - Only LLM calls (OpenAI, Anthropic, Bedrock formats) count tokens; MCP, tunnels and unknown
//   traffic count as requests only. A call that ends without usage keeps its estimate when the
//   upstream answered 2xx (e.g. a stream without usage reporting), else the estimate is refunded.
// - Unsettled reservations (a client that vanished) are forgotten after a few minutes, and buckets
//   that have refilled completely are dropped (a full bucket and no bucket are the same), so the
//   state stays proportional to the agents active in the last couple of minutes.
//
// Fleet-wide: with a shared counter store (createRateLimitChecks({ shared })), the same buckets live
// in the store and are reserved in the async prepare step before request(), which reads the answer
// from a per-call memo; the local buckets are the fallback of onStoreFailure: local. The whole design
// is in shared-limits.ts.
import { policyKey, type GovernancePolicy, type RateLimit, type RateLimitsSpec } from '../../api/index.js';
import type { Call } from '../call.js';
import { sharedKeys, type SharedKeys } from './shared-limit-keys.js';
import { CallMemos } from './call-memos.js';

/** What the store answered when a call was prepared (shared-limits.ts). */
type Memo =
  | { kind: 'taken'; keys: SharedKeys; rpm?: number; tpm?: number; tokens: number; at: number }
  | { kind: 'refused'; waitMs: number; keys: SharedKeys; rpm?: number; tpm?: number; tokens: number; at: number }
  | { kind: 'unavailable'; at: number };
import { DEFAULT_STORE_FAILURE, type SharedLimits } from './shared-limits.js';
import { ruleForCall } from './egress.js';
import { estimateTotalTokens } from './estimate.js';
import type { CallResult, Check, CheckContext } from './pipeline.js';
import type { Verdict } from './verdict.js';

export interface RateLimiterOptions {
  /** How long a reservation that is never settled is remembered. Default 5 minutes. */
  reservationTtlMs?: number;
  /** How often stale reservations and full buckets are swept (on admit/settle). Default 60 s. */
  sweepIntervalMs?: number;
}

interface Bucket {
  level: number;
  capacity: number;
  /** When `level` was computed, ms since the epoch. */
  at: number;
}

interface Reservation {
  /** Which check and policy made it: `settle` of that pair takes it back. */
  owner: string;
  bucket: string;
  capacity: number;
  tokens: number;
}

/** What one call asks of one limit. */
export interface Demand {
  /** Identifies the limited party: policy (+ rule) + agent. */
  key: string;
  /** Bucket names derived from the key (built once per party, not per call). */
  requestsBucket: string;
  tokensBucket: string;
  limits: RateLimit;
  tokens: number;
  /** For the reason, e.g. "for agent writer" or "of egress rule 2 for agent writer". */
  scope: string;
  /** The party's buckets in the shared store (fleet-wide limits). */
  shared: SharedKeys;
}

const MINUTE_MS = 60_000;

/** Tokens a call is expected to spend: LLM calls only. */
export function tokenEstimate(call: Call): number {
  if (call.provider === 'mcp' || call.provider === 'unknown') return 0;
  if (/count[-_]tokens$/.test(call.operation)) return 0;
  return estimateTotalTokens(call);
}

/** The limits that apply to an agent: its own entry's numbers, else the policy-wide ones. */
export function agentLimits(spec: RateLimitsSpec, agent: string): RateLimit {
  const entry = spec.agents?.find((a) => a?.name === agent);
  const limits: RateLimit = {};
  const rpm = entry?.requestsPerMinute ?? spec.requestsPerMinute;
  const tpm = entry?.tokensPerMinute ?? spec.tokensPerMinute;
  if (rpm !== undefined) limits.requestsPerMinute = rpm;
  if (tpm !== undefined) limits.tokensPerMinute = tpm;
  return limits;
}

/** The shared state: token buckets by key, and token reservations by call id. */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly reservations = new Map<string, { expires: number; items: Reservation[] }>();
  private readonly ttlMs: number;
  private readonly sweepMs: number;
  private lastSweep = -Infinity;

  constructor(options: RateLimiterOptions = {}) {
    this.ttlMs = options.reservationTtlMs ?? 5 * MINUTE_MS;
    this.sweepMs = options.sweepIntervalMs ?? MINUTE_MS;
  }

  /** The bucket's level at time `t` after refilling, without changing anything. */
  private levelAt(name: string, capacity: number, t: number): number {
    const b = this.buckets.get(name);
    if (!b) return capacity;
    const refill = (Math.max(0, t - b.at) / MINUTE_MS) * capacity;
    return Math.min(capacity, b.level + refill);
  }

  /** Moves a bucket's level by `delta` (after refilling), keeping it within [-capacity, capacity]. */
  private adjust(name: string, capacity: number, t: number, delta: number): void {
    const level = Math.max(-capacity, Math.min(capacity, this.levelAt(name, capacity, t) + delta));
    const b = this.buckets.get(name);
    if (b) {
      b.level = level;
      b.capacity = capacity;
      b.at = t;
    } else this.buckets.set(name, { level, capacity, at: t });
  }

  /** Seconds until `need` fits a bucket of this capacity (0: fits now). */
  private waitFor(name: string, capacity: number, need: number, t: number): number {
    const level = this.levelAt(name, capacity, t);
    const want = Math.min(need, capacity);
    if (level >= want) return 0;
    return ((want - level) / capacity) * 60;
  }

  /** Seconds until the demand fits every limit it is under: 0 when it fits now. Pure. */
  wait(d: Demand, t: number): number {
    let wait = 0;
    const { requestsPerMinute: rpm, tokensPerMinute: tpm } = d.limits;
    if (rpm !== undefined) wait = Math.max(wait, this.waitFor(d.requestsBucket, rpm, 1, t));
    if (tpm !== undefined && d.tokens > 0) wait = Math.max(wait, this.waitFor(d.tokensBucket, tpm, d.tokens, t));
    return wait;
  }

  /** Takes the demand out of its buckets and remembers the token reservation for settle. */
  take(d: Demand, t: number, callId: string, owner: string): void {
    const { requestsPerMinute: rpm, tokensPerMinute: tpm } = d.limits;
    if (rpm !== undefined) this.adjust(d.requestsBucket, rpm, t, -1);
    if (tpm !== undefined && d.tokens > 0) {
      const bucket = d.tokensBucket;
      this.adjust(bucket, tpm, t, -d.tokens);
      const entry = this.reservations.get(callId);
      const item = { owner, bucket, capacity: tpm, tokens: d.tokens };
      if (entry) entry.items.push(item);
      else this.reservations.set(callId, { expires: t + this.ttlMs, items: [item] });
    }
    this.sweep(t);
  }

  /**
   * Replaces the owner's token estimates for this call with what it really used (`used`
   * undefined: keep the estimates). A reservation is settled once; later calls change nothing.
   */
  settle(callId: string, owner: string, used: number | undefined, t: number): void {
    const entry = this.reservations.get(callId);
    if (entry) {
      const mine = entry.items.filter((r) => r.owner === owner);
      entry.items = entry.items.filter((r) => r.owner !== owner);
      if (entry.items.length === 0) this.reservations.delete(callId);
      for (const r of mine) {
        // A policy reload may have changed the limit since: the bucket's capacity is the current one.
        const capacity = this.buckets.get(r.bucket)?.capacity ?? r.capacity;
        const refund = used === undefined ? 0 : r.tokens - used;
        if (refund !== 0) this.adjust(r.bucket, capacity, t, refund);
      }
    }
    this.sweep(t);
  }

  /** Forgets stale reservations and full buckets, at most once per sweep interval. */
  private sweep(t: number): void {
    if (t - this.lastSweep < this.sweepMs) return;
    this.lastSweep = t;
    for (const [id, r] of this.reservations) if (r.expires <= t) this.reservations.delete(id);
    for (const [name, b] of this.buckets) if (this.levelAt(name, b.capacity, t) >= b.capacity) this.buckets.delete(name);
  }

  /** How much state is held: for tests and metrics. */
  size(): { buckets: number; reservations: number } {
    return { buckets: this.buckets.size, reservations: this.reservations.size };
  }
}

/** Tokens a finished call really spent; undefined when unknown but probably spent (keep the estimate). */
function tokensUsed(result: CallResult): number | undefined {
  if (result.usage) return result.usage.inputTokens + result.usage.outputTokens;
  const answered = result.status >= 200 && result.status < 300 && result.failure === undefined;
  return answered ? undefined : 0;
}

function rateLimited(d: Demand, waitSeconds: number, policy: string): Verdict {
  const retryAfterSeconds = Math.max(1, Math.ceil(waitSeconds - 1e-9));
  const parts: string[] = [];
  if (d.limits.requestsPerMinute !== undefined) parts.push(`${d.limits.requestsPerMinute} requests`);
  if (d.limits.tokensPerMinute !== undefined) parts.push(`${d.limits.tokensPerMinute} tokens`);
  return {
    decision: 'rate_limited',
    rule: 'rate_limit',
    policy,
    retryAfterSeconds,
    reason: `rate limit ${d.scope} exceeded (${parts.join(' and ')} per minute); retry in ${retryAfterSeconds} s`,
  };
}

/** failClosed while the shared store cannot answer: refused as unavailable (503), not as over the limit. */
function storeDown(d: Demand, policy: string): Verdict {
  return {
    decision: 'circuit_open',
    rule: 'rate_limit',
    policy,
    retryAfterSeconds: 1,
    reason: `rate limit ${d.scope} cannot be counted: the shared limits store is unavailable (onStoreFailure: failClosed)`,
  };
}

/** One limit family as a Check: how to find a call's demand under a policy, if it is limited. */
function limitCheck(
  limiter: RateLimiter,
  section: 'rateLimits' | 'egress',
  demandOf: (call: Call, policy: GovernancePolicy, ctx: CheckContext) => Demand | undefined,
  shared: SharedLimits | undefined,
  memos: CallMemos<Memo>,
): Check {
  const owner = (policy: GovernancePolicy): string => `${section} ${policyKey(policy)}`;
  const failureMode = (policy: GovernancePolicy) => policy.spec.rateLimits?.onStoreFailure ?? DEFAULT_STORE_FAILURE;
  const failed = (err: Error): void => shared?.onError?.(err);
  /** Moves a call's request and tokens in the store: +1 gives a reservation back (a refused call), -1 charges one the store refused. Best effort: buckets refill anyway. */
  const move = (m: Extract<Memo, { kind: 'taken' }>, sign: 1 | -1): void => {
    if (!shared) return;
    if (m.rpm !== undefined) shared.store.adjust(m.keys.requests, m.rpm, sign).catch(failed);
    if (m.tpm !== undefined && m.tokens > 0) shared.store.adjust(m.keys.tokens, m.tpm, sign * m.tokens).catch(failed);
  };
  const giveBack = (m: Extract<Memo, { kind: 'taken' }>): void => move(m, 1);
  const charge = (m: Extract<Memo, { kind: 'taken' }>): void => move(m, -1);
  // Whether the local buckets count this call: no store, no memo, or the store away under `local`.
  const local = (call: Call, policy: GovernancePolicy): boolean => {
    if (!shared) return true;
    const m = memos.get(call.id, owner(policy));
    return !m || (m.kind === 'unavailable' && failureMode(policy) === 'local');
  };
  return {
    section,
    ...(shared
      ? {
          prepareEveryCall: true,
          async prepareRequest(call: Call, policy: GovernancePolicy): Promise<void> {
            const now = new Date();
            const d = demandOf(call, policy, { now });
            if (!d) return;
            const at = now.getTime();
            const { requestsPerMinute: rpm, tokensPerMinute: tpm } = d.limits;
            if (!shared.store.up) return memos.set(call.id, owner(policy), { kind: 'unavailable', at });
            try {
              const r = await shared.store.reserve(d.shared.requests, d.shared.tokens, rpm, tpm, d.tokens);
              const demand = { keys: d.shared, ...(rpm !== undefined ? { rpm } : {}), ...(tpm !== undefined ? { tpm } : {}), tokens: d.tokens, at };
              memos.set(call.id, owner(policy), r.ok ? { kind: 'taken', ...demand } : { kind: 'refused', waitMs: r.waitMs, ...demand });
            } catch (err) {
              failed(err as Error);
              memos.set(call.id, owner(policy), { kind: 'unavailable', at });
            }
          },
          release(call: Call, policy: GovernancePolicy): void {
            const m = memos.take(call.id, owner(policy));
            if (m?.kind === 'taken') giveBack(m);
          },
        }
      : {}),
    request(call, policy, ctx) {
      const d = demandOf(call, policy, ctx);
      if (!d) return undefined;
      const m = shared ? memos.get(call.id, owner(policy)) : undefined;
      if (m?.kind === 'taken') return undefined;
      if (m?.kind === 'refused') return rateLimited(d, m.waitMs / 1000, policyKey(policy));
      if (m?.kind === 'unavailable') {
        const mode = failureMode(policy);
        if (mode === 'failOpen') return undefined;
        if (mode === 'failClosed') return storeDown(d, policyKey(policy));
      }
      const wait = limiter.wait(d, ctx.now.getTime());
      return wait > 0 ? rateLimited(d, wait, policyKey(policy)) : undefined;
    },
    admit(call, policy, ctx) {
      const m = shared ? memos.get(call.id, owner(policy)) : undefined;
      if (m?.kind === 'refused') {
        // Admitted over the limit (audit mode): charged all the same, as the local buckets are,
        // so that audit shows what enforce would do; settle then corrects the token estimate.
        const taken = { ...m, kind: 'taken' as const };
        charge(taken);
        memos.set(call.id, owner(policy), taken);
        return;
      }
      if (!local(call, policy)) return;
      const d = demandOf(call, policy, ctx);
      if (d) limiter.take(d, ctx.now.getTime(), call.id, owner(policy));
    },
    settle(call, result, policy, ctx) {
      const m = shared ? memos.take(call.id, owner(policy)) : undefined;
      if (m?.kind === 'taken') {
        const used = tokensUsed(result);
        if (m.tpm !== undefined && m.tokens > 0 && used !== undefined && used !== m.tokens) shared!.store.adjust(m.keys.tokens, m.tpm, m.tokens - used).catch(failed);
        return;
      }
      limiter.settle(call.id, owner(policy), tokensUsed(result), ctx.now.getTime());
    },
  };
}

const limited = (l: RateLimit | undefined): l is RateLimit => l?.requestsPerMinute !== undefined || l?.tokensPerMinute !== undefined;

export interface RateLimitChecks {
  /** spec.rateLimits (section 'rateLimits'). */
  rateLimitCheck: Check;
  /** The rateLimit of the egress rule a call matches (section 'egress': off when egress is off). */
  egressRateLimitCheck: Check;
  /** The state both share. */
  limiter: RateLimiter;
}

export interface RateLimitCheckOptions extends RateLimiterOptions {
  /** A shared counter store: the limits hold for the whole fleet (shared-limits.ts). */
  shared?: SharedLimits;
}

/** The two rate-limit checks, sharing one limiter. Create once per sidecar (the state is in here). */
export function createRateLimitChecks(options: RateLimitCheckOptions = {}): RateLimitChecks {
  const limiter = new RateLimiter(options);
  const memos = new CallMemos<Memo>(options.reservationTtlMs, options.sweepIntervalMs);
  const prefix = options.shared?.prefix;

  // Per limited party (a policy's section or egress rule, and an agent) the limits and bucket names
  // never change: they are built once, not per call (a fresh key string would also be hashed anew
  // on every bucket lookup). The owning objects are immutable snapshot parts, hence WeakMaps.
  type Party = Omit<Demand, 'tokens'>;
  const parties = new WeakMap<object, Map<string, Party | null>>();
  const partyOf = (owner: object, agent: string, make: () => Party | null): Party | null => {
    let byAgent = parties.get(owner);
    if (!byAgent) parties.set(owner, (byAgent = new Map()));
    let party = byAgent.get(agent);
    if (party === undefined) {
      party = make();
      if (byAgent.size < 10_000) byAgent.set(agent, party);
    }
    return party;
  };
  const party = (key: string, limits: RateLimit, scope: string, shared: SharedKeys): Party => ({ key, limits, scope, requestsBucket: `${key}#requests`, tokensBucket: `${key}#tokens`, shared });
  // The estimate reads every text of the call: only a party with a tokens limit needs it.
  const demand = (p: Party, call: Call): Demand => ({ ...p, tokens: p.limits.tokensPerMinute !== undefined ? tokenEstimate(call) : 0 });

  const rateLimitCheck = limitCheck(limiter, 'rateLimits', (call, policy) => {
    const spec = policy.spec.rateLimits;
    if (!spec) return undefined;
    const p = partyOf(spec, call.agent, () => {
      const limits = agentLimits(spec, call.agent);
      return limited(limits)
        ? party(`rateLimits\u0000${policyKey(policy)}\u0000${call.agent}`, limits, `for agent ${call.agent}`, sharedKeys(policyKey(policy), 'rateLimits', call.agent, prefix))
        : null;
    });
    return p ? demand(p, call) : undefined;
  }, options.shared, memos);

  const egressRateLimitCheck = limitCheck(limiter, 'egress', (call, policy, ctx) => {
    const spec = policy.spec.egress;
    if (!spec) return undefined;
    const matched = ruleForCall(spec, call, ctx.now);
    if (!matched || matched.rule.action === 'deny' || !limited(matched.rule.rateLimit)) return undefined;
    const { rule, index } = matched;
    // The match is part of the key so that reordered rules on a reload do not share buckets.
    const p = partyOf(rule, call.agent, () =>
      party(
        `egress\u0000${policyKey(policy)}\u0000${index}\u0000${rule.match}\u0000${call.agent}`,
        rule.rateLimit!,
        `of egress rule ${index + 1} for agent ${call.agent}`,
        sharedKeys(policyKey(policy), `egress:${index}:${rule.match}`, call.agent, prefix),
      ),
    );
    return p ? demand(p, call) : undefined;
  }, options.shared, memos);

  return { rateLimitCheck, egressRateLimitCheck, limiter };
}
