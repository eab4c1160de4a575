// The stall probe (issue 15): how long the sidecar's event loop stops while it handles ONE request,
// for requests and answers of growing size (the aim: never over 50 ms).
//   node dist/bench/stall.js [--reps N] [--cold-runs N] [--out DIR] [--only ID,...]
// Writes DIR/stall.md and DIR/stall.json. See bench/README.md ("Stall probe").
//
// Measured from outside: a probe (a worker thread of this process, its own event loop) asks the
// sidecar's admin /healthz every ~2 ms over one keep-alive connection. The admin server runs on the
// sidecar's one event loop, so while the loop is blocked no answer comes: the stall is the longest gap
// between two answers minus the probe's usual gap (the median, ~2 ms sleep plus the round trip).
// Next to it, from inside: nodejs_eventloop_lag_max_seconds scraped right before the request (which
// empties prom-client's histogram) and right after it, minus the histogram's 10 ms sampling interval.
//
// Two parts:
//   cold    a fresh sidecar (the fake upstream of e2e/fake-provider) gets one request of each soak
//           class (bench/soak.ts) in turn: the first of each kind pays for compiling its code path
//   sizes   a warmed-up sidecar in front of a small upstream of this file (`--upstream`, its own
//           process), which reads any body and answers small, or, when told by a request header, a
//           chat completion of N bytes or an SSE stream with one event of N bytes. Request bodies of
//           1, 2, 4 and 10 MiB (many messages, or one huge string; clean, or with an email every KiB
//           for DLP to redact), answers of 1, 2, 4, 8 and 32 MiB, one 8 MiB SSE event, a gzip body
//           of 10 MiB of JSON and a gzip bomb.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import { Client, Pool } from 'undici';
import {
  CLASSES, fmt, LAG_RESOLUTION_MS, machine, makeBodies, median, OthersCpu, productionNodeOptions, scrape, SOAK_POLICY, startStack, verdict,
  type SendContext, type Stack,
} from './soak.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SELF = fileURLToPath(import.meta.url);
const KIB = 1024;
const MIB = 1024 * KIB;
/** The issue's aim: no stall over this long on one request. */
const AIM_MS = 50;
/** The probe sleeps this long between an answer and its next request. */
const PROBE_SLEEP_MS = 2;
/** After the answer has been read, the window stays open this long: work done after the answer (audit, GC) counts too. */
const TAIL_MS = 60;
/** Before each request: this long with nothing to do, then the scrape that empties the lag histogram. */
const QUIET_MS = 200;

function log(msg: string): void {
  process.stderr.write(`[stall ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

// ------------------------------------------------------------------------------ the text of the bodies

/** Prose without anything a DLP detector flags (no digits, no addresses). */
const PROSE =
  'The checkout service talks to the payment gateway through the shared egress proxy. Latency on the cart page rose slightly after the cache warmup job was moved. ' +
  'The runbook says to check the gateway error budget before rolling anything back. Tracing shows the slow requests wait for a free connection. ';
/** What DLP finds and redacts (an email), once per KiB of a dirty text. */
const FINDING = ' write to jane.doe@example.com about it. ';

/** `bytes` of text (ASCII, so bytes = characters); with `dirty`, a finding in every KiB. */
function text(bytes: number, dirty: boolean): string {
  const unit = dirty ? PROSE.repeat(Math.ceil(KIB / PROSE.length)).slice(0, KIB - FINDING.length) + FINDING : PROSE;
  return unit.repeat(Math.ceil(bytes / unit.length)).slice(0, bytes);
}

// --------------------------------------------------------------------------------- the upstream role

/** What the upstream answers, from the request's x-stall-answer header: `json:N`, `json-dirty:N`, `sse:N`, `sse-dirty:N`, or a small answer. */
function answerFor(spec: string | undefined): { contentType: string; body: Buffer } {
  const m = /^(json|sse)(-dirty)?:(\d+)$/.exec(spec ?? '');
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    JSON.stringify({ id: 'chatcmpl-stall', object: 'chat.completion.chunk', created: 0, model: 'gpt-4o-mini', choices: [{ index: 0, delta, finish_reason: finish }] });
  if (!m) return { contentType: 'application/json', body: Buffer.from(completion('Done.')) };
  const [, kind, dirty, n] = m;
  if (kind === 'json') {
    const shell = completion('').length;
    return { contentType: 'application/json', body: Buffer.from(completion(text(Number(n) - shell, !!dirty))) };
  }
  const frames = [`data: ${chunk({ role: 'assistant', content: '' })}\n\n`];
  const shell = `data: ${chunk({ content: '' })}\n\n`.length;
  frames.push(`data: ${chunk({ content: text(Number(n) - shell, !!dirty) })}\n\n`, `data: ${chunk({}, 'stop')}\n\n`, 'data: [DONE]\n\n');
  return { contentType: 'text/event-stream', body: Buffer.from(frames.join('')) };
}

function completion(content: string): string {
  return JSON.stringify({
    id: 'chatcmpl-stall', object: 'chat.completion', created: 0, model: 'gpt-4o-mini',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 10, completion_tokens: Math.max(1, Math.ceil(content.length / 4)), total_tokens: 10 + Math.ceil(content.length / 4) },
  });
}

/** `--upstream`: reads any request body to its end, answers as x-stall-answer says (answers built once per kind). */
function upstreamMain(): void {
  const cache = new Map<string, { contentType: string; body: Buffer }>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.on('data', () => {});
    req.on('end', () => {
      const spec = req.headers['x-stall-answer'] as string | undefined;
      let a = cache.get(spec ?? '');
      if (!a) cache.set(spec ?? '', (a = answerFor(spec)));
      res.writeHead(200, { 'content-type': a.contentType, 'content-length': a.body.length });
      res.end(a.body);
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${port}` }) + '\n');
  });
  process.once('SIGTERM', () => process.exit(0));
}

