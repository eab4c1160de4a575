// The soak benchmark (issue 15): one sidecar with every check on (bench/policies/soak.yaml) under a
// fixed-rate, open-loop mix of good and bad traffic for a long time, watched from outside: its
// resident set (VmRSS) and its event-loop delay (prom-client's nodejs_eventloop_lag_max_seconds on
// the admin port) every few seconds. Aims: RSS at the end within 10% of its value after warm-up,
// no event-loop stall over 50 ms, at least 98% of the target rate achieved, no unexpected status.
//   node dist/bench/soak.js [--minutes N] [--rate R] [--warmup-s S] [--sample-s S] [--out DIR]
// Writes DIR/soak.md and DIR/soak.json. Exits non-zero only when the run itself breaks (a process
// dies, the driver fails); a missed aim is reported as MISS. See bench/README.md.
//
// Three processes besides this one: the fake upstream (bench/fake-upstream.js), the sidecar
// (dist/bin/chaperone.js sidecar, with the production image's NODE_OPTIONS) and the load driver
// (this file again, `--driver`, forked), so the driver's own work never shares an event loop with
// the sampling, and a stall in the sampler cannot be mistaken for one in the sidecar.
import { fork, execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { Pool } from 'undici';
import { cpuSeconds, setClockTicks, startSidecar, startUrlServer, type Server } from './procs.js';
import { requestBody, TARGETS, type Work } from './work.js';
import { imageEnv, imageNodeOptions } from '../lib/image-env.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DIST = join(ROOT, 'dist');
const CHAPERONE = join(DIST, 'bin', 'chaperone.js');
export const SOAK_POLICY = join(ROOT, 'bench', 'policies', 'soak.yaml');
/** Hosts the soak names; --resolve sends every one of them to the fake upstream. */
export const SOAK_HOSTS = ['api.openai.com', 'api.anthropic.com', 'mcp.soak.example.com', 'pastebin.com'];
const MIB = 1024 * 1024;
/** The sidecar's default --max-body-bytes (sidecar/main.ts): the over-limit classes go just past it. */
const MAX_BODY_BYTES = 10 * MIB;
/** monitorEventLoopDelay's sampling interval as prom-client sets it: every recorded delay includes it. */
export const LAG_RESOLUTION_MS = 10;

function log(msg: string): void {
  process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

// ------------------------------------------------------------------------------ shared with stall.ts

/** The production image's NODE_OPTIONS (lib/image-env.ts), for reports. */
export const productionNodeOptions = (): string => imageNodeOptions();

function trySh(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 30_000 }).trim();
  } catch {
    return undefined;
  }
}

/** sysconf(_SC_CLK_TCK): the unit of /proc's CPU times (set by machine()). */
let ticksPerS = 100;

/** What the numbers were measured on (the machine is small and shared: the load average matters). */
export function machine(): Record<string, unknown> {
  const commit = trySh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']);
  const dirty = trySh('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no']);
  const ticks = Number(trySh('getconf', ['CLK_TCK']));
  if (ticks > 0) ticksPerS = ticks;
  setClockTicks(ticksPerS);
  return {
    nproc: Number(trySh('nproc', [])) || availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    commit: commit ? `${commit}${dirty ? ' (uncommitted changes)' : ''}` : 'unknown',
    loadavgAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export interface Stack {
  fake: Server;
  sidecar: Server & { adminUrl: string };
  logFile: string;
  stop(): Promise<void>;
}

/**
 * The fake upstream and one sidecar with `policy`, every soak host resolved to the fake. The sidecar's
 * stdout (its audit lines) goes to `logFile`, as a pod's stdout goes to a file on the node.
 */
export async function startStack(tmp: string, opts: { policy?: string; upstreamArgs?: string[]; bin?: string } = {}): Promise<Stack> {
  const bin = opts.bin ?? CHAPERONE;
  if (!existsSync(bin)) throw new Error(`${bin} does not exist: run "make build" (or npx tsc -p tsconfig.build.json) first`);
  const policy = opts.policy ?? SOAK_POLICY;
  execFileSync(process.execPath, [bin, 'policy', 'validate', policy], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  const fake = await startUrlServer('upstream', opts.upstreamArgs ?? [join(DIST, 'bench', 'fake-upstream.js'), '--port', '0']);
  const upstream = new URL(fake.url).host;
  const logFile = join(tmp, 'sidecar.log');
  try {
    const sidecar = await startSidecar(bin, ['--policy', policy, ...SOAK_HOSTS.flatMap((h) => ['--resolve', `${h}=${upstream}`])], logFile, {
      env: imageEnv(),
    });
    return { fake, sidecar, logFile, stop: async () => (await sidecar.stop(), await fake.stop()) };
  } catch (err) {
    await fake.stop();
    throw err;
  }
}

export interface Scrape {
  /** nodejs_eventloop_lag_max_seconds as read, ms: the longest delay since the previous scrape, plus the 10 ms sampling interval. */
  lagMaxMs?: number;
  lagP99Ms?: number;
  heapUsedMiB?: number;
  heapTotalMiB?: number;
  externalMiB?: number;
  /** Total time spent in GC so far (sum of nodejs_gc_duration_seconds over its kinds), s. */
  gcS?: number;
  /** How long the scrape took, ms (a stalled sidecar answers late). */
  scrapeMs: number;
}

/** The sum of a metric's samples over every label set (undefined when it is not there). */
export function metricValue(text: string, name: string): number | undefined {
  let sum: number | undefined;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'gm'))) sum = (sum ?? 0) + Number(m[1]);
  return sum;
}

/**
 * One scrape of the sidecar's /metrics. prom-client's event-loop gauges come from a histogram it
 * resets on every scrape (node_modules/prom-client/lib/metrics/eventLoopLag.js), so each scrape
 * reports the delays since the previous one: scrape on a fixed period and take the max over the run.
 */
export async function scrape(adminUrl: string, timeoutMs = 10_000): Promise<Scrape> {
  const started = performance.now();
  const res = await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  const scrapeMs = performance.now() - started;
  const ms = (v?: number) => (v === undefined ? undefined : v * 1000);
  const mib = (v?: number) => (v === undefined ? undefined : v / MIB);
  const out: Scrape = { scrapeMs };
  const set = <K extends keyof Scrape>(k: K, v: Scrape[K] | undefined) => v !== undefined && (out[k] = v);
  set('lagMaxMs', ms(metricValue(text, 'nodejs_eventloop_lag_max_seconds')));
  set('lagP99Ms', ms(metricValue(text, 'nodejs_eventloop_lag_p99_seconds')));
  set('heapUsedMiB', mib(metricValue(text, 'nodejs_heap_size_used_bytes')));
  set('heapTotalMiB', mib(metricValue(text, 'nodejs_heap_size_total_bytes')));
  set('externalMiB', mib(metricValue(text, 'nodejs_external_memory_bytes')));
  set('gcS', metricValue(text, 'nodejs_gc_duration_seconds_sum'));
  return out;
}

/** VmRSS of a process, MiB (0 once it has exited). */
export function rssMiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU time the whole machine has spent busy (every CPU; /proc/stat without idle and iowait), s. */
function machineBusyS(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f; // guest time is already in user
  return (user + nice + system + irq + softirq + steal) / ticksPerS;
}

