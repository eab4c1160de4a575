import { beforeEach, describe, expect, it } from 'vitest';
import { validatePolicy, type GovernancePolicy } from '../../api/index.js';
import type { Call } from '../call.js';
import { createCircuitBreakerCheck, MAX_BREAKERS, TRIAL_LEASE_MS, type CircuitBreakerCheck } from './circuit-breaker.js';
import { Pipeline, type CallResult } from './pipeline.js';

function policy(name: string, spec: object): GovernancePolicy {
  const { policy, errors } = validatePolicy({ apiVersion: 'chaperone.dev/v1alpha1', kind: 'GovernancePolicy', metadata: { name, namespace: 'ns' }, spec });
  if (!policy) throw new Error(errors.join('; '));
  return policy;
}

let seq = 0;
function call(over: Partial<Call> = {}): Call {
  return {
    id: String(++seq), provider: 'openai', agent: 'writer', host: 'api.openai.com', port: 443, method: 'POST', path: '/v1/chat/completions',
    operation: 'chat.completions', toolsDefined: [], toolCalls: [], texts: [], stream: false,
    ...over,
  };
}

const OK: CallResult = { status: 200 };
const FAILURES: Record<string, CallResult> = {
  server_error: { status: 503, failure: 'server_error' },
  timeout: { status: 0, failure: 'timeout' },
  connect: { status: 0, failure: 'connect' },
};
const FAIL = FAILURES.server_error!;

