// Threat detection quality: the detectors of sidecar/policy/threats/ over the labelled dataset
// bench/threats/dataset.jsonl (bench/threats/generate.ts), at each sensitivity.
//
//   node dist/bench/threats.js [--out DIR] [--json]     (or: npx vite-node bench/threats.ts)
//
// Prints a Markdown report and writes DIR/threats.md and DIR/threats.json (default bench/results), for
// the dataset and for a hand-written holdout (bench/threats/holdout.jsonl, other payload families, to
// see how far the dataset's figures carry). For each sensitivity, overall and per category: recall (malicious calls with a finding), recall
// by category (with a finding of the sample's own category), precision (flagged calls that are
// malicious), false-positive rate (benign calls with a finding), and the misses and false alarms
// themselves (tool and arguments cut to 160 characters, to read them). Exits 1 when, on the dataset
// at the default sensitivity (medium), recall < 0.95 or the false-positive rate > 0.01. Takes a few
// seconds.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../lib/project.js';
import { AIM, loadDataset, measure, passes, pct, report, SENSITIVITIES, type Measured, type SampleSet } from './threats/measure.js';

// -------------------------------------------------------------------------------------------- main

function main(): void {
  const { values } = parseArgs({ options: { out: { type: 'string' }, json: { type: 'boolean', default: false } } });
  const dataset: SampleSet = { title: 'The dataset', source: '`bench/threats/dataset.jsonl`, from `bench/threats/generate.ts` (seeded):', samples: loadDataset() };
  const holdout: SampleSet = { title: 'The holdout', source: '`bench/threats/holdout.jsonl`, written by hand after the detectors, other payload families and benign calls than the generator\'s:', samples: loadDataset(join(PROJECT_ROOT, 'bench', 'threats', 'holdout.jsonl')) };
  measure(dataset.samples, 'high'); // warm-up: compiled automata, JIT
  const results = SENSITIVITIES.map((s) => measure(dataset.samples, s));
  const held = SENSITIVITIES.map((s) => measure(holdout.samples, s));
  const md = [
    '# Threat detection in tool calls: quality\n',
    `The detectors of \`sidecar/policy/threats/\` at each sensitivity (\`node dist/bench/threats.js\`). Aim at the default sensitivity (medium), on the dataset: recall ≥ ${AIM.recall}, false-positive rate ≤ ${AIM.fpr}.\n`,
    'recall: malicious calls with a finding; own: with a finding of their own category; precision: flagged calls that are malicious; FPR: benign calls with a finding. Times are one core, this machine, including warm-up.\n',
    report(dataset, results),
    report(holdout, held, false),
  ].join('\n');
  const out = values.out ?? join(PROJECT_ROOT, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'threats.md'), md);
  const summarise = (ms: Measured[]) => ms.map((m) => ({ sensitivity: m.sensitivity, overall: m.overall, byCategory: m.byCategory, totalMs: m.totalMs, slowestMs: m.slowestMs }));
  const summary = { aim: AIM, dataset: summarise(results), holdout: summarise(held) };
  writeFileSync(join(out, 'threats.json'), JSON.stringify(summary, null, 2) + '\n');
  process.stdout.write(values.json ? JSON.stringify(summary) + '\n' : md);
  const medium = results.find((m) => m.sensitivity === 'medium')!;
  if (!passes(medium)) {
    process.stderr.write(`threats: MISS at medium: recall ${pct(medium.overall.recall)} (aim ≥ ${pct(AIM.recall)}), FPR ${pct(medium.overall.fpr)} (aim ≤ ${pct(AIM.fpr)})\n`);
    process.exitCode = 1;
  }
}

main();
