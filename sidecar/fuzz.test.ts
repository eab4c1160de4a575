// Issue 15 item 6: a generated corpus of more than 10,000 malformed or hostile requests and upstream
// answers (e2e/fuzz/corpus.ts: every adapter, every encoding, path and header tricks, framing
// tricks, truncations) run through ONE live sidecar, with the agent and the upstream both hostile.
// What must hold: no crash (alive, /healthz answering throughout, no "unhandled" log line), no
// unchecked forward (the upstream never receives the forbidden tool or a planted secret, and what
// it receives is the UTF-8 JSON the sidecar checked), no forbidden tool call, secret or forged
// X-Chaperone-* header reaching the agent, an answer or a clean close for every case, no 5xx of the
// sidecar's own but 502/503/504 (for a hostile upstream) in the provider's shape, bounded memory.
//
// Quiet when it passes. On failure each assertion prints its problems grouped, with a few case ids
// and descriptions (never bodies). To look closer:
//   CHAPERONE_FUZZ_REPORT=/tmp/fuzz.json   writes the run's figures and every violation there;
//   CHAPERONE_FUZZ_CASES=r00020,a02129     runs those cases only (the count assertions then fail),
//                                          with their answers (heads, first bytes) in the report.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnswerRecipe } from '../e2e/fuzz/answers.js';
import { FuzzClient, type Outcome } from '../e2e/fuzz/client.js';
import { caseId, corpusPlan, materialise, specAdapter, type CaseSpec, type FuzzCase } from '../e2e/fuzz/corpus.js';
import { startHostileUpstream, type HostileUpstream } from '../e2e/fuzz/hostile-upstream.js';
import { cpuOf, SidecarMonitor } from '../e2e/fuzz/monitor.js';
import { answerViolations } from '../e2e/fuzz/oracle.js';
import { ADAPTERS, HOSTS } from '../e2e/fuzz/payloads.js';
import { request } from '../e2e/fuzz/request-wire.js';
import { spawnSidecar, type SidecarProcess } from '../e2e/harness/sidecar-process.js';
import { createWorld, writePolicy, type World } from '../e2e/harness/world.js';
import { imageEnv } from '../lib/image-env.js';

const MIN_CASES = 10_000;
const CONCURRENCY = 24;
/** Longest any case may take: the slowest wait on the sidecar's 5 s client or 8 s upstream timeout. */
const CASE_TIMEOUT_MS = 30_000;
/** The memory limit the webhook injects for the sidecar container (webhook/settings.ts). */
const MEMORY_LIMIT = 256 * 2 ** 20;
/**
 * How far the settled RSS at the end may stand above the RSS after warm-up. Measured without a
 * leak: +20..+65 MiB (glibc keeps freed multi-MiB buffers; a 24,000-case run levels off), so a leak
 * of more than ~6 KiB per call over the ~10,000 calls after warm-up fails it.
 */
const DRIFT_BOUND = 64 * 2 ** 20;
/** The first round of every family (all the multi-MiB cases) has run by then. */
const WARM_UP_CASES = 2_000;
const REPORT = process.env.CHAPERONE_FUZZ_REPORT;
const ONLY = new Set((process.env.CHAPERONE_FUZZ_CASES ?? '').split(',').filter(Boolean));

/** Every agent is forbidden delete_database (one without an entry may use no tool at all); DLP blocks SSNs and cards both ways. */
const POLICY = `apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: fuzz, namespace: agents, generation: 1}
spec:
  mode: enforce
  intercept: {hosts: [mcp.tools.example.com]}
  tools:
    defaultAction: deny
    stripForbidden: true
    agents:
      - {name: fuzzer, forbidden: [delete_database]}
      - {name: unknown, forbidden: [delete_database]}
      - {name: admin, forbidden: [delete_database]}
  dlp: {mode: enforce, sensitivity: high, detectors: [ssn, credit_card], scanResponses: true}
`;

interface Violation {
  id: string;
  description: string;
  problem: string;
}

let world: World;
let upstream: HostileUpstream;
let sidecar: SidecarProcess;
let client: FuzzClient;
let monitor: SidecarMonitor;
/** The hostile answer each running answer case asked for, by case id (the upstream looks it up). */
const recipes = new Map<string, AnswerRecipe>();