/**
 * How much CPU processes other than ours used between two readings, in cores. The machine is shared:
 * when another job takes the CPUs, the sidecar waits for one, and a wait looks like a stall to
 * every event-loop measurement. This says when that happened.
 */
export class OthersCpu {
  private last: { at: number; machine: number; ours: number } | undefined;

  constructor(private readonly pids: () => number[]) {}

  private now(): { at: number; machine: number; ours: number } {
    let ours = 0;
    for (const pid of this.pids()) {
      try {
        ours += cpuSeconds(pid);
      } catch {
        // exited
      }
    }
    return { at: performance.now() / 1000, machine: machineBusyS(), ours };
  }

  /** Cores used by others since the previous call (undefined on the first). */
  read(): number | undefined {
    const cur = this.now();
    const prev = this.last;
    this.last = cur;
    if (!prev || cur.at <= prev.at) return undefined;
    return Math.max(0, cur.machine - prev.machine - (cur.ours - prev.ours)) / (cur.at - prev.at);
  }
}

/** Counts the sidecar's audit lines by status and decision, streaming (a soak writes hundreds of MB). */
export async function countAudits(file: string): Promise<{ lines: number; byStatus: Record<string, number>; byDecision: Record<string, number> }> {
  const out = { lines: 0, byStatus: {} as Record<string, number>, byDecision: {} as Record<string, number> };
  if (!existsSync(file)) return out;
  for await (const line of createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity })) {
    if (!line.includes('"audit":true')) continue;
    out.lines++;
    const status = /"status":(\d+)/.exec(line)?.[1] ?? '(none)';
    const decision = /"decision":"([^"]*)"/.exec(line)?.[1] ?? '(none)';
    out.byStatus[status] = (out.byStatus[status] ?? 0) + 1;
    out.byDecision[decision] = (out.byDecision[decision] ?? 0) + 1;
  }
  return out;
}

export const fmt = (x: number | undefined, digits = 1): string => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));
export const verdict = (pass: boolean | undefined): string => (pass === undefined ? 'n/a' : pass ? 'PASS' : '**MISS**');

export function percentile(sorted: ArrayLike<number>, p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function median(xs: number[]): number | undefined {
  return percentile([...xs].sort((a, b) => a - b), 50);
}

// ------------------------------------------------------------------------------------ the traffic

const AGENT = 'researcher';
/** A few sessions, as a pod's agent keeps a few: the budget check keeps one total per session. */
const SESSIONS = 16;

export interface Bodies {
  openai: Buffer;
  openaiStream: Buffer;
  openai32kb: Buffer;
  anthropic: Buffer;
  anthropicStream: Buffer;
  mcpCall: Buffer;
  mcpForbidden: Buffer;
  toolForced: Buffer;
  toolProposed: Buffer;
  toolProposedStream: Buffer;
  dlp: Buffer;
  budget: Buffer;
  writer: Buffer;
  malformed: Buffer;
  form: Buffer;
  gzip: Buffer;
  bomb: Buffer;
  /** A chunk of the body streamed past the limit (sent again and again). */
  chunk: Buffer;
}

type Obj = Record<string, unknown>;

/** Every body, built once: the driver only copies buffers while it runs. */
export function makeBodies(): Bodies {
  const fixture = JSON.parse(readFileSync(join(ROOT, 'bench', 'fixtures', 'chat-1kb.json'), 'utf8')) as Obj;
  const body = (w: Work) => requestBody(fixture, w);
  const chat = JSON.parse(body({ format: 'openai', size: '1kb', stream: false })) as Obj & { messages: Obj[]; tools: Obj[] };
  const json = (v: unknown) => Buffer.from(JSON.stringify(v));
  const withUser = (text: string, extra: Obj = {}) => json({ ...chat, messages: [chat.messages[0], { role: 'user', content: text }], ...extra });
  const shellExec = { type: 'function', function: { name: 'shell_exec', description: 'Run a shell command.', parameters: { type: 'object', properties: { cmd: { type: 'string' } } } } };
  const rpc = (name: string) => json({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: { q: 'checkout latency runbook' } } });
  const openai = Buffer.from(body({ format: 'openai', size: '1kb', stream: false }));
  return {
    openai,
    openaiStream: Buffer.from(body({ format: 'openai', size: '1kb', stream: true })),
    openai32kb: Buffer.from(body({ format: 'openai', size: '32kb', stream: false })),
    anthropic: Buffer.from(body({ format: 'anthropic', size: '1kb', stream: false })),
    anthropicStream: Buffer.from(body({ format: 'anthropic', size: '1kb', stream: true })),
    mcpCall: rpc('web_search'),
    mcpForbidden: rpc('shell_exec'),
    toolForced: json({ ...chat, tools: [...chat.tools, shellExec], tool_choice: { type: 'function', function: { name: 'shell_exec' } } }),
    // The fake model proposes a call to the tool its last user message names (e2e/fake-provider/model.ts).
    toolProposed: withUser('Look at the disk usage: call tool shell_exec'),
    toolProposedStream: withUser('Look at the disk usage: call tool shell_exec', { stream: true }),
    // Within the 200 characters the fake echoes, so the answer shows whether it was masked.
    dlp: withUser('Refund card 4111 1111 1111 1111 and mail the receipt to jane.doe@example.com please.'),
    // gpt-4o at $10 per million output tokens: 500000 tokens are a $5 estimate, over the $1 cap.
    budget: json({ ...chat, model: 'gpt-4o', max_tokens: 500_000 }),
    writer: json({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Draft the release note.' }] }),
    malformed: openai.subarray(0, Math.floor(openai.length / 2)),
    form: Buffer.from('model=gpt-4o-mini&prompt=hello'),
    gzip: gzipSync(openai),
    // ~11 KB that inflate to 11 MiB of zeros: past the limit once decoded.
    bomb: gzipSync(Buffer.alloc(MAX_BODY_BYTES + MIB)),
    chunk: Buffer.alloc(64 * 1024, 0x20),
  };
}

export interface SendContext {
  pool: Pool;
  proxy: { host: string; port: number };
  bodies: Bodies;
  session: string;
  /** The request's sequence number (variants rotate on it). */
  seq: number;
  timeoutMs: number;
}

interface CallSpec {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | (() => Readable);
  /** What is wrong with a 200 answer's body, if anything (the outcome becomes "200 <what>"). */
  verify?: (text: string) => string | undefined;
  /** Read the first chunk of the answer, then go away (a client that gives up mid-stream). */
  firstChunkOnly?: boolean;
}

const OPENAI_HEADERS = { 'content-type': 'application/json', authorization: 'Bearer sk-soak-0000000000000000000000000000000000000000' };
const ANTHROPIC_HEADERS = { 'content-type': 'application/json', 'x-api-key': 'sk-ant-soak-0000000000000000000000000000000000000000', 'anthropic-version': '2023-06-01' };
const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const OPENAI_URL = `http://${TARGETS.openai.host}${TARGETS.openai.path}`;
const ANTHROPIC_URL = `http://${TARGETS.anthropic.host}${TARGETS.anthropic.path}`;
const MCP_URL = 'http://mcp.soak.example.com/mcp';

/** An outcome for a failed request: timeout, or the error's code. */
function errorOutcome(err: unknown): string {
  const e = err as { name?: string; code?: string };
  if (e.name === 'TimeoutError' || e.name === 'AbortError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
  return `error ${e.code ?? e.name ?? 'unknown'}`;
}

/** One absolute-URI request through the sidecar (it is the client's HTTP proxy), as an SDK sends it. */
async function call(c: SendContext, s: CallSpec): Promise<string> {
  const host = /^https?:\/\/([^/]+)/.exec(s.url)![1]!;
  const headers = { host, 'x-chaperone-agent': AGENT, 'x-chaperone-session': c.session, ...s.headers };
  const body = typeof s.body === 'function' ? s.body() : s.body;
  const res = await c.pool.request({ path: s.url, method: s.method ?? (body ? 'POST' : 'GET'), headers, body: body ?? null, signal: AbortSignal.timeout(c.timeoutMs) });
  if (s.firstChunkOnly) {
    for await (const chunk of res.body) if (chunk) break; // leaving the loop destroys the body: the connection goes
    return String(res.statusCode);
  }
  const text = await res.body.text();
  const wrong = res.statusCode === 200 ? s.verify?.(text) : undefined;
  return wrong ? `${res.statusCode} ${wrong}` : String(res.statusCode);
}

/**
 * A request written on a raw connection to the proxy (what undici will not send: Expect:
 * 100-continue, a body cut off mid-way). `disconnectAfterMs`: go away that long after writing,
 * without waiting for an answer (outcome `closed`, or `answered N` if one came first). Otherwise the
 * outcome is the status of the first answer.
 */
function raw(c: SendContext, head: string, body: Buffer | undefined, disconnectAfterMs?: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(c.proxy);
    let received = '';
    let done = false;
    const finish = (outcome: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish('timeout'), c.timeoutMs);
    const status = () => /^HTTP\/1\.[01] (\d{3})/.exec(received)?.[1];
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      received += d;
      if (disconnectAfterMs === undefined && status()) finish(status()!);
    });
    socket.on('error', (err) => finish(disconnectAfterMs !== undefined && !status() ? 'closed' : errorOutcome(err)));
    socket.on('close', () => finish(status() ? (disconnectAfterMs !== undefined ? `answered ${status()}` : status()!) : disconnectAfterMs !== undefined ? 'closed' : 'error closed without an answer'));
    socket.once('connect', () => {
      socket.write(head);
      if (body) socket.write(body);
      if (disconnectAfterMs !== undefined) setTimeout(() => finish(status() ? `answered ${status()}` : 'closed'), disconnectAfterMs);
    });
  });
}

