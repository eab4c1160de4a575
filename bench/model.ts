// The shapes a benchmark run produces (bench/results/latest.json) and the arithmetic on them.
import type { Work } from './work.js';

/**
 * `chaperone`: the sidecar with the pass-through policy, reached as HTTPS_PROXY (absolute-URI
 * requests, or CONNECT for TLS). `transparent`: the same sidecar binary and policy reached through
 * its transparent listener (--transparent-port), in the TLS scenarios: the client connects to the
 * listener itself with the provider's name as SNI, as the pod's iptables REDIRECT would deliver it.
 * `checks`: the same sidecar with every check on (bench/policies/all-checks.yaml), in the scenarios
 * that say so. `candidate`: another build of the sidecar (run.ts --candidate), pass-through policy.
 * `mitmproxy`, `agentreserve`: the peers (bench/peers/); mitmproxy also intercepts TLS in the TLS
 * scenarios, agentreserve is plain HTTP only. All measured in the same rounds.
 */
export type ContenderId = 'direct' | 'floor' | 'chaperone' | 'transparent' | 'checks' | 'candidate' | 'mitmproxy' | 'agentreserve';
export type ProxyId = Exclude<ContenderId, 'direct'>;
/** The sidecar processes: compared with the floor, audited (one line per call). */
export type SidecarId = 'chaperone' | 'transparent' | 'checks' | 'candidate';
export const SIDECARS: SidecarId[] = ['chaperone', 'transparent', 'checks', 'candidate'];
/** Other projects' proxies: both on plain HTTP, mitmproxy also intercepting TLS. */
export type PeerId = 'mitmproxy' | 'agentreserve';
export const PEER_IDS: PeerId[] = ['mitmproxy', 'agentreserve'];
export const CONTENDERS: ContenderId[] = ['direct', 'floor', 'chaperone', 'transparent', 'checks', 'mitmproxy', 'agentreserve'];
export const ALL_CONTENDERS: ContenderId[] = ['direct', 'floor', 'chaperone', 'transparent', 'checks', 'candidate', 'mitmproxy', 'agentreserve'];
/** Every process measured with /proc (all but direct). */
export const PROXIES: ProxyId[] = ['floor', 'chaperone', 'transparent', 'checks', 'candidate', 'mitmproxy', 'agentreserve'];

export interface Scenario {
  id: string;
  title: string;
  tls: boolean;
  load: { rate: number } | { concurrency: number };
  stream: boolean;
  /** Whether the `checks` contender (every check on) runs in this scenario. */
  checks: boolean;
  /**
   * Whether the peers run in this scenario: mitmproxy in plain HTTP and TLS (intercepting CONNECT),
   * agentreserve in plain HTTP only. The `transparent` contender runs in every TLS scenario.
   */
  peers?: boolean;
  /** The call sent; absent in results of older runs (1 KB OpenAI chat completion). */
  work?: Work;
  /** Part of the quick profile (the full profile runs every scenario). */
  quick?: boolean;
}

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface ErrorReport {
  total: number;
  by_kind: Record<string, number>;
  samples: Record<string, string>;
}

/** What bench/loadgen prints (one run). */
export interface LoadgenResult {
  mode: string;
  count: number;
  rps: number;
  body_bytes: number;
  errors: ErrorReport;
  status: Record<string, number>;
  latency_us: Percentiles;
  ttfb_us?: Percentiles;
  send_lag_us?: Percentiles;
  service_us?: Percentiles;
  hist_us?: Record<string, number>;
  ttfb_hist_us?: Record<string, number>;
  warmup_count: number;
  warmup_errors: ErrorReport;
  outside_window: number;
  outside_errors: ErrorReport;
  connections: number;
  go_version: string;
  gomaxprocs: number;
}

/** One measured slice: a load generator run against one contender, with the CPU its processes used. */
export interface Slice {
  round: number;
  result: LoadgenResult;
  /** utime+stime of the proxy process over the slice's window, seconds. */
  proxyCpuS?: number;
  upstreamCpuS?: number;
}