// ------------------------------------------------------------------------------------ the probe role

type ProbeMessage = { cmd: 'begin' } | { cmd: 'end' } | { cmd: 'stop' };
export interface ProbeWindow {
  /** Longest gap between two /healthz answers in the window (the gap still open at its end included), ms. */
  maxGapMs: number;
  medianGapMs: number;
  answers: number;
  errors: number;
}

/** The probe (a worker thread): /healthz every PROBE_SLEEP_MS over one keep-alive connection, gaps recorded between begin and end. */
function probeMain(adminUrl: string): void {
  const client = new Client(adminUrl, { pipelining: 1, keepAliveTimeout: 600_000, keepAliveMaxTimeout: 600_000 });
  const now = () => Number(process.hrtime.bigint()) / 1e6;
  let last = now();
  let gaps: number[] | undefined;
  let errors = 0;
  let running = true;
  parentPort!.on('message', (m: ProbeMessage) => {
    if (m.cmd === 'begin') (gaps = []), (errors = 0);
    else if (m.cmd === 'end') {
      const g = gaps ?? [];
      const open = now() - last;
      const sorted = [...g].sort((a, b) => a - b);
      const reply: ProbeWindow = { maxGapMs: Math.max(open, sorted[sorted.length - 1] ?? 0), medianGapMs: sorted[Math.floor(sorted.length / 2)] ?? 0, answers: g.length, errors };
      gaps = undefined;
      parentPort!.postMessage(reply);
    } else running = false;
  });
  const loop = async () => {
    while (running) {
      try {
        const res = await client.request({ path: '/healthz', method: 'GET' });
        await res.body.dump();
        const t = now();
        gaps?.push(t - last);
        last = t;
      } catch {
        errors++;
      }
      await new Promise((r) => setTimeout(r, PROBE_SLEEP_MS));
    }
    await client.close();
  };
  void loop();
}

class Probe {
  private readonly worker: Worker;

  constructor(adminUrl: string) {
    this.worker = new Worker(SELF, { workerData: { role: 'probe', adminUrl } });
    this.worker.unref();
  }

  begin(): void {
    this.worker.postMessage({ cmd: 'begin' } satisfies ProbeMessage);
  }

  end(): Promise<ProbeWindow> {
    return new Promise((resolve) => {
      this.worker.once('message', (w: ProbeWindow) => resolve(w));
      this.worker.postMessage({ cmd: 'end' } satisfies ProbeMessage);
    });
  }

  async stop(): Promise<void> {
    this.worker.postMessage({ cmd: 'stop' } satisfies ProbeMessage);
    await new Promise((r) => setTimeout(r, 50));
    await this.worker.terminate();
  }
}

