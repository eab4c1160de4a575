import { describe, expect, it } from 'vitest';
import type { Call } from '../call.js';
import { Pipeline } from './pipeline.js';
import { agentLimits, createRateLimitChecks, tokenEstimate } from './rate-limit.js';
import { testPolicy } from './testing.js';

const policy = testPolicy;

let seq = 0;
/** An LLM call estimated at `input` (prompt tokens, 4 chars each) + `output` (max tokens). */
function call(extra: Partial<Call> = {}, input = 0, output = 0): Call {
  return {
    id: String(++seq), provider: 'openai', agent: 'a', host: 'api.openai.com', port: 443, method: 'POST', path: '/v1/chat/completions',
    operation: 'chat.completions', toolsDefined: [], toolCalls: [], texts: input > 0 ? [{ path: ['x'], text: 'abcd'.repeat(input) }] : [],
    stream: false, maxOutputTokens: output, ...extra,
  };
}

/** A pipeline with both rate-limit checks and a clock the test moves. */
function setup() {
  const checks = createRateLimitChecks();
  const clock = { ms: Date.parse('2024-01-15T12:00:00Z') };
  const pipeline = new Pipeline([checks.rateLimitCheck, checks.egressRateLimitCheck], () => new Date(clock.ms));
  const advance = (seconds: number): void => {
    clock.ms += seconds * 1000;
  };
  return { pipeline, limiter: checks.limiter, advance };
}

describe('tokenEstimate and agentLimits', () => {
  it('counts tokens for LLM calls only', () => {
    expect(tokenEstimate(call({}, 100, 400))).toBe(500);
    expect(tokenEstimate(call({ maxOutputTokens: undefined }))).toBe(512); // the default output estimate
    expect(tokenEstimate(call({ provider: 'mcp', operation: 'tools/call' }, 100))).toBe(0);
    expect(tokenEstimate(call({ provider: 'unknown', method: 'CONNECT', operation: 'tunnel', path: '' }))).toBe(0);
    expect(tokenEstimate(call({ provider: 'anthropic', operation: 'messages.count_tokens' }, 100))).toBe(0);
  });
  it('lets an agent entry override the policy-wide numbers field by field', () => {
    const spec = { requestsPerMinute: 60, tokensPerMinute: 1000, agents: [{ name: 'writer', requestsPerMinute: 10 }] };
    expect(agentLimits(spec, 'writer')).toEqual({ requestsPerMinute: 10, tokensPerMinute: 1000 });
    expect(agentLimits(spec, 'other')).toEqual({ requestsPerMinute: 60, tokensPerMinute: 1000 });
    expect(agentLimits({}, 'x')).toEqual({});
  });
});