describe('circuit breaker', () => {
  let t: number;
  let breaker: CircuitBreakerCheck;
  let pipeline: Pipeline;
  const clock = (): Date => new Date(t);
  const advance = (seconds: number): void => {
    t += seconds * 1000;
  };
  /** threshold 3 in 60 s, 30 s recovery. */
  const p3 = policy('p', { circuitBreaker: { failureThreshold: 3, windowSeconds: 60, recoverySeconds: 30 } });

  beforeEach(() => {
    t = Date.parse('2025-06-01T10:00:00Z');
    breaker = createCircuitBreakerCheck(clock);
    pipeline = new Pipeline([breaker], clock);
  });

  /** Asks the pipeline about a call; settles it with `result` when it went through. */
  function send(result: CallResult | undefined, over: Partial<Call> = {}, policies = [p3]) {
    const c = call(over);
    const out = pipeline.evaluateRequest(c, policies).final;
    if (result && out.decision !== 'circuit_open') pipeline.settle(c, result, policies);
    return out;
  }
  const fail = (n: number, over: Partial<Call> = {}, policies = [p3]): void => {
    for (let i = 0; i < n; i++) send(FAIL, over, policies);
  };

  it.each(Object.entries(FAILURES))('opens at the threshold on %s failures', (_kind, result) => {
    send(result);
    send(result);
    expect(send(undefined).decision).toBe('allow');
    send(result);
    const v = send(undefined);
    expect(v).toMatchObject({ decision: 'circuit_open', rule: 'circuit', policy: 'ns/p', retryAfterSeconds: 30 });
    expect(v.reason).toBe('circuit open for upstream api.openai.com: 3 failures within 60s; retry in 30s');
  });

  it('uses the schema defaults: 5 failures in 60 s open it for 30 s', () => {
    const p = [policy('d', { circuitBreaker: {} })];
    fail(4, {}, p);
    expect(send(undefined, {}, p).decision).toBe('allow');
    fail(1, {}, p);
    expect(send(undefined, {}, p)).toMatchObject({ decision: 'circuit_open', retryAfterSeconds: 30 });
  });

  it.each([
    // [seconds between failures, opens?]
    [0, true],
    [29, true], // 3 failures over 58 s
    [30, false], // the first has left the 60 s window when the third comes
    [45, false],
  ])('counts only failures within the window (gap %i s -> open %s)', (gap, opens) => {
    for (let i = 0; i < 3; i++) {
      if (i > 0) advance(gap);
      send(FAIL);
    }
    expect(send(undefined).decision).toBe(opens ? 'circuit_open' : 'allow');
  });

  it('does not count successes or client errors as failures', () => {
    send(FAIL);
    send(FAIL);
    send(OK);
    send({ status: 429 });
    send({ status: 0 }); // client went away: not the upstream's fault
    expect(send(undefined).decision).toBe('allow');
  });

  it('counts Retry-After down while open', () => {
    fail(3);
    advance(12.2);
    expect(send(undefined)).toMatchObject({ decision: 'circuit_open', retryAfterSeconds: 18 });
    advance(17.7);
    expect(send(undefined)).toMatchObject({ decision: 'circuit_open', retryAfterSeconds: 1 });
  });

  it('lets one trial through after recovery and closes on its success', () => {
    fail(3);
    advance(30);
    const trial = call();
    expect(pipeline.evaluateRequest(trial, [p3]).final.decision).toBe('allow');
    // while the trial is in flight, others wait a little
    const waiting = send(undefined);
    expect(waiting).toMatchObject({ decision: 'circuit_open', rule: 'circuit', retryAfterSeconds: 5 });
    expect(waiting.reason).toMatch(/half-open.*trial request is in flight/);
    expect(breaker.circuitSnapshot()).toMatchObject([{ state: 'half_open', trialInFlight: true }]);
    advance(2);
    pipeline.settle(trial, OK, [p3]);
    expect(send(OK).decision).toBe('allow');
    expect(send(OK).decision).toBe('allow');
    expect(breaker.openCircuits()).toEqual([]);
    expect(breaker.circuitSnapshot()).toEqual([]);
    // closed afresh: old failures do not count
    fail(2);
    expect(send(undefined).decision).toBe('allow');
  });

  it('re-opens for another recovery period when the trial fails', () => {
    fail(3);
    advance(31);
    const trial = call();
    expect(pipeline.evaluateRequest(trial, [p3]).final.decision).toBe('allow');
    advance(4);
    pipeline.settle(trial, FAILURES.timeout!, [p3]);
    expect(send(undefined)).toMatchObject({ decision: 'circuit_open', retryAfterSeconds: 30, reason: expect.stringContaining('trial request failed') });
    advance(30);
    expect(send(OK).decision).toBe('allow'); // next trial succeeds
    expect(send(undefined).decision).toBe('allow');
  });

  it('lets a new trial go when the last one never settles', () => {
    fail(3);
    advance(30);
    expect(send(undefined).decision).toBe('allow'); // admitted, never settled
    expect(send(undefined).decision).toBe('circuit_open');
    advance(TRIAL_LEASE_MS / 1000);
    expect(send(OK).decision).toBe('allow');
    expect(breaker.openCircuits()).toEqual([]);
  });

  it('frees the trial slot when the trial ends without an answer either way', () => {
    fail(3);
    advance(30);
    expect(send({ status: 0 }).decision).toBe('allow'); // client cancelled the trial
    expect(send(undefined).decision).toBe('allow'); // the next call is the trial
  });

  it('ignores stragglers that fail while it is open', () => {
    const inflight = [call(), call()];
    for (const c of inflight) pipeline.evaluateRequest(c, [p3]);
    fail(3);
    advance(20);
    for (const c of inflight) pipeline.settle(c, FAIL, [p3]);
    advance(10);
    expect(send(undefined).decision).toBe('allow'); // recovery still counted from the opening
  });

  it('keeps breakers per policy, agent and upstream host', () => {
    fail(3);
    expect(send(undefined).decision).toBe('circuit_open');
    expect(send(undefined, { agent: 'reader' }).decision).toBe('allow');
    expect(send(undefined, { host: 'api.anthropic.com' }).decision).toBe('allow');
    const other = policy('other', { circuitBreaker: { failureThreshold: 3 } });
    expect(send(undefined, {}, [other]).decision).toBe('allow');
    // a call selected by both policies gets the open breaker's answer
    expect(send(undefined, {}, [other, p3])).toMatchObject({ decision: 'circuit_open', policy: 'ns/p' });
    fail(3, { host: 'bedrock-runtime.us-east-1.amazonaws.com', agent: 'reader' });
    expect(breaker.openCircuits()).toEqual(['api.openai.com', 'bedrock-runtime.us-east-1.amazonaws.com']);
    expect(breaker.circuitSnapshot().map((b) => [b.policy, b.agent, b.upstream, b.state])).toEqual([
      ['ns/p', 'writer', 'api.openai.com', 'open'],
      ['ns/p', 'reader', 'bedrock-runtime.us-east-1.amazonaws.com', 'open'],
    ]);
  });

  it('audits instead of refusing in audit mode, and still learns when the section is off', () => {
    const audit = [policy('a', { circuitBreaker: { mode: 'audit', failureThreshold: 2 } })];
    fail(2, {}, audit);
    expect(send(undefined, {}, audit)).toMatchObject({ decision: 'audit', rule: 'circuit' });

    const off = [policy('o', { circuitBreaker: { mode: 'off', failureThreshold: 2, recoverySeconds: 10 } })];
    fail(2, {}, off);
    expect(send(undefined, {}, off).decision).toBe('allow');
    const on = [policy('o', { circuitBreaker: { failureThreshold: 2, recoverySeconds: 10 } })];
    expect(send(undefined, {}, on).decision).toBe('circuit_open');
    // with the section off there is no trial: a success after recovery closes it, a failure re-opens it
    advance(10);
    send(FAIL, {}, off);
    expect(send(undefined, {}, on)).toMatchObject({ decision: 'circuit_open', retryAfterSeconds: 10 });
    advance(10);
    send(OK, {}, off);
    expect(send(undefined, {}, on).decision).toBe('allow');
  });

  it('never changes state in request()', () => {
    fail(3);
    advance(30);
    for (let i = 0; i < 3; i++) expect(breaker.request!(call(), p3, { now: clock() })).toBeUndefined();
  });

  it('forgets closed breakers once their failures leave the window, and bounds the rest', () => {
    send(FAIL);
    expect(breaker.circuitSnapshot()).toMatchObject([{ state: 'closed', recentFailures: 1 }]);
    advance(61);
    expect(breaker.circuitSnapshot()).toEqual([]);
    for (let i = 0; i < MAX_BREAKERS + 10; i++) send(FAIL, { agent: `agent-${i}` });
    expect(breaker.circuitSnapshot()).toHaveLength(MAX_BREAKERS);
  });
});