// ---------------------------------------------------------------------------------- the measurement

interface One {
  outcome: string;
  /** From outside: the probe's longest gap minus its median gap, ms. */
  probeStallMs: number;
  probeMaxGapMs: number;
  probeAnswers: number;
  /** From inside: lag max scraped right before (the time before this request) and right after, raw ms. */
  lagBeforeMs?: number;
  lagAfterMs?: number;
  /** lagAfterMs minus the 10 ms sampling interval. */
  metricStallMs?: number;
  /** How long the request took, ms. */
  requestMs: number;
  /** CPU used by other processes (not the sidecar, its upstream or this probe) during the window, cores: a busy machine makes stalls of its own. */
  othersCores?: number;
  /** Earlier attempts thrown away because other processes were busy (--max-others). */
  retries?: number;
}

/** Runs of a size row measured while others used more than `maxOthers` cores are measured again, this many times at most per row, 2 s apart. */
const RETRIES = 5;

/** `measure`, again while the machine was busy with other work (bounded): the row should say what the sidecar does, not what a neighbour did. */
async function measureQuiet(stack: Stack, probe: Probe, send: () => Promise<string>, maxOthers: number, budget: { left: number }): Promise<One> {
  let one = await measure(stack, probe, send);
  for (let i = 1; budget.left > 0 && (one.othersCores ?? 0) > maxOthers; i++, budget.left--) {
    await sleep(2_000);
    one = { ...(await measure(stack, probe, send)), retries: i };
  }
  return one;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One request in a probe window, with a /metrics scrape on each side. */
async function measure(stack: Stack, probe: Probe, send: () => Promise<string>): Promise<One> {
  // Quiet first: work the previous request left behind (a late GC) shows in "lag before", not in this window.
  await sleep(QUIET_MS);
  const before = await scrape(stack.sidecar.adminUrl);
  await sleep(100); // the probe back to its rhythm after the scrape
  const others = new OthersCpu(() => [process.pid, stack.sidecar.pid, stack.fake.pid]);
  others.read();
  probe.begin();
  await sleep(20);
  const t0 = performance.now();
  let outcome: string;
  try {
    outcome = await send();
  } catch (err) {
    const e = err as { code?: string; name?: string };
    outcome = `error ${e.code ?? e.name ?? 'unknown'}`;
  }
  const requestMs = performance.now() - t0;
  await sleep(TAIL_MS);
  const w = await probe.end();
  const othersCores = others.read();
  const after = await scrape(stack.sidecar.adminUrl);
  const one: One = { outcome, probeStallMs: Math.max(0, w.maxGapMs - w.medianGapMs), probeMaxGapMs: w.maxGapMs, probeAnswers: w.answers, requestMs };
  if (othersCores !== undefined) one.othersCores = othersCores;
  // 0: the histogram recorded nothing since the previous scrape (no 10 ms tick fell in between).
  if (before.lagMaxMs) one.lagBeforeMs = before.lagMaxMs;
  if (after.lagMaxMs) (one.lagAfterMs = after.lagMaxMs), (one.metricStallMs = Math.max(0, after.lagMaxMs - LAG_RESOLUTION_MS));
  return one;
}

interface Case {
  id: string;
  what: string;
  expect: string;
  /** Builds the request once (outside the measurement); the returned function sends it. */
  prepare(pool: Pool): () => Promise<string>;
}

const OPENAI_URL = 'http://api.openai.com/v1/chat/completions';
const HEADERS = {
  host: 'api.openai.com', 'content-type': 'application/json', authorization: 'Bearer sk-stall-0000000000000000000000000000000000000000',
  'x-chaperone-agent': 'researcher', 'x-chaperone-session': 'stall',
};

/** Sends through the sidecar (absolute URI: it is the proxy) and reads the whole answer, counting bytes. */
async function post(pool: Pool, body: Buffer | null, headers: Record<string, string> = {}): Promise<string> {
  const res = await pool.request({ path: OPENAI_URL, method: 'POST', headers: { ...HEADERS, ...headers }, body, signal: AbortSignal.timeout(60_000) });
  let bytes = 0;
  for await (const c of res.body) bytes += (c as Buffer).length;
  return `${res.statusCode} (${bytes >= MIB ? `${(bytes / MIB).toFixed(1)} MiB` : `${bytes} B`})`;
}

/** A chat request of about `bytes`: many ~1 KiB messages, or one message holding one huge string. */
function chatBody(bytes: number, shape: 'messages' | 'string', dirty: boolean): Buffer {
  const shell = { model: 'gpt-4o-mini', max_tokens: 100 };
  if (shape === 'string') {
    const overhead = JSON.stringify({ ...shell, messages: [{ role: 'user', content: '' }] }).length;
    return Buffer.from(JSON.stringify({ ...shell, messages: [{ role: 'user', content: text(bytes - overhead, dirty) }] }));
  }
  const piece = text(KIB - 40, dirty);
  const one = JSON.stringify({ role: 'assistant', content: piece }).length + 1;
  const n = Math.floor((bytes - 100) / one);
  // User and assistant turns, ending with the user's: the conversation an agent sends after a long session.
  const messages = Array.from({ length: n }, (_, i) => ({ role: i % 2 === 0 || i === n - 1 ? 'user' : 'assistant', content: piece }));
  const out = Buffer.from(JSON.stringify({ ...shell, messages }));
  if (out.length > bytes) throw new Error(`chatBody: ${out.length} bytes, over ${bytes}`);
  return out;
}

const sizeLabel = (b: number) => (b >= MIB ? `${Math.round(b / MIB)} MiB` : `${Math.round(b / KIB)} KiB`);

/** The size rows. "10 MiB" is just under the 10 MiB --max-body-bytes, "32 MiB" just under --max-response-bytes. */
function sizeCases(): Case[] {
  const cases: Case[] = [
    { id: 'idle', what: 'no request (the probe\'s own noise)', expect: '-', prepare: () => async () => '-' },
    { id: 'small', what: '1 KB request, small answer', expect: '200', prepare: (pool) => ((b) => () => post(pool, b))(chatBody(KIB, 'messages', false)) },
  ];
  for (const shape of ['messages', 'string'] as const) {
    for (const dirty of [false, true]) {
      for (const mib of [1, 2, 4, 10]) {
        const bytes = mib === 10 ? 10 * MIB - 16 * KIB : mib * MIB;
        cases.push({
          id: `req-${shape}-${mib}m${dirty ? '-dlp' : ''}`,
          what: `request ${sizeLabel(bytes)}, ${shape === 'messages' ? 'many 1 KiB messages' : 'one huge string'}${dirty ? ', an email every KiB (redacted)' : ''}`,
          expect: '200',
          prepare: (pool) => ((b) => () => post(pool, b))(chatBody(bytes, shape, dirty)),
        });
      }
    }
  }
  const small = chatBody(KIB, 'messages', false);
  const answers = [['json', 1, false], ['json', 2, false], ['json', 4, false], ['json', 8, false], ['json', 32, false], ['json', 8, true], ['sse', 8, false], ['sse', 8, true]] as const;
  for (const [kind, mib, dirty] of answers) {
    const bytes = kind === 'sse' ? 8 * MIB - 4 * KIB : mib === 32 ? 32 * MIB - 64 * KIB : mib * MIB;
    const spec = `${kind}${dirty ? '-dirty' : ''}:${bytes}`;
    cases.push({
      id: `answer-${kind}-${mib}m${dirty ? '-dlp' : ''}`,
      what: kind === 'json' ? `JSON answer of ${sizeLabel(bytes)}${dirty ? ', an email every KiB (redacted)' : ''}` : `SSE answer with one event of ${sizeLabel(bytes)}${dirty ? ', an email every KiB' : ''}`,
      expect: '200',
      prepare: (pool) => () => post(pool, small, { 'x-stall-answer': spec }),
    });
  }
  const gz = gzipSync(chatBody(10 * MIB - 16 * KIB, 'messages', false));
  cases.push({ id: 'gzip-10m', what: `gzip request body (${sizeLabel(gz.length)}) of 10 MiB JSON`, expect: '200', prepare: (pool) => () => post(pool, gz, { 'content-encoding': 'gzip' }) });
  // Shapes only a hostile agent sends: each step's cost grows with the structure, not the text.
  const numbers = Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], metadata: { n: [] } }).replace('[]', `[${'1234567,'.repeat(1_000_000 - 1)}1234567]`));
  cases.push({ id: 'req-numbers-8m', what: `request ${sizeLabel(numbers.length)}, one array of 1 M numbers (the element bound)`, expect: '200', prepare: (pool) => () => post(pool, numbers) });
  const keys = Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], metadata: Object.fromEntries(Array.from({ length: 700_000 }, (_, i) => [`k${i}`, 1])) }));
  cases.push({ id: 'req-keys-8m', what: `request ${sizeLabel(keys.length)}, one object of 700 K keys (over the 10 000-key bound)`, expect: '400', prepare: (pool) => () => post(pool, keys) });
  const whole = chatBody(10 * MIB - 16 * KIB, 'messages', false);
  const broken = Buffer.concat([whole.subarray(0, whole.length - 3), Buffer.from(',]}')]);
  cases.push({ id: 'req-malformed-10m', what: 'request 10 MiB of messages, broken at its end', expect: '400', prepare: (pool) => () => post(pool, broken) });
  const bomb = gzipSync(Buffer.alloc(11 * MIB));
  cases.push({ id: 'gzip-bomb', what: `gzip bomb: ${sizeLabel(bomb.length)} inflating to 11 MiB`, expect: '413', prepare: (pool) => () => post(pool, bomb, { 'content-encoding': 'gzip' }) });
  return cases;
}

