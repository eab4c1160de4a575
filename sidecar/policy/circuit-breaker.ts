// circuitBreaker: stop calling an upstream that keeps failing. One breaker per policy, agent and
// upstream host:
//   closed     calls pass; failures (connection errors, timeouts, 5xx) are remembered for windowSeconds
//   open       failureThreshold failures within windowSeconds open it for recoverySeconds: calls get
//              503 circuit_open with Retry-After, without reaching the upstream
//   half-open  after recoverySeconds one trial call goes through (admit() marks it in flight; calls
//              meanwhile get circuit_open with a short Retry-After); its success closes the breaker,
//              its failure opens it for another recoverySeconds
// Outside the trial, calls that were let through anyway (audit/off mode, or sent before the breaker
// opened) still teach it: in half-open with no trial in flight a success closes it and a failure
// re-opens it; while open (before recoverySeconds are over) their outcomes change nothing.
// A trial that never settles stops blocking after TRIAL_LEASE_MS; another trial may then go.
import type { GovernancePolicy } from '../../api/index.js';
import type { Call } from '../call.js';
import type { CallResult, Check, CheckContext } from './pipeline.js';
import type { Verdict } from './verdict.js';

export const DEFAULT_FAILURE_THRESHOLD = 5;
export const DEFAULT_WINDOW_SECONDS = 60;
export const DEFAULT_RECOVERY_SECONDS = 30;
/** How long a trial call may stay in flight before another call may be the trial. */
export const TRIAL_LEASE_MS = 5 * 60 * 1000;
/** Retry-After for calls refused while the trial is in flight (capped by recoverySeconds). */
export const TRIAL_RETRY_SECONDS = 5;
/** A half-open breaker nobody called for this long is forgotten (closed). */
export const STALE_HALF_OPEN_MS = 15 * 60 * 1000;
/** Upper bound on remembered breakers; the least recently used go first. */
export const MAX_BREAKERS = 10_000;
const SWEEP_INTERVAL_MS = 10_000;

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitInfo {
  policy: string;
  agent: string;
  upstream: string;
  state: CircuitState;
  /** Failures within the window (closed breakers). */
  recentFailures: number;
  /** Seconds until a trial may go (open breakers). */
  retryAfterSeconds?: number;
  /** Whether a trial call is in flight (half-open breakers). */
  trialInFlight?: boolean;
}

export interface CircuitBreakerCheck extends Check {
  /** Upstream hosts with a breaker that is open or half-open (not yet closed by a successful call): the chaperone_circuit_open{upstream} gauge. */
  openCircuits(): string[];
  /** Every remembered breaker, for the admin status page. */
  circuitSnapshot(): CircuitInfo[];
}

interface Breaker {
  policy: string;
  agent: string;
  host: string;
  /** Failure times (ms) within the window, at most failureThreshold of them; closed breakers only. */
  failures: number[];
  windowMs: number;
  /** Set while open; once it has passed the breaker is half-open. */
  openUntil?: number;
  /** Why it opened, for the reason shown to the agent. */
  cause?: string;
  trial?: { callId: string; startedMs: number };
  touchedMs: number;
}

const policyKey = (policy: GovernancePolicy): string => `${policy.metadata.namespace ?? 'default'}/${policy.metadata.name}`;
const keyOf = (policy: string, agent: string, host: string): string => `${policy}\u0000${agent}\u0000${host}`;

function settings(policy: GovernancePolicy): { threshold: number; windowMs: number; recoveryMs: number } {
  const spec = policy.spec.circuitBreaker ?? {};
  return {
    threshold: Math.max(1, spec.failureThreshold ?? DEFAULT_FAILURE_THRESHOLD),
    windowMs: Math.max(1, spec.windowSeconds ?? DEFAULT_WINDOW_SECONDS) * 1000,
    recoveryMs: Math.max(1, spec.recoverySeconds ?? DEFAULT_RECOVERY_SECONDS) * 1000,
  };
}

function stateOf(b: Breaker, now: number): CircuitState {
  if (b.openUntil === undefined) return 'closed';
  return now < b.openUntil ? 'open' : 'half_open';
}

const liveTrial = (b: Breaker, now: number): boolean => b.trial !== undefined && now - b.trial.startedMs < TRIAL_LEASE_MS;