/** One contender in one scenario, pooled over its slices. */
export interface Measurement {
  contender: ContenderId;
  slices: number;
  /** Median over the slices. */
  rps: number;
  rpsMin: number;
  rpsMax: number;
  /** Successful requests in the measured windows. */
  count: number;
  /** Every failed request: measured windows, warmups and requests finishing after a window. */
  errors: number;
  errorsByKind: Record<string, number>;
  errorSamples: Record<string, string>;
  /** Percentiles pooled over every slice's histogram. */
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  /** The p50 of each slice, in round order (noise at a glance). */
  sliceP50Us: number[];
  sliceRps: number[];
  ttfbP50Us?: number;
  ttfbP99Us?: number;
  sendLagP99Us?: number;
  /** The proxy process (floor or sidecar); absent for direct. */
  proxyPeakRssMiB?: number;
  proxyCpuSecPer1k?: number;
  /** The fake upstream's CPU per 1000 requests: the same work for every contender, a noise check. */
  upstreamCpuSecPer1k?: number;
  /** Sidecar only: audit lines it wrote (one per call), against requestsSent. */
  auditLines?: number;
  /** Sidecar only: the audit lines by their `decision` field (the bench's traffic should all be allow). */
  decisions?: Record<string, number>;
  requestsSent: number;
  connections: number;
}

export interface ScenarioResult {
  scenario: Scenario;
  results: Partial<Record<ContenderId, Measurement>>;
  /** sidecar req/s ÷ floor req/s in each round (adjacent slices): drift cancels out. */
  roundRpsRatios: Partial<Record<SidecarId, number[]>>;
  /** checks req/s ÷ chaperone (pass-through) req/s in each round. */
  roundRpsVsPassthrough?: number[];
}

export const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Nearest-rank percentile of samples; NaN when empty. */
export function percentile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/** Adds histogram `h` into `into` (bucket lower bound in µs -> count). */
export function mergeHist(into: Map<number, number>, h: Record<string, number> | undefined): void {
  for (const [k, n] of Object.entries(h ?? {})) into.set(Number(k), (into.get(Number(k)) ?? 0) + n);
}

/** Nearest-rank percentile of a histogram; NaN when empty. */
export function histPercentile(h: Map<number, number>, q: number): number {
  const total = [...h.values()].reduce((a, b) => a + b, 0);
  if (total === 0) return NaN;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const k of [...h.keys()].sort((a, b) => a - b)) {
    seen += h.get(k)!;
    if (seen >= rank) return k;
  }
  return NaN;
}

function addErrors(into: Record<string, number>, samples: Record<string, string>, e: ErrorReport): number {
  for (const [k, n] of Object.entries(e.by_kind)) into[k] = (into[k] ?? 0) + n;
  for (const [k, msg] of Object.entries(e.samples)) samples[k] ??= msg;
  return e.total;
}

/**
 * Pools one contender's slices. `warmups` are the unmeasured runs before the rounds: their errors
 * and requests count too.
 */