describe('requests per minute', () => {
  it('lets exactly the limit through when 20 calls arrive at once', () => {
    const { pipeline } = setup();
    const p = policy({ rateLimits: { requestsPerMinute: 5 } });
    const decisions = Array.from({ length: 20 }, () => pipeline.evaluateRequest(call(), [p]).final.decision);
    expect(decisions.filter((d) => d === 'allow')).toHaveLength(5);
    expect(decisions.slice(0, 5)).toEqual(Array(5).fill('allow'));
    expect(decisions.slice(5)).toEqual(Array(15).fill('rate_limited'));
  });

  it('says when the next call fits, and refills continuously', () => {
    const { pipeline, advance } = setup();
    const p = policy({ rateLimits: { requestsPerMinute: 5 } });
    for (let i = 0; i < 5; i++) pipeline.evaluateRequest(call(), [p]);
    expect(pipeline.evaluateRequest(call(), [p]).final).toEqual({
      decision: 'rate_limited', rule: 'rate_limit', policy: 'ns/p', retryAfterSeconds: 12,
      reason: 'rate limit for agent a exceeded (5 requests per minute); retry in 12 s',
    });
    advance(5);
    expect(pipeline.evaluateRequest(call(), [p]).final.retryAfterSeconds).toBe(7);
    advance(6.5);
    expect(pipeline.evaluateRequest(call(), [p]).final.retryAfterSeconds).toBe(1); // never below 1
    advance(0.5);
    expect(pipeline.evaluateRequest(call(), [p]).final.decision).toBe('allow');
    expect(pipeline.evaluateRequest(call(), [p]).final.decision).toBe('rate_limited');
    advance(60);
    const burst = Array.from({ length: 7 }, () => pipeline.evaluateRequest(call(), [p]).final.decision);
    expect(burst.filter((d) => d === 'allow')).toHaveLength(5); // capacity is one minute's worth
  });

  it('keeps separate buckets per agent, with per-agent overrides', () => {
    const { pipeline } = setup();
    const p = policy({ rateLimits: { requestsPerMinute: 3, agents: [{ name: 'writer', requestsPerMinute: 1 }] } });
    const count = (agent: string): number =>
      Array.from({ length: 5 }, () => pipeline.evaluateRequest(call({ agent }), [p]).final.decision).filter((d) => d === 'allow').length;
    expect(count('writer')).toBe(1);
    expect(count('reader')).toBe(3);
    expect(count('other')).toBe(3);
  });

  it('keeps separate buckets per policy; a call must fit all of them', () => {
    const { pipeline } = setup();
    const loose = policy({ rateLimits: { requestsPerMinute: 10 } }, 'loose');
    const strict = policy({ rateLimits: { requestsPerMinute: 2 } }, 'strict');
    const outs = Array.from({ length: 4 }, () => pipeline.evaluateRequest(call(), [loose, strict]).final);
    expect(outs.map((o) => o.decision)).toEqual(['allow', 'allow', 'rate_limited', 'rate_limited']);
    expect(outs[2]!.policy).toBe('ns/strict');
    // The loose policy only counted the admitted calls.
    expect(Array.from({ length: 9 }, () => pipeline.evaluateRequest(call(), [loose]).final.decision).filter((d) => d === 'allow')).toHaveLength(8);
  });

  it('only notes an excess in audit mode, and skips a section that is off', () => {
    const { pipeline } = setup();
    const audit = policy({ rateLimits: { requestsPerMinute: 1, mode: 'audit' } });
    expect(pipeline.evaluateRequest(call(), [audit]).final.decision).toBe('allow');
    expect(pipeline.evaluateRequest(call(), [audit]).final).toMatchObject({ decision: 'audit', rule: 'rate_limit' });
    const off = policy({ rateLimits: { requestsPerMinute: 1, mode: 'off' } });
    expect([1, 2, 3].map(() => pipeline.evaluateRequest(call(), [off]).final.decision)).toEqual(['allow', 'allow', 'allow']);
  });
});