/** What the run saw, read by the assertions below. */
const run = {
  plan: [] as CaseSpec[],
  cases: 0,
  byFamily: {} as Record<string, number>,
  byAdapter: {} as Record<string, number>,
  statuses: {} as Record<string, number>,
  /** Request cases run again after the upstream closed their pooled connection under them (see runCase). */
  retried: 0,
  outcomes: { answered: 0, closedWithoutAnswer: 0, timedOut: 0 },
  violations: { delivery: [] as Violation[], answers: [] as Violation[], statuses: [] as Violation[] },
  durationMs: 0,
  /** For the written report only: every case's statuses, and the replayed cases' answers. */
  results: [] as Array<[string, string, string]>,
  replayed: [] as unknown[],
};

const count = (into: Record<string, number>, key: string): void => {
  into[key] = (into[key] ?? 0) + 1;
};

/** Violations grouped by problem: each with its count and a few cases (id and description, never a body). */
function summarise(list: Violation[]): string[] {
  const groups = new Map<string, Violation[]>();
  for (const v of list) groups.set(v.problem, [...(groups.get(v.problem) ?? []), v]);
  return [...groups.entries()]
    .sort((a, b) => b[1].length - a[1].length)
    .map(([problem, vs]) => `${problem}: ${vs.length} case(s), e.g. ${vs.slice(0, 3).map((v) => `${v.id} [${v.description}]`).join('; ')}`);
}

/** The upstream's findings, named by the case that caused them. */
function upstreamViolations(): Violation[] {
  return upstream.violations.map((v) => {
    const spec = run.plan[Number(v.caseId.slice(1))];
    return { id: v.caseId, description: spec && caseId(spec) === v.caseId ? materialise(spec).description : 'not a corpus case', problem: v.problem };
  });
}

beforeAll(async () => {
  world = await createWorld();
  upstream = await startHostileUpstream({ tls: world.upstreamTls, answerFor: (id) => recipes.get(id) });
  const resolve = [...new Set(Object.values(HOSTS))].flatMap((h) => ['--resolve', `${h}=127.0.0.1:${upstream.tlsPort}`, '--resolve', `${h}:80=127.0.0.1:${upstream.plainPort}`]);
  sidecar = await spawnSidecar(
    [
      ...['--policy', await writePolicy(world.dir, 'fuzz', POLICY), '--ca-dir', world.caDir, '--upstream-ca', world.upstreamCaFile, ...resolve],
      // Truncated and stalled bodies are given up on in seconds, not a minute; so are stalled upstreams.
      ...['--client-timeout-ms', '5000', '--upstream-timeout-ms', '8000'],
    ],
    // As in the image (read from the Dockerfile): a small young generation and a bounded old one keep
    // the RSS near the live heap, and two malloc arenas keep memory freed after large bodies from
    // staying resident in many.
    imageEnv(),
  );
  client = new FuzzClient({ proxyPort: Number(new URL(sidecar.proxyUrl).port), caCert: readFileSync(world.caCertFile, 'utf8') });
  monitor = new SidecarMonitor(sidecar.proc.pid!, sidecar.adminUrl, REPORT !== undefined);
}, 60_000);

afterAll(async () => {
  client?.close();
  await sidecar?.stop();
  await upstream?.close();
  await world?.close();
});

/** Checks one case's outcome against the corpus-wide rules and its own expectation. */
function judge(c: FuzzCase, outcome: Outcome): void {
  const note = (kind: keyof typeof run.violations, problem: string): void => void run.violations[kind].push({ id: c.id, description: c.description, problem });
  if (outcome.timedOut) note('delivery', `neither an answer nor a close within ${CASE_TIMEOUT_MS / 1000} s`);
  // Connect tricks are refused while the connection is set up; any other case must get through.
  if (outcome.error && !c.tags.trick?.startsWith('connect-')) note('delivery', `the case never reached the sidecar: ${outcome.error}`);
  if (outcome.answers.length > 0) run.outcomes.answered++;
  else if (outcome.timedOut) run.outcomes.timedOut++;
  else run.outcomes.closedWithoutAnswer++;
  for (const a of outcome.answers) {
    count(run.statuses, a.status >= 100 && a.status <= 599 ? `${Math.floor(a.status / 100)}xx` : 'invalid');
    // Only an answer case's upstream is hostile: elsewhere a 502/503/504 of the sidecar's own is its fault.
    for (const problem of answerViolations(a, c.wire.host, c.family === 'answer')) note(/status|sidecar answered|shape/.test(problem) ? 'statuses' : 'answers', problem);
    if (c.expect === 'no-continue' && a.interim.includes(100)) note('answers', 'a body declared over the limit was invited with 100 Continue');
  }
}

