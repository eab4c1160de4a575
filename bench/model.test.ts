import { describe, expect, it } from 'vitest';
import { aims, MIB_PER_MB, perRoundRps, ratios, transparentVsProxy, type ContenderId, type Measurement, type Scenario, type ScenarioResult } from './model.js';
import { fmtNum, fmtSignedUs, markdown, summaryTable, transparentSection, type Report } from './report.js';

/** A measurement with the figures a test cares about; the rest neutral. */
function m(contender: ContenderId, f: Partial<Measurement> & { sliceRps: number[] }): Measurement {
  const sorted = [...f.sliceRps].sort((a, b) => a - b);
  return {
    contender,
    slices: f.sliceRps.length,
    rps: sorted[Math.floor(sorted.length / 2)]!,
    rpsMin: sorted[0]!,
    rpsMax: sorted.at(-1)!,
    count: 1000,
    errors: 0,
    errorsByKind: {},
    errorSamples: {},
    p50Us: 500,
    p90Us: 700,
    p99Us: 900,
    p999Us: 1200,
    maxUs: 2000,
    sliceP50Us: [],
    requestsSent: 1000,
    connections: 16,
    ...(contender === 'chaperone' || contender === 'checks' || contender === 'transparent' ? { auditLines: 1000, decisions: { allow: 1000 } } : {}),
    ...f,
  };
}

const scenario = (id: string, load: Scenario['load']): Scenario => ({ id, title: id, tls: false, load, stream: false, checks: true, peers: true });

function saturation(): ScenarioResult {
  return {
    scenario: scenario('http-saturation', { concurrency: 16 }),
    results: {
      direct: m('direct', { sliceRps: [10000, 10000, 10000] }),
      floor: m('floor', { sliceRps: [5000, 4000, 6000], proxyCpuSecPer1k: 0.1 }),
      chaperone: m('chaperone', { sliceRps: [3500, 2800, 4200], proxyCpuSecPer1k: 0.17 }),
      checks: m('checks', { sliceRps: [3000, 2400, 3600], proxyCpuSecPer1k: 0.2 }),
      mitmproxy: m('mitmproxy', { sliceRps: [600, 480, 720], proxyCpuSecPer1k: 1.2 }),
      agentreserve: m('agentreserve', { sliceRps: [1500, 1200, 1800], proxyCpuSecPer1k: 0.5, auditLines: 1000, decisions: { allow: 1000 } }),
    },
    roundRpsRatios: { chaperone: [0.7, 0.7, 0.7], checks: [0.6, 0.6, 0.6] },
    roundRpsVsPassthrough: [3000 / 3500, 2400 / 2800, 3600 / 4200],
  };
}

function rate(): ScenarioResult {
  return {
    scenario: scenario('http-rate', { rate: 1000 }),
    results: {
      direct: m('direct', { sliceRps: [1000], p50Us: 300 }),
      floor: m('floor', { sliceRps: [1000], p50Us: 500, proxyPeakRssMiB: 100 }),
      chaperone: m('chaperone', { sliceRps: [1000], p50Us: 560, proxyPeakRssMiB: 55 }),
      checks: m('checks', { sliceRps: [1000], p50Us: 640, proxyPeakRssMiB: 60 * MIB_PER_MB + 1 }),
      mitmproxy: m('mitmproxy', { sliceRps: [1000], p50Us: 3000, proxyPeakRssMiB: 70 }),
    },
    roundRpsRatios: {},
  };
}

const fmt = { num: (x?: number) => fmtNum(x), signedUs: fmtSignedUs };

const tlsScenario = (id: string, load: Scenario['load']): Scenario => ({ id, title: id, tls: true, load, stream: false, checks: false, peers: true });