interface Row {
  id: string;
  what: string;
  expect: string;
  runs: One[];
  probeMedianMs?: number;
  probeMaxMs?: number;
  metricMedianMs?: number;
  metricMaxMs?: number;
  pass?: boolean;
}

function row(c: { id: string; what: string; expect: string }, runs: One[]): Row {
  const probe = runs.map((r) => r.probeStallMs);
  const metric = runs.map((r) => r.metricStallMs).filter((v): v is number => v !== undefined);
  const r: Row = { ...c, runs };
  const set = <K extends keyof Row>(k: K, v: Row[K] | undefined) => {
    if (v !== undefined) r[k] = v;
  };
  set('probeMedianMs', median(probe));
  set('probeMaxMs', probe.length ? Math.max(...probe) : undefined);
  set('metricMedianMs', median(metric));
  set('metricMaxMs', metric.length ? Math.max(...metric) : undefined);
  // Judged on the larger of the two views: the probe also sees the admin server's own queueing, the metric only the loop.
  if (c.id !== 'idle') r.pass = Math.max(r.probeMaxMs ?? 0, r.metricMaxMs ?? 0) <= AIM_MS;
  return r;
}

/** Warms the sidecar up (JIT, connections, DLP tables) before the size rows: they measure size, not first use. */
async function warmUp(pool: Pool): Promise<void> {
  const b = chatBody(8 * KIB, 'messages', true);
  for (let i = 0; i < 300; i++) await post(pool, b, i % 3 === 0 ? { 'x-stall-answer': 'json-dirty:16384' } : i % 3 === 1 ? { 'x-stall-answer': 'sse-dirty:16384' } : {});
}

