// The measuring half of the threat-detection benchmark (bench/threats.ts runs it, and
// sidecar/policy/threats.test.ts holds its bar): the detectors of sidecar/policy/threats/ over the
// labelled dataset (dataset.jsonl, from generate.ts) at one sensitivity, and the Markdown report.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PROJECT_ROOT } from '../../lib/project.js';
import { compileThreats, type Sensitivity, type ThreatFinding } from '../../sidecar/policy/threats/index.js';

export interface Sample {
  tool: string;
  arguments: Record<string, unknown>;
  label: 'malicious' | 'benign';
  category: string;
}

export const CATEGORIES = ['sql_injection', 'command_injection', 'path_traversal', 'ssrf', 'exfiltration'] as const;
export const SENSITIVITIES: readonly Sensitivity[] = ['low', 'medium', 'high'];
/** The bar at the default sensitivity. */
export const AIM = { recall: 0.95, fpr: 0.01 } as const;

export function loadDataset(file = join(PROJECT_ROOT, 'bench', 'threats', 'dataset.jsonl')): Sample[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Sample);
}

export interface Counts {
  malicious: number;
  benign: number;
  /** Malicious with any finding. */
  tp: number;
  /** Malicious with a finding of its own category. */
  tpOwn: number;
  /** Benign with any finding. */
  fp: number;
}

export interface Measured {
  sensitivity: Sensitivity;
  overall: Counts & Rates;
  byCategory: Record<string, Counts & Rates>;
  misses: Array<{ sample: Sample }>;
  falseAlarms: Array<{ sample: Sample; findings: ThreatFinding[] }>;
  /** Scan time over the whole dataset, and the slowest single call. */
  totalMs: number;
  slowestMs: number;
}

export interface Rates {
  recall: number;
  recallOwn: number;
  precision: number;
  fpr: number;
}

const rates = (c: Counts): Rates => ({
  recall: c.malicious ? c.tp / c.malicious : 1,
  recallOwn: c.malicious ? c.tpOwn / c.malicious : 1,
  precision: c.tp + c.fp ? c.tp / (c.tp + c.fp) : 1,
  fpr: c.benign ? c.fp / c.benign : 0,
});

const zero = (): Counts => ({ malicious: 0, benign: 0, tp: 0, tpOwn: 0, fp: 0 });

/** The detectors at one sensitivity over the samples. */
export function measure(samples: readonly Sample[], sensitivity: Sensitivity): Measured {
  const scanner = compileThreats({ sensitivity });
  const overall = zero();
  const by: Record<string, Counts> = Object.fromEntries(CATEGORIES.map((c) => [c, zero()]));
  const misses: Measured['misses'] = [];
  const falseAlarms: Measured['falseAlarms'] = [];
  let totalMs = 0;
  let slowestMs = 0;
  for (const s of samples) {
    const t0 = performance.now();
    const { findings } = scanner.scan(s.tool, s.arguments);
    const ms = performance.now() - t0;
    totalMs += ms;
    slowestMs = Math.max(slowestMs, ms);
    const c = (by[s.category] ??= zero());
    const flagged = findings.length > 0;
    if (s.label === 'malicious') {
      overall.malicious++;
      c.malicious++;
      if (flagged) {
        overall.tp++;
        c.tp++;
      } else misses.push({ sample: s });
      if (findings.some((f) => f.category === s.category)) {
        overall.tpOwn++;
        c.tpOwn++;
      }
    } else {
      overall.benign++;
      c.benign++;
      if (flagged) {
        overall.fp++;
        c.fp++;
        falseAlarms.push({ sample: s, findings });
      }
    }
  }
  // Per category precision: of the calls a category's detector flagged, how many are malicious.
  const byCategory: Measured['byCategory'] = {};
  for (const [name, c] of Object.entries(by)) {
    const r = rates(c);
    byCategory[name] = { ...c, ...r, precision: categoryPrecision(scanner, samples, name) };
  }
  return { sensitivity, overall: { ...overall, ...rates(overall) }, byCategory, misses, falseAlarms, totalMs, slowestMs };
}

