// One benchmark run: the sidecar (pass-through, and with every check on) against a direct call, a
// floor proxy and the peers (mitmproxy, @agentreserve/proxy), scenario by scenario, on loopback,
// contenders interleaved; over TLS also the sidecar's transparent listener against its HTTPS_PROXY
// path; then the DLP scan throughput, the chart, and the report. See bench/README.md.
//   node dist/bench/run.js [--quick | --full] [--only ID,...] [--out DIR] [--upstream-trust env|flag] [--label TEXT]
//   node dist/bench/run.js --peers none|mitmproxy,agentreserve   which peers to run (default: every one available)
//   node dist/bench/run.js --candidate ../other-checkout    also measure another sidecar build, same rounds
//   node dist/bench/run.js --cpu-prof [--only ID,...]     profile the floor and the sidecars instead
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, homedir, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { makeTestPki } from '../e2e/fake-provider/certs.js';
import { formatSummary, summarise } from './cpuprofile-top.js';
import {
  aims, ALL_CONTENDERS, CONTENDERS, PEER_IDS, pool, PROXIES, ratios, SIDECARS,
  type ContenderId, type DlpRow, type LoadgenResult, type PeerId, type PeerNotes, type Scenario, type ScenarioResult, type SidecarId, type Slice,
} from './model.js';
import { probePeers, startAgentreserve, startMitmproxy, type Availability, type PeerServer } from './peers/peers.js';
import { cpuSeconds, ProcSampler, runLoadgen, setClockTicks, startSidecar, startUrlServer, type Server } from './procs.js';
import { fmtNum, fmtSignedUs, fmtUs, markdown, type Report } from './report.js';
import { describeWork, requestBody, TARGETS, type Work } from './work.js';
import { imageNodeOptions } from '../lib/image-env.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DIST = join(ROOT, 'dist');
const CHAPERONE = join(DIST, 'bin', 'chaperone.js');
/** Every provider host the bench names; all of them are sent to the fake upstream. */
const HOSTS = [...new Set(Object.values(TARGETS).map((t) => t.host))];
/** Who the calls come from, as an SDK behind the sidecar would say: all-checks.yaml's tools and budget key on these. */
const AGENT = 'researcher';
const SESSION = 'bench';

const OPENAI_1KB: Work = { format: 'openai', size: '1kb', stream: false };
const plain = { tls: false, checks: true, peers: true } as const;

/**
 * The scenarios, in running order. `quick: true` ones make the quick profile (the default); the full
 * profile runs them all, longer. --only picks any of them.
 */
const SCENARIOS: Scenario[] = [
  { id: 'http-c1', title: '1 KB chat completion, plain HTTP, 1 connection (one call at a time)', ...plain, load: { concurrency: 1 }, stream: false, work: OPENAI_1KB, quick: true },
  { id: 'http-saturation', title: '1 KB chat completion, plain HTTP, saturation with 16 connections', ...plain, load: { concurrency: 16 }, stream: false, work: OPENAI_1KB, quick: true },
  { id: 'http-c64', title: '1 KB chat completion, plain HTTP, saturation with 64 connections', ...plain, load: { concurrency: 64 }, stream: false, work: OPENAI_1KB, quick: true },
  { id: 'http-rate-500', title: '1 KB chat completion, plain HTTP, fixed 500 req/s', ...plain, load: { rate: 500 }, stream: false, work: OPENAI_1KB, quick: true },
  { id: 'http-rate', title: '1 KB chat completion, plain HTTP, fixed 1000 req/s', ...plain, load: { rate: 1000 }, stream: false, work: OPENAI_1KB, quick: true },
  {
    id: 'http-32kb', title: '32 KB chat completion (long conversation, 6 tools), plain HTTP, 16 connections', ...plain, load: { concurrency: 16 }, stream: false,
    work: { format: 'openai', size: '32kb', stream: false }, quick: true,
  },
  {
    id: 'http-stream', title: 'Streamed chat completion (stream: true), plain HTTP, 4 connections: time to first byte', ...plain, load: { concurrency: 4 }, stream: true,
    work: { format: 'openai', size: '1kb', stream: true }, quick: true,
  },
  {
    id: 'anthropic-stream', title: 'Streamed Anthropic message (stream: true), plain HTTP, 4 connections: time to first byte', ...plain, load: { concurrency: 4 }, stream: true,
    work: { format: 'anthropic', size: '1kb', stream: true }, quick: true,
  },
  {
    id: 'anthropic-saturation', title: '1 KB Anthropic message, plain HTTP, saturation with 16 connections', ...plain, load: { concurrency: 16 }, stream: false,
    work: { format: 'anthropic', size: '1kb', stream: false },
  },
  {
    id: 'http-32kb-rate', title: '32 KB chat completion (long conversation, 6 tools), plain HTTP, fixed 500 req/s', ...plain, load: { rate: 500 }, stream: false,
    work: { format: 'openai', size: '32kb', stream: false },
  },
  // TLS: intercepted by the sidecar through CONNECT (chaperone) and through its transparent listener
  // (transparent), by mitmproxy through CONNECT (at saturation only: it cannot keep up with 1000
  // req/s over TLS here, and the backlog it still works through when the next contender's slice
  // starts takes that contender's CPU and turns its percentiles into mitmproxy's); tunnelled by the floor.
  { id: 'tls-rate', title: '1 KB chat completion over TLS (CONNECT, or the transparent listener), fixed 1000 req/s', tls: true, peers: false, load: { rate: 1000 }, stream: false, checks: false, work: OPENAI_1KB },
  {
    id: 'tls-saturation', title: '1 KB chat completion over TLS (CONNECT, or the transparent listener), saturation with 16 connections', tls: true, peers: true,
    load: { concurrency: 16 }, stream: false, checks: false, work: OPENAI_1KB, quick: true,
  },
];
/** Not a load scenario: the DLP scan throughput (bench/dlp.ts, one core), run after the others. */
const DLP_ID = 'dlp';