async function sizesPart(tmp: string, reps: number, only: string[] | undefined, maxOthers: number): Promise<Row[]> {
  const cases = sizeCases().filter((c) => !only || only.includes(c.id));
  if (!cases.length) return [];
  const stack = await startStack(join(tmp, 'sizes'), { upstreamArgs: [SELF, '--upstream'] });
  const probe = new Probe(stack.sidecar.adminUrl);
  const pool = new Pool(stack.sidecar.url, { connections: 2 });
  try {
    await warmUp(pool);
    const rows: Row[] = [];
    for (const c of cases) {
      const send = c.prepare(pool);
      const runs: One[] = [];
      const budget = { left: RETRIES };
      for (let i = 0; i < reps; i++) runs.push(await measureQuiet(stack, probe, send, maxOthers, budget));
      const r = row(c, runs);
      log(`${c.id.padEnd(24)} probe stall median ${fmt(r.probeMedianMs)} max ${fmt(r.probeMaxMs)} ms · metric median ${fmt(r.metricMedianMs)} max ${fmt(r.metricMaxMs)} ms · ${runs.map((x) => x.outcome).join(', ')}`);
      rows.push(r);
    }
    return rows;
  } finally {
    await pool.close().catch(() => {});
    await probe.stop();
    await stack.stop();
  }
}

