// bench/results/latest.md from a run's report.
import {
  ALL_CONTENDERS, DLP_AIM_LABEL, MIB_PER_MB, nonAllowDecisions, PEER_IDS, ratios, SIDECARS, TRANSPARENT_AIM_FRACTION, transparentVsProxy,
  type Aim, type ContenderId, type DlpRow, type Measurement, type PeerId, type PeerNotes, type ProxyId, type Ratios, type ScenarioResult, type SidecarId,
} from './model.js';

export interface Report {
  date: string;
  profile: string;
  /** What was measured, when the commit alone does not say (--label). */
  label?: string;
  /** Per contender: initial warmup, then `rounds` × (slice warmup + measured slice), contenders rotated. */
  plan: { warmupS: number; rounds: number; sliceS: number; sliceWarmupS: number };
  upstreamTrust: 'env' | 'flag';
  /** The 1 KB OpenAI call's size, bytes. */
  bodyBytes: number;
  /** Every body sent, by work key (e.g. openai-32kb), bytes. */
  bodies?: Record<string, number>;
  /** The fake upstream's answer delay and stream frame gap, ms. */
  upstreamDelayMs?: number;
  streamGapMs?: number;
  /** NODE_OPTIONS the sidecars ran with (the production image's, from the Dockerfile, unless overridden). */
  sidecarNodeOptions?: string;
  /** Each peer: installed and runnable here, with its version, or why not. */
  peers?: Record<PeerId, { ok: true; version: string; detail: string } | { ok: false; reason: string }>;
  /** Why a peer has no numbers (not available, or failed to start in some scenario). */
  peerNotes?: PeerNotes;
  /** bench/results/admission.md (the webhook's admission-latency bench), when present. */
  admission?: string;
  /** bench/results/propagation.md (bench/propagation.ts), when present. */
  propagation?: string;
  /** bench/results/pod-propagation.md (bench/pod-propagation.ts: a change to a running sidecar on a real kubelet), when present. */
  podPropagation?: string;
  /** The chart (bench/chart.py), or why it was not written. */
  chart?: { file?: string; reason?: string };
  machine: Record<string, unknown>;
  scenarios: ScenarioResult[];
  derived: Record<string, Partial<Record<ProxyId, Ratios>>>;
  /** --candidate: the other sidecar build measured as `candidate`. */
  candidate?: string;
  /** Chaperone over TLS ÷ chaperone over plain HTTP, same load: what interception itself costs. */
  interception: Record<string, { rps?: number; cpu?: number; addedP50Us?: number }>;
  /** DLP scan throughput (bench/dlp.ts --json), run after the scenarios. */
  dlp?: { rows: DlpRow[]; seconds: number; cpu: string };
  aims: Aim[];
}

const SIDECAR_NAME: Record<SidecarId, string> = { chaperone: 'Chaperone', transparent: 'Transparent', checks: 'Checks', candidate: 'Candidate' };