/** Client connection pool at a fixed rate (saturation runs use exactly their connection count). */
const RATE_MAX_CONNS = 16;

/** Per scenario and contender: warmupS, then rounds × (sliceWarmupS + sliceS measured). */
const PROFILES = {
  quick: { warmupS: 1, rounds: 4, sliceS: 1, sliceWarmupS: 0.5 },
  full: { warmupS: 3, rounds: 10, sliceS: 1.5, sliceWarmupS: 1 },
} as const;
type Plan = (typeof PROFILES)[keyof typeof PROFILES];

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000, ...opts }).trim();
}

function trySh(cmd: string, args: string[]): string | undefined {
  try {
    return sh(cmd, args);
  } catch {
    return undefined;
  }
}

/**
 * Builds bench/loadgen into a cache directory outside the repository, keyed by a hash of its sources
 * and the Go version; reused when present.
 */
function loadgenBinary(): string {
  const src = join(ROOT, 'bench', 'loadgen');
  const goVersion = sh('go', ['version']);
  const hash = createHash('sha256').update(goVersion);
  for (const f of readdirSync(src).filter((f) => (f.endsWith('.go') && !f.endsWith('_test.go')) || f === 'go.mod' || f === 'go.sum').sort()) {
    hash.update(f).update('\0').update(readFileSync(join(src, f))).update('\0');
  }
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const dir = join(cache, 'chaperone', 'bench', 'loadgen', hash.digest('hex').slice(0, 16));
  const bin = join(dir, 'loadgen');
  if (existsSync(bin)) return bin;
  log(`building the load generator into ${dir}`);
  mkdirSync(dir, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  sh('go', ['build', '-trimpath', '-o', tmp, '.'], { cwd: src, env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod', CGO_ENABLED: '0' } });
  renameSync(tmp, bin);
  return bin;
}

function machine(): Record<string, unknown> {
  let model = cpus()[0]?.model ?? 'unknown';
  try {
    model = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? model;
  } catch {
    // not Linux
  }
  const commit = trySh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']);
  const dirty = trySh('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no']);
  return {
    nproc: Number(trySh('nproc', [])) || availableParallelism(),
    cpuModel: model,
    memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    go: trySh('go', ['version'])?.replace(/^go version /, '') ?? 'unknown',
    commit: commit ? `${commit}${dirty ? ' (uncommitted changes)' : ''}` : 'unknown',
    loadavgAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

// ------------------------------------------------------------------------------------------- setup

interface Fixture {
  tmp: string;
  loadgen: string;
  /** The parsed bench/fixtures/chat-1kb.json, from which every body is built (bench/work.ts). */
  chat: unknown;
  /** Body files already written, by work key. */
  bodies: Map<string, { file: string; bytes: number }>;
  upstreamCert: string;
  upstreamKey: string;
  upstreamCa: string;
  caDir: string;
  /** The pass-through policy (chaperone, candidate) and the every-check-on one (checks). */
  policy: string;
  checksPolicy: string;
  peers: Record<PeerId, Availability>;
}

const workKey = (w: Work) => `${w.format}-${w.size}${w.stream ? '-stream' : ''}`;

/** The body file of a work item (written on first use). */
function bodyOf(fx: Fixture, w: Work): { file: string; bytes: number } {
  const key = workKey(w);
  let b = fx.bodies.get(key);
  if (!b) {
    const text = requestBody(fx.chat, w);
    b = { file: join(fx.tmp, `body-${key}.json`), bytes: Buffer.byteLength(text) };
    writeFileSync(b.file, text);
    fx.bodies.set(key, b);
  }
  return b;
}

async function prepare(peersWanted: PeerId[]): Promise<Fixture> {
  if (!existsSync(CHAPERONE) || !existsSync(join(DIST, 'bench', 'floor-proxy.js'))) {
    throw new Error(`${relative(process.cwd(), DIST) || 'dist'} is incomplete: run "make build" first`);
  }
  const tmp = mkdtempSync(join(tmpdir(), 'chaperone-bench-'));
  const loadgen = loadgenBinary();
  const chat = JSON.parse(readFileSync(join(ROOT, 'bench', 'fixtures', 'chat-1kb.json'), 'utf8')) as unknown;
  const pki = await makeTestPki(HOSTS);
  const file = (name: string, content: string) => (writeFileSync(join(tmp, name), content), join(tmp, name));
  const caDir = join(tmp, 'ca');
  sh(process.execPath, [CHAPERONE, 'ca', 'init', '--out', caDir]);
  const policy = join(ROOT, 'bench', 'policies', 'passthrough.yaml');
  const checksPolicy = join(ROOT, 'bench', 'policies', 'all-checks.yaml');
  sh(process.execPath, [CHAPERONE, 'policy', 'validate', policy, checksPolicy]);
  setClockTicks(Number(trySh('getconf', ['CLK_TCK'])));
  const probed = peersWanted.length ? probePeers() : ({} as Partial<Record<PeerId, Availability>>);
  const peers = {} as Record<PeerId, Availability>;
  for (const p of PEER_IDS) peers[p] = peersWanted.includes(p) ? probed[p]! : { ok: false, reason: 'left out (--peers)' };
  return {
    tmp,
    loadgen,
    chat,
    bodies: new Map(),
    upstreamCert: file('upstream.crt', pki.cert),
    upstreamKey: file('upstream.key', pki.key),
    upstreamCa: file('upstream-ca.crt', pki.caCert),
    caDir,
    policy,
    checksPolicy,
    peers,
  };
}

// ------------------------------------------------------------------------------------- measurement

interface RunOptions {
  plan: Plan;
  contenders: ContenderId[];
  /** Run the floor and the sidecar under `node --cpu-prof`, writing profiles here. */
  cpuProfDir?: string;
  /**
   * How the sidecar trusts the fake upstream's CA. `env`: NODE_EXTRA_CA_CERTS, i.e. the default root
   * store, as in production against a public provider. `flag`: --upstream-ca.
   */
  upstreamTrust: 'env' | 'flag';
  /** dist/bin/chaperone.js of another build, run as contender `candidate`. */
  candidateBin?: string;
  /** NODE_OPTIONS of the sidecar processes (the production image's, unless overridden). */
  sidecarNodeOptions: string;
  candidateNodeOptions: string;
  /** The fake upstream's answer delay and stream frame gap. */
  upstreamDelayMs: number;
  streamGapMs: number;
  /** Peers that failed to start in a scenario: reported, and left out of that scenario only. */
  peerFailures: PeerNotes;
}

/**
 * One scenario: a fresh fake upstream, floor, sidecars and peers; each contender warmed up, then
 * measured in short slices, round after round, in rotated order. Every server stays up for the
 * scenario (an idle proxy costs nothing while another is measured).
 */
async function runScenario(fx: Fixture, scn: Scenario, runOpt: RunOptions): Promise<ScenarioResult> {
  const runsHere = (c: ContenderId): boolean => {
    if (c === 'checks') return scn.checks;
    if (c === 'transparent') return scn.tls; // the transparent listener serves intercepted TLS
    if (c === 'mitmproxy') return !!scn.peers; // plain HTTP, and TLS intercepted through CONNECT
    if (c === 'agentreserve') return !!scn.peers && !scn.tls; // plain-HTTP forwarding only
    return true;
  };
  const opt = { ...runOpt, contenders: runOpt.contenders.filter(runsHere) };
  const work = scn.work ?? OPENAI_1KB;
  const target = TARGETS[work.format];
  const body = bodyOf(fx, work);
  const fakeArgs = [join(DIST, 'bench', 'fake-upstream.js'), '--port', '0', '--delay-ms', String(opt.upstreamDelayMs), '--stream-gap-ms', String(opt.streamGapMs)];
  if (scn.tls) fakeArgs.push('--tls-cert', fx.upstreamCert, '--tls-key', fx.upstreamKey);
  const fake = await startUrlServer('fake upstream', fakeArgs);
  const fakeAddr = new URL(fake.url).host; // 127.0.0.1:PORT
  const resolveArgs = HOSTS.flatMap((h) => ['--resolve', `${h}=${fakeAddr}`]);
  const proxies: Partial<Record<ContenderId, Server>> = {};
  const peerServers: Partial<Record<PeerId, PeerServer>> = {};
  const logFiles: Record<SidecarId, string> = {
    chaperone: join(fx.tmp, `sidecar-${scn.id}.log`),
    transparent: join(fx.tmp, `transparent-${scn.id}.log`),
    checks: join(fx.tmp, `checks-${scn.id}.log`),
    candidate: join(fx.tmp, `candidate-${scn.id}.log`),
  };
  const prof = (who: string) => (opt.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opt.cpuProfDir, '--cpu-prof-name', `${who}-${scn.id}.cpuprofile`] : []);
  /** The transparent contender's listener on 127.0.0.1 (IP:PORT), once started. */
  let transparentAddr: string | undefined;
  try {
    const starting: Array<Promise<unknown>> = [];
    if (opt.contenders.includes('floor')) {
      starting.push(
        startUrlServer('floor proxy', [join(DIST, 'bench', 'floor-proxy.js'), '--port', '0', ...resolveArgs], prof('floor')).then((s) => (proxies.floor = s)),
      );
    }
    for (const who of SIDECARS) {
      if (!opt.contenders.includes(who)) continue;
      const args = ['--policy', who === 'checks' ? fx.checksPolicy : fx.policy, ...resolveArgs, '--ca-dir', fx.caDir];
      if (opt.upstreamTrust === 'flag') args.push('--upstream-ca', fx.upstreamCa);
      // The transparent listener on a free port (127.0.0.1 and ::1); its address is in the "sidecar listening" line.
      if (who === 'transparent') args.push('--transparent-port', '0');
      const nodeOptions = who === 'candidate' ? opt.candidateNodeOptions : opt.sidecarNodeOptions;
      const env: NodeJS.ProcessEnv = { NODE_OPTIONS: nodeOptions, ...(opt.upstreamTrust === 'env' ? { NODE_EXTRA_CA_CERTS: fx.upstreamCa } : {}) };
      const bin = who === 'candidate' ? opt.candidateBin! : CHAPERONE;
      starting.push(
        startSidecar(bin, args, logFiles[who], { nodeFlags: prof(who), env }).then((s) => {
          proxies[who] = s;
          if (who !== 'transparent') return;
          const v4 = s.transparent.find((u) => u.startsWith('tcp://127.0.0.1:'));
          if (!v4) throw new Error(`sidecar --transparent-port 0: no 127.0.0.1 listener in its "sidecar listening" line (${JSON.stringify(s.transparent)})`);
          transparentAddr = new URL(v4).host;
        }),
      );
    }
    // The peers: a failure to start leaves that peer out of this scenario, with the reason reported.
    const startPeer = (who: PeerId, start: () => Promise<PeerServer>) =>
      start().then(
        (s) => ((peerServers[who] = s), (proxies[who] = s)),
        (err: unknown) => {
          const msg = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').slice(0, 300);
          opt.peerFailures[who] ??= `failed to start in ${scn.id}: ${msg}`;
          log(`${scn.id}: ${who} did not start, left out of this scenario: ${msg}`);
        },
      );
    if (opt.contenders.includes('mitmproxy')) {
      const resolveMap = Object.fromEntries(HOSTS.map((h) => [h, fakeAddr]));
      starting.push(startPeer('mitmproxy', () => startMitmproxy(fx.tmp, scn.id, resolveMap, scn.tls ? { upstreamCa: fx.upstreamCa } : undefined)));
    }
    if (opt.contenders.includes('agentreserve')) starting.push(startPeer('agentreserve', () => startAgentreserve(fx.tmp, scn.id, fakeAddr)));
    await Promise.all(starting);
    opt.contenders = opt.contenders.filter((c) => !(PEER_IDS as ContenderId[]).includes(c) || proxies[c]);
    const samplers: Partial<Record<ContenderId, ProcSampler>> = {};
    for (const who of PROXIES) if (proxies[who]) samplers[who] = new ProcSampler(proxies[who].pid);

    const loadgenArgs = (who: ContenderId, warmupS: number, durationS: number): string[] => {
      // agentreserve has no --resolve: its calls name the fake upstream's address (bench/peers/peers.ts).
      const url = who === 'agentreserve' ? `http://${fakeAddr}${target.path}` : `${scn.tls ? 'https' : 'http'}://${target.host}${target.path}`;
      const args = [
        '-url', url,
        '-body', body.file,
        '-header', 'Content-Type: application/json',
        ...target.headers.flatMap((h) => ['-header', h]),
        // Sent to every contender alike (the sidecar strips them, the others pass them on).
        '-header', `X-Chaperone-Agent: ${AGENT}`,
        '-header', `X-Chaperone-Session: ${SESSION}`,
        '-warmup', `${warmupS}s`,
        '-duration', `${durationS}s`,
        '-timeout', '10s',
      ];
      // A pool of 16 at a fixed rate too: every slice is a new client process whose first requests
      // each open a connection; a bigger pool turns each slice's start into a burst of CONNECTs and
      // TLS handshakes that says more about the pool than about the proxy.
      if ('rate' in scn.load) args.push('-rate', String(scn.load.rate), '-max-conns', String(RATE_MAX_CONNS));
      else args.push('-concurrency', String(scn.load.concurrency));
      if (scn.stream) args.push('-stream');
      const proxy = proxies[who];
      if (who === 'transparent') {
        // No proxy: the provider's name dialled at the transparent listener, SNI and certificate
        // check still the provider's name (loadgen's -resolve), as iptables REDIRECT would deliver
        // the app's connection to api.openai.com:443 in a pod.
        args.push('-resolve', `${target.host}=${transparentAddr!}`);
      } else if (proxy) args.push('-proxy', proxy.url);
      else args.push('-resolve', `${target.host}=${fakeAddr}`);
      if (scn.tls) {
        // Whose certificate the client sees: the sidecar's interception CA, mitmproxy's own CA, or
        // (direct, and the floor's byte tunnel) the fake upstream's.
        const ca = (SIDECARS as ContenderId[]).includes(who) ? join(fx.caDir, 'tls.crt') : who === 'mitmproxy' ? peerServers.mitmproxy?.caCert : fx.upstreamCa;
        if (!ca) throw new Error(`${scn.id} ${who}: no CA to trust`);
        args.push('-cacert', ca);
      }
      return args;
    };
    const bound = (s: number) => (s + 30) * 1000; // every load generator run is killed past this

    const warmups: Partial<Record<ContenderId, LoadgenResult[]>> = {};
    for (const who of opt.contenders) {
      const run = await runLoadgen<LoadgenResult>(fx.loadgen, loadgenArgs(who, 0, opt.plan.warmupS), () => {}, bound(opt.plan.warmupS));
      warmups[who] = [run.result];
    }

    const slices: Partial<Record<ContenderId, Slice[]>> = {};
    for (let round = 0; round < opt.plan.rounds; round++) {
      const order = opt.contenders.map((_, k) => opt.contenders[(k + round) % opt.contenders.length]!);
      for (const who of order) {
        const proxy = proxies[who];
        const cpu: Record<string, { proxy?: number; fake: number }> = {};
        const snap = () => ({ ...(proxy ? { proxy: cpuSeconds(proxy.pid) } : {}), fake: cpuSeconds(fake.pid) });
        const { warmupS, durationS } = { warmupS: opt.plan.sliceWarmupS, durationS: opt.plan.sliceS };
        const run = await runLoadgen<LoadgenResult>(fx.loadgen, loadgenArgs(who, warmupS, durationS), (e) => (cpu[e] = snap()), bound(warmupS + durationS));
        const a = cpu.measuring;
        const b = cpu.done;
        if (!a || !b) log(`${scn.id} ${who}: the load generator's window events were not seen; CPU per request is n/a`);
        const slice: Slice = { round, result: run.result };
        if (a && b) {
          if (a.proxy !== undefined && b.proxy !== undefined) slice.proxyCpuS = b.proxy - a.proxy;
          slice.upstreamCpuS = b.fake - a.fake;
        }
        (slices[who] ??= []).push(slice);
      }
    }

    const rss: Partial<Record<ContenderId, number>> = {};
    for (const who of PROXIES) if (samplers[who]) rss[who] = samplers[who].stop().peakRssMiB;
    const audits: Partial<Record<ContenderId, { lines: number; decisions: Record<string, number> }>> = {};
    for (const who of SIDECARS) {
      if (!proxies[who]) continue;
      await proxies[who].stop(); // drains, flushes its log (and writes its profile)
      audits[who] = countAudits(logFiles[who]);
    }
    for (const who of PEER_IDS) {
      const p = peerServers[who];
      if (!p) continue;
      await p.stop(); // mitmproxy flushes its audit file on exit; agentreserve's SQLite is read after
      audits[who] = p.auditRecords();
    }
    await proxies.floor?.stop();

    const sr: ScenarioResult = { scenario: scn, results: {}, roundRpsRatios: {} };
    for (const who of opt.contenders) {
      sr.results[who] = pool(who, slices[who] ?? [], warmups[who] ?? [], {
        ...(rss[who] !== undefined ? { proxyPeakRssMiB: rss[who] } : {}),
        ...(audits[who] !== undefined ? { auditLines: audits[who].lines, decisions: audits[who].decisions } : {}),
      });
    }
    // Per-round ratios: slices i of two contenders ran in the same round, seconds apart.
    const perRound = (num: Slice[] = [], den: Slice[] = []): number[] => {
      const out: number[] = [];
      for (let i = 0; i < Math.min(num.length, den.length); i++) if (den[i]!.result.rps > 0) out.push(num[i]!.result.rps / den[i]!.result.rps);
      return out;
    };
    for (const who of SIDECARS) {
      const rounds = perRound(slices[who], slices.floor);
      if (rounds.length) sr.roundRpsRatios[who] = rounds;
    }
    const vsPassthrough = perRound(slices.checks, slices.chaperone);
    if (vsPassthrough.length) sr.roundRpsVsPassthrough = vsPassthrough;
    return sr;
  } finally {
    await Promise.all(Object.values(proxies).map((p) => p.stop()));
    await fake.stop();
    for (const f of Object.values(logFiles)) rmSync(f, { force: true });
  }
}

/** The sidecar's audit lines (one per call) and their `decision` fields, counted by value. */
function countAudits(file: string): { lines: number; decisions: Record<string, number> } {
  const decisions: Record<string, number> = {};
  if (!existsSync(file)) return { lines: 0, decisions };
  const text = readFileSync(file, 'utf8');
  let lines = 0;
  for (let i = text.indexOf('"audit":true'); i >= 0; i = text.indexOf('"audit":true', i + 1)) {
    lines++;
    const start = text.lastIndexOf('\n', i) + 1;
    const end = text.indexOf('\n', i);
    const d = /"decision":"([^"]*)"/.exec(text.slice(start, end < 0 ? undefined : end))?.[1] ?? '(none)';
    decisions[d] = (decisions[d] ?? 0) + 1;
  }
  return { lines, decisions };
}

/**
 * The DLP scan throughput, in a process of its own (a fresh isolate on an otherwise idle machine,
 * every server of the scenarios stopped by now). Bounded: killed after 3 minutes.
 */
function runDlp(profile: 'quick' | 'full'): { rows: DlpRow[]; seconds: number; cpu: string } {
  const args = [join(DIST, 'bench', 'dlp.js'), '--json', ...(profile === 'quick' ? ['--quick'] : [])];
  const out = execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 180_000 });
  const r = JSON.parse(out) as { rows: DlpRow[]; seconds: number; cpu: string };
  return { rows: r.rows, seconds: r.seconds, cpu: r.cpu };
}