/** The first request of each soak class on fresh sidecars (`runs` of them); the row keeps every run's figure. */
async function coldPart(tmp: string, runs: number, only: string[] | undefined): Promise<Row[]> {
  const classes = CLASSES.filter((k) => !only || only.includes(`cold-${k.id}`));
  if (!classes.length || runs === 0) return [];
  const per = new Map<string, One[]>(classes.map((k) => [k.id, []]));
  const bodies = makeBodies();
  for (let run = 0; run < runs; run++) {
    const stack = await startStack(join(tmp, `cold-${run}`));
    const probe = new Probe(stack.sidecar.adminUrl);
    const proxy = new URL(stack.sidecar.url);
    const pool = new Pool(stack.sidecar.url, { connections: 2 });
    try {
      await sleep(300); // the probe's connection up and steady
      for (const [i, k] of classes.entries()) {
        const c: SendContext = { pool, proxy: { host: proxy.hostname, port: Number(proxy.port) }, bodies, session: 'stall', seq: i, timeoutMs: 30_000 };
        per.get(k.id)!.push(await measure(stack, probe, () => k.send(c)));
      }
    } finally {
      await pool.close().catch(() => {});
      await probe.stop();
      await stack.stop();
    }
    log(`cold run ${run + 1}/${runs}: ${classes.map((k) => `${k.id} ${fmt(per.get(k.id)!.at(-1)!.probeStallMs, 0)}`).join(', ')} ms`);
  }
  return classes.map((k) => row({ id: `cold-${k.id}`, what: `first ${k.what}`, expect: k.expect.join(' or ') }, per.get(k.id)!));
}

// ------------------------------------------------------------------------------------------- report

function table(rows: Row[]): string[] {
  return [
    '| case | what | expected | outcomes | probe stall median ms | probe stall max ms | metric stall median ms | metric stall max ms | lag max before / after ms (raw, max) | request ms (median) | others\' CPU (cores, max) | ≤ 50 ms |',
    '|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map((r) => {
      const outcomes = [...new Set(r.runs.map((x) => x.outcome))].join(', ');
      const maxOf = (xs: Array<number | undefined>) => {
        const v = xs.filter((x): x is number => x !== undefined);
        return v.length ? fmt(Math.max(...v)) : '–';
      };
      const lag = `${maxOf(r.runs.map((x) => x.lagBeforeMs))} / ${maxOf(r.runs.map((x) => x.lagAfterMs))}`;
      const idle = r.id === 'idle';
      return `| ${r.id} | ${r.what} | ${r.expect} | ${outcomes} | ${fmt(r.probeMedianMs)} | ${fmt(r.probeMaxMs)} | ${fmt(r.metricMedianMs)} | ${fmt(r.metricMaxMs)} | ${lag} | ${idle ? '–' : fmt(median(r.runs.map((x) => x.requestMs)))} | ${fmt(Math.max(...r.runs.map((x) => x.othersCores ?? 0)), 2)} | ${idle ? '' : verdict(r.pass)} |`;
    }),
  ];
}