/** Runs one case: its answer recipe registered while it runs, its outcome judged. */
async function runCase(c: FuzzCase): Promise<void> {
  count(run.byFamily, c.family);
  count(run.byAdapter, c.adapter);
  if (c.answer) recipes.set(c.id, c.answer);
  monitor.inFlight.set(c.id, c.description);
  let outcome = await client.run(c.wire, CASE_TIMEOUT_MS);
  // Answer cases share the upstream's keep-alive connections with the rest, and some of them reset
  // their connection: a request case sent upstream on one just then gets the sidecar's 502 naming the
  // closed connection (the upstream's failure, as it would be without the sidecar). Run it once more.
  if (c.family !== 'answer' && outcome.answers.some((a) => a.status === 502 && /unreachable: .*(other side closed|socket|ECONNRESET)/i.test(a.body.toString('latin1')))) {
    run.retried++;
    outcome = await client.run(c.wire, CASE_TIMEOUT_MS);
  }
  monitor.inFlight.delete(c.id);
  recipes.delete(c.id);
  judge(c, outcome);
  if (REPORT) run.results.push([c.id, c.description, outcome.answers.map((a) => a.status).join(',')]);
  if (ONLY.size > 0) run.replayed.push({ id: c.id, answers: outcome.answers.map((a) => ({ status: a.status, headers: a.headers, body: a.body.toString('latin1', 0, 1500) })) });
}