function progress(sr: ScenarioResult): void {
  for (const who of ALL_CONTENDERS) {
    const m = sr.results[who];
    if (!m) continue;
    const other = Object.entries(m.decisions ?? {}).filter(([d]) => d !== 'allow');
    const lat = sr.scenario.stream ? `TTFB p50 ${fmtUs(m.ttfbP50Us)}` : `p50 ${fmtUs(m.p50Us)}`;
    log(
      `${sr.scenario.id.padEnd(16)} ${who.padEnd(12)} ${fmtNum(m.rps).padStart(7)} req/s  ${lat.padStart(14)}  p99 ${fmtUs(m.p99Us).padStart(10)}  errors ${m.errors}` +
        (m.proxyPeakRssMiB !== undefined ? `  rss ${fmtNum(m.proxyPeakRssMiB, 1)} MiB  cpu ${fmtNum(m.proxyCpuSecPer1k, 3)} s/1k` : '') +
        (m.auditLines !== undefined ? `  audit ${m.auditLines}/${m.requestsSent}${other.length ? ` NOT ALLOWED: ${other.map(([d, n]) => `${d} ${n}`).join(', ')}` : ''}` : ''),
    );
  }
}

// ------------------------------------------------------------------------------------------- main

/** Reads a file of bench/results written by another bench (admission, propagation), if present. */
function optionalMarkdown(file: string): { file: string; text: string } | undefined {
  try {
    return { file, text: readFileSync(file, 'utf8') };
  } catch {
    return undefined;
  }
}