/** tls-saturation: transparent at 0.95, 0.90 and 0.85 of chaperone, round by round. */
function tlsSaturation(): ScenarioResult {
  return {
    scenario: tlsScenario('tls-saturation', { concurrency: 16 }),
    results: {
      direct: m('direct', { sliceRps: [8000, 8000, 8000] }),
      floor: m('floor', { sliceRps: [4000, 4000, 4000], proxyCpuSecPer1k: 0.1 }),
      chaperone: m('chaperone', { sliceRps: [2000, 2000, 2000], proxyCpuSecPer1k: 0.3 }),
      transparent: m('transparent', { sliceRps: [1900, 1800, 1700], proxyCpuSecPer1k: 0.33 }),
      mitmproxy: m('mitmproxy', { sliceRps: [400, 400, 400], proxyCpuSecPer1k: 2.4 }),
    },
    roundRpsRatios: {},
  };
}

/** tls-rate: direct p50 400, chaperone 1400 (+1000), transparent 1500 (+1100). */
function tlsRate(): ScenarioResult {
  return {
    scenario: tlsScenario('tls-rate', { rate: 1000 }),
    results: {
      direct: m('direct', { sliceRps: [1000], p50Us: 400, p99Us: 900 }),
      chaperone: m('chaperone', { sliceRps: [1000], p50Us: 1400, p99Us: 3000 }),
      transparent: m('transparent', { sliceRps: [1000], p50Us: 1500, p99Us: 3100 }),
      mitmproxy: m('mitmproxy', { sliceRps: [450], p50Us: 900000, p99Us: 2000000 }),
    },
    roundRpsRatios: {},
  };
}

describe('bench model: peers', () => {
  it('computes per-round ratios from the slices of the same rounds', () => {
    const sr = saturation();
    expect(perRoundRps(sr.results.checks, sr.results.mitmproxy)).toEqual([5, 5, 5]);
    expect(perRoundRps(sr.results.checks, undefined)).toEqual([]);
  });

  it('gives each peer checks ÷ peer req/s and CPU, and its own ratio to the floor', () => {
    const q = ratios(saturation());
    expect(q.mitmproxy?.checksRpsOverPeer).toBe(5);
    expect(q.agentreserve?.checksRpsOverPeer).toBe(2);
    expect(q.mitmproxy?.cpuVsChecks).toBeCloseTo(6);
    expect(q.mitmproxy?.rps).toBeCloseTo(0.12);
    expect(q.checks?.rps).toBe(0.6);
  });

  it('judges the issue-8 aims: every check on against the floor and the peers, p50 and RSS at 1000 req/s', () => {
    const list = aims([saturation(), rate()], fmt);
    const by = Object.fromEntries(list.map((a) => [a.id, a]));
    expect(by['checks-vs-floor-saturation']).toMatchObject({ value: 0.6, pass: true, group: 'peers' });
    expect(by['checks-vs-agentreserve-saturation']).toMatchObject({ value: 2, pass: false });
    expect(by['checks-vs-mitmproxy-saturation']).toMatchObject({ value: 5, pass: false });
    // (640 - 300) / (500 - 300)
    expect(by['added-p50-at-1000rps']!.value).toBeCloseTo(1.7);
    expect(by['added-p50-at-1000rps']!.pass).toBe(false);
    expect(by['rss-at-1000rps']!.value).toBeGreaterThan(60);
    expect(by['rss-at-1000rps']!.pass).toBe(false);
    expect(by['saturation-throughput']).toMatchObject({ value: 0.7, pass: true, group: 'earlier' });
  });

  it('reports a missing peer as not available, not as a failure', () => {
    const sr = saturation();
    delete sr.results.mitmproxy;
    const list = aims([sr], fmt, undefined, { mitmproxy: 'mitmdump not installed' });
    const a = list.find((x) => x.id === 'checks-vs-mitmproxy-saturation')!;
    expect(a.pass).toBeUndefined();
    expect(a.detail).toBe('mitmproxy not available: mitmdump not installed');
  });

  it('makes the aim n/a when the peer had errors, and a MISS when checks did', () => {
    const sr = saturation();
    sr.results.agentreserve!.errors = 3;
    expect(aims([sr], fmt).find((x) => x.id === 'checks-vs-agentreserve-saturation')!.pass).toBeUndefined();
    sr.results.checks!.errors = 1;
    expect(aims([sr], fmt).find((x) => x.id === 'checks-vs-floor-saturation')!.pass).toBe(false);
  });
});

