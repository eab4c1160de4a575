// Fleet-wide rate limits (issue 17): what the shared counter store adds to a limited call, against
// the in-memory buckets. In process, so only the limiter's own cost is measured: the pipeline with
// the two rate-limit checks, a policy with requestsPerMinute and tokensPerMinute high enough that
// every call passes, and a real redis-server on loopback (e2e/harness/redis.ts).
//   - p50/p99 of one call's decision, one call at a time: local = evaluateRequest + settle (sync);
//     shared = await prepareRequest (the reservation round trip) + evaluateRequest + settle.
//   - saturation: decisions per second with 64 calls in flight for 3 s.
// Aim: added p50 < 0.3 ms. Writes bench/results/shared-limits.md.
//   make build && node dist/bench/shared-limits.js
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startRedis } from '../e2e/harness/redis.js';
import { PROJECT_ROOT } from '../lib/project.js';
import { validatePolicy } from '../api/index.js';
import type { Call } from '../sidecar/call.js';
import { Pipeline } from '../sidecar/policy/pipeline.js';
import { createRateLimitChecks } from '../sidecar/policy/rate-limit.js';
import { SharedLimitStore } from '../sidecar/shared-limits/store.js';

const AIM_MS = 0.3;
const noPause = (): Promise<void> => Promise.resolve();
const { policy } = validatePolicy({
  apiVersion: 'chaperone.dev/v1alpha1',
  kind: 'GovernancePolicy',
  metadata: { name: 'bench', namespace: 'ns' },
  spec: { rateLimits: { requestsPerMinute: 1_000_000_000, tokensPerMinute: 1_000_000_000_000 } },
});
if (!policy) throw new Error('bench policy invalid');
let seq = 0;
const call = (): Call => ({
  id: `b${++seq}`, provider: 'openai', agent: `agent-${seq % 8}`, host: 'api.openai.com', port: 443, method: 'POST', path: '/v1/chat/completions',
  operation: 'chat.completions', toolsDefined: [], toolCalls: [], texts: [{ path: ['m'], text: 'hello '.repeat(50) }], stream: false, maxOutputTokens: 256,
});

async function one(p: Pipeline, shared: boolean): Promise<void> {
  const c = call();
  if (shared) await p.prepareRequest(c, [policy!], noPause);
  const out = p.evaluateRequest(c, [policy!]);
  if (out.final.decision !== 'allow') throw new Error(`unexpected ${out.final.decision}`);
  p.settle(c, { status: 200, usage: { inputTokens: 60, outputTokens: 100 } }, [policy!]);
}

const pct = (xs: number[], q: number): number => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

async function measure(p: Pipeline, shared: boolean): Promise<{ p50: number; p99: number; perSecond: number }> {
  for (let i = 0; i < 2000; i++) await one(p, shared); // warm-up (JIT, connection)
  const times: number[] = [];
  for (let i = 0; i < 10_000; i++) {
    const t = performance.now();
    await one(p, shared);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  let done = 0;
  const end = performance.now() + 3000;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (performance.now() < end) {
      await one(p, shared);
      done++;
    }
  }));
  return { p50: pct(times, 0.5), p99: pct(times, 0.99), perSecond: done / 3 };
}

async function main(): Promise<number> {
  const redis = await startRedis();
  const store = new SharedLimitStore({ url: redis.url });
  store.start();
  for (let i = 0; i < 200 && !store.up; i++) await new Promise((r) => setTimeout(r, 25));
  try {
    const local = createRateLimitChecks();
    const shared = createRateLimitChecks({ shared: { store } });
    const l = await measure(new Pipeline([local.rateLimitCheck, local.egressRateLimitCheck]), false);
    const s = await measure(new Pipeline([shared.rateLimitCheck, shared.egressRateLimitCheck]), true);
    const added = s.p50 - l.p50;
    const f = (ms: number) => ms.toFixed(3);
    const md = `# Fleet-wide rate limits: shared store vs local buckets

In process (bench/shared-limits.ts): the pipeline's two rate-limit checks, requestsPerMinute and
tokensPerMinute, a real redis-server on loopback. ${new Date().toISOString()}.

| | p50 ms | p99 ms | decisions/s (64 in flight) |
|---|---|---|---|
| local buckets | ${f(l.p50)} | ${f(l.p99)} | ${Math.round(l.perSecond)} |
| shared store | ${f(s.p50)} | ${f(s.p99)} | ${Math.round(s.perSecond)} |

Added p50: **${f(added)} ms** (aim < ${AIM_MS} ms): ${added < AIM_MS ? 'met' : 'NOT met'}.
`;
    process.stdout.write(md);
    const dir = join(PROJECT_ROOT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'shared-limits.md'), md);
    return added < AIM_MS ? 0 : 1;
  } finally {
    await store.close();
    await redis.stop();
  }
}

process.exitCode = await main();