export function pool(
  contender: ContenderId,
  slices: Slice[],
  warmups: LoadgenResult[],
  extra: { proxyPeakRssMiB?: number; auditLines?: number; decisions?: Record<string, number> },
): Measurement {
  const hist = new Map<number, number>();
  const ttfb = new Map<number, number>();
  const errorsByKind: Record<string, number> = {};
  const errorSamples: Record<string, string> = {};
  let errors = 0;
  let count = 0;
  let sent = 0;
  let connections = 0;
  let proxyCpu = 0;
  let upstreamCpu = 0;
  let cpuKnown = slices.length > 0;
  let maxUs = 0;
  for (const r of warmups) {
    for (const e of [r.errors, r.warmup_errors, r.outside_errors]) errors += addErrors(errorsByKind, errorSamples, e);
    sent += r.count + r.errors.total + r.warmup_count + r.outside_window;
    connections += r.connections;
  }
  for (const s of slices) {
    const r = s.result;
    mergeHist(hist, r.hist_us);
    mergeHist(ttfb, r.ttfb_hist_us);
    for (const e of [r.errors, r.warmup_errors, r.outside_errors]) errors += addErrors(errorsByKind, errorSamples, e);
    count += r.count;
    sent += r.count + r.errors.total + r.warmup_count + r.outside_window;
    connections += r.connections;
    maxUs = Math.max(maxUs, r.latency_us.max);
    if (s.upstreamCpuS === undefined || (contender !== 'direct' && s.proxyCpuS === undefined)) cpuKnown = false;
    proxyCpu += s.proxyCpuS ?? 0;
    upstreamCpu += s.upstreamCpuS ?? 0;
  }
  const rpsList = slices.map((s) => s.result.rps);
  const m: Measurement = {
    contender,
    slices: slices.length,
    rps: median(rpsList),
    rpsMin: Math.min(...rpsList),
    rpsMax: Math.max(...rpsList),
    count,
    errors,
    errorsByKind,
    errorSamples,
    p50Us: histPercentile(hist, 0.5),
    p90Us: histPercentile(hist, 0.9),
    p99Us: histPercentile(hist, 0.99),
    p999Us: histPercentile(hist, 0.999),
    maxUs,
    sliceP50Us: slices.map((s) => s.result.latency_us.p50),
    sliceRps: rpsList,
    requestsSent: sent,
    connections,
  };
  if (ttfb.size > 0) {
    m.ttfbP50Us = histPercentile(ttfb, 0.5);
    m.ttfbP99Us = histPercentile(ttfb, 0.99);
  }
  const lags = slices.flatMap((s) => (s.result.send_lag_us ? [s.result.send_lag_us.p99] : []));
  if (lags.length) m.sendLagP99Us = median(lags);
  if (cpuKnown && count > 0) {
    if (contender !== 'direct') m.proxyCpuSecPer1k = (proxyCpu * 1000) / count;
    m.upstreamCpuSecPer1k = (upstreamCpu * 1000) / count;
  }
  if (extra.proxyPeakRssMiB !== undefined) m.proxyPeakRssMiB = Math.round(extra.proxyPeakRssMiB * 10) / 10;
  if (extra.auditLines !== undefined) m.auditLines = extra.auditLines;
  if (extra.decisions !== undefined) m.decisions = extra.decisions;
  return m;
}

// ------------------------------------------------------------------------------------------ ratios

export interface Ratios {
  /** proxy req/s ÷ floor req/s (median of the per-round ratios when both ran every round). */
  rps?: number;
  /** proxy p50 − direct p50, µs. */
  addedP50Us?: number;
  addedP99Us?: number;
  addedP999Us?: number;
  addedTtfbP50Us?: number;
  addedTtfbP99Us?: number;
  /** The proxy's added p50 ÷ floor's added p50. */
  addedP50VsFloor?: number;
  addedP99VsFloor?: number;
  addedTtfbP50VsFloor?: number;
  cpuVsFloor?: number;
  rssVsFloor?: number;
  /** checks only: checks req/s ÷ chaperone req/s (median of the per-round ratios). */
  rpsVsPassthrough?: number;
  /** checks only: checks p50 − chaperone p50 (what every check on adds to a call), µs. */
  p50OverPassthroughUs?: number;
  p99OverPassthroughUs?: number;
  ttfbP50OverPassthroughUs?: number;
  /** checks only: checks CPU per request ÷ chaperone CPU per request. */
  cpuVsPassthrough?: number;
  /** checks only: checks CPU per request − chaperone CPU per request, µs of CPU per request. */
  cpuOverPassthroughUs?: number;
  /** peers only: checks (every check on) req/s ÷ this peer's req/s, median of the per-round ratios. */
  checksRpsOverPeer?: number;
  /** peers only: the per-round ratios behind checksRpsOverPeer. */
  checksRpsOverPeerRounds?: number[];
  /** peers only: this peer's CPU per request ÷ checks' CPU per request. */
  cpuVsChecks?: number;
}

const div = (a?: number, b?: number) => (a !== undefined && b !== undefined && b > 0 && Number.isFinite(a) && Number.isFinite(b) ? a / b : undefined);
const sub = (a?: number, b?: number) => (a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) ? a - b : undefined);

/**
 * num req/s ÷ den req/s in each round: slices i of two contenders ran in the same round, seconds
 * apart, so a drift of the machine cancels out. Empty when either lacks slices.
 */