describe('bench model: transparent capture', () => {
  it('compares the transparent listener with the HTTPS_PROXY path round by round, and both with mitmproxy', () => {
    const t = transparentVsProxy(tlsSaturation())!;
    expect(t.rpsRounds).toEqual([0.95, 0.9, 0.85]);
    expect(t.rps).toBe(0.9);
    expect(t.cpu).toBeCloseTo(1.1);
    expect(t.proxyOverMitmproxy).toBe(5);
    expect(t.transparentOverMitmproxy).toBe(4.5);
    const r = transparentVsProxy(tlsRate())!;
    expect(r.addedP50Ratio).toBeCloseTo(1.1);
    expect(r.p50OverProxyUs).toBe(100);
    expect(transparentVsProxy(saturation())).toBeUndefined();
  });

  it('judges "within 10 % of the proxy path" on req/s at saturation and added p50 at 1000 req/s', () => {
    const by = Object.fromEntries(aims([tlsSaturation(), tlsRate()], fmt).map((a) => [a.id, a]));
    expect(by['transparent-vs-proxy-saturation']).toMatchObject({ value: 0.9, pass: true, group: 'transparent', target: '≥ 0.90' });
    expect(by['transparent-vs-proxy-added-p50-1000rps']!.value).toBeCloseTo(1.1);
    expect(by['transparent-vs-proxy-added-p50-1000rps']!.pass).toBe(true);
    const behind = tlsSaturation();
    behind.results.chaperone!.sliceRps = [900, 900, 900];
    behind.results.chaperone!.rps = 900;
    expect(aims([behind, tlsRate()], fmt).find((a) => a.id === 'transparent-vs-proxy-added-p50-1000rps')!.detail).toContain(
      'chaperone reached 900 req/s at saturation, below the 1,000 offered: its p50 here is mostly queue',
    );
    const slow = tlsRate();
    slow.results.transparent!.p50Us = 1600; // +1200 against +1000
    expect(aims([slow], fmt).find((a) => a.id === 'transparent-vs-proxy-added-p50-1000rps')).toMatchObject({ pass: false });
  });

  it('makes it a MISS when the transparent sidecar had errors or did not allow, n/a when the proxy path had errors', () => {
    const sat = tlsSaturation();
    sat.results.transparent!.decisions = { allow: 990, deny: 10 };
    expect(aims([sat], fmt)[0]).toMatchObject({ id: 'transparent-vs-proxy-saturation', pass: false });
    const sat2 = tlsSaturation();
    sat2.results.chaperone!.errors = 2;
    expect(aims([sat2], fmt)[0]!.pass).toBeUndefined();
    const rate = tlsRate();
    rate.results.chaperone!.p50Us = 390; // added ≤ 0: no ratio
    expect(aims([rate], fmt)[0]!.value).toBeUndefined();
  });

  it('reports the section: side by side, the ratios, mitmproxy, and the aim', () => {
    const list = aims([tlsSaturation(), tlsRate()], fmt);
    const md = transparentSection([tlsSaturation(), tlsRate()], list).join('\n');
    expect(md).toContain('## Transparent capture');
    expect(md).toMatch(/\| chaperone \(HTTPS_PROXY: CONNECT, intercepted\) \| 2,000 \(2,000–2,000\) \|/);
    expect(md).toMatch(/\| transparent \(transparent listener, intercepted\) \| 1,800 \(1,700–1,900\) \|/);
    expect(md).toContain('req/s at saturation 0.90× (per round 0.95 0.90 0.85)');
    expect(md).toContain('added p50 at 1000 req/s 1.10× (+1,100 µs against +1,000 µs)');
    expect(md).toContain('chaperone ÷ mitmproxy 5.00×, transparent ÷ mitmproxy 4.50×');
    expect(md).toContain('**Aim: transparent within 10 % of the proxy path:** PASS');
    expect(md).toContain('Could not keep up with 1,000 req/s in this run (req/s at saturation below it): mitmproxy 400.');
    expect(md).not.toContain('compares queues');
    expect(transparentSection([saturation(), rate()], list)).toEqual([]);
  });
});