function markdown(rep: { date: string; machine: Record<string, unknown>; reps: number; coldRuns: number; maxOthers: number; sizes: Row[]; cold: Row[] }): string {
  const over = [...rep.sizes, ...rep.cold].filter((r) => r.pass === false);
  return [
    '# Stall probe: the longest event-loop stall while the sidecar handles one request',
    '',
    `${rep.date} · ${String(rep.machine.nproc)} CPUs (${String(rep.machine.cpuModel)}), shared · Node ${String(rep.machine.node)} · commit ${String(rep.machine.commit)} · ` +
      `sidecar NODE_OPTIONS \`${productionNodeOptions()}\`, policy \`${relative(ROOT, SOAK_POLICY)}\` (every check on, DLP redact, answers scanned)`,
    '',
    `Probe stall: the longest gap between two answers of the admin /healthz (asked every ~${PROBE_SLEEP_MS} ms on one keep-alive connection, from a worker thread) ` +
      `while one request is handled (and ${TAIL_MS} ms after its answer), minus the probe's median gap. Metric stall: \`nodejs_eventloop_lag_max_seconds\` scraped right ` +
      `after the request (the scrape right before empties it) minus its ${LAG_RESOLUTION_MS} ms sampling interval. "lag max before / after" are the raw values of those ` +
      `two scrapes: before covers the ${QUIET_MS} ms of quiet ahead of the request (with whatever the previous one left behind, a late GC say), after the request itself; ` +
      `raw values include the ${LAG_RESOLUTION_MS} ms interval, so ~${LAG_RESOLUTION_MS} means no stall ("–": no sample). Each size row: ${rep.reps} runs; the verdict takes the larger of the two maxima. ` +
      `"others' CPU": what processes other than the sidecar, its upstream and the probe used during the window (the machine is shared; when they take the CPUs, waiting for one looks like a stall).`,
    '',
    over.length ? `**Over ${AIM_MS} ms:** ${over.map((r) => `${r.id} (${fmt(Math.max(r.probeMaxMs ?? 0, r.metricMaxMs ?? 0), 0)} ms)`).join(', ')}.` : `Nothing over ${AIM_MS} ms.`,
    '',
    '## Size',
    '',
    `A warmed-up sidecar (300 calls first). Request rows: the upstream answers small; answer rows: a 1 KB request. A run measured while other processes used ` +
      `more than ${rep.maxOthers} core was measured again (up to ${RETRIES} times per row, 2 s apart; ${rep.sizes.reduce((n, r) => n + r.runs.reduce((m, x) => m + (x.retries ?? 0), 0), 0)} ` +
      `runs were), so "others' CPU" above ${rep.maxOthers} means the machine stayed busy through the row's attempts: read that row with care.`,
    '',
    ...table(rep.sizes),
    '',
    `## First call of each kind on a fresh sidecar (${rep.coldRuns} fresh sidecars)`,
    '',
    'The soak\'s traffic classes (bench/soak.ts), one request each, in order, on a sidecar that has served nothing yet: the first pays for compiling its code path ' +
      '(the first class also for everything every call shares).',
    '',
    ...table(rep.cold),
    '',
  ].join('\n');
}

// --------------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      reps: { type: 'string', default: '5' },
      'max-others': { type: 'string', default: '0.3' },
      'cold-runs': { type: 'string', default: '3' },
      out: { type: 'string', default: join(ROOT, 'bench', 'results') },
      only: { type: 'string' },
      upstream: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write('usage: node dist/bench/stall.js [--reps N (5)] [--cold-runs N (3)] [--max-others CORES (0.3)] [--out DIR (bench/results)] [--only ID,...]\n');
    return;
  }
  const reps = Math.max(1, Number(values.reps) || 5);
  const coldRuns = Math.max(0, Number(values['cold-runs']));
  const maxOthers = Number(values['max-others']);
  if (!(maxOthers >= 0)) throw new Error('--max-others: a number of cores ≥ 0');
  const only = values.only?.split(',').map((s) => s.trim());
  const host = machine();
  const started = new Date();
  const tmp = mkdtempSync(join(tmpdir(), 'chaperone-stall-'));
  for (const d of ['sizes', ...Array.from({ length: coldRuns }, (_, i) => `cold-${i}`)]) mkdirSync(join(tmp, d));
  try {
    const sizes = await sizesPart(tmp, reps, only, maxOthers);
    const cold = await coldPart(tmp, coldRuns, only);
    const rep = { date: started.toISOString(), machine: host, reps, coldRuns, maxOthers, sizes, cold };
    mkdirSync(values.out, { recursive: true });
    writeFileSync(join(values.out, 'stall.json'), JSON.stringify(rep, null, 2) + '\n');
    const md = markdown(rep);
    writeFileSync(join(values.out, 'stall.md'), md);
    process.stdout.write(md);
    log(`wrote ${relative(process.cwd(), join(values.out, 'stall.md'))} and stall.json in ${Math.round((Date.now() - started.getTime()) / 1000)} s`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const isEntry = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (!isMainThread && (workerData as { role?: string } | undefined)?.role === 'probe') {
  probeMain((workerData as { adminUrl: string }).adminUrl);
} else if (isEntry && process.argv.includes('--upstream')) {
  upstreamMain();
} else if (isEntry) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`stall: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