function rawHead(url: string, headers: Record<string, string | number>, session: string): string {
  const host = /^https?:\/\/([^/]+)/.exec(url)![1]!;
  const lines = [`POST ${url} HTTP/1.1`, `Host: ${host}`, `X-Chaperone-Agent: ${AGENT}`, `X-Chaperone-Session: ${session}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

/** A body streamed in chunks (chunked encoding, no length declared) until it passes the limit. */
function pastTheLimit(chunk: Buffer): () => Readable {
  return () =>
    Readable.from(
      (function* () {
        for (let sent = 0; sent <= MAX_BODY_BYTES; sent += chunk.length) yield chunk;
      })(),
    );
}

const streamEnds = (marker: string) => (text: string) => (text.includes(marker) ? undefined : `stream without ${marker}`);

export interface TrafficClass {
  id: string;
  what: string;
  /** Share of the requests, per mille. */
  weight: number;
  /** The outcomes that are right for this class; anything else is a failure of the soak. */
  expect: readonly string[];
  good: boolean;
  send(c: SendContext): Promise<string>;
}

/**
 * The mix. Good calls are what an agent sends every day; bad ones are what the sidecar must refuse
 * or survive. Each class has the outcome it must get, checked on every request (and a few check the
 * answer's body too: a redaction that did not happen, a stream cut too late).
 */
export const CLASSES: readonly TrafficClass[] = [
  { id: 'openai-chat', what: 'OpenAI chat completion, 1 KB, whole', weight: 202, expect: ['200'], good: true, send: (c) => call(c, { url: OPENAI_URL, headers: OPENAI_HEADERS, body: c.bodies.openai }) },
  {
    id: 'openai-stream', what: 'OpenAI chat completion, streamed (SSE)', weight: 80, expect: ['200'], good: true,
    send: (c) => call(c, { url: OPENAI_URL, headers: OPENAI_HEADERS, body: c.bodies.openaiStream, verify: streamEnds('data: [DONE]') }),
  },
  { id: 'openai-32kb', what: 'OpenAI chat completion, 32 KB (long conversation)', weight: 30, expect: ['200'], good: true, send: (c) => call(c, { url: OPENAI_URL, headers: OPENAI_HEADERS, body: c.bodies.openai32kb }) },
  { id: 'anthropic', what: 'Anthropic message, whole', weight: 110, expect: ['200'], good: true, send: (c) => call(c, { url: ANTHROPIC_URL, headers: ANTHROPIC_HEADERS, body: c.bodies.anthropic }) },
  {
    id: 'anthropic-stream', what: 'Anthropic message, streamed (SSE)', weight: 50, expect: ['200'], good: true,
    send: (c) => call(c, { url: ANTHROPIC_URL, headers: ANTHROPIC_HEADERS, body: c.bodies.anthropicStream, verify: streamEnds('message_stop') }),
  },
  { id: 'mcp-call', what: 'MCP tools/call of a permitted tool (web_search)', weight: 70, expect: ['200'], good: true, send: (c) => call(c, { url: MCP_URL, headers: MCP_HEADERS, body: c.bodies.mcpCall }) },
  {
    id: 'gzip-body', what: 'OpenAI call with a gzip request body (read decoded, forwarded decoded)', weight: 30, expect: ['200'], good: true,
    send: (c) => call(c, { url: OPENAI_URL, headers: { ...OPENAI_HEADERS, 'content-encoding': 'gzip' }, body: c.bodies.gzip }),
  },
  {
    id: 'dlp-redact', what: 'card number and email in a message: masked, call goes on', weight: 40, expect: ['200'], good: false,
    send: (c) =>
      call(c, {
        url: OPENAI_URL, headers: OPENAI_HEADERS, body: c.bodies.dlp,
        // (Not a bare "4111": the fake's answer ids count up and will contain it.)
        verify: (t) => (t.includes('4111 1111') || t.includes('jane.doe@') ? 'unredacted' : t.includes('[REDACTED:') ? undefined : 'no redaction marker'),
      }),
  },
  {
    id: 'stream-abandoned', what: 'streamed call, client leaves after the first chunk', weight: 10, expect: ['200'], good: true,
    send: (c) => call(c, { url: OPENAI_URL, headers: OPENAI_HEADERS, body: c.bodies.openaiStream, firstChunkOnly: true }),
  },
  { id: 'tool-forced', what: 'tool_choice forcing a forbidden tool (shell_exec)', weight: 40, expect: ['403'], good: false, send: (c) => call(c, { url: OPENAI_URL, headers: OPENAI_HEADERS, body: c.bodies.toolForced }) },
  { id: 'tool-proposed', what: 'the model proposes a forbidden tool: answer replaced', weight: 30, expect: ['403'], good: false, send: (c) => call(c, { url: OPENAI_URL, headers: OPENAI_HEADERS, body: c.bodies.toolProposed }) },
  {
    id: 'tool-proposed-stream', what: 'the model proposes a forbidden tool, streamed: stream cut before it', weight: 15, expect: ['200'], good: false,
    send: (c) =>
      call(c, {
        url: OPENAI_URL, headers: OPENAI_HEADERS, body: c.bodies.toolProposedStream,
        verify: (t) => (t.includes('"tool_calls"') ? 'tool call reached the agent' : t.includes('policy_violation') ? undefined : 'stream not cut'),
      }),
  },
  { id: 'mcp-forbidden', what: 'MCP tools/call of a forbidden tool (the call\'s result with isError)', weight: 30, expect: ['200'], good: false, send: (c) => call(c, { url: MCP_URL, headers: MCP_HEADERS, body: c.bodies.mcpForbidden }) },
  {
    id: 'dlp-query', what: 'email in the URL query string (cannot be masked)', weight: 20, expect: ['403'], good: false,
    send: (c) => call(c, { url: `${OPENAI_URL}?user=jane.doe@example.com`, headers: OPENAI_HEADERS, body: c.bodies.openai }),
  },
  {
    id: 'egress-denied', what: 'denied by egress: pastebin.com, api.openai.com/v1/files', weight: 20, expect: ['403'], good: false,
    send: (c) => (c.seq % 2 === 0 ? call(c, { url: 'http://pastebin.com/raw/soak' }) : call(c, { url: 'http://api.openai.com/v1/files', headers: OPENAI_HEADERS, body: c.bodies.openai })),
  },
  { id: 'budget', what: 'estimated over the $1 per-request cap (gpt-4o, max_tokens 500000)', weight: 10, expect: ['403'], good: false, send: (c) => call(c, { url: OPENAI_URL, headers: OPENAI_HEADERS, body: c.bodies.budget }) },
  {
    id: 'rate-limited', what: 'agent writer, 10 requests a minute: the rest of each minute 429', weight: 20, expect: ['429', '200'], good: false,
    send: (c) => call(c, { url: OPENAI_URL, headers: { ...OPENAI_HEADERS, 'x-chaperone-agent': 'writer' }, body: c.bodies.writer }),
  },
  { id: 'malformed-json', what: 'JSON cut in half (application/json)', weight: 30, expect: ['400'], good: false, send: (c) => call(c, { url: OPENAI_URL, headers: OPENAI_HEADERS, body: c.bodies.malformed }) },
  {
    id: 'unreadable', what: 'unreadable on an intercepted host: form-encoded, zstd, Latin-1', weight: 30, expect: ['415'], good: false,
    send: (c) => {
      const variant = c.seq % 3;
      if (variant === 0) return call(c, { url: OPENAI_URL, headers: { ...OPENAI_HEADERS, 'content-type': 'application/x-www-form-urlencoded' }, body: c.bodies.form });
      if (variant === 1) return call(c, { url: OPENAI_URL, headers: { ...OPENAI_HEADERS, 'content-encoding': 'zstd' }, body: c.bodies.gzip });
      return call(c, { url: OPENAI_URL, headers: { ...OPENAI_HEADERS, 'content-type': 'application/json; charset=iso-8859-1' }, body: c.bodies.openai });
    },
  },
  { id: 'bad-path', what: 'request target that cannot be made canonical (%zz)', weight: 20, expect: ['400'], good: false, send: (c) => call(c, { url: 'http://api.openai.com/v1/chat/%zz/completions', headers: OPENAI_HEADERS, body: c.bodies.openai }) },
  {
    id: 'over-limit-declared', what: 'Content-Length 11 MiB with Expect: 100-continue (raw)', weight: 15, expect: ['413'], good: false,
    send: (c) => raw(c, rawHead(OPENAI_URL, { 'Content-Type': 'application/json', 'Content-Length': MAX_BODY_BYTES + MIB, Expect: '100-continue' }, c.session), undefined),
  },
  {
    id: 'over-limit-sent', what: '10 MiB + 64 KiB streamed, no length declared', weight: 1, expect: ['413'], good: false,
    send: (c) => call(c, { url: OPENAI_URL, headers: OPENAI_HEADERS, body: pastTheLimit(c.bodies.chunk) }),
  },
  { id: 'gzip-bomb', what: '11 KB of gzip inflating to 11 MiB', weight: 2, expect: ['413'], good: false, send: (c) => call(c, { url: OPENAI_URL, headers: { ...OPENAI_HEADERS, 'content-encoding': 'gzip' }, body: c.bodies.bomb }) },
  {
    id: 'client-gone-mid-body', what: 'declares 64 KiB, sends 16 KiB, disconnects (raw)', weight: 15, expect: ['closed'], good: false,
    send: (c) => raw(c, rawHead(OPENAI_URL, { 'Content-Type': 'application/json', 'Content-Length': 64 * 1024 }, c.session), c.bodies.chunk.subarray(0, 16 * 1024), 20),
  },
  ...[500, 503, 429, 401].map(
    (code): TrafficClass => ({
      id: `upstream-${code}`, what: `the upstream answers ${code} (fake /status/${code})`, weight: code >= 500 ? 15 : 10, expect: [String(code)], good: false,
      send: (c) => call(c, { url: `http://api.openai.com/status/${code}/v1/chat/completions`, headers: OPENAI_HEADERS, body: c.bodies.openai }),
    }),
  ),
];