describe('bench report', () => {
  const report = (extra: Partial<Report> = {}): Report => ({
    date: '2026-11-21T00:00:00.000Z',
    profile: 'quick',
    plan: { warmupS: 1, rounds: 3, sliceS: 1, sliceWarmupS: 0.5 },
    upstreamTrust: 'env',
    bodyBytes: 1183,
    bodies: { 'openai-1kb': 1183, 'openai-32kb': 32957 },
    sidecarNodeOptions: '--max-semi-space-size=4',
    peers: { mitmproxy: { ok: true, version: '8.1.1', detail: 'mitmdump 8.1.1' }, agentreserve: { ok: false, reason: 'better-sqlite3 does not load' } },
    peerNotes: { agentreserve: 'better-sqlite3 does not load' },
    machine: { nproc: 2, cpuModel: 'cpu', memGiB: 1, kernel: 'k', node: 'v20', go: 'go', commit: 'abc', loadavgAtStart: [0, 0, 0], loadavgAtEnd: [0, 0, 0], runSeconds: 1 },
    scenarios: [saturation(), rate()],
    derived: {},
    interception: {},
    aims: aims([saturation(), rate()], fmt, undefined, { agentreserve: 'better-sqlite3 does not load' }),
    ...extra,
  });

  it('has the summary table, the peers, and both aim groups', () => {
    const md = markdown(report());
    expect(md).toContain('## Summary: every contender, the same work');
    expect(md).toContain('`agentreserve`: **not available: better-sqlite3 does not load**');
    expect(md).toContain('Earlier aims');
    expect(md).toMatch(/\| mitmproxy \| 600 \|/);
    expect(md).toContain('NODE_OPTIONS `--max-semi-space-size=4`');
  });

  it('carries admission.md and propagation.md when present (the admission hook), and says so when absent', () => {
    expect(markdown(report())).toContain('Not measured in this run: `bench/results/admission.md`');
    const md = markdown(report({ admission: '# Admission latency\n\n## A. At the webhook\n\n| case | p50 |\n|---|---|\n| inject | 0.7 |\n', propagation: '# Operator propagation latency\n\nrows\n' }));
    expect(md).toContain('## Admission latency (webhook)');
    expect(md).toContain('#### A. At the webhook');
    expect(md).toContain('| inject | 0.7 |');
    expect(md).not.toContain('# Admission latency\n');
    expect(md).toContain('rows');
  });

  it('summary: one row per contender, checks ÷ each peer', () => {
    const rows = summaryTable([saturation(), rate()]);
    expect(rows[0]).toContain('req/s, 16 conns');
    expect(rows[0]).toContain('peak RSS, 1000 req/s');
    expect(rows.find((r) => r.startsWith('| checks |'))).toBeDefined();
    expect(rows).toContain('- checks ÷ mitmproxy: http-saturation 5.00×');
  });

  it('lists the transparent-capture aims apart and carries the section after the TLS tables', () => {
    const scenarios = [saturation(), rate(), tlsSaturation(), tlsRate()];
    const md = markdown(report({ scenarios, aims: aims(scenarios, fmt) }));
    expect(md).toContain('Transparent capture against the HTTPS_PROXY path, same intercepted TLS work');
    expect(md).toMatch(/\| transparent capture: transparent req\/s ÷ chaperone \(HTTPS_PROXY\) req\/s at saturation .* \| 0\.900 \| ≥ 0\.90 \| PASS \|/);
    expect(md.indexOf('## TLS via CONNECT')).toBeLessThan(md.indexOf('## Transparent capture'));
    expect(md).toContain('Transparent audit lines: 1,000 for 1,000 requests sent');
    expect(markdown(report())).not.toContain('## Transparent capture');
  });

  it('shows the chart or why it is missing', () => {
    expect(markdown(report({ chart: { file: 'latency.png' } }))).toContain('![Latency against load, per contender](latency.png)');
    expect(markdown(report({ chart: { reason: 'no matplotlib' } }))).toContain('Chart not written: no matplotlib');
  });
});
