// The policy pipeline: every check of every selected policy looks at the call; the strictest answer
// wins (policy/verdict.ts). Each check belongs to a spec section whose mode (enforce | audit | off,
// else spec.mode: api/policy.ts effectiveMode) the pipeline applies for it, so no check needs to
// know about modes.
//
// A check's life with one call:
//   request()     pure: would this call pass? (reads state, never changes it)
//   admit()       the call was let through: record it (reserve rate-limit tokens)
//   response()    pure: a whole answer came back; may stop it before the agent sees it
//   streamEvent() pure: one event of a streamed answer; may cut the stream
//   settle()      the call is over: learn from it (real token usage, cost, upstream failures)
// request() and admit() run in the same synchronous turn, so N parallel calls cannot all pass a
// limit that only one of them fits.
//
// A large body would hold the event loop while its checks read it. The data path first calls
// prepare() (prepareRequest / prepareResponse): a check whose work grows with the body (DLP) does
// that work there, in slices with `pause()` between them, and keeps the result for request() or
// response() to read: the same result it would compute itself, so the checks stay pure.
//
// A check that must ask something asynchronous before request() (fleet-wide rate limits reserve in
// a shared store: shared-limits.ts) sets `prepareEveryCall`: the data path then runs
// prepareRequest for every call, whatever its size (`preparesEveryCall`), and the check records the
// answer for request() to read. What prepare took is given back by release() when the call is not
// admitted (evaluateRequest calls it on a stop).
import { effectiveMode, type GovernancePolicy, type Mode, type PolicySection } from '../../api/index.js';
import type { Call, ResponseFacts, StreamEvent, Usage } from '../call.js';
import { blocks, combine, type Outcome, type Verdict } from './verdict.js';

export interface CheckContext {
  now: Date;
}

/** What the data path learned once a call was over. */
export interface CallResult {
  /** HTTP status the upstream answered, or 0 when it never did. */
  status: number;
  usage?: Usage;
  /** Cost in USD, when the model's price is known. */
  costUsd?: number;
  /** Why the upstream failed, when it did: connection refused/reset, timeout, or a 5xx. */
  failure?: 'connect' | 'timeout' | 'server_error';
}

export interface Check {
  readonly section: PolicySection;
  request?(call: Call, policy: GovernancePolicy, ctx: CheckContext): Verdict | undefined;
  admit?(call: Call, policy: GovernancePolicy, ctx: CheckContext): void;
  response?(call: Call, facts: ResponseFacts, policy: GovernancePolicy, ctx: CheckContext): Verdict | undefined;
  streamEvent?(call: Call, event: StreamEvent, policy: GovernancePolicy, ctx: CheckContext): Verdict | undefined;
  settle?(call: Call, result: CallResult, policy: GovernancePolicy, ctx: CheckContext): void;
  /** Does ahead, in slices, the work request() would do on this call's body (see above). */
  prepareRequest?(call: Call, policy: GovernancePolicy, pause: Pause): Promise<void>;
  /** prepareRequest must run for every call, not only large ones (it asks an async store). */
  prepareEveryCall?: boolean;
  /** The call was prepared but not admitted (a check stopped it): give back what prepare took. */
  release?(call: Call, policy: GovernancePolicy, ctx: CheckContext): void;
  /** Does ahead, in slices, the work response() would do on this answer. */
  prepareResponse?(call: Call, facts: ResponseFacts, policy: GovernancePolicy, pause: Pause): Promise<void>;
}

/** Lets the event loop run (other connections, health checks) between two slices of one body's work. */
export type Pause = () => Promise<void>;
/** The pause of work too small to share the event loop: none. */
export const noPause: Pause = () => Promise.resolve();

/** Applies the section's mode: audit turns a stop or a rewrite into a note. */
function applyMode(verdict: Verdict | undefined, mode: Mode): Verdict | undefined {
  if (!verdict || verdict.decision === 'allow') return undefined;
  if (mode === 'audit' && verdict.decision !== 'audit') {
    const { rewrites: _r, stripTools: _s, holds: _h, ...rest } = verdict;
    return { ...rest, decision: 'audit' };
  }
  return verdict;
}

/** A check that applies to a policy, with the mode it runs in there. */
interface ActiveCheck {
  check: Check;
  mode: Mode;
}

export class Pipeline {
  /** Per policy (an immutable snapshot object): the checks whose section it has, with their mode. */
  private readonly active = new WeakMap<GovernancePolicy, ActiveCheck[]>();