export function fmtNum(x?: number, digits = 0): string {
  if (x === undefined || !Number.isFinite(x)) return 'n/a';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
export function fmtUs(x?: number): string {
  return x === undefined || !Number.isFinite(x) ? 'n/a' : `${fmtNum(x)} µs`;
}
export function fmtSignedUs(x?: number): string {
  return x === undefined || !Number.isFinite(x) ? 'n/a' : `${x >= 0 ? '+' : '−'}${fmtNum(Math.abs(x))} µs`;
}
/** Text sizes of the DLP bench: 1 KB, 64 KB, 1 MB. */
export function fmtSize(n: number): string {
  return n >= 1 << 20 ? `${n >> 20} MB` : `${n >> 10} KB`;
}

/** The Markdown table of DLP scanner rows (bench/dlp.ts and the main report). */
export function dlpTable(rows: readonly DlpRow[]): string[] {
  return [
    '| scanner | text | MB/s | µs per text | findings per MB |',
    '|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.label} | ${fmtSize(r.size)} | ${r.mbps.toFixed(0)} | ${r.usPerText.toFixed(1)} | ${r.findingsPerMB.toFixed(0)} |`),
  ];
}

function fmtRatio(x?: number): string {
  return x === undefined || !Number.isFinite(x) ? 'n/a' : `${x.toFixed(2)}×`;
}
function fmtErrors(m: Measurement): string {
  if (m.errors === 0) return '0';
  return `**${fmtNum(m.errors)}** (${Object.entries(m.errorsByKind).map(([k, n]) => `${k}: ${n}`).join(', ')})`;
}
function fmtRps(m: Measurement): string {
  return m.slices > 1 ? `${fmtNum(m.rps)} (${fmtNum(m.rpsMin)}–${fmtNum(m.rpsMax)})` : fmtNum(m.rps);
}
/** Peak RSS in MB (10^6 bytes; the JSON keeps MiB). */
export function fmtRss(mib?: number): string {
  return mib === undefined || !Number.isFinite(mib) ? '—' : `${fmtNum(mib / MIB_PER_MB, 1)} MB`;
}

const PEER_NAME: Record<PeerId, string> = { mitmproxy: 'mitmproxy', agentreserve: 'agentreserve' };

function scenarioTable(sr: ScenarioResult): string {
  const q = ratios(sr);
  const stream = sr.scenario.stream;
  const head = stream
    ? ['contender', 'streams/s', 'TTFB p50', 'TTFB p99', 'added TTFB p50', 'total p50', 'total p99', 'errors', 'proxy peak RSS', 'proxy CPU s / 1k streams']
    : ['contender', 'req/s (slice range)', 'p50', 'p99', 'p99.9', 'added p50', 'added p99', 'added p99.9', 'errors', 'proxy peak RSS', 'proxy CPU s / 1k req'];
  const rows = [head, head.map(() => '---')];
  for (const who of ALL_CONTENDERS) {
    const m = sr.results[who];
    if (!m) continue;
    const r = who === 'direct' ? undefined : q[who];
    const rss = fmtRss(m.proxyPeakRssMiB);
    const cpu = who === 'direct' ? '—' : fmtNum(m.proxyCpuSecPer1k, 3);
    rows.push(
      stream
        ? [who, fmtNum(m.rps), fmtUs(m.ttfbP50Us), fmtUs(m.ttfbP99Us), r ? fmtSignedUs(r.addedTtfbP50Us) : '—', fmtUs(m.p50Us), fmtUs(m.p99Us), fmtErrors(m), rss, cpu]
        : [
            who, fmtRps(m), fmtUs(m.p50Us), fmtUs(m.p99Us), fmtUs(m.p999Us),
            r ? fmtSignedUs(r.addedP50Us) : '—', r ? fmtSignedUs(r.addedP99Us) : '—', r ? fmtSignedUs(r.addedP999Us) : '—', fmtErrors(m), rss, cpu,
          ],
    );
  }
  const lines = rows.map((r) => `| ${r.join(' | ')} |`);
  for (const who of SIDECARS) {
    const c = q[who];
    if (!c || !sr.results.floor) continue;
    const parts = [
      `req/s ${fmtRatio(c.rps)}`,
      stream ? `added TTFB p50 ${fmtRatio(c.addedTtfbP50VsFloor)}` : `added p50 ${fmtRatio(c.addedP50VsFloor)}, added p99 ${fmtRatio(c.addedP99VsFloor)}`,
      `CPU per request ${fmtRatio(c.cpuVsFloor)}`,
      `peak RSS ${fmtRatio(c.rssVsFloor)}`,
    ];
    lines.push('', `**${SIDECAR_NAME[who]} ÷ floor:** ${parts.join(' · ')}`);
  }
  const k = q.checks;
  if (k && sr.results.chaperone) {
    const parts = [
      `req/s ${fmtRatio(k.rpsVsPassthrough)}`,
      stream
        ? `TTFB p50 ${fmtSignedUs(k.ttfbP50OverPassthroughUs)}`
        : `p50 ${fmtSignedUs(k.p50OverPassthroughUs)}, p99 ${fmtSignedUs(k.p99OverPassthroughUs)}`,
      `CPU per request ${fmtRatio(k.cpuVsPassthrough)} (${fmtSignedUs(k.cpuOverPassthroughUs)} of CPU)`,
    ];
    lines.push('', `**Checks ÷ chaperone (what every check on costs over pass-through):** ${parts.join(' · ')}`);
  }
  for (const who of PEER_IDS) {
    const p = q[who];
    if (!p || !sr.results.checks) continue;
    const parts = [
      `req/s ${fmtRatio(p.checksRpsOverPeer)}`,
      `CPU per request ${fmtRatio(p.cpuVsChecks === undefined ? undefined : 1 / p.cpuVsChecks)}`,
      stream ? `added TTFB p50 ${fmtSignedUs(q.checks?.addedTtfbP50Us)} vs ${fmtSignedUs(p.addedTtfbP50Us)}` : `added p50 ${fmtSignedUs(q.checks?.addedP50Us)} vs ${fmtSignedUs(p.addedP50Us)}`,
    ];
    lines.push('', `**Checks ÷ ${PEER_NAME[who]}:** ${parts.join(' · ')}`);
  }
  for (const who of [...SIDECARS, ...PEER_IDS] as ContenderId[]) {
    const ch = sr.results[who];
    if (ch?.auditLines === undefined) continue;
    const note = ch.auditLines === ch.requestsSent ? 'one per request' : '**not one per request**';
    const other = nonAllowDecisions(ch);
    const decisions = other ? `**not all allow**: ${other}` : `all allow`;
    const name = who === 'chaperone' ? 'Sidecar' : (SIDECAR_NAME as Record<string, string>)[who] ?? who;
    const what = who === 'agentreserve' ? 'audit rows (SQLite)' : 'audit lines';
    lines.push('', `${name} ${what}: ${fmtNum(ch.auditLines)} for ${fmtNum(ch.requestsSent)} requests sent, warmups included (${note}); decisions: ${decisions}.`);
  }
  const samples = ALL_CONTENDERS.flatMap((w) => Object.entries(sr.results[w]?.errorSamples ?? {}).map(([k, msg]) => `- ${w} ${k}: \`${msg.replace(/\s+/g, ' ').slice(0, 200)}\``));
  if (samples.length) lines.push('', 'Error samples:', ...samples);
  return lines.join('\n');
}

/**
 * The headline: one row per contender, the figures of issue 8 across scenarios (columns for the
 * scenarios the run had), then every check on ÷ each peer.
 */
export function summaryTable(scenarios: ScenarioResult[]): string[] {
  const by = (id: string) => scenarios.find((s) => s.scenario.id === id);
  const cols: Array<{ head: string; cell: (who: ContenderId) => string }> = [];
  const rpsCol = (id: string, head: string) => {
    const sr = by(id);
    if (sr) cols.push({ head, cell: (who) => fmtNum(sr.results[who]?.rps) });
  };
  rpsCol('http-c1', 'req/s, 1 conn');
  rpsCol('http-saturation', 'req/s, 16 conns');
  rpsCol('http-c64', 'req/s, 64 conns');
  rpsCol('http-32kb', 'req/s, 32 KB, 16 conns');
  rpsCol('anthropic-saturation', 'req/s, Anthropic, 16 conns');
  const addedCol = (id: string, head: string) => {
    const sr = by(id);
    if (!sr) return;
    const q = ratios(sr);
    cols.push({
      head,
      cell: (who) => {
        const r = who === 'direct' ? undefined : q[who];
        const m = sr.results[who];
        if (!m) return 'n/a';
        if (who === 'direct') return `${fmtNum(m.p50Us)} / ${fmtNum(m.p99Us)} / ${fmtNum(m.p999Us)} µs (base)`;
        return `${fmtSignedUs(r?.addedP50Us)} / ${fmtSignedUs(r?.addedP99Us)} / ${fmtSignedUs(r?.addedP999Us)}`;
      },
    });
  };
  addedCol('http-rate-500', 'added p50 / p99 / p99.9, 500 req/s');
  addedCol('http-rate', 'added p50 / p99 / p99.9, 1000 req/s');
  const ttfb = ['http-stream', 'anthropic-stream'].map(by).filter((x): x is ScenarioResult => x !== undefined);
  if (ttfb.length) {
    cols.push({
      head: `added TTFB p50, ${ttfb.map((s) => (s.scenario.id === 'http-stream' ? 'OpenAI' : 'Anthropic')).join(' / ')} stream`,
      cell: (who) =>
        ttfb
          .map((s) => {
            const m = s.results[who];
            if (!m) return 'n/a';
            return who === 'direct' ? `${fmtNum(m.ttfbP50Us)} µs` : fmtSignedUs(ratios(s)[who]?.addedTtfbP50Us);
          })
          .join(' / '),
    });
  }
  const rate = by('http-rate');
  if (rate) {
    cols.push({ head: 'CPU s / 1k req, 1000 req/s', cell: (who) => (who === 'direct' ? '—' : fmtNum(rate.results[who]?.proxyCpuSecPer1k, 3)) });
    cols.push({ head: 'peak RSS, 1000 req/s', cell: (who) => (who === 'direct' ? '—' : fmtRss(rate.results[who]?.proxyPeakRssMiB)) });
  }
  const sat = by('http-saturation');
  if (sat) cols.push({ head: 'CPU s / 1k req, 16 conns', cell: (who) => (who === 'direct' ? '—' : fmtNum(sat.results[who]?.proxyCpuSecPer1k, 3)) });
  if (!cols.length) return [];
  const present = ALL_CONTENDERS.filter((w) => scenarios.some((s) => s.results[w] && !s.scenario.tls));
  const out = [`| contender | ${cols.map((c) => c.head).join(' | ')} |`, `| --- | ${cols.map(() => '---').join(' | ')} |`];
  for (const who of present) out.push(`| ${who} | ${cols.map((c) => c.cell(who)).join(' | ')} |`);
  const vs: string[] = [];
  for (const peer of PEER_IDS) {
    const parts = scenarios
      .filter((s) => !s.scenario.tls && !s.scenario.stream && 'concurrency' in s.scenario.load && s.results[peer] && s.results.checks)
      .map((s) => `${s.scenario.id} ${fmtRatio(ratios(s)[peer]?.checksRpsOverPeer)}`);
    if (parts.length) vs.push(`- checks ÷ ${peer}: ${parts.join(', ')}`);
  }
  if (vs.length) out.push('', 'Every check on ÷ each peer, req/s in the closed-loop scenarios (median of the per-round ratios):', '', ...vs);
  return out;
}

/** PASS / **MISS** / n/a of an aim. */
function verdict(a: Aim | undefined): string {
  return a?.pass === undefined ? 'n/a' : a.pass ? 'PASS' : '**MISS**';
}

/**
 * "Transparent capture": the sidecar's transparent listener against its HTTPS_PROXY path on the same
 * intercepted TLS work (tls-saturation and tls-rate), mitmproxy's TLS interception next to them, the
 * ratios and the aim. Empty when the run had no transparent contender.
 */
export function transparentSection(scenarios: ScenarioResult[], aims: Aim[]): string[] {
  const sat = scenarios.find((s) => s.scenario.id === 'tls-saturation');
  const rate = scenarios.find((s) => s.scenario.id === 'tls-rate');
  if (!sat?.results.transparent && !rate?.results.transparent) return [];
  const qSat = sat ? ratios(sat) : {};
  const qRate = rate ? ratios(rate) : {};
  const name: Partial<Record<ContenderId, string>> = {
    direct: 'direct (HTTPS, no proxy)',
    chaperone: 'chaperone (HTTPS_PROXY: CONNECT, intercepted)',
    transparent: 'transparent (transparent listener, intercepted)',
    mitmproxy: 'mitmproxy (HTTPS_PROXY: CONNECT, intercepted)',
  };
  const head = [
    'contender', 'req/s at saturation (slice range)', 'p50 / p99 at saturation', 'CPU s / 1k req at saturation',
    'p50 at 1000 req/s', 'p99 at 1000 req/s', 'added p50 / p99 at 1000 req/s', 'errors (saturation / 1000 req/s)',
  ];
  const rows = [head, head.map(() => '---')];
  for (const who of ['direct', 'chaperone', 'transparent', 'mitmproxy'] as const) {
    const s = sat?.results[who];
    const r = rate?.results[who];
    if (!s && !r) continue;
    const added =
      who === 'direct' ? '(base)' : r ? `${fmtSignedUs(qRate[who]?.addedP50Us)} / ${fmtSignedUs(qRate[who]?.addedP99Us)}` : 'n/a';
    rows.push([
      name[who]!,
      s ? fmtRps(s) : 'n/a',
      s ? `${fmtUs(s.p50Us)} / ${fmtUs(s.p99Us)}` : 'n/a',
      who === 'direct' ? '—' : fmtNum(s?.proxyCpuSecPer1k, 3),
      r ? fmtUs(r.p50Us) : 'n/a',
      r ? fmtUs(r.p99Us) : 'n/a',
      added,
      `${s ? fmtErrors(s) : 'n/a'} / ${r ? fmtErrors(r) : 'n/a'}`,
    ]);
  }
  const out = [
    '',
    '## Transparent capture (the transparent listener against the HTTPS_PROXY path, same intercepted TLS work)',
    '',
    'The same sidecar binary and pass-through policy, in two processes measured in the same rounds. `chaperone`: reached as HTTPS_PROXY: ' +
      'the client sends `CONNECT api.openai.com:443` to the proxy port and the sidecar terminates its TLS with a leaf from the interception CA. ' +
      '`transparent`: started with `--transparent-port 0`; the client has no proxy setting and dials `api.openai.com:443` at the transparent listener ' +
      "(the load generator's `-resolve`; SNI and certificate check stay `api.openai.com`); the listener reads the ClientHello, finds an intercepted name, " +
      'terminates TLS with a leaf from the same CA and runs the same pipeline, then calls the upstream by name (`--resolve`). ' +
      'In a pod, iptables REDIRECT delivers the app\'s connections to that listener; on loopback there is no iptables, and a client connecting straight to ' +
      '127.0.0.1:PORT with SNI api.openai.com runs the same listener code: the conntrack lookup it makes per new connection (a read of `/proc/net/nf_conntrack`) ' +
      'finds no NAT entry and falls back to port 443, and that read is still paid. ' +
      '`mitmproxy`: mitmdump with the same addon as in the plain scenarios, as a forward proxy intercepting CONNECT with its own CA (trusted by the load generator) ' +
      "and verifying the fake upstream against its CA. Both loads on the 1 KB call; \"added\" = contender − direct (HTTPS straight to the fake upstream), same percentile.",
    '',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
  const tSat = sat ? transparentVsProxy(sat) : undefined;
  const tRate = rate ? transparentVsProxy(rate) : undefined;
  const roundsOf = (xs?: number[]) => (xs && xs.length > 1 ? ` (per round ${xs.map((x) => x.toFixed(2)).join(' ')})` : '');
  const parts: string[] = [];
  if (tSat) parts.push(`req/s at saturation ${fmtRatio(tSat.rps)}${roundsOf(tSat.rpsRounds)}`);
  if (tRate) {
    parts.push(
      `added p50 at 1000 req/s ${fmtRatio(tRate.addedP50Ratio)} (${fmtSignedUs(qRate.transparent?.addedP50Us)} against ${fmtSignedUs(qRate.chaperone?.addedP50Us)})`,
      `p50 / p99 at 1000 req/s ${fmtSignedUs(tRate.p50OverProxyUs)} / ${fmtSignedUs(tRate.p99OverProxyUs)} over chaperone`,
    );
  }
  if (tSat) parts.push(`CPU per request at saturation ${fmtRatio(tSat.cpu)}`);
  if (parts.length) out.push('', `**Transparent ÷ chaperone (HTTPS_PROXY):** ${parts.join(' · ')}`);
  if (tSat?.proxyOverMitmproxy !== undefined || tSat?.transparentOverMitmproxy !== undefined) {
    out.push(
      '',
      `**Over mitmproxy, TLS intercepted by each, req/s at saturation:** chaperone ÷ mitmproxy ${fmtRatio(tSat.proxyOverMitmproxy)}, ` +
        `transparent ÷ mitmproxy ${fmtRatio(tSat.transparentOverMitmproxy)}; CPU per request, mitmproxy ÷ chaperone ` +
        `${fmtRatio(sat?.results.mitmproxy?.proxyCpuSecPer1k !== undefined && sat.results.chaperone?.proxyCpuSecPer1k ? sat.results.mitmproxy.proxyCpuSecPer1k / sat.results.chaperone.proxyCpuSecPer1k : undefined)}.`,
    );
  }
  const mine = aims.filter((a) => a.group === 'transparent');
  if (mine.length) {
    const pct = Math.round(TRANSPARENT_AIM_FRACTION * 100);
    const overall = mine.some((a) => a.pass === false) ? '**MISS**' : mine.every((a) => a.pass === true) ? 'PASS' : 'n/a';
    const each = mine.map((a) => `${a.id.includes('added-p50') ? 'added p50 at 1000 req/s' : 'req/s at saturation'} ${a.value === undefined ? 'n/a' : a.value.toFixed(2)} (target ${a.target}): ${verdict(a)}`);
    out.push('', `**Aim: transparent within ${pct} % of the proxy path:** ${overall} (${each.join('; ')}).`);
  }
  // At a fixed rate every request scheduled in the window counts, however late it finishes, so req/s
  // there is always the rate; whether a contender kept up shows at saturation. One that cannot reach
  // the offered rate with 16 connections builds a queue: its percentiles at that rate are mostly queue.
  const offered = rate && 'rate' in rate.scenario.load ? rate.scenario.load.rate : undefined;
  const behind = (['chaperone', 'transparent', 'mitmproxy'] as const).filter((w) => rate?.results[w] && sat?.results[w] && sat.results[w].rps < offered!);
  if (offered !== undefined && behind.length) {
    out.push(
      '',
      `Could not keep up with ${fmtNum(offered)} req/s in this run (req/s at saturation below it): ${behind.map((w) => `${w} ${fmtNum(sat!.results[w]!.rps)}`).join(', ')}. ` +
        'Their percentiles at the fixed rate are then mostly their queue (open loop, latency from the scheduled send), not the cost of a call' +
        (behind.includes('chaperone') || behind.includes('transparent') ? '; the added-p50 ratio compares queues more than per-call cost.' : '.'),
    );
  }
  return out;
}

/** A Markdown file of another bench, its headings pushed down under a section of ours. */
function embedded(text: string): string[] {
  return text
    .trim()
    .split('\n')
    .filter((l, i) => !(i === 0 && /^#\s/.test(l)))
    .map((l) => (/^#{1,4}\s/.test(l) ? `##${l}` : l));
}

export function markdown(report: Report): string {
  const m = report.machine;
  const p = report.plan;
  const out: string[] = [];
  out.push('# Chaperone benchmark: latest run', '');
  if (report.label) out.push(`**${report.label}**`, '');
  if (report.candidate) out.push(`\`candidate\`: another sidecar build, \`${report.candidate}\`, measured in the same rounds as \`chaperone\`.`, '');
  out.push(
    `${report.date} · profile \`${report.profile}\` · ${String(m.nproc)} × ${String(m.cpuModel)}, ${String(m.memGiB)} GiB, Linux ${String(m.kernel)} · ` +
      `node ${String(m.node)} · ${String(m.go)} · commit ${String(m.commit)} · load average ${(m.loadavgAtStart as number[]).join(' ')} at start, ` +
      `${(m.loadavgAtEnd as number[]).join(' ')} at end · ${String(m.runSeconds)} s`,
  );
  const bodies = report.bodies ?? {};
  const size = (k: string) => (bodies[k] !== undefined ? `${fmtNum(bodies[k])} bytes` : undefined);
  const sizes = [
    `1 KB OpenAI chat completion (system + user message, 2 tool definitions) ${report.bodyBytes} bytes`,
    size('openai-32kb') && `32 KB (the same call after a long earlier conversation, 6 tool definitions) ${size("openai-32kb")}`,
    size('anthropic-1kb-stream') && `the Anthropic Messages form of the 1 KB call ${size('anthropic-1kb-stream')} streamed`,
  ].filter(Boolean);
  out.push(
    '',
    `Calls: ${sizes.join('; ')}. The fake upstream answers ${report.upstreamDelayMs ? `after ${report.upstreamDelayMs} ms` : 'at once'} (streams: a frame every ${report.streamGapMs ?? 5} ms). ` +
      '`direct`: no proxy. `floor`: `bench/floor-proxy.ts`, the least a Node forward proxy does. ' +
      '`chaperone`: the sidecar with the pass-through policy (`bench/policies/passthrough.yaml`); ' +
      '`transparent` (TLS scenarios): the same sidecar and policy reached through its transparent listener instead of as HTTPS_PROXY (below); ' +
      '`checks`: the same sidecar with every check on in enforce mode (`bench/policies/all-checks.yaml`: egress rules with a rate limit, schedule, tools with stripForbidden, rate limits, DLP redact with all detectors at high plus a custom pattern and scanResponses, approvals, budget, circuit breaker), configured so the traffic is allowed. ' +
      `The sidecars run with NODE_OPTIONS \`${report.sidecarNodeOptions || '(none)'}\`${report.sidecarNodeOptions !== undefined ? " (the production image's, from the Dockerfile)" : ''}. ` +
      '`mitmproxy` and `agentreserve`: the peers (below); mitmproxy also intercepts TLS in the TLS scenarios, agentreserve is plain HTTP only. ' +
      `Per scenario, each contender gets a ${p.warmupS} s warmup, then ${p.rounds} rounds of ${p.sliceS} s measured slices (after ${p.sliceWarmupS} s of unmeasured load each), ` +
      'contenders rotated from round to round so a drift of this shared machine hits them alike. Percentiles pool every slice; req/s is the median slice (range in brackets). ' +
      'Everything runs on loopback and shares the 2 CPUs with the fake upstream and the load generator: read the ratios, not the absolute numbers. ' +
      'Fixed-rate runs use a pool of at most 16 client connections, saturation runs exactly their connection count. ' +
      (report.upstreamTrust === 'env'
        ? "The sidecar trusts the fake upstream's CA through NODE_EXTRA_CA_CERTS (the default root store, as against a public provider)."
        : "The sidecar trusts the fake upstream's CA through --upstream-ca."),
  );
  if (report.peers) {
    out.push('', 'Peers:');
    for (const peer of PEER_IDS) {
      const a = report.peers[peer];
      if (!a) continue;
      const note = report.peerNotes?.[peer];
      out.push(a.ok ? `- \`${peer}\`: ${a.detail}${note ? ` (**${note}**)` : ''}` : `- \`${peer}\`: **not available: ${a.reason}**`);
    }
    out.push(
      '- mitmproxy: `mitmdump` as a regular forward proxy with `bench/peers/mitm_addon.py`, which parses every JSON request body (model, messages, tools), parses JSON answers for their usage, streams server-sent events through, and appends one JSON audit line per call, as the mitmproxy-based sidecar egress proxies do. ' +
        "In the TLS scenarios it intercepts CONNECT: TLS terminated with a leaf from its own CA (the run's confdir; trusted by the load generator), its own TLS to the fake upstream verified against the fake's CA, SNI the provider's name; it connects upstream only once the addon has sent the call there (`connection_strategy=lazy`, `upstream_cert=false`).",
      "- agentreserve: rules like the every-check policy's egress section (two deny rules, a `/v1/*` allow rule with a rate limit and a time restriction that never refuse, a final deny), its SQLite audit store and its pino log; it has no `--resolve`, so its calls name the fake upstream's address (`http://127.0.0.1:PORT/...`) instead of the provider's host.",
    );
  }
  const table = (aims: Aim[]) => [
    '| aim | value | target | result | detail |',
    '| --- | --- | --- | --- | --- |',
    ...aims.map((a) => `| ${a.description} | ${a.value === undefined ? 'n/a' : a.value.toFixed(a.digits ?? 3)} | ${a.target} | ${a.pass === undefined ? 'n/a' : a.pass ? 'PASS' : '**MISS**'} | ${a.detail} |`),
  ];
  const current = report.aims.filter((a) => a.group !== 'earlier' && a.group !== 'transparent');
  const transparent = report.aims.filter((a) => a.group === 'transparent');
  const earlier = report.aims.filter((a) => a.group === 'earlier');
  out.push('', '## Aims');
  if (current.length) out.push('', ...table(current));
  if (transparent.length) {
    out.push('', 'Transparent capture against the HTTPS_PROXY path, same intercepted TLS work (within 10 %; section "Transparent capture" below):', '', ...table(transparent));
  }
  if (earlier.length) out.push('', 'Earlier aims (pass-through against the floor, every check against pass-through, DLP):', '', ...table(earlier));

  const summary = summaryTable(report.scenarios);
  if (summary.length) {
    out.push(
      '',
      '## Summary: every contender, the same work',
      '',
      '"added" = contender − direct at the same percentile (direct: its own latency). The full tables per scenario follow.',
      '',
      ...summary,
    );
  }
  if (report.chart?.file) {
    out.push('', `![Latency against load, per contender](${report.chart.file})`, '', `\`${report.chart.file}\`: left, p50 and p99 latency at the fixed rates (open loop); right, p50 latency against the throughput reached at 1, 16 and 64 connections (closed loop). Log scales.`);
  } else if (report.chart?.reason) {
    out.push('', `Chart not written: ${report.chart.reason}`);
  }

  const section = (title: string, intro: string, rs: ScenarioResult[], after: string[] = []) => {
    if (!rs.length) return;
    out.push('', `## ${title}`, '', intro);
    for (const sr of rs) out.push('', `### ${sr.scenario.title}`, '', scenarioTable(sr));
    out.push(...after);
  };
  section(
    'Plain HTTP (agent → proxy → upstream, HTTP on both legs)',
    '`direct`: load generator → fake upstream. `floor`: through `bench/floor-proxy.ts` (undici forward proxy, no checks). ' +
      '`chaperone`: through the sidecar, which parses the call, runs the policy pipeline, keeps metrics and writes an audit line. ' +
      '`checks`: the same sidecar with every check on. `mitmproxy`, `agentreserve`: the peers. "added" = contender − direct, same percentile.',
    report.scenarios.filter((s) => !s.scenario.tls),
  );
  const icpt = Object.entries(report.interception);
  section(
    'TLS via CONNECT (the cost of interception, shown separately)',
    '`direct`: HTTPS straight to the fake upstream. `floor`: CONNECT tunnel, bytes only: one TLS session end to end, nothing parsed. ' +
      '`chaperone`: CONNECT intercepted: TLS terminated with a leaf from its CA, the call parsed and checked, then re-encrypted to the upstream. ' +
      '`transparent`: the same sidecar, the connection made straight to its transparent listener with SNI api.openai.com (no CONNECT), then the same interception. ' +
      '`mitmproxy`: CONNECT intercepted by mitmdump with its own CA and the same addon as in plain HTTP. ' +
      'So chaperone ÷ floor here compares an inspecting proxy with two TLS sessions against a byte pipe: it is the price of seeing inside HTTPS at all, not a like-for-like proxy ratio.',
    report.scenarios.filter((s) => s.scenario.tls),
    icpt.length
      ? [
          '',
          'Interception alone, chaperone over TLS ÷ chaperone over plain HTTP at the same load: ' +
            icpt
              .map(([load, v]) => `${load}: req/s ${fmtRatio(v.rps)}, CPU per request ${fmtRatio(v.cpu)}, added p50 ${fmtSignedUs(v.addedP50Us)}`)
              .join(' · '),
        ]
      : [],
  );
  out.push(...transparentSection(report.scenarios, report.aims));
  if (report.dlp) {
    out.push(
      '',
      '## DLP scan throughput (one core)',
      '',
      `\`node dist/bench/dlp.js --json${report.profile === 'quick' ? ' --quick' : ''}\` in a process of its own after the scenarios, ${report.dlp.seconds} s per row, ${report.dlp.cpu}. ` +
        'Synthetic mixed prose, code, JSON and log lines with about one secret per 8 KB; MB = 10^6 characters. ' +
        `The aim is judged on "${DLP_AIM_LABEL}"; "all 9 + custom \`EMP-[0-9]{6}\`" is the scanner of \`bench/policies/all-checks.yaml\`. ` +
        'All configurations and each detector alone: `node dist/bench/dlp.js` → `bench/results/dlp.md`.',
      '',
      ...dlpTable(report.dlp.rows),
    );
  }
  // HOOK(admission): the admission-latency section. The webhook's own bench (`chaperone webhook`)
  // writes bench/results/admission.md; run.ts reads it into report.admission and it lands here as
  // it is (its headings pushed under this one). Nothing here measures admission itself.
  out.push('', '## Admission latency (webhook)', '');
  if (report.admission) out.push('From `bench/results/admission.md`, written by the webhook\'s admission bench:', '', ...embedded(report.admission));
  else out.push('Not measured in this run: `bench/results/admission.md` (the webhook\'s admission-latency bench) was not there.');
  out.push('', '## Operator propagation', '');
  if (report.propagation) {
    out.push('From `bench/results/propagation.md` (`node dist/bench/propagation.js`, which `make bench` runs before this report):', '', ...embedded(report.propagation));
  } else {
    out.push('Not measured: `bench/results/propagation.md` was not there (`node dist/bench/propagation.js` writes it).');
  }
  out.push('', '## Policy change to a running sidecar (real kubelet)', '');
  if (report.podPropagation) {
    out.push('From `bench/results/pod-propagation.md` (`node dist/bench/pod-propagation.js`, which `make bench` runs before this report):', '', ...embedded(report.podPropagation));
  } else {
    out.push('Not measured: `bench/results/pod-propagation.md` was not there (`node dist/bench/pod-propagation.js` writes it).');
  }
  out.push(
    '',
    '## Reading it',
    '',
    '- Latencies in microseconds. At a fixed rate they run from the scheduled send time (open loop: a stall shows in the percentiles instead of slowing the sender); at saturation from the actual send.',
    '- Errors count everything: warmups, measured windows and requests that finished after a window. Any non-zero count is bold, with its kinds and a sample.',
    "- Peak RSS: the proxy process's highest resident set over the scenario (kernel VmHWM and 100 ms VmRSS samples), in MB = 10^6 bytes. CPU: utime+stime of the proxy process (all its threads) over the measured windows per 1000 successful requests.",
    '- A MISS does not fail the run. See bench/README.md for what the figures mean and how to profile.',
  );
  return out.join('\n') + '\n';
}