export function perRoundRps(num?: Measurement, den?: Measurement): number[] {
  const a = num?.sliceRps ?? [];
  const b = den?.sliceRps ?? [];
  const out: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (b[i]! > 0) out.push(a[i]! / b[i]!);
  return out;
}

export function ratios(sr: ScenarioResult): Partial<Record<ProxyId, Ratios>> {
  const { direct, floor, chaperone, checks } = sr.results;
  const out: Partial<Record<ProxyId, Ratios>> = {};
  for (const who of PROXIES) {
    const m = sr.results[who];
    if (!m) continue;
    const r: Ratios = {};
    const set = <K extends keyof Ratios>(k: K, v: Ratios[K] | undefined) => {
      if (v !== undefined) r[k] = v;
    };
    if (who !== 'floor') {
      const rounds = (SIDECARS as ProxyId[]).includes(who) ? sr.roundRpsRatios[who as SidecarId] : perRoundRps(m, floor);
      set('rps', rounds?.length ? median(rounds) : div(m.rps, floor?.rps));
    }
    set('addedP50Us', sub(m.p50Us, direct?.p50Us));
    set('addedP99Us', sub(m.p99Us, direct?.p99Us));
    set('addedP999Us', sub(m.p999Us, direct?.p999Us));
    set('addedTtfbP50Us', sub(m.ttfbP50Us, direct?.ttfbP50Us));
    set('addedTtfbP99Us', sub(m.ttfbP99Us, direct?.ttfbP99Us));
    out[who] = r;
  }
  const f = out.floor;
  for (const who of PROXIES) {
    const c = out[who];
    const m = sr.results[who];
    if (who === 'floor' || !c || !f || !m || !floor) continue;
    const set = <K extends keyof Ratios>(k: K, v: number | undefined) => {
      if (v !== undefined) c[k] = v as Ratios[K];
    };
    set('addedP50VsFloor', div(c.addedP50Us, f.addedP50Us));
    set('addedP99VsFloor', div(c.addedP99Us, f.addedP99Us));
    set('addedTtfbP50VsFloor', div(c.addedTtfbP50Us, f.addedTtfbP50Us));
    set('cpuVsFloor', div(m.proxyCpuSecPer1k, floor.proxyCpuSecPer1k));
    set('rssVsFloor', div(m.proxyPeakRssMiB, floor.proxyPeakRssMiB));
  }
  for (const who of PEER_IDS) {
    const p = out[who];
    const m = sr.results[who];
    if (!p || !m || !checks) continue;
    const rounds = perRoundRps(checks, m);
    const v = rounds.length ? median(rounds) : div(checks.rps, m.rps);
    if (v !== undefined) p.checksRpsOverPeer = v;
    if (rounds.length) p.checksRpsOverPeerRounds = rounds;
    const cpu = div(m.proxyCpuSecPer1k, checks.proxyCpuSecPer1k);
    if (cpu !== undefined) p.cpuVsChecks = cpu;
  }
  const k = out.checks;
  if (k && checks && chaperone) {
    const set = <K extends keyof Ratios>(key: K, v: number | undefined) => {
      if (v !== undefined) k[key] = v as Ratios[K];
    };
    const rounds = sr.roundRpsVsPassthrough;
    set('rpsVsPassthrough', rounds?.length ? median(rounds) : div(checks.rps, chaperone.rps));
    set('p50OverPassthroughUs', sub(checks.p50Us, chaperone.p50Us));
    set('p99OverPassthroughUs', sub(checks.p99Us, chaperone.p99Us));
    set('ttfbP50OverPassthroughUs', sub(checks.ttfbP50Us, chaperone.ttfbP50Us));
    set('cpuVsPassthrough', div(checks.proxyCpuSecPer1k, chaperone.proxyCpuSecPer1k));
    const cpu = sub(checks.proxyCpuSecPer1k, chaperone.proxyCpuSecPer1k);
    if (cpu !== undefined) k.cpuOverPassthroughUs = cpu * 1000; // s per 1000 requests -> µs per request
  }
  return out;
}

// ----------------------------------------------------------------------------- transparent capture