describe('tokens per minute', () => {
  const p = policy({ rateLimits: { tokensPerMinute: 1000 } });

  it('reserves the estimate and says when the next one fits', () => {
    const { pipeline } = setup();
    expect(pipeline.evaluateRequest(call({}, 100, 400), [p]).final.decision).toBe('allow'); // 500
    expect(pipeline.evaluateRequest(call({}, 100, 400), [p]).final.decision).toBe('allow'); // 1000
    expect(pipeline.evaluateRequest(call({}, 100, 400), [p]).final).toMatchObject({
      decision: 'rate_limited', retryAfterSeconds: 30, reason: 'rate limit for agent a exceeded (1000 tokens per minute); retry in 30 s',
    });
    expect(pipeline.evaluateRequest(call({}, 0, 100), [p]).final.retryAfterSeconds).toBe(6); // smaller calls fit sooner
  });

  it('refunds the difference when a call used less', () => {
    const { pipeline } = setup();
    const first = call({}, 100, 400);
    pipeline.evaluateRequest(first, [p]);
    pipeline.evaluateRequest(call({}, 100, 400), [p]);
    expect(pipeline.evaluateRequest(call({}, 100, 400), [p]).final.decision).toBe('rate_limited');
    pipeline.settle(first, { status: 200, usage: { inputTokens: 80, outputTokens: 20 } }, [p]); // 100 of 500
    expect(pipeline.evaluateRequest(call({}, 100, 300), [p]).final.decision).toBe('allow'); // 400 fits the refund
    expect(pipeline.evaluateRequest(call({}, 0, 10), [p]).final.decision).toBe('rate_limited');
  });

  it('charges the difference when a call used more, below zero', () => {
    const { pipeline, advance } = setup();
    const big = call({}, 100, 400);
    pipeline.evaluateRequest(big, [p]); // 1000 → 500
    pipeline.settle(big, { status: 200, usage: { inputTokens: 100, outputTokens: 1400 } }, [p]); // 1500 used: 500 → -500
    expect(pipeline.evaluateRequest(call({}, 100, 400), [p]).final.retryAfterSeconds).toBe(60); // from -500 to 500
    advance(59);
    expect(pipeline.evaluateRequest(call({}, 100, 400), [p]).final.decision).toBe('rate_limited');
    advance(1);
    expect(pipeline.evaluateRequest(call({}, 100, 400), [p]).final.decision).toBe('allow');
  });

  it('settles once: a second settle of the same call changes nothing', () => {
    const { pipeline } = setup();
    const c = call({}, 0, 500);
    pipeline.evaluateRequest(c, [p]);
    pipeline.settle(c, { status: 200, usage: { inputTokens: 0, outputTokens: 0 } }, [p]);
    pipeline.settle(c, { status: 200, usage: { inputTokens: 0, outputTokens: 0 } }, [p]);
    const outs = Array.from({ length: 3 }, () => pipeline.evaluateRequest(call({}, 0, 500), [p]).final.decision);
    expect(outs).toEqual(['allow', 'allow', 'rate_limited']);
  });

  it('lets a call larger than the whole limit go when the bucket is full, then makes others wait', () => {
    const { pipeline } = setup();
    expect(pipeline.evaluateRequest(call({}, 0, 5000), [p]).final.decision).toBe('allow');
    // The debt is capped at one minute's worth: the bucket is at -1000, not -4000.
    expect(pipeline.evaluateRequest(call({}, 0, 5000), [p]).final.retryAfterSeconds).toBe(120);
  });

  it('refunds the estimate of a call that got no answer, keeps it for a 2xx without usage', () => {
    const { pipeline } = setup();
    const failed = call({}, 0, 1000);
    pipeline.evaluateRequest(failed, [p]);
    pipeline.settle(failed, { status: 0, failure: 'connect' }, [p]);
    const unreported = call({}, 0, 1000);
    expect(pipeline.evaluateRequest(unreported, [p]).final.decision).toBe('allow');
    pipeline.settle(unreported, { status: 200 }, [p]);
    expect(pipeline.evaluateRequest(call({}, 0, 10), [p]).final.decision).toBe('rate_limited');
  });

  it('does not count tokens of calls that are not LLM calls', () => {
    const { pipeline } = setup();
    const mcp = { provider: 'mcp' as const, operation: 'tools/call' };
    expect(Array.from({ length: 5 }, () => pipeline.evaluateRequest(call(mcp, 10_000, 10_000), [p]).final.decision)).toEqual(Array(5).fill('allow'));
  });
});