/** A deterministic order of the classes over 1000 slots (each class `weight` times), shuffled so no class comes in bursts. */
function slots(classes: readonly TrafficClass[], seed: number): number[] {
  const out: number[] = [];
  classes.forEach((k, i) => {
    for (let n = 0; n < k.weight; n++) out.push(i);
  });
  let s = seed >>> 0;
  const rand = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

// ---------------------------------------------------------------------------------------- the driver

interface DriverConfig {
  proxyUrl: string;
  /** Classes left out (--skip): to see what one class costs, soak without it. */
  skip: string[];
  rate: number;
  warmupS: number;
  durationS: number;
  timeoutMs: number;
  maxInflight: number;
  connections: number;
  progressS: number;
}

interface ClassResult {
  id: string;
  what: string;
  weight: number;
  expect: readonly string[];
  good: boolean;
  sent: number;
  outcomes: Record<string, number>;
  unexpected: number;
  /** Over the measured window (after warm-up), ms from the scheduled send. */
  p50Ms?: number;
  p99Ms?: number;
  maxMs?: number;
}

export interface DriverResult {
  scheduled: number;
  sent: number;
  /** Answers (any outcome but timeout or dropped) that completed within the measured window, per second. */
  achievedRps: number;
  measuredS: number;
  unexpected: number;
  classes: ClassResult[];
  /** How late the driver sent, ms after the schedule: when large, the driver, not the sidecar, was the limit. */
  sendLagP99Ms: number;
  sendLagMaxMs: number;
  /** The driver's own event-loop delay, max, ms (includes the 10 ms sampling interval). */
  driverLoopMaxMs: number;
  driverCpuS: number;
}

type DriverMessage =
  | { type: 'started'; atWallMs: number }
  | { type: 'progress'; t: number; sent: number; done: number; inflight: number; unexpected: number }
  | { type: 'result'; result: DriverResult }
  | { type: 'error'; message: string };

/** The open-loop driver: sends on a fixed schedule whatever the answers do; latency runs from the schedule. */
async function drive(cfg: DriverConfig, emit: (m: DriverMessage) => void): Promise<DriverResult> {
  const proxy = new URL(cfg.proxyUrl);
  const pool = new Pool(cfg.proxyUrl, { connections: cfg.connections, keepAliveTimeout: 30_000, headersTimeout: cfg.timeoutMs, bodyTimeout: cfg.timeoutMs });
  const bodies = makeBodies();
  const order = slots(CLASSES.map((k) => (cfg.skip.includes(k.id) ? { ...k, weight: 0 } : k)), 15);
  const stats = CLASSES.map(() => ({ sent: 0, outcomes: {} as Record<string, number>, unexpected: 0, latencies: [] as number[] }));
  const periodMs = 1000 / cfg.rate;
  const total = Math.floor(cfg.rate * (cfg.warmupS + cfg.durationS));
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now() + 100;
  const measureFrom = t0 + cfg.warmupS * 1000;
  const measureTo = t0 + (cfg.warmupS + cfg.durationS) * 1000;
  const sendLags = new Float64Array(total);
  let next = 0;
  let inflight = 0;
  let done = 0;
  let answeredInWindow = 0;
  let unexpected = 0;
  emit({ type: 'started', atWallMs: Date.now() + (t0 - performance.now()) });

  const record = (k: number, scheduled: number, outcome: string) => {
    const end = performance.now();
    const s = stats[k]!;
    s.outcomes[outcome] = (s.outcomes[outcome] ?? 0) + 1;
    if (!CLASSES[k]!.expect.includes(outcome)) (s.unexpected++, unexpected++);
    if (scheduled >= measureFrom) s.latencies.push(end - scheduled);
    if (end >= measureFrom && end < measureTo && outcome !== 'timeout' && outcome !== 'dropped') answeredInWindow++;
    done++;
  };
  const launch = (i: number) => {
    const scheduled = t0 + i * periodMs;
    sendLags[i] = performance.now() - scheduled;
    const k = order[i % order.length]!;
    stats[k]!.sent++;
    if (inflight >= cfg.maxInflight) return record(k, scheduled, 'dropped');
    inflight++;
    const c: SendContext = { pool, proxy: { host: proxy.hostname, port: Number(proxy.port) }, bodies, session: `soak-${i % SESSIONS}`, seq: Math.floor(i / order.length), timeoutMs: cfg.timeoutMs };
    CLASSES[k]!.send(c).then(
      (outcome) => record(k, scheduled, outcome),
      (err: unknown) => record(k, scheduled, errorOutcome(err)),
    ).finally(() => inflight--);
  };

  const progress = setInterval(() => emit({ type: 'progress', t: (performance.now() - t0) / 1000, sent: next, done, inflight, unexpected }), cfg.progressS * 1000);
  // A 1 ms tick sends every request whose time has come: the schedule, not the answers, sets the pace.
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const now = performance.now();
      while (next < total && t0 + next * periodMs <= now) launch(next++);
      if (next >= total) (clearInterval(tick), resolve());
    }, 1);
  });
  const deadline = performance.now() + cfg.timeoutMs + 5_000;
  while (inflight > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  clearInterval(progress);
  await pool.close().catch(() => {});
  const cpu = process.cpuUsage(cpu0);
  loop.disable();
  const lags = Array.from(sendLags).sort((a, b) => a - b);
  return {
    scheduled: total,
    sent: next,
    achievedRps: answeredInWindow / cfg.durationS,
    measuredS: cfg.durationS,
    unexpected,
    classes: CLASSES.map((k, i) => {
      const s = stats[i]!;
      const lat = s.latencies.sort((a, b) => a - b);
      const p = (q: number) => percentile(lat, q);
      return { id: k.id, what: k.what, weight: k.weight, expect: k.expect, good: k.good, sent: s.sent, outcomes: s.outcomes, unexpected: s.unexpected, p50Ms: p(50), p99Ms: p(99), maxMs: lat[lat.length - 1] };
    }),
    sendLagP99Ms: percentile(lags, 99) ?? 0,
    sendLagMaxMs: lags[lags.length - 1] ?? 0,
    driverLoopMaxMs: loop.max / 1e6,
    driverCpuS: (cpu.user + cpu.system) / 1e6,
  };
}