  /** Some check asks an async store before request(): the data path must prepare every call. */
  readonly preparesEveryCall: boolean;

  constructor(
    private readonly checks: readonly Check[],
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.preparesEveryCall = checks.some((c) => c.prepareEveryCall === true);
  }

  private activeChecks(policy: GovernancePolicy): ActiveCheck[] {
    let list = this.active.get(policy);
    if (!list) {
      list = this.checks.filter((c) => policy.spec[c.section] !== undefined).map((check) => ({ check, mode: effectiveMode(policy.spec, check.section) }));
      this.active.set(policy, list);
    }
    return list;
  }

  /** Evaluates a request and, when it may go on, admits it with every check. */
  evaluateRequest(call: Call, policies: readonly GovernancePolicy[]): Outcome {
    const ctx = { now: this.clock() };
    const outcome = this.collect(policies, (check, policy) => check.request?.(call, policy, ctx));
    if (!blocks(outcome.final.decision)) this.forEach(policies, (check, policy) => check.admit?.(call, policy, ctx));
    else this.forEach(policies, (check, policy) => check.release?.(call, policy, ctx));
    return outcome;
  }

  evaluateResponse(call: Call, facts: ResponseFacts, policies: readonly GovernancePolicy[]): Outcome {
    const ctx = { now: this.clock() };
    return this.collect(policies, (check, policy) => check.response?.(call, facts, policy, ctx));
  }

  evaluateStreamEvent(call: Call, event: StreamEvent, policies: readonly GovernancePolicy[]): Outcome {
    const ctx = { now: this.clock() };
    return this.collect(policies, (check, policy) => check.streamEvent?.(call, event, policy, ctx));
  }

  /**
   * Lets the checks read a large request ahead, in slices (see above); then evaluateRequest. The
   * checks that ask a store (prepareEveryCall) are asked all at once, so a call under several
   * limits and budgets waits for one round trip, not one per check; the slicing ones run in turn.
   */
  async prepareRequest(call: Call, policies: readonly GovernancePolicy[], pause: Pause): Promise<void> {
    const asked: Array<Promise<void>> = [];
    for (const policy of policies) {
      for (const { check, mode } of this.activeChecks(policy)) {
        if (mode === 'off' || !check.prepareRequest) continue;
        if (check.prepareEveryCall) asked.push(check.prepareRequest(call, policy, pause));
        else await check.prepareRequest(call, policy, pause);
      }
    }
    await Promise.all(asked);
  }

  /** Lets the checks read a large answer ahead, in slices; then evaluateResponse. */
  async prepareResponse(call: Call, facts: ResponseFacts, policies: readonly GovernancePolicy[], pause: Pause): Promise<void> {
    for (const policy of policies) {
      for (const { check, mode } of this.activeChecks(policy)) if (mode !== 'off' && check.prepareResponse) await check.prepareResponse(call, facts, policy, pause);
    }
  }

  /** Tells every check how an admitted call ended. */
  settle(call: Call, result: CallResult, policies: readonly GovernancePolicy[]): void {
    const ctx = { now: this.clock() };
    this.forEach(policies, (check, policy) => check.settle?.(call, result, policy, ctx), true);
  }

  /** Whether any check looks at responses, so the data path can skip reading them otherwise. */
  readonly inspectsResponses = (policies: readonly GovernancePolicy[]): boolean =>
    policies.some((p) => this.activeChecks(p).some(({ check, mode }) => (check.response || check.streamEvent) && mode !== 'off'));

  private collect(policies: readonly GovernancePolicy[], run: (check: Check, policy: GovernancePolicy) => Verdict | undefined): Outcome {
    const verdicts: Verdict[] = [];
    for (const policy of policies) {
      for (const { check, mode } of this.activeChecks(policy)) {
        if (mode === 'off') continue;
        const v = applyMode(run(check, policy), mode);
        if (v) verdicts.push(v);
      }
    }
    return combine(verdicts);
  }

  /** Runs a side-effecting step for every active check; `evenWhenOff` for settling state. */
  private forEach(policies: readonly GovernancePolicy[], run: (check: Check, policy: GovernancePolicy) => void, evenWhenOff = false): void {
    for (const policy of policies) {
      for (const { check, mode } of this.activeChecks(policy)) {
        if (evenWhenOff || mode !== 'off') run(check, policy);
      }
    }
  }
}