/** The aim of transparent capture: within 10 % of the HTTPS_PROXY path on the same intercepted TLS work. */
export const TRANSPARENT_AIM_FRACTION = 0.1;

/**
 * Transparent capture against the HTTPS_PROXY path in one TLS scenario: the same sidecar binary and
 * policy, both terminating TLS with a leaf from the interception CA and running the same pipeline;
 * only how the connection reaches the sidecar differs (CONNECT through the proxy port, or straight to
 * the transparent listener with the provider's name as SNI).
 */
export interface TransparentVsProxy {
  /** transparent req/s ÷ chaperone req/s, the median of the per-round ratios. */
  rps?: number;
  rpsRounds: number[];
  /** transparent added p50 ÷ chaperone added p50 (added = contender − direct); absent when chaperone's is ≤ 0. */
  addedP50Ratio?: number;
  /** transparent p50 − chaperone p50, µs. */
  p50OverProxyUs?: number;
  p99OverProxyUs?: number;
  /** transparent CPU per request ÷ chaperone CPU per request. */
  cpu?: number;
  /** chaperone req/s ÷ mitmproxy req/s and transparent req/s ÷ mitmproxy req/s (TLS intercepted by each), median of per-round ratios. */
  proxyOverMitmproxy?: number;
  transparentOverMitmproxy?: number;
}