/** `--driver`: the forked load driver. Waits for its config, drives, sends the result, exits. */
function driverMain(): void {
  const emit = (m: DriverMessage) => process.send?.(m);
  process.once('message', (cfg: DriverConfig) => {
    drive(cfg, emit).then(
      (result) => (emit({ type: 'result', result }), process.disconnect?.()),
      (err: unknown) => (emit({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }), process.disconnect?.()),
    );
  });
}

// -------------------------------------------------------------------------------------- the sampler

export interface Sample extends Partial<Scrape> {
  /** Seconds since the load started. */
  t: number;
  rssMiB: number;
  /** The sidecar's CPU time so far, s. */
  cpuS: number;
  /** CPU used by processes other than the soak's own since the previous sample, in cores (the machine has nproc). */
  othersCores?: number;
  /** Requests the driver had sent and seen answered at its last progress report. */
  sent?: number;
  done?: number;
  error?: string;
}

/** Samples the sidecar every `periodS`: VmRSS from /proc, the rest from one /metrics scrape. */
class Sampler {
  readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  progress: { sent: number; done: number } | undefined;

  constructor(
    private readonly pid: number,
    private readonly adminUrl: string,
    private readonly startWallMs: number,
    private readonly others: OthersCpu,
  ) {
    others.read(); // the first reading: from here on
  }

  start(periodS: number): void {
    this.timer = setInterval(() => void this.sample(), periodS * 1000);
  }

