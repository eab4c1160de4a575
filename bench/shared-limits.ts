// Fleet-wide rate limits and budgets (issue 17): what the shared counter store adds to a limited
// call, against the in-memory buckets and totals. In process, so only the checks' own cost is
// measured: the pipeline with the two rate-limit checks (and, in the second pair of rows, the budget
// check too), a policy with limits and a day cap high enough that every call passes, and a real
// redis-server on loopback (e2e/harness/redis.ts). With both, a call asks the store twice, at once.
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
import { noPause, Pipeline } from '../sidecar/policy/pipeline.js';
import { createBudgetCheck } from '../sidecar/policy/budget.js';
import { createRateLimitChecks } from '../sidecar/policy/rate-limit.js';
import { StoreSpendLedger } from '../sidecar/shared-limits/spend-ledger.js';
import { SharedLimitStore } from '../sidecar/shared-limits/store.js';

const AIM_MS = 0.3;
const { policy } = validatePolicy({
  apiVersion: 'chaperone.dev/v1alpha1',
  kind: 'GovernancePolicy',
  metadata: { name: 'bench', namespace: 'ns' },
  spec: {
    rateLimits: { requestsPerMinute: 1_000_000_000, tokensPerMinute: 1_000_000_000_000 },
    budget: { maxCostPerAgentPerDayUSD: 1_000_000_000, maxCostPerSessionUSD: 1_000_000_000 },
  },
});
if (!policy) throw new Error('bench policy invalid');
let seq = 0;
const call = (): Call => ({
  id: `b${++seq}`, provider: 'openai', agent: `agent-${seq % 8}`, host: 'api.openai.com', port: 443, method: 'POST', path: '/v1/chat/completions',
  operation: 'chat.completions', toolsDefined: [], toolCalls: [], texts: [{ path: ['m'], text: 'hello '.repeat(50) }], stream: false, maxOutputTokens: 256,
  model: 'gpt-4o-mini', session: `s-${seq % 64}`,
});

async function one(p: Pipeline, shared: boolean): Promise<void> {
  const c = call();
  if (shared) await p.prepareRequest(c, [policy!], noPause);
  const out = p.evaluateRequest(c, [policy!]);
  if (out.final.decision !== 'allow') throw new Error(`unexpected ${out.final.decision}`);
  p.settle(c, { status: 200, usage: { inputTokens: 60, outputTokens: 100 }, costUsd: 0.00007 }, [policy!]);
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
    const rows: Array<[string, Awaited<ReturnType<typeof measure>>]> = [];
    const local = createRateLimitChecks();
    const shared = createRateLimitChecks({ shared: { store } });
    rows.push(['rate limits, local buckets', await measure(new Pipeline([local.rateLimitCheck, local.egressRateLimitCheck]), false)]);
    rows.push(['rate limits, shared store', await measure(new Pipeline([shared.rateLimitCheck, shared.egressRateLimitCheck]), true)]);
    const localBoth = createRateLimitChecks();
    const sharedBoth = createRateLimitChecks({ shared: { store } });
    const ledger = new StoreSpendLedger(store, `bench:${Date.now()}:`);
    rows.push(['rate limits + budget, local', await measure(new Pipeline([localBoth.rateLimitCheck, localBoth.egressRateLimitCheck, createBudgetCheck()]), false)]);
    rows.push(['rate limits + budget, shared store', await measure(new Pipeline([sharedBoth.rateLimitCheck, sharedBoth.egressRateLimitCheck, createBudgetCheck(undefined, { ledger })]), true)]);
    const added = rows[1]![1].p50 - rows[0]![1].p50;
    const addedBoth = rows[3]![1].p50 - rows[2]![1].p50;
    const met = added < AIM_MS && addedBoth < AIM_MS;
    const f = (ms: number) => ms.toFixed(3);
    const md = `# Fleet-wide rate limits and budgets: shared store vs local counters

In process (bench/shared-limits.ts): the pipeline's two rate-limit checks (requestsPerMinute and
tokensPerMinute), then with the budget check too (day and session caps), a real redis-server on
loopback. ${new Date().toISOString()}.

| | p50 ms | p99 ms | decisions/s (64 in flight) |
|---|---|---|---|
${rows.map(([name, r]) => `| ${name} | ${f(r.p50)} | ${f(r.p99)} | ${Math.round(r.perSecond)} |`).join('\n')}

Added p50: rate limits **${f(added)} ms**, rate limits + budget **${f(addedBoth)} ms** (aim < ${AIM_MS} ms): ${met ? 'met' : 'NOT met'}.
`;
    process.stdout.write(md);
    const dir = join(PROJECT_ROOT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'shared-limits.md'), md);
    return met ? 0 : 1;
  } finally {
    await store.close();
    await redis.stop();
  }
}

process.exitCode = await main();