export function createCircuitBreakerCheck(clock: () => Date = () => new Date()): CircuitBreakerCheck {
  const breakers = new Map<string, Breaker>();
  let lastSweep = -Infinity;

  const touch = (key: string, b: Breaker, now: number): void => {
    b.touchedMs = now;
    breakers.delete(key);
    breakers.set(key, b);
    while (breakers.size > MAX_BREAKERS) {
      const oldest = breakers.keys().next();
      if (oldest.done) break;
      breakers.delete(oldest.value);
    }
  };

  /** Forgets closed breakers whose failures have left the window, and half-open ones nobody calls. */
  const sweep = (now: number, force = false): void => {
    if (!force && now - lastSweep < SWEEP_INTERVAL_MS) return;
    lastSweep = now;
    for (const [k, b] of breakers) {
      const state = stateOf(b, now);
      if (state === 'closed') {
        b.failures = b.failures.filter((t) => t > now - b.windowMs);
        if (b.failures.length === 0) breakers.delete(k);
      } else if (state === 'half_open' && !liveTrial(b, now) && now - Math.max(b.touchedMs, b.openUntil ?? 0) > STALE_HALF_OPEN_MS) {
        breakers.delete(k);
      }
    }
  };

  const open = (b: Breaker, now: number, recoveryMs: number, cause: string): void => {
    b.openUntil = now + recoveryMs;
    b.cause = cause;
    b.failures = [];
    b.trial = undefined;
  };

  const refuse = (b: Breaker, policy: GovernancePolicy, retryAfterSeconds: number, reason: string): Verdict => ({
    decision: 'circuit_open',
    rule: 'circuit',
    policy: policyKey(policy),
    retryAfterSeconds: Math.max(1, retryAfterSeconds),
    reason,
  });

  return {
    section: 'circuitBreaker',

    request(call: Call, policy: GovernancePolicy, ctx: CheckContext): Verdict | undefined {
      const b = breakers.get(keyOf(policyKey(policy), call.agent, call.host));
      if (!b || b.openUntil === undefined) return undefined;
      const now = ctx.now.getTime();
      if (now < b.openUntil) {
        const retry = Math.ceil((b.openUntil - now) / 1000);
        return refuse(b, policy, retry, `circuit open for upstream ${b.host}: ${b.cause ?? 'it kept failing'}; retry in ${retry}s`);
      }
      if (liveTrial(b, now)) {
        const retry = Math.min(TRIAL_RETRY_SECONDS, settings(policy).recoveryMs / 1000);
        return refuse(b, policy, retry, `circuit half-open for upstream ${b.host}: a trial request is in flight; retry in ${Math.max(1, retry)}s`);
      }
      return undefined; // half-open: this call may be the trial
    },

    admit(call: Call, policy: GovernancePolicy, ctx: CheckContext): void {
      const key = keyOf(policyKey(policy), call.agent, call.host);
      const b = breakers.get(key);
      const now = ctx.now.getTime();
      if (!b || stateOf(b, now) !== 'half_open' || liveTrial(b, now)) return;
      b.trial = { callId: call.id, startedMs: now };
      touch(key, b, now);
    },

    settle(call: Call, result: CallResult, policy: GovernancePolicy, ctx: CheckContext): void {
      const now = ctx.now.getTime();
      sweep(now);
      const pk = policyKey(policy);
      const key = keyOf(pk, call.agent, call.host);
      const failed = result.failure !== undefined;
      const succeeded = !failed && result.status > 0;
      const { threshold, windowMs, recoveryMs } = settings(policy);

      let b = breakers.get(key);
      if (!b) {
        if (!failed) return;
        b = { policy: pk, agent: call.agent, host: call.host, failures: [], windowMs, touchedMs: now };
      }
      b.windowMs = windowMs;
      const isTrial = b.trial?.callId === call.id;
      if (isTrial) b.trial = undefined;

      switch (stateOf(b, now)) {
        case 'open':
          // Stragglers sent before it opened, or let through in audit/off mode: it is open already.
          break;
        case 'half_open':
          if (!isTrial && liveTrial(b, now)) break; // the trial decides
          if (succeeded) {
            breakers.delete(key);
            return;
          }
          if (failed) open(b, now, recoveryMs, isTrial ? 'the trial request failed too' : 'it failed again after recovery');
          break;
        case 'closed':
          if (!failed) break;
          b.failures = b.failures.filter((t) => t > now - windowMs);
          b.failures.push(now);
          if (b.failures.length > threshold) b.failures.splice(0, b.failures.length - threshold);
          if (b.failures.length >= threshold) {
            open(b, now, recoveryMs, `${b.failures.length} failure${b.failures.length === 1 ? '' : 's'} within ${windowMs / 1000}s`);
          }
          break;
      }
      if (b.openUntil === undefined && b.failures.length === 0) {
        breakers.delete(key);
        return;
      }
      touch(key, b, now);
    },

    openCircuits(): string[] {
      const now = clock().getTime();
      sweep(now, true);
      const hosts = new Set<string>();
      for (const b of breakers.values()) if (b.openUntil !== undefined) hosts.add(b.host);
      return [...hosts].sort();
    },

    circuitSnapshot(): CircuitInfo[] {
      const now = clock().getTime();
      sweep(now, true);
      return [...breakers.values()].map((b) => {
        const state = stateOf(b, now);
        const info: CircuitInfo = { policy: b.policy, agent: b.agent, upstream: b.host, state, recentFailures: b.failures.length };
        if (state === 'open') info.retryAfterSeconds = Math.ceil((b.openUntil! - now) / 1000);
        if (state === 'half_open') info.trialInFlight = liveTrial(b, now);
        return info;
      });
    },
  };
}