  async sample(): Promise<void> {
    if (this.busy) return; // a scrape still waiting on a stalled sidecar: the next one covers its period
    this.busy = true;
    const t = (Date.now() - this.startWallMs) / 1000;
    const base: Sample = { t, rssMiB: rssMiB(this.pid), cpuS: cpuSecondsOr0(this.pid), ...(this.progress ?? {}) };
    const others = this.others.read();
    if (others !== undefined) base.othersCores = others;
    try {
      this.samples.push({ ...base, ...(await scrape(this.adminUrl)) });
    } catch (err) {
      this.samples.push({ ...base, error: (err as Error).message });
    } finally {
      this.busy = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

function cpuSecondsOr0(pid: number): number {
  try {
    return cpuSeconds(pid);
  } catch {
    return 0;
  }
}

// --------------------------------------------------------------------------------------- the report

interface SoakOptions {
  /** dist/bin/chaperone.js of the build soaked (another checkout's with --bin). */
  bin: string;
  /** Traffic classes left out. */
  skip: string[];
  minutes: number;
  rate: number;
  warmupS: number;
  sampleS: number;
  out: string;
}

interface Summary {
  /** Median RSS of the samples in the window right after warm-up, and in the last window of the load. */
  rssAfterWarmupMiB?: number;
  rssEndMiB?: number;
  rssChangePct?: number;
  /** The lowest sample in each window: the floor after the last mark-compact, what the heap really keeps. */
  rssFloorAfterWarmupMiB?: number;
  rssFloorEndMiB?: number;
  /** Single samples: the first at or after the end of warm-up, the last under load. */
  rssAtWarmupPointMiB?: number;
  rssAtEndPointMiB?: number;
  rssPeakMiB?: number;
  windowS: number;
  /** Least-squares slopes over the measured part, MiB per minute. */
  rssSlopeMiBPerMin?: number;
  heapSlopeMiBPerMin?: number;
  heapAfterWarmupMiB?: number;
  heapEndMiB?: number;
  /** Raw nodejs_eventloop_lag_max_seconds, max over every scrape under load (ms), and when. */
  lagMaxRawMs?: number;
  lagMaxAtS?: number;
  /** The same minus the 10 ms sampling interval: the longest stall. */
  stallMaxMs?: number;
  stallMaxAfterWarmupMs?: number;
  /** Scrapes whose stall was over 50 ms, with the CPU other processes used meanwhile. */
  stallsOver50: Array<{ t: number; stallMs: number; othersCores?: number }>;
  /** The largest stall in the samples where other processes used less than QUIET_OTHERS_CORES (after warm-up), and how many such samples. */
  stallMaxQuietMs?: number;
  quietSamples: number;
  /** CPU used by other processes under load, mean and max over the samples, cores. */
  othersCoresMean?: number;
  othersCoresMax?: number;
  cpuPct?: number;
}

/** Samples in which other processes used less than this are "quiet": their stalls are the sidecar's own. */
const QUIET_OTHERS_CORES = 0.2;

function slope(points: Array<[number, number]>): number | undefined {
  if (points.length < 3) return undefined;
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) (num += (x - mx) * (y - my)), (den += (x - mx) ** 2);
  return den > 0 ? num / den : undefined;
}

function summarise(samples: Sample[], o: SoakOptions): Summary {
  const loadEnd = o.warmupS + o.minutes * 60;
  const under = samples.filter((s) => s.t > 0 && s.t <= loadEnd + o.sampleS / 2 && s.rssMiB > 0);
  const measured = under.filter((s) => s.t >= o.warmupS);
  // Medians over a 60 s window: RSS follows the old generation's sawtooth (it grows by ~50 MiB and
  // drops back at each mark-compact, every 30-40 s here), so a shorter window can land on one tooth.
  // Shorter for short runs, which are therefore only a smoke test of this aim.
  const windowS = Math.min(60, (o.minutes * 60) / 4);
  const after = measured.filter((s) => s.t < o.warmupS + windowS);
  const end = measured.filter((s) => s.t > loadEnd - windowS);
  const med = (xs: Sample[], f: (s: Sample) => number | undefined) => median(xs.map(f).filter((v): v is number => v !== undefined));
  const rssAfterWarmupMiB = med(after, (s) => s.rssMiB);
  const rssEndMiB = med(end, (s) => s.rssMiB);
  const withLag = under.filter((s) => s.lagMaxMs !== undefined);
  const top = withLag.reduce<Sample | undefined>((m, s) => (!m || s.lagMaxMs! > m.lagMaxMs! ? s : m), undefined);
  const stall = (s: Sample) => Math.max(0, s.lagMaxMs! - LAG_RESOLUTION_MS);
  const afterWarm = withLag.filter((s) => s.t >= o.warmupS);
  const first = under[0];
  const last = under[under.length - 1];
  const cpuPct = first && last && last.t > first.t ? (100 * (last.cpuS - first.cpuS)) / (last.t - first.t) : undefined;
  const over = withLag.filter((s) => stall(s) > 50);
  const stallsOver50 = over.map((s) => ({ t: Math.round(s.t), stallMs: Math.round(stall(s)), ...(s.othersCores !== undefined ? { othersCores: Math.round(s.othersCores * 100) / 100 } : {}) }));
  const quiet = afterWarm.filter((s) => s.othersCores !== undefined && s.othersCores < QUIET_OTHERS_CORES);
  const others = under.map((s) => s.othersCores).filter((v): v is number => v !== undefined);
  const out: Summary = { windowS, stallsOver50, quietSamples: quiet.length };
  if (quiet.length) out.stallMaxQuietMs = Math.max(...quiet.map(stall));
  if (others.length) (out.othersCoresMean = others.reduce((a, b) => a + b, 0) / others.length), (out.othersCoresMax = Math.max(...others));
  const set = <K extends keyof Summary>(k: K, v: Summary[K] | undefined) => v !== undefined && (out[k] = v);
  set('rssAfterWarmupMiB', rssAfterWarmupMiB);
  set('rssEndMiB', rssEndMiB);
  if (rssAfterWarmupMiB && rssEndMiB !== undefined) out.rssChangePct = (100 * (rssEndMiB - rssAfterWarmupMiB)) / rssAfterWarmupMiB;
  if (after.length) out.rssFloorAfterWarmupMiB = Math.min(...after.map((x) => x.rssMiB));
  if (end.length) out.rssFloorEndMiB = Math.min(...end.map((x) => x.rssMiB));
  set('rssAtWarmupPointMiB', measured[0]?.rssMiB);
  set('rssAtEndPointMiB', measured[measured.length - 1]?.rssMiB);
  if (under.length) out.rssPeakMiB = Math.max(...under.map((s) => s.rssMiB));
  set('rssSlopeMiBPerMin', slope(measured.map((s) => [s.t / 60, s.rssMiB])));
  set('heapSlopeMiBPerMin', slope(measured.filter((s) => s.heapUsedMiB !== undefined).map((s) => [s.t / 60, s.heapUsedMiB!])));
  set('heapAfterWarmupMiB', med(after, (s) => s.heapUsedMiB));
  set('heapEndMiB', med(end, (s) => s.heapUsedMiB));
  if (top) (out.lagMaxRawMs = top.lagMaxMs!), (out.lagMaxAtS = Math.round(top.t)), (out.stallMaxMs = stall(top));
  if (afterWarm.length) out.stallMaxAfterWarmupMs = Math.max(...afterWarm.map(stall));
  set('cpuPct', cpuPct);
  return out;
}

interface Aim {
  what: string;
  value: string;
  pass: boolean | undefined;
}

function aims(sum: Summary, drv: DriverResult, o: SoakOptions): Aim[] {
  return [
    {
      what: 'RSS at the end within 10% of its value after warm-up',
      value: `${fmt(sum.rssAfterWarmupMiB)} → ${fmt(sum.rssEndMiB)} MiB (${sum.rssChangePct === undefined ? 'n/a' : `${sum.rssChangePct >= 0 ? '+' : ''}${fmt(sum.rssChangePct)}%`})`,
      pass: sum.rssChangePct === undefined ? undefined : Math.abs(sum.rssChangePct) <= 10,
    },
    {
      what: 'No event-loop stall over 50 ms (lag max − 10 ms sampling interval)',
      value:
        `${fmt(sum.stallMaxMs)} ms (raw ${fmt(sum.lagMaxRawMs)} ms at t=${sum.lagMaxAtS ?? 'n/a'} s; after warm-up ${fmt(sum.stallMaxAfterWarmupMs)} ms; ` +
        `after warm-up in the ${sum.quietSamples} samples where other processes used < ${QUIET_OTHERS_CORES} core: ${fmt(sum.stallMaxQuietMs)} ms)`,
      pass: sum.stallMaxMs === undefined ? undefined : sum.stallMaxMs <= 50,
    },
    {
      what: `Achieved rate ≥ 98% of ${o.rate} req/s (answers in the measured window)`,
      value: `${fmt(drv.achievedRps)} req/s (${fmt((100 * drv.achievedRps) / o.rate)}%)`,
      pass: drv.achievedRps >= 0.98 * o.rate,
    },
    { what: 'No unexpected status (every class gets its expected answer)', value: String(drv.unexpected), pass: drv.unexpected === 0 },
  ];
}

interface SoakReport {
  date: string;
  options: SoakOptions;
  sidecarNodeOptions: string;
  policy: string;
  machine: Record<string, unknown>;
  summary: Summary;
  aims: Aim[];
  driver: DriverResult;
  audit: Awaited<ReturnType<typeof countAudits>>;
  samples: Sample[];
  broke?: string;
}

const outcomesText = (o: Record<string, number>) =>
  Object.entries(o)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');

function markdown(r: SoakReport): string {
  const o = r.options;
  const d = r.driver;
  const s = r.summary;
  const lines = [
    `# Soak: ${o.minutes} min at ${o.rate} req/s of mixed traffic, after ${o.warmupS} s of warm-up`,
    '',
    `${r.date} · ${String(r.machine.nproc)} CPUs (${String(r.machine.cpuModel)}), shared · Node ${String(r.machine.node)} · commit ${String(r.machine.commit)} · ` +
      `load average ${JSON.stringify(r.machine.loadavgAtStart)} → ${JSON.stringify(r.machine.loadavgAtEnd)}`,
    '',
    `One sidecar (\`${relative(ROOT, r.options.bin) || r.options.bin} sidecar\`, NODE_OPTIONS \`${r.sidecarNodeOptions}\`, policy \`${relative(ROOT, r.policy)}\`), the fake upstream, and an open-loop driver ` +
      `(node, undici, ${d.scheduled} requests on a fixed schedule). Samples every ${o.sampleS} s: VmRSS from /proc, heap and event-loop delay from the admin /metrics.`,
    ...(o.skip.length ? ['', `Classes left out (--skip): ${o.skip.join(', ')}.`] : []),
    ...(r.broke ? ['', `**The run broke: ${r.broke}**`] : []),
    '',
    '## Aims',
    '',
    '| aim | measured | |',
    '|---|---|---|',
    ...r.aims.map((a) => `| ${a.what} | ${a.value} | ${verdict(a.pass)} |`),
    '',
    `RSS: medians of the samples in the ${s.windowS} s after warm-up and in the last ${s.windowS} s of the load (lowest sample of each window: ${fmt(s.rssFloorAfterWarmupMiB)} → ` +
      `${fmt(s.rssFloorEndMiB)} MiB; single samples: ${fmt(s.rssAtWarmupPointMiB)} → ${fmt(s.rssAtEndPointMiB)} MiB; ` +
      `peak ${fmt(s.rssPeakMiB)} MiB). Trend over the measured part: RSS ${fmt(s.rssSlopeMiBPerMin, 2)} MiB/min, heap used ${fmt(s.heapSlopeMiBPerMin, 2)} MiB/min ` +
      `(${fmt(s.heapAfterWarmupMiB)} → ${fmt(s.heapEndMiB)} MiB). Sidecar CPU ${fmt(s.cpuPct, 0)}% of one core.`,
    '',
    `Event loop: prom-client's \`nodejs_eventloop_lag_max_seconds\` is the longest delay since the previous scrape (it resets on every scrape), ` +
      `measured with a ${LAG_RESOLUTION_MS} ms timer whose interval is part of every value: stall = lag max − ${LAG_RESOLUTION_MS} ms. ` +
      (s.stallsOver50.length
        ? `Scrapes with a stall over 50 ms (with the CPU other processes used in that period): ${s.stallsOver50.map((x) => `t=${x.t} s ${x.stallMs} ms (${fmt(x.othersCores, 2)})`).join(', ')}.`
        : 'No scrape saw a stall over 50 ms.'),
    '',
    `Other processes on this shared machine (${String(r.machine.nproc)} CPUs; the soak's own, sidecar, fake upstream, driver and sampler, not counted) used ${fmt(s.othersCoresMean, 2)} cores on average ` +
      `under load, ${fmt(s.othersCoresMax, 2)} at most. While they take the CPUs the sidecar waits for one, and every event-loop measurement counts the wait as a stall: ` +
      `stalls in samples where others used little (< ${QUIET_OTHERS_CORES} core) are the sidecar's own.`,
    '',
    `Driver: sent ${d.sent} of ${d.scheduled} scheduled; send lag p99 ${fmt(d.sendLagP99Ms)} ms, max ${fmt(d.sendLagMaxMs)} ms; its own event-loop delay max ` +
      `${fmt(d.driverLoopMaxMs)} ms; ${fmt(d.driverCpuS, 0)} s of CPU. (A large send lag would mean the driver, not the sidecar, set the pace.)`,
    '',
    '## Traffic classes',
    '',
    'Latency from the scheduled send to the whole answer read, over the measured window.',
    '',
    '| class | what | ‰ | expected | sent | outcomes | unexpected | p50 ms | p99 ms | max ms |',
    '|---|---|---:|---|---:|---|---:|---:|---:|---:|',
    ...d.classes.map(
      (k) =>
        `| ${k.id} | ${k.what} | ${k.weight} | ${k.expect.join(' or ')} | ${k.sent} | ${outcomesText(k.outcomes)} | ${k.unexpected ? `**${k.unexpected}**` : 0} | ${fmt(k.p50Ms)} | ${fmt(k.p99Ms)} | ${fmt(k.maxMs)} |`,
    ),
    '',
    `Audit lines written by the sidecar: ${r.audit.lines} (by status: ${outcomesText(r.audit.byStatus)}; by decision: ${outcomesText(r.audit.byDecision)}).`,
    '',
    '## Over time',
    '',
    '| t s | RSS MiB | heap used MiB | heap total MiB | external MiB | lag max ms (raw) | GC s (total) | CPU s (total) | others\' CPU (cores) | answered |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...thin(r.samples, 30).map(
      (x) =>
        `| ${Math.round(x.t)} | ${fmt(x.rssMiB)} | ${fmt(x.heapUsedMiB)} | ${fmt(x.heapTotalMiB)} | ${fmt(x.externalMiB)} | ${fmt(x.lagMaxMs)} | ${fmt(x.gcS, 2)} | ${fmt(x.cpuS, 0)} | ${fmt(x.othersCores, 2)} | ${x.done ?? ''}${x.error ? ` (scrape: ${x.error})` : ''} |`,
    ),
    '',
    `Every sample is in soak.json. Aims missed do not fail the run; see bench/README.md ("Soak").`,
    '',
  ];
  return lines.join('\n');
}

/** About `rows` samples spread over the run, always keeping the first and last. */
function thin(samples: Sample[], rows: number): Sample[] {
  if (samples.length <= rows) return samples;
  const step = (samples.length - 1) / (rows - 1);
  return Array.from({ length: rows }, (_, i) => samples[Math.round(i * step)]!);
}

// ------------------------------------------------------------------------------------------- main

function options(): SoakOptions {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      rate: { type: 'string', default: '500' },
      'warmup-s': { type: 'string', default: '60' },
      'sample-s': { type: 'string', default: '2' },
      out: { type: 'string', default: join(ROOT, 'bench', 'results') },
      bin: { type: 'string' },
      skip: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: node dist/bench/soak.js [--minutes N (10)] [--rate R (500)] [--warmup-s S (60)] [--sample-s S (2)] [--out DIR (bench/results)]\n' +
        '                               [--bin DIR | DIR/dist/bin/chaperone.js]   soak another build (a checkout, built)\n' +
        `                               [--skip CLASS,...]   leave classes out (${CLASSES.map((k) => k.id).join(', ')})\n`,
    );
    process.exit(0);
  }
  const number = (name: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || (min === 0 && v.trim() === '')) throw new Error(`--${name}: a number ≥ ${min}, got ${JSON.stringify(v)}`);
    return n;
  };
  // --bin DIR: another checkout's build, to compare one build with another on the same machine.
  const bin = values.bin === undefined ? CHAPERONE : values.bin.endsWith('.js') ? values.bin : join(values.bin, 'dist', 'bin', 'chaperone.js');
  const skip = values.skip?.split(',').map((x) => x.trim()).filter(Boolean) ?? [];
  const unknown = skip.filter((id) => !CLASSES.some((k) => k.id === id));
  if (unknown.length) throw new Error(`--skip: unknown class ${unknown.join(', ')}`);
  return {
    bin,
    skip,
    minutes: number('minutes', values.minutes, 0.1),
    rate: number('rate', values.rate, 1),
    warmupS: number('warmup-s', values['warmup-s'], 0),
    sampleS: number('sample-s', values['sample-s'], 0.5),
    out: values.out,
  };
}