export function transparentVsProxy(sr: ScenarioResult): TransparentVsProxy | undefined {
  const { chaperone, transparent, mitmproxy } = sr.results;
  if (!chaperone || !transparent) return undefined;
  const q = ratios(sr);
  const out: TransparentVsProxy = { rpsRounds: perRoundRps(transparent, chaperone) };
  const set = <K extends keyof TransparentVsProxy>(k: K, v: TransparentVsProxy[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set('rps', out.rpsRounds.length ? median(out.rpsRounds) : div(transparent.rps, chaperone.rps));
  const proxyAdded = q.chaperone?.addedP50Us;
  if (proxyAdded !== undefined && proxyAdded > 0) set('addedP50Ratio', div(q.transparent?.addedP50Us, proxyAdded));
  set('p50OverProxyUs', sub(transparent.p50Us, chaperone.p50Us));
  set('p99OverProxyUs', sub(transparent.p99Us, chaperone.p99Us));
  set('cpu', div(transparent.proxyCpuSecPer1k, chaperone.proxyCpuSecPer1k));
  if (mitmproxy) {
    const over = (m: Measurement) => {
      const rounds = perRoundRps(m, mitmproxy);
      return rounds.length ? median(rounds) : div(m.rps, mitmproxy.rps);
    };
    set('proxyOverMitmproxy', over(chaperone));
    set('transparentOverMitmproxy', over(transparent));
  }
  return out;
}

// -------------------------------------------------------------------------------------------- aims

export interface Aim {
  id: string;
  description: string;
  value?: number;
  target: string;
  /** undefined: could not be judged (shown as n/a). */
  pass?: boolean;
  detail: string;
  /** Decimals of the value in the report (default 3, for ratios). */
  digits?: number;
  /**
   * The aims of issue 8 (against the floor and the peers) come first; then transparent capture
   * against the HTTPS_PROXY path (TLS); the earlier ones follow.
   */
  group?: 'peers' | 'transparent' | 'earlier';
}

/** Audit decisions other than allow, e.g. "redact: 3, deny: 1"; undefined when there are none. */
export function nonAllowDecisions(m: Measurement | undefined): string | undefined {
  const other = Object.entries(m?.decisions ?? {}).filter(([d, n]) => d !== 'allow' && n > 0);
  return other.length ? other.map(([d, n]) => `${d}: ${n}`).join(', ') : undefined;
}

/**
 * An aim holds only on a clean run: errors of the measured sidecar (or calls it did not allow) are a
 * MISS, errors of a yardstick leave nothing to compare against (n/a).
 */
function invalid(sr: ScenarioResult, subject: SidecarId = 'chaperone', yardsticks: ContenderId[] = ['direct', 'floor']): { pass?: false; note: string } | undefined {
  const s = sr.results[subject];
  if (!s || s.errors > 0 || s.count === 0) {
    return { pass: false, note: `${subject} had ${s?.errors ?? 'no result, '} errors (${Object.keys(s?.errorsByKind ?? {}).join(', ')})` };
  }
  const other = nonAllowDecisions(s);
  if (other) return { pass: false, note: `${subject} did not allow every call (${other}): the bench's traffic must be allowed` };
  for (const name of yardsticks) {
    const m = sr.results[name];
    if (!m || m.errors > 0 || m.count === 0) return { note: `${name} had errors or no result: nothing to compare against` };
  }
  return undefined;
}

/** The pass field of an aim: MISS when the run was not clean for the subject, n/a when no value. */
function judged(bad: { pass?: false } | undefined, value: number | undefined, ok: (v: number) => boolean): { value?: number; pass?: boolean } {
  if (bad) return bad.pass === false ? { pass: false } : {};
  return value !== undefined ? { value, pass: ok(value) } : {};
}

/** One DLP scan measurement (bench/dlp.ts): a scanner configuration on texts of one size, one core. */
export interface DlpRow {
  label: string;
  /** Characters per text. */
  size: number;
  /** Million characters scanned per second. */
  mbps: number;
  findingsPerMB: number;
  usPerText: number;
}

/** The configuration the DLP aim is judged on (bench/dlp.ts): every built-in detector, sensitivity high. */
export const DLP_AIM_LABEL = 'all 9 detectors, high';
export const DLP_AIM_MBPS = 200;
/** Peak resident set aim at 1000 req/s, in MB (10^6 bytes). */
export const RSS_AIM_MB = 60;
export const MIB_PER_MB = 1e6 / 2 ** 20;

/** Why a peer has no result in a run (not installed, failed to start), keyed by peer. */
export type PeerNotes = Partial<Record<PeerId, string>>;

export function aims(
  results: ScenarioResult[],
  fmt: { num: (x?: number) => string; signedUs: (x?: number) => string },
  dlp?: DlpRow[],
  peerNotes: PeerNotes = {},
): Aim[] {
  const out: Aim[] = [];
  const sat = results.find((r) => r.scenario.id === 'http-saturation');
  const rate = results.find((r) => r.scenario.id === 'http-rate');
  const rounds = (xs: number[] | undefined) => ((xs?.length ?? 0) > 1 ? `; per-round ratios ${xs!.map((x) => x.toFixed(2)).join(' ')}` : '');
  const withNote = (bad: { note: string } | undefined, detail: string) => (bad ? `${bad.note}; ${detail}` : detail);

  // Issue 8: every check on, against the floor and the peers, in the same run.
  if (sat) {
    const q = ratios(sat);
    const checks = sat.results.checks;
    if (checks) {
      const bad = invalid(sat, 'checks', ['direct', 'floor']);
      const detail =
        `checks ${fmt.num(checks.rps)} req/s, floor ${fmt.num(sat.results.floor?.rps)} req/s${rounds(sat.roundRpsRatios.checks)}` +
        `; pass-through chaperone ÷ floor ${q.chaperone?.rps === undefined ? 'n/a' : q.chaperone.rps.toFixed(2)}`;
      out.push({
        id: 'checks-vs-floor-saturation',
        group: 'peers',
        description: 'every check on: checks req/s ÷ floor req/s at saturation (plain HTTP, 16 connections, 1 KB call)',
        target: '≥ 0.60',
        ...judged(bad, q.checks?.rps, (v) => v >= 0.6),
        detail: withNote(bad, detail),
      });
    }
    for (const [peer, target] of [['agentreserve', 3], ['mitmproxy', 10]] as const) {
      const base = {
        id: `checks-vs-${peer}-saturation`,
        group: 'peers' as const,
        description: `every check on: checks req/s ÷ ${peer} req/s at saturation (plain HTTP, 16 connections, 1 KB call)`,
        target: `≥ ${target}`,
        digits: 2,
      };
      const m = sat.results[peer];
      if (!m || !checks) {
        out.push({ ...base, detail: peerNotes[peer] ? `${peer} not available: ${peerNotes[peer]}` : `no ${peer} result in this run` });
        continue;
      }
      const bad = invalid(sat, 'checks', [peer]);
      const p = q[peer];
      const detail = `checks ${fmt.num(checks.rps)} req/s, ${peer} ${fmt.num(m.rps)} req/s${rounds(p?.checksRpsOverPeerRounds)}`;
      out.push({ ...base, ...judged(bad, p?.checksRpsOverPeer, (v) => v >= target), detail: withNote(bad, detail) });
    }
  }
  if (rate) {
    const q = ratios(rate);
    const floorAdded = q.floor?.addedP50Us;
    const subject: SidecarId = rate.results.checks ? 'checks' : 'chaperone';
    const bad = invalid(rate, subject);
    const r = q[subject]?.addedP50VsFloor;
    const detail =
      floorAdded !== undefined && floorAdded <= 0
        ? `floor added ${fmt.signedUs(floorAdded)}: no ratio (noise larger than the floor's cost; rerun with --full)`
        : `checks ${fmt.signedUs(q.checks?.addedP50Us)}, pass-through chaperone ${fmt.signedUs(q.chaperone?.addedP50Us)} (${q.chaperone?.addedP50VsFloor?.toFixed(2) ?? 'n/a'}×), floor ${fmt.signedUs(floorAdded)}`;
    out.push({
      id: 'added-p50-at-1000rps',
      group: 'peers',
      description: `${subject === 'checks' ? 'every check on: checks' : 'chaperone'} added p50 ÷ floor added p50 at 1000 req/s (plain HTTP; added = proxy p50 − direct p50)`,
      target: '≤ 1.5',
      ...judged(bad, r, (v) => v <= 1.5),
      detail: withNote(bad, detail),
    });
    const rss = (m?: Measurement) => (m?.proxyPeakRssMiB === undefined ? undefined : m.proxyPeakRssMiB / MIB_PER_MB);
    const subjectRss = rss(rate.results[subject]);
    const others = (['chaperone', 'floor', 'mitmproxy', 'agentreserve'] as const)
      .filter((w) => w !== subject && rate.results[w]?.proxyPeakRssMiB !== undefined)
      .map((w) => `${w === 'chaperone' ? 'pass-through chaperone' : w} ${rss(rate.results[w])!.toFixed(1)} MB`);
    out.push({
      id: 'rss-at-1000rps',
      group: 'peers',
      description: `${subject === 'checks' ? 'every check on: checks' : 'chaperone'} peak RSS at 1000 req/s (plain HTTP; MB = 10^6 bytes)`,
      target: `≤ ${RSS_AIM_MB} MB`,
      digits: 1,
      ...judged(undefined, subjectRss, (v) => v <= RSS_AIM_MB),
      detail: others.join(', '),
    });
  }

  // Transparent capture: the transparent listener within 10 % of the HTTPS_PROXY path, same TLS work.
  const tlsSat = results.find((r) => r.scenario.id === 'tls-saturation');
  const tlsRate = results.find((r) => r.scenario.id === 'tls-rate');
  const within = TRANSPARENT_AIM_FRACTION;
  if (tlsSat?.results.transparent) {
    const t = transparentVsProxy(tlsSat);
    const bad = invalid(tlsSat, 'transparent', ['direct', 'chaperone']);
    const detail = `transparent ${fmt.num(tlsSat.results.transparent.rps)} req/s, chaperone ${fmt.num(tlsSat.results.chaperone?.rps)} req/s${rounds(t?.rpsRounds)}`;
    out.push({
      id: 'transparent-vs-proxy-saturation',
      group: 'transparent',
      description: 'transparent capture: transparent req/s ÷ chaperone (HTTPS_PROXY) req/s at saturation (TLS intercepted, 16 connections, 1 KB call)',
      target: `≥ ${(1 - within).toFixed(2)}`,
      ...judged(bad, t?.rps, (v) => v >= 1 - within),
      detail: withNote(bad, detail),
    });
  }
  if (tlsRate?.results.transparent) {
    const t = transparentVsProxy(tlsRate);
    const q = ratios(tlsRate);
    const bad = invalid(tlsRate, 'transparent', ['direct', 'chaperone']);
    const proxyAdded = q.chaperone?.addedP50Us;
    const detail =
      proxyAdded !== undefined && proxyAdded <= 0
        ? `chaperone added ${fmt.signedUs(proxyAdded)}: no ratio (noise larger than its cost; rerun with --full)`
        : `transparent ${fmt.signedUs(q.transparent?.addedP50Us)}, chaperone ${fmt.signedUs(proxyAdded)} (p50 ${fmt.signedUs(t?.p50OverProxyUs)} over chaperone)`;
    // A sidecar that cannot reach the rate at saturation queues at it: its p50 there is mostly queue.
    const offered = 'rate' in tlsRate.scenario.load ? tlsRate.scenario.load.rate : undefined;
    const behind = (['chaperone', 'transparent'] as const).filter((w) => offered !== undefined && (tlsSat?.results[w]?.rps ?? Infinity) < offered);
    const queued = behind.length
      ? `; ${behind.map((w) => `${w} reached ${fmt.num(tlsSat!.results[w]!.rps)} req/s at saturation`).join(', ')}, below the ${fmt.num(offered)} offered: its p50 here is mostly queue`
      : '';
    out.push({
      id: 'transparent-vs-proxy-added-p50-1000rps',
      group: 'transparent',
      description: 'transparent capture: transparent added p50 ÷ chaperone (HTTPS_PROXY) added p50 at 1000 req/s (TLS intercepted; added = contender p50 − direct p50)',
      target: `≤ ${(1 + within).toFixed(2)}`,
      ...judged(bad, t?.addedP50Ratio, (v) => v <= 1 + within),
      detail: withNote(bad, detail + queued),
    });
  }

  // The earlier aims (pass-through against the floor, every check against pass-through, DLP).
  if (sat) {
    const r = ratios(sat).chaperone?.rps;
    const bad = invalid(sat);
    const detail = `chaperone ${fmt.num(sat.results.chaperone?.rps)} req/s, floor ${fmt.num(sat.results.floor?.rps)} req/s${rounds(sat.roundRpsRatios.chaperone)}`;
    out.push({
      id: 'saturation-throughput',
      group: 'earlier',
      description: 'pass-through: chaperone req/s ÷ floor req/s at saturation (plain HTTP, 16 connections)',
      target: '≥ 0.60',
      ...judged(bad, r, (v) => v >= 0.6),
      detail: withNote(bad, detail),
    });
  }
  if (sat?.results.checks) {
    const q = ratios(sat).checks;
    const bad = invalid(sat, 'checks', ['chaperone', 'floor']);
    const detail = `checks ${fmt.num(sat.results.checks.rps)} req/s, chaperone ${fmt.num(sat.results.chaperone?.rps)} req/s${rounds(sat.roundRpsVsPassthrough)}`;
    out.push({
      id: 'checks-vs-passthrough-saturation',
      group: 'earlier',
      description: 'checks (every check on) req/s ÷ chaperone (pass-through) req/s at saturation (plain HTTP, 16 connections, 1 KB call)',
      target: '≥ 0.80',
      ...judged(bad, q?.rpsVsPassthrough, (v) => v >= 0.8),
      detail: withNote(bad, detail),
    });
  }
  if (dlp?.length) {
    const rows = dlp.filter((d) => d.label === DLP_AIM_LABEL).sort((a, b) => a.size - b.size);
    const min = rows.length ? Math.min(...rows.map((d) => d.mbps)) : undefined;
    const size = (n: number) => (n >= 1 << 20 ? `${n >> 20} MB` : `${n >> 10} KB`);
    out.push({
      id: 'dlp-scan-throughput',
      group: 'earlier',
      description: `DLP scan ≥ ${DLP_AIM_MBPS} MB/s per core (all detectors, 1 KB / 64 KB / 1 MB; value: the slowest size)`,
      target: `≥ ${DLP_AIM_MBPS} MB/s`,
      digits: 0,
      ...judged(undefined, min, (v) => v >= DLP_AIM_MBPS),
      detail: rows.length ? rows.map((d) => `${size(d.size)} ${d.mbps.toFixed(0)} MB/s`).join(', ') : `no "${DLP_AIM_LABEL}" rows`,
    });
  }
  return out;
}
