// bench/results/latest.md from a run's report.
import { ALL_CONTENDERS, DLP_AIM_LABEL, nonAllowDecisions, ratios, SIDECARS, type Aim, type DlpRow, type Measurement, type ProxyId, type Ratios, type ScenarioResult, type SidecarId } from './model.js';

export interface Report {
  date: string;
  profile: string;
  /** What was measured, when the commit alone does not say (--label). */
  label?: string;
  /** Per contender: initial warmup, then `rounds` × (slice warmup + measured slice), contenders rotated. */
  plan: { warmupS: number; rounds: number; sliceS: number; sliceWarmupS: number };
  upstreamTrust: 'env' | 'flag';
  bodyBytes: number;
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

const SIDECAR_NAME: Record<SidecarId, string> = { chaperone: 'Chaperone', checks: 'Checks', candidate: 'Candidate' };

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

function scenarioTable(sr: ScenarioResult): string {
  const q = ratios(sr);
  const stream = sr.scenario.stream;
  const head = stream
    ? ['contender', 'streams/s', 'TTFB p50', 'TTFB p99', 'added TTFB p50', 'total p50', 'total p99', 'errors', 'proxy peak RSS', 'proxy CPU s / 1k streams']
    : ['contender', 'req/s (slice range)', 'p50', 'p99', 'p99.9', 'added p50', 'added p99', 'errors', 'proxy peak RSS', 'proxy CPU s / 1k req'];
  const rows = [head, head.map(() => '---')];
  for (const who of ALL_CONTENDERS) {
    const m = sr.results[who];
    if (!m) continue;
    const r = who === 'direct' ? undefined : q[who];
    const rss = m.proxyPeakRssMiB !== undefined ? `${fmtNum(m.proxyPeakRssMiB, 1)} MiB` : '—';
    const cpu = who === 'direct' ? '—' : fmtNum(m.proxyCpuSecPer1k, 3);
    rows.push(
      stream
        ? [who, fmtNum(m.rps), fmtUs(m.ttfbP50Us), fmtUs(m.ttfbP99Us), r ? fmtSignedUs(r.addedTtfbP50Us) : '—', fmtUs(m.p50Us), fmtUs(m.p99Us), fmtErrors(m), rss, cpu]
        : [who, fmtRps(m), fmtUs(m.p50Us), fmtUs(m.p99Us), fmtUs(m.p999Us), r ? fmtSignedUs(r.addedP50Us) : '—', r ? fmtSignedUs(r.addedP99Us) : '—', fmtErrors(m), rss, cpu],
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
  for (const who of SIDECARS) {
    const ch = sr.results[who];
    if (ch?.auditLines === undefined) continue;
    const note = ch.auditLines === ch.requestsSent ? 'one per request' : '**not one per request**';
    const other = nonAllowDecisions(ch);
    const decisions = other ? `**not all allow**: ${other}` : `all allow`;
    lines.push(
      '',
      `${who === 'chaperone' ? 'Sidecar' : SIDECAR_NAME[who]} audit lines: ${fmtNum(ch.auditLines)} for ${fmtNum(ch.requestsSent)} requests sent, warmups included (${note}); decisions: ${decisions}.`,
    );
  }
  const samples = ALL_CONTENDERS.flatMap((w) => Object.entries(sr.results[w]?.errorSamples ?? {}).map(([k, msg]) => `- ${w} ${k}: \`${msg.replace(/\s+/g, ' ').slice(0, 200)}\``));
  if (samples.length) lines.push('', 'Error samples:', ...samples);
  return lines.join('\n');
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
  out.push(
    '',
    `Request: ${report.bodyBytes}-byte OpenAI chat completion (system + user message, 2 tool definitions). \`chaperone\`: the sidecar with the pass-through policy (\`bench/policies/passthrough.yaml\`); ` +
      '`checks`: the same sidecar with every check on in enforce mode (`bench/policies/all-checks.yaml`: egress rules with a rate limit, schedule, tools with stripForbidden, rate limits, DLP redact with all detectors at high plus a custom pattern and scanResponses, approvals, budget, circuit breaker), configured so the traffic is allowed; plain-HTTP scenarios. ' +
      `Per scenario, each contender gets a ${p.warmupS} s warmup, then ${p.rounds} rounds of ${p.sliceS} s measured slices (after ${p.sliceWarmupS} s of unmeasured load each), ` +
      'contenders rotated from round to round so a drift of this shared machine hits them alike. Percentiles pool every slice; req/s is the median slice (range in brackets). ' +
      'Everything runs on loopback and shares the CPUs with the fake upstream and the load generator: read the ratios, not the absolute numbers. ' +
      'Fixed-rate runs use a pool of at most 16 client connections, saturation runs exactly their connection count. ' +
      (report.upstreamTrust === 'env'
        ? "The sidecar trusts the fake upstream's CA through NODE_EXTRA_CA_CERTS (the default root store, as against a public provider)."
        : "The sidecar trusts the fake upstream's CA through --upstream-ca."),
  );
  out.push('', '## Aims', '', '| aim | value | target | result | detail |', '| --- | --- | --- | --- | --- |');
  for (const a of report.aims) {
    out.push(`| ${a.description} | ${a.value === undefined ? 'n/a' : a.value.toFixed(a.digits ?? 3)} | ${a.target} | ${a.pass === undefined ? 'n/a' : a.pass ? 'PASS' : '**MISS**'} | ${a.detail} |`);
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
      '`checks`: the same sidecar with every check on. "added" = contender − direct, same percentile.',
    report.scenarios.filter((s) => !s.scenario.tls),
  );
  const icpt = Object.entries(report.interception);
  section(
    'TLS via CONNECT (the cost of interception, shown separately)',
    '`direct`: HTTPS straight to the fake upstream. `floor`: CONNECT tunnel, bytes only: one TLS session end to end, nothing parsed. ' +
      '`chaperone`: CONNECT intercepted: TLS terminated with a leaf from its CA, the call parsed and checked, then re-encrypted to the upstream. ' +
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
  out.push(
    '',
    '## Reading it',
    '',
    '- Latencies in microseconds. At a fixed rate they run from the scheduled send time (open loop: a stall shows in the percentiles instead of slowing the sender); at saturation from the actual send.',
    '- Errors count everything: warmups, measured windows and requests that finished after a window. Any non-zero count is bold, with its kinds and a sample.',
    "- Peak RSS: the proxy process's highest resident set over the scenario (kernel VmHWM and 100 ms VmRSS samples). CPU: utime+stime over the measured windows per 1000 successful requests.",
    '- A MISS does not fail the run. See bench/README.md for what the figures mean and how to profile.',
  );
  return out.join('\n') + '\n';
}