/** The whole plan, CONCURRENCY cases at a time. */
async function runPlan(plan: CaseSpec[]): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < plan.length) {
      await runCase(materialise(plan[next++]!));
      monitor.done = ++run.cases;
      if (run.cases === WARM_UP_CASES) await monitor.warmedUp();
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

async function writeReport(): Promise<void> {
  const upstreamFound = upstreamViolations();
  const all = [...run.violations.delivery, ...run.violations.answers, ...run.violations.statuses, ...upstreamFound];
  const { plan: _plan, violations: _violations, ...figures } = run;
  const summary = { delivery: summarise(run.violations.delivery), answers: summarise(run.violations.answers), statuses: summarise(run.violations.statuses), upstream: summarise(upstreamFound) };
  const forwarded = [...upstream.receivedByCase.keys()].filter((id) => !id.startsWith('a')).length;
  const cpuSeconds = { sidecar: cpuOf(sidecar.proc.pid!), test: Math.round(process.cpuUsage().user / 1e4) / 100 };
  await writeFile(REPORT!, JSON.stringify({ ...figures, rss: monitor.rss, health: monitor.health, memory: monitor.detail, forwarded, cpuSeconds, summary, all }, null, 1));
}

describe('the fuzz corpus through one live sidecar', () => {
  it(`has at least ${MIN_CASES.toLocaleString('en')} cases, from every family and adapter`, () => {
    run.plan = corpusPlan();
    expect(run.plan.length).toBeGreaterThanOrEqual(MIN_CASES);
    expect([...new Set(run.plan.map((s) => s.family))].sort()).toEqual(['answer', 'framing', 'request']);
    for (const family of ['request', 'answer'] as const) {
      const adapters = new Set(run.plan.filter((s) => s.family === family).map(specAdapter));
      expect([...adapters].sort(), family).toEqual([...ADAPTERS].sort());
    }
  });

  it('the oracles see what they look for (positive controls, straight at the hostile upstream)', async () => {
    // What an upstream receives: a forbidden call and a planted SSN, UTF-16, sent around the sidecar.
    const direct = new FuzzClient({ proxyPort: upstream.plainPort, caCert: '' });
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'delete_database', arguments: { q: '123-45-6789' } } });
    const hostile = request('POST', '/mcp', [['Host', HOSTS.mcp], ['X-Fuzz-Case', 'control-request']], { body: Buffer.from(body, 'utf16le'), headers: [['Content-Type', 'application/json']] }, () => 0);
    await direct.run({ entry: 'forward-http', host: HOSTS.mcp, pieces: [hostile], after: 'read', answers: 1, fresh: true }, 5_000);
    const caught = upstream.violations.map((v) => v.problem);
    expect(caught).toEqual(expect.arrayContaining([expect.stringMatching(/not JSON/), expect.stringMatching(/delete_database/), expect.stringMatching(/planted secret ssn/)]));
    upstream.violations.splice(0);
    upstream.receivedByCase.clear();

    // What an agent receives: a streamed forbidden call with its name in pieces, forged headers, a gzipped secret.
    const controls: Array<[string, AnswerRecipe, RegExp]> = [
      ['control-split', { format: 'chat-sse', wrapper: 'split-name', threat: 'tool', tool: 'delete_database', secret: '', seed: 1 }, /name in pieces/],
      ['control-forged', { format: 'chat-json', wrapper: 'forged-headers', threat: 'none', tool: 'delete_database', secret: '', seed: 1 }, /forged/],
      ['control-secret', { format: 'anthropic-json', wrapper: 'gzip', threat: 'secret', tool: 'delete_database', secret: '4111\u200b-1111-1111-1111', seed: 1 }, /planted secret card/],
    ];
    for (const [id, recipe, expected] of controls) {
      recipes.set(id, recipe);
      const ask = request('POST', '/v1/chat/completions', [['Host', 'api.openai.com'], ['X-Fuzz-Case', id]], { body: Buffer.from('{}'), headers: [] }, () => 0);
      const outcome = await direct.run({ entry: 'forward-http', host: 'api.openai.com', pieces: [ask], after: 'read', answers: 1, fresh: true }, 5_000);
      expect(answerViolations(outcome.answers[0]!, 'api.openai.com', true).join('\n'), id).toMatch(expected);
      recipes.delete(id);
    }
    direct.close();
    expect(upstream.violations).toEqual([]);
  });

  it('runs every case through the sidecar', async () => {
    const all = run.plan.length > 0 ? run.plan : corpusPlan();
    const plan = ONLY.size > 0 ? all.filter((s) => ONLY.has(caseId(s))) : all;
    const started = Date.now();
    monitor.start();
    try {
      await runPlan(plan);
    } finally {
      run.durationMs = Date.now() - started;
      await monitor.stop();
    }
    if (REPORT) await writeReport();
    expect(run.cases).toBe(plan.length);
  }, 240_000);

  it(`ran at least ${MIN_CASES.toLocaleString('en')} cases`, () => {
    expect(run.cases).toBeGreaterThanOrEqual(MIN_CASES);
  });

  it('zero crashes: the sidecar is alive, /healthz answered 200 throughout, no unhandled error was logged', () => {
    expect(sidecar.proc.exitCode, sidecar.stderr().slice(-2_000)).toBeNull();
    expect(sidecar.proc.signalCode).toBeNull();
    expect(monitor.health.probes).toBeGreaterThan(10);
    expect(monitor.health.failures.slice(0, 10)).toEqual([]);
    const unhandled = sidecar.lines.filter((l) => /unhandled|uncaught/i.test(l.msg) || l.level === 'fatal').map((l) => `${l.msg}: ${String(l.err ?? '').slice(0, 200)}`);
    expect(unhandled.slice(0, 10)).toEqual([]);
    expect(sidecar.stderr()).not.toMatch(/unhandled|uncaught|FATAL ERROR/i);
  });

  it('zero unchecked forwards: nothing forbidden reached the upstream, and what did is the UTF-8 JSON that was checked', () => {
    expect(summarise(upstreamViolations())).toEqual([]);
  });

  it('the agent never received a forbidden tool call, a planted secret or a forged X-Chaperone-* header', () => {
    expect(summarise(run.violations.answers)).toEqual([]);
  });

  it('every case got an HTTP answer or a clean close; valid statuses; no 5xx of the sidecar own but 502/503/504 for a hostile upstream, in the provider shape', () => {
    expect(summarise(run.violations.delivery)).toEqual([]);
    expect(summarise(run.violations.statuses)).toEqual([]);
    expect(run.statuses.invalid ?? 0).toBe(0);
    // A retry is for a race with a reset connection, never the rule.
    expect(run.retried).toBeLessThan(run.cases / 200);
  });

  it(`bounded memory: peak RSS under ${MEMORY_LIMIT / 2 ** 20} MiB, the settled end within ${DRIFT_BOUND / 2 ** 20} MiB of the RSS after warm-up`, () => {
    expect(monitor.rss.samples).toBeGreaterThan(10);
    expect(monitor.rss.afterWarmUp).toBeGreaterThan(0);
    expect(monitor.rss.peak).toBeLessThan(MEMORY_LIMIT);
    expect(monitor.rss.end - monitor.rss.afterWarmUp).toBeLessThan(DRIFT_BOUND);
  });
});