/**
 * bench/chart.py: latency against load per contender, from latest.json, with Debian's matplotlib
 * (bench/peers/install.sh). Bounded (killed after 2 minutes); a failure is reported, not fatal.
 */
function runChart(json: string, png: string): { ok: true } | { ok: false; reason: string } {
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  try {
    execFileSync(python, [join(ROOT, 'bench', 'chart.py'), json, png], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    return { ok: true };
  } catch (err) {
    const e = err as { stderr?: string; message?: string };
    return { ok: false, reason: (e.stderr || e.message || String(err)).trim().split('\n').slice(-1)[0]!.slice(0, 300) };
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      full: { type: 'boolean' },
      only: { type: 'string' },
      out: { type: 'string', default: join(ROOT, 'bench', 'results') },
      'cpu-prof': { type: 'boolean' },
      'upstream-trust': { type: 'string', default: 'env' },
      label: { type: 'string' },
      candidate: { type: 'string' },
      peers: { type: 'string' },
      'upstream-delay-ms': { type: 'string', default: '0' },
      'stream-gap-ms': { type: 'string', default: '5' },
      'sidecar-node-options': { type: 'string' },
      'no-chart': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: node dist/bench/run.js [--quick | --full] [--only ID,...] [--out DIR] [--upstream-trust env|flag] [--label TEXT] [--candidate DIR] [--cpu-prof]\n' +
        '                              [--peers none|mitmproxy,agentreserve] [--upstream-delay-ms N] [--stream-gap-ms N] [--sidecar-node-options STR] [--no-chart]\n' +
        `scenarios (* = quick profile): ${SCENARIOS.map((s) => `${s.id}${s.quick ? '*' : ''}`).join(', ')}, ${DLP_ID}* (the DLP scan throughput, run last)\n`,
    );
    return;
  }
  if (values.quick && values.full) throw new Error('--quick and --full: choose one');
  const profile = values.full ? 'full' : 'quick';
  const plan = PROFILES[profile];
  const only = values.only?.split(',').map((s) => s.trim());
  const unknown = only?.filter((id) => id !== DLP_ID && !SCENARIOS.some((s) => s.id === id));
  if (unknown?.length) throw new Error(`--only: unknown scenario ${unknown.join(', ')} (have ${[...SCENARIOS.map((s) => s.id), DLP_ID].join(', ')})`);
  const scenarios = SCENARIOS.filter((s) => (only ? only.includes(s.id) : profile === 'full' || s.quick));
  const withDlp = !values['cpu-prof'] && (!only || only.includes(DLP_ID));
  const upstreamTrust = values['upstream-trust'];
  if (upstreamTrust !== 'env' && upstreamTrust !== 'flag') throw new Error('--upstream-trust: env or flag');
  const nonNegative = (name: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name}: a non-negative integer`);
    return n;
  };
  const upstreamDelayMs = nonNegative('upstream-delay-ms', values['upstream-delay-ms']);
  const streamGapMs = nonNegative('stream-gap-ms', values['stream-gap-ms']);
  const peersWanted: PeerId[] =
    values.peers === undefined ? PEER_IDS : values.peers === 'none' ? [] : values.peers.split(',').map((p) => p.trim() as PeerId);
  const badPeer = peersWanted.filter((p) => !PEER_IDS.includes(p));
  if (badPeer.length) throw new Error(`--peers: unknown ${badPeer.join(', ')} (have ${PEER_IDS.join(', ')}, or none)`);
  // --candidate DIR: another checkout's build (DIR/dist/bin/chaperone.js, or the file itself).
  let candidateBin: string | undefined;
  if (values.candidate !== undefined) {
    candidateBin = values.candidate.endsWith('.js') ? values.candidate : join(values.candidate, 'dist', 'bin', 'chaperone.js');
    if (!existsSync(candidateBin)) throw new Error(`--candidate: ${candidateBin} does not exist (build that checkout first)`);
  }
  // The sidecars run with the production image's NODE_OPTIONS (the Dockerfile's), unless told otherwise.
  const sidecarNodeOptions = values['sidecar-node-options'] ?? imageNodeOptions();
  const candidateNodeOptions =
    values['sidecar-node-options'] ?? (candidateBin ? imageNodeOptions(join(dirname(candidateBin), '..', '..', 'Dockerfile')) : '');

  const started = Date.now();
  const host = machine();
  const fx = await prepare(values['cpu-prof'] ? [] : peersWanted);
  const available = PEER_IDS.filter((p) => fx.peers[p].ok);
  for (const p of PEER_IDS) {
    const a = fx.peers[p];
    if (peersWanted.includes(p)) log(a.ok ? `peer ${p}: ${a.detail}` : `peer ${p} not available: ${a.reason}`);
  }
  const contenders: ContenderId[] = [
    ...CONTENDERS.filter((c) => !(PEER_IDS as ContenderId[]).includes(c) || available.includes(c as PeerId)),
    ...(candidateBin ? (['candidate'] as const) : []),
  ];
  const peerFailures: PeerNotes = {};
  const common = { plan, upstreamTrust, sidecarNodeOptions, candidateNodeOptions, upstreamDelayMs, streamGapMs, peerFailures, ...(candidateBin ? { candidateBin } : {}) } as const;
  try {
    if (values['cpu-prof']) {
      // The profiler's overhead makes these runs useless as measurements: nothing goes to latest.*.
      mkdirSync(values.out, { recursive: true });
      for (const scn of scenarios) {
        const profiled = contenders.filter(
          (c) => c === 'floor' || ((SIDECARS as ContenderId[]).includes(c) && (c !== 'checks' || scn.checks) && (c !== 'transparent' || scn.tls)),
        );
        log(`${scn.id}: ${profiled.join(', ')} under --cpu-prof`);
        const sr = await runScenario(fx, scn, { ...common, contenders: profiled, cpuProfDir: values.out });
        progress(sr);
        for (const who of profiled) {
          const file = join(values.out, `${who}-${scn.id}.cpuprofile`);
          if (!existsSync(file)) throw new Error(`no profile written at ${file}`);
          const m = sr.results[who]!;
          const summary = summarise(JSON.parse(readFileSync(file, 'utf8')) as Parameters<typeof summarise>[0]);
          process.stdout.write(`== ${relative(process.cwd(), file)}: ${fmtNum(m.requestsSent)} requests served (profiled)\n${formatSummary(summary, m.requestsSent)}\n\n`);
        }
      }
      return;
    }

    const results: ScenarioResult[] = [];
    for (const scn of scenarios) {
      log(`${scn.id}: ${scn.title}`);
      const sr = await runScenario(fx, scn, { ...common, contenders });
      progress(sr);
      results.push(sr);
    }
    let dlp: Report['dlp'];
    if (withDlp) {
      log(`${DLP_ID}: DLP scan throughput, one core (node dist/bench/dlp.js --json${profile === 'quick' ? ' --quick' : ''})`);
      dlp = runDlp(profile);
    }

    const interception: Report['interception'] = {};
    for (const [load, plainId, tlsId] of [['fixed 1000 req/s', 'http-rate', 'tls-rate'], ['saturation', 'http-saturation', 'tls-saturation']] as const) {
      const p = results.find((r) => r.scenario.id === plainId)?.results;
      const t = results.find((r) => r.scenario.id === tlsId)?.results;
      if (!p?.chaperone || !t?.chaperone) continue;
      const div = (a?: number, b?: number) => (a !== undefined && b !== undefined && b > 0 && Number.isFinite(a) ? a / b : undefined);
      const entry: Report['interception'][string] = {};
      const rps = div(t.chaperone.rps, p.chaperone.rps);
      const cpu = div(t.chaperone.proxyCpuSecPer1k, p.chaperone.proxyCpuSecPer1k);
      if (rps !== undefined) entry.rps = rps;
      if (cpu !== undefined) entry.cpu = cpu;
      if (p.direct && t.direct) entry.addedP50Us = t.chaperone.p50Us - t.direct.p50Us - (p.chaperone.p50Us - p.direct.p50Us);
      interception[load] = entry;
    }

    // Why a peer has no numbers: not available here, or failed to start in some scenario.
    const peerNotes: PeerNotes = {};
    for (const p of PEER_IDS) {
      const a = fx.peers[p];
      if (!a.ok) peerNotes[p] = a.reason;
      else if (peerFailures[p]) peerNotes[p] = peerFailures[p];
    }
    mkdirSync(values.out, { recursive: true });
    const report: Report = {
      date: new Date(started).toISOString(),
      profile,
      plan,
      upstreamTrust,
      bodyBytes: bodyOf(fx, OPENAI_1KB).bytes,
      bodies: Object.fromEntries([...fx.bodies.entries()].map(([k, b]) => [k, b.bytes])),
      upstreamDelayMs,
      streamGapMs,
      sidecarNodeOptions,
      peers: fx.peers,
      peerNotes,
      ...(values.label ? { label: values.label } : {}),
      ...(candidateBin ? { candidate: candidateBin } : {}),
      machine: { ...host, loadavgAtEnd: loadavg().map((l) => Math.round(l * 100) / 100), runSeconds: Math.round((Date.now() - started) / 1000) },
      scenarios: results,
      derived: Object.fromEntries(results.map((r) => [r.scenario.id, ratios(r)])),
      interception,
      ...(dlp ? { dlp } : {}),
      aims: aims(results, { num: (x) => fmtNum(x), signedUs: fmtSignedUs }, dlp?.rows, peerNotes),
    };
    // HOOK(admission): the webhook's admission-latency bench writes bench/results/admission.md;
    // when it is there, latest.md carries it as its "Admission latency" section (report.ts).
    const admission = optionalMarkdown(join(values.out, 'admission.md'));
    if (admission) report.admission = admission.text;
    const propagation = optionalMarkdown(join(values.out, 'propagation.md'));
    if (propagation) report.propagation = propagation.text;
    const podPropagation = optionalMarkdown(join(values.out, 'pod-propagation.md'));
    if (podPropagation) report.podPropagation = podPropagation.text;
    const jsonFile = join(values.out, 'latest.json');
    writeFileSync(jsonFile, JSON.stringify(report, null, 2) + '\n');
    if (!values['no-chart']) {
      const chart = runChart(jsonFile, join(values.out, 'latency.png'));
      report.chart = chart.ok ? { file: 'latency.png' } : { reason: chart.reason };
      if (!chart.ok) log(`chart not written: ${chart.reason}`);
      writeFileSync(jsonFile, JSON.stringify(report, null, 2) + '\n');
    }
    const md = markdown(report);
    writeFileSync(join(values.out, 'latest.md'), md);
    process.stdout.write(md);
    log(`wrote ${relative(process.cwd(), join(values.out, 'latest.md'))}, latest.json${report.chart?.file ? ' and latency.png' : ''} in ${Math.round((Date.now() - started) / 1000)} s`);
  } finally {
    rmSync(fx.tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