describe('egress rule rate limits', () => {
  const spec = {
    egress: {
      defaultAction: 'allow',
      rules: [
        { match: 'api.openai.com/v1/*', action: 'allow', rateLimit: { requestsPerMinute: 2 } },
        { match: 'api.anthropic.com', action: 'log', rateLimit: { tokensPerMinute: 1000 } },
        { match: 'blocked.example.com', action: 'deny', rateLimit: { requestsPerMinute: 1 } },
      ],
    },
  };

  it('limits the calls matching a rule, per agent', () => {
    const { pipeline } = setup();
    const p = policy(spec);
    const outs = Array.from({ length: 3 }, () => pipeline.evaluateRequest(call(), [p]).final);
    expect(outs.map((o) => o.decision)).toEqual(['allow', 'allow', 'rate_limited']);
    expect(outs[2]).toMatchObject({ rule: 'rate_limit', policy: 'ns/p', retryAfterSeconds: 30, reason: 'rate limit of egress rule 1 for agent a exceeded (2 requests per minute); retry in 30 s' });
    expect(pipeline.evaluateRequest(call({ agent: 'b' }), [p]).final.decision).toBe('allow');
    expect(pipeline.evaluateRequest(call({ path: '/v2/x' }), [p]).final.decision).toBe('allow'); // no rule: no limit
  });

  it('applies to log rules, with tokens settled like any other limit', () => {
    const { pipeline } = setup();
    const p = policy(spec);
    const c = call({ provider: 'anthropic', host: 'api.anthropic.com', path: '/v1/messages', operation: 'messages' }, 0, 1000);
    expect(pipeline.evaluateRequest(c, [p]).final.decision).toBe('allow'); // (egressCheck, not here, would note the log rule)
    expect(pipeline.evaluateRequest({ ...c, id: 'next' }, [p]).final.decision).toBe('rate_limited');
    pipeline.settle(c, { status: 200, usage: { inputTokens: 10, outputTokens: 10 } }, [p]);
    expect(pipeline.evaluateRequest({ ...c, id: 'next', maxOutputTokens: 900 }, [p]).final.decision).toBe('allow');
  });

  it('does not count for deny rules, an egress section that is off, or a policy without one', () => {
    const { pipeline } = setup();
    const blocked = call({ host: 'blocked.example.com', path: '/' });
    expect([1, 2].map(() => pipeline.evaluateRequest(blocked, [policy(spec)]).final.decision)).toEqual(['allow', 'allow']);
    const off = policy({ egress: { ...spec.egress, mode: 'off' } });
    expect([1, 2, 3].map(() => pipeline.evaluateRequest(call(), [off]).final.decision)).toEqual(['allow', 'allow', 'allow']);
    expect([1, 2, 3].map(() => pipeline.evaluateRequest(call(), [policy({ rateLimits: {} })]).final.decision)).toEqual(['allow', 'allow', 'allow']);
  });

  it('limits tunnels by host-wide rules', () => {
    const { pipeline } = setup();
    const p = policy({ egress: { rules: [{ match: 'github.com', action: 'allow', rateLimit: { requestsPerMinute: 1 } }] } });
    const tunnel = (): Call => call({ provider: 'unknown', method: 'CONNECT', operation: 'tunnel', host: 'github.com', path: '' });
    expect([1, 2].map(() => pipeline.evaluateRequest(tunnel(), [p]).final.decision)).toEqual(['allow', 'rate_limited']);
  });

  it('counts a call under both the rule and rateLimits, and settles both', () => {
    const { pipeline, limiter } = setup();
    const p = policy({ ...spec, rateLimits: { tokensPerMinute: 2000 } });
    const c = call({ provider: 'anthropic', host: 'api.anthropic.com', path: '/v1/messages', operation: 'messages' }, 0, 600);
    pipeline.evaluateRequest(c, [p]);
    expect(limiter.size().reservations).toBe(1);
    pipeline.settle(c, { status: 200, usage: { inputTokens: 0, outputTokens: 0 } }, [p]);
    expect(limiter.size().reservations).toBe(0);
    const outs = [1, 2].map(() => pipeline.evaluateRequest(call({ provider: 'anthropic', host: 'api.anthropic.com', path: '/v1/messages', operation: 'messages' }, 0, 600), [p]).final.decision);
    expect(outs).toEqual(['allow', 'rate_limited']); // the rule's 1000 binds before rateLimits' 2000
  });
});

describe('bounded state', () => {
  const p = policy({ rateLimits: { requestsPerMinute: 10, tokensPerMinute: 10_000 } });

  it('forgets reservations that are never settled', () => {
    const { pipeline, limiter, advance } = setup();
    for (let i = 0; i < 10; i++) pipeline.evaluateRequest(call({}, 0, 100), [p]); // the client vanishes: no settle
    expect(limiter.size().reservations).toBe(10);
    advance(6 * 60);
    pipeline.evaluateRequest(call({}, 0, 100), [p]);
    expect(limiter.size().reservations).toBe(1);
  });

  it('drops the buckets of agents that went quiet', () => {
    const { pipeline, limiter, advance } = setup();
    for (let i = 0; i < 100; i++) {
      const c = call({ agent: `agent-${i}` }, 0, 100);
      pipeline.evaluateRequest(c, [p]);
      pipeline.settle(c, { status: 200, usage: { inputTokens: 0, outputTokens: 100 } }, [p]);
    }
    expect(limiter.size().buckets).toBe(200); // requests and tokens per agent
    advance(61);
    pipeline.evaluateRequest(call({ agent: 'late' }, 0, 100), [p]);
    expect(limiter.size()).toEqual({ buckets: 2, reservations: 1 });
  });

  it('keeps a bucket that is still refilling', () => {
    const { pipeline, limiter, advance } = setup();
    pipeline.evaluateRequest(call({ agent: 'quiet' }), [p]); // (calls without tokens: one bucket each)
    advance(50);
    for (let i = 0; i < 10; i++) pipeline.evaluateRequest(call({ agent: 'busy' }), [p]);
    expect(limiter.size().buckets).toBe(2); // no sweep before the interval is over
    advance(10);
    pipeline.evaluateRequest(call({ agent: 'new' }), [p]); // sweep: quiet has refilled, busy has not
    expect(limiter.size().buckets).toBe(2);
    expect(pipeline.evaluateRequest(call({ agent: 'busy' }), [p]).final.decision).toBe('allow'); // 10 s of refill: 1.67 requests
    expect(pipeline.evaluateRequest(call({ agent: 'busy' }), [p]).final.decision).toBe('rate_limited');
  });
});