/** Of the calls with a finding of this category, the share that are malicious. */
function categoryPrecision(scanner: ReturnType<typeof compileThreats>, samples: readonly Sample[], category: string): number {
  let flagged = 0;
  let right = 0;
  for (const s of samples) {
    if (!scanner.scan(s.tool, s.arguments).findings.some((f) => f.category === category)) continue;
    flagged++;
    if (s.label === 'malicious') right++;
  }
  return flagged ? right / flagged : 1;
}

export const passes = (m: Measured): boolean => m.overall.recall >= AIM.recall && m.overall.fpr <= AIM.fpr;

// ------------------------------------------------------------------------------------------ report

export const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const cut = (s: string, n = 160): string => (s.length > n ? `${s.slice(0, n)}…` : s);
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, '\\n');

/** Where a sample set comes from, for the report. */
export interface SampleSet {
  title: string;
  /** One line: the file and how it was made. */
  source: string;
  samples: readonly Sample[];
}

/** The report of one sample set at each sensitivity: a summary table, per category, false alarms and misses. */
export function report(set: SampleSet, results: readonly Measured[], aim = true): string {
  const { samples } = set;
  const mal = samples.filter((s) => s.label === 'malicious').length;
  const lines: string[] = [];
  lines.push(`## ${set.title}`);
  lines.push('');
  lines.push(`${set.source} ${samples.length} tool calls: ${mal} malicious, ${samples.length - mal} benign.`);
  lines.push('');
  lines.push('| sensitivity | recall | recall (own category) | precision | FPR | false alarms | misses | scan time (all calls) | slowest call |' + (aim ? ' aim |' : ''));
  lines.push('|---|---|---|---|---|---|---|---|---|' + (aim ? '---|' : ''));
  for (const m of results) {
    const o = m.overall;
    const verdict = m.sensitivity === 'medium' ? (passes(m) ? 'PASS' : 'MISS') : '—';
    lines.push(`| ${m.sensitivity} | ${pct(o.recall)} | ${pct(o.recallOwn)} | ${pct(o.precision)} | ${pct(o.fpr)} | ${o.fp} / ${o.benign} | ${o.malicious - o.tp} / ${o.malicious} | ${m.totalMs.toFixed(0)} ms | ${m.slowestMs.toFixed(2)} ms |` + (aim ? ` ${verdict} |` : ''));
  }
  for (const m of results) {
    lines.push('');
    lines.push(`### ${set.title}: ${m.sensitivity}`);
    lines.push('');
    lines.push('| category | malicious | recall | recall (own category) | precision (this detector) | benign | FPR |');
    lines.push('|---|---|---|---|---|---|---|');
    for (const [name, c] of Object.entries(m.byCategory)) {
      lines.push(`| ${name} | ${c.malicious} | ${pct(c.recall)} | ${pct(c.recallOwn)} | ${pct(c.precision)} | ${c.benign} | ${pct(c.fpr)} |`);
    }
    if (m.falseAlarms.length > 0) {
      lines.push('');
      lines.push('False alarms:');
      lines.push('');
      for (const { sample, findings } of m.falseAlarms) {
        lines.push(`- \`${sample.tool}\` ${cell(cut(JSON.stringify(sample.arguments)))} — ${findings.map((f) => `${f.category} at ${f.path}: ${f.detail}`).join('; ')}`);
      }
    }
    if (m.misses.length > 0) {
      lines.push('');
      lines.push(`Misses${m.misses.length > 40 ? ' (the first 40)' : ''}:`);
      lines.push('');
      for (const { sample } of m.misses.slice(0, 40)) lines.push(`- (${sample.category}) \`${sample.tool}\` ${cell(cut(JSON.stringify(sample.arguments)))}`);
    }
  }
  return lines.join('\n') + '\n';
}
