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
import { policyKey, type GovernancePolicy, type RateLimit, type RateLimitsSpec } from '../../api/index.js';
import type { Call } from '../call.js';
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

/** One limit family as a Check: how to find a call's demand under a policy, if it is limited. */
function limitCheck(
  limiter: RateLimiter,
  section: 'rateLimits' | 'egress',
  demandOf: (call: Call, policy: GovernancePolicy, ctx: CheckContext) => Demand | undefined,
): Check {
  const owner = (policy: GovernancePolicy): string => `${section} ${policyKey(policy)}`;
  return {
    section,
    request(call, policy, ctx) {
      const d = demandOf(call, policy, ctx);
      if (!d) return undefined;
      const wait = limiter.wait(d, ctx.now.getTime());
      return wait > 0 ? rateLimited(d, wait, policyKey(policy)) : undefined;
    },
    admit(call, policy, ctx) {
      const d = demandOf(call, policy, ctx);
      if (d) limiter.take(d, ctx.now.getTime(), call.id, owner(policy));
    },
    settle(call, result, policy, ctx) {
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

/** The two rate-limit checks, sharing one limiter. Create once per sidecar (the state is in here). */
export function createRateLimitChecks(options: RateLimiterOptions = {}): RateLimitChecks {
  const limiter = new RateLimiter(options);

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
  const party = (key: string, limits: RateLimit, scope: string): Party => ({ key, limits, scope, requestsBucket: `${key}#requests`, tokensBucket: `${key}#tokens` });

  const rateLimitCheck = limitCheck(limiter, 'rateLimits', (call, policy) => {
    const spec = policy.spec.rateLimits;
    if (!spec) return undefined;
    const p = partyOf(spec, call.agent, () => {
      const limits = agentLimits(spec, call.agent);
      return limited(limits) ? party(`rateLimits\u0000${policyKey(policy)}\u0000${call.agent}`, limits, `for agent ${call.agent}`) : null;
    });
    return p ? { ...p, tokens: tokenEstimate(call) } : undefined;
  });

  const egressRateLimitCheck = limitCheck(limiter, 'egress', (call, policy, ctx) => {
    const spec = policy.spec.egress;
    if (!spec) return undefined;
    const matched = ruleForCall(spec, call, ctx.now);
    if (!matched || matched.rule.action === 'deny' || !limited(matched.rule.rateLimit)) return undefined;
    const { rule, index } = matched;
    // The match is part of the key so that reordered rules on a reload do not share buckets.
    const p = partyOf(rule, call.agent, () =>
      party(`egress\u0000${policyKey(policy)}\u0000${index}\u0000${rule.match}\u0000${call.agent}`, rule.rateLimit!, `of egress rule ${index + 1} for agent ${call.agent}`),
    );
    return p ? { ...p, tokens: tokenEstimate(call) } : undefined;
  });

  return { rateLimitCheck, egressRateLimitCheck, limiter };
}