/** Forks the driver and runs it to the end; `onStarted` gets the wall time of its schedule's start. */
function runDriver(cfg: DriverConfig, onStarted: (atWallMs: number) => void, onProgress: (m: Extract<DriverMessage, { type: 'progress' }>) => void): { child: ChildProcess; result: Promise<DriverResult> } {
  const child = fork(fileURLToPath(import.meta.url), ['--driver'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
  const result = new Promise<DriverResult>((resolve, reject) => {
    child.on('message', (m: DriverMessage) => {
      if (m.type === 'started') onStarted(m.atWallMs);
      else if (m.type === 'progress') onProgress(m);
      else if (m.type === 'result') resolve(m.result);
      else reject(new Error(`driver failed: ${m.message}`));
    });
    child.once('exit', (code, signal) => reject(new Error(`driver exited (${code ?? signal}) without a result`)));
  });
  child.send(cfg);
  return { child, result };
}

async function main(): Promise<number> {
  const o = options();
  const started = new Date();
  const host = machine();
  const tmp = mkdtempSync(join(tmpdir(), 'chaperone-soak-'));
  log(`${o.minutes} min at ${o.rate} req/s after ${o.warmupS} s of warm-up; ${CLASSES.length} traffic classes; samples every ${o.sampleS} s`);
  const stack = await startStack(tmp, { bin: o.bin, upstreamArgs: [join(DIST, 'bench', 'fake-upstream.js'), '--port', '0', '--stream-gap-ms', '5'] });
  let broke: string | undefined;
  let driver: DriverResult | undefined;
  let sampler: Sampler | undefined;
  let child: ChildProcess | undefined;
  try {
    await scrape(stack.sidecar.adminUrl); // empties the event-loop histogram: startup is not the soak's
    const cfg: DriverConfig = { proxyUrl: stack.sidecar.url, skip: o.skip, rate: o.rate, warmupS: o.warmupS, durationS: o.minutes * 60, timeoutMs: 30_000, maxInflight: 4_000, connections: 64, progressS: 5 };
    let lastLog = 0;
    const run = runDriver(
      cfg,
      (at) => {
        const ours = () => [process.pid, stack.sidecar.pid, stack.fake.pid, ...(child?.pid ? [child.pid] : [])];
        sampler = new Sampler(stack.sidecar.pid, stack.sidecar.adminUrl, at, new OthersCpu(ours));
        sampler.start(o.sampleS);
      },
      (p) => {
        if (sampler) sampler.progress = { sent: p.sent, done: p.done };
        if (p.t - lastLog < 30) return;
        lastLog = p.t;
        const last = sampler?.samples[sampler.samples.length - 1];
        log(`t=${Math.round(p.t)} s sent ${p.sent} answered ${p.done} in flight ${p.inflight} unexpected ${p.unexpected}  rss ${fmt(last?.rssMiB)} MiB heap ${fmt(last?.heapUsedMiB)} MiB lag max ${fmt(last?.lagMaxMs)} ms`);
      },
    );
    child = run.child;
    // A sidecar that dies under load ends the run: that is a broken run, reported as such.
    let finished = false;
    const died = once(stack.sidecar.proc, 'exit').then(([code, signal]) => {
      if (!finished) throw new Error(`the sidecar exited during the soak (${String(code ?? signal)}): ${stack.sidecar.stderr().slice(-2000)}`);
    });
    died.catch(() => {}); // read by the race below; later, the sidecar's exit is ours (stack.stop)
    driver = await Promise.race([run.result, died.then(() => run.result)]);
    finished = true;
    await sampler?.sample(); // one last sample right at the end of the load
  } catch (err) {
    broke = (err as Error).message;
    log(`the run broke: ${broke}`);
  } finally {
    sampler?.stop();
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await stack.stop();
  }
  const audit = await countAudits(stack.logFile);
  rmSync(tmp, { recursive: true, force: true });
  if (!driver) {
    process.stderr.write(`soak: no result: ${broke}\n`);
    return 1;
  }
  const summary = summarise(sampler?.samples ?? [], o);
  const report: SoakReport = {
    date: started.toISOString(),
    options: o,
    sidecarNodeOptions: productionNodeOptions(),
    policy: SOAK_POLICY,
    machine: { ...host, loadavgAtEnd: loadavg().map((l) => Math.round(l * 100) / 100), runSeconds: Math.round((Date.now() - started.getTime()) / 1000) },
    summary,
    aims: aims(summary, driver, o),
    driver,
    audit,
    samples: sampler?.samples ?? [],
    ...(broke ? { broke } : {}),
  };
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, 'soak.json'), JSON.stringify(report, null, 2) + '\n');
  const md = markdown(report);
  writeFileSync(join(o.out, 'soak.md'), md);
  process.stdout.write(md);
  for (const a of report.aims) log(`${verdict(a.pass).replace(/\*/g, '')}  ${a.what}: ${a.value}`);
  log(`wrote ${relative(process.cwd(), join(o.out, 'soak.md'))} and soak.json`);
  return broke ? 1 : 0;
}

const isEntry = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isEntry && process.argv.includes('--driver')) {
  driverMain();
} else if (isEntry) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`soak: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
