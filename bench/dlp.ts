// DLP scan throughput, single core: how many MB/s of request text the detectors read, on realistic
// mixed text (prose, code, JSON, logs, with a few secrets sprinkled in) at 1 KB, 64 KB and 1 MB.
//   node dist/bench/dlp.js [--seconds S] [--out DIR]
// Prints a Markdown table and writes DIR/dlp.md (default bench/results/dlp.md). Takes < 60 s.
//   node dist/bench/dlp.js --quick --json
// The bounded form bench/run.ts runs at the end of a benchmark (about 10 s): only the scanners the
// aim and bench/policies/all-checks.yaml use, 0.5 s per row, JSON rows on stdout, no file written.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DLP_DETECTORS, type DlpSpec } from '../api/index.js';
import { compileDlp, createDetector } from '../sidecar/policy/dlp/index.js';
import { DLP_AIM_LABEL, type DlpRow } from './model.js';
import { dlpTable, fmtSize } from './report.js';
import { SeededRandom } from '../lib/seeded-random.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// ------------------------------------------------------------------------------------------ corpus

/** Deterministic PRNG (mulberry32): the same corpus every run. */
const rng = (seed: number): (() => number) => new SeededRandom(seed).next;

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were ' +
  'her she there been one all we their has would when if so no what up out about into than them can only other new some ' +
  'could time these two may then do first any my now such like our over man me even most made after also did many before ' +
  'must through back years where much your way well down should because each just those people how too little state good ' +
  'very make world still own see men work long get here between both life being under never day same another know while ' +
  'agent model request response policy budget token stream tool schedule quota deploy cluster namespace service latency'
).split(' ');

const CODE = [
  "import { readFile } from 'node:fs/promises';\nimport type { Config } from './config.js';\n",
  'export async function loadConfig(path: string): Promise<Config> {\n  const raw = await readFile(path, \'utf8\');\n  return JSON.parse(raw) as Config;\n}\n',
  '@Component({ selector: \'app-root\', templateUrl: \'./app.component.html\' })\nexport class AppComponent {\n  title = \'dashboard\';\n}\n',
  'for (let i = 0; i < items.length; i++) {\n  if (items[i].price > 1000 && items[i].qty >= 3) total += items[i].price * 0.95;\n}\n',
  'def handler(event, context):\n    """Process 25 records per batch."""\n    return {"statusCode": 200, "body": json.dumps(event["Records"][:25])}\n',
  'SELECT id, created_at, amount FROM orders WHERE customer_id = 4821 AND created_at > \'2024-03-01\' LIMIT 100;\n',
  'const re = /^v(\\d+)\\.(\\d+)\\.(\\d+)$/; // semver 1.22.3\nconst sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";\n',
  '    "dependencies": { "@types/node": "^20.11.5", "typescript": "~5.4.2", "vitest": "1.6.0" },\n',
];

function prose(r: () => number): string {
  const n = 12 + Math.floor(r() * 30);
  const words: string[] = [];
  for (let i = 0; i < n; i++) {
    const x = r();
    if (x < 0.04) words.push(String(Math.floor(r() * 10000)));
    else if (x < 0.05) words.push(`${2000 + Math.floor(r() * 25)}-0${1 + Math.floor(r() * 9)}-1${Math.floor(r() * 9)}`);
    else words.push(WORDS[Math.floor(r() * WORDS.length)]!);
  }
  const s = words.join(' ');
  return s.charAt(0).toUpperCase() + s.slice(1) + '. ';
}

function json(r: () => number): string {
  const hex = (n: number): string => Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(r() * 16)]).join('');
  return JSON.stringify({
    id: `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`,
    created: 1700000000000 + Math.floor(r() * 1e10),
    at: new Date(1.7e12 + Math.floor(r() * 1e10)).toISOString(),
    order: 10000000 + Math.floor(r() * 9e7),
    amount: Math.round(r() * 100000) / 100,
    status: r() < 0.5 ? 'shipped' : 'pending',
    items: [{ sku: `SKU-${Math.floor(r() * 99999)}`, qty: 1 + Math.floor(r() * 5) }],
    note: prose(r).slice(0, 60),
  }) + '\n';
}

function logLine(r: () => number): string {
  return `2024-05-${10 + Math.floor(r() * 20)}T12:${10 + Math.floor(r() * 49)}:07.${Math.floor(r() * 999)}Z INFO request_id=${Math.floor(r() * 1e9)} latency_ms=${Math.floor(r() * 900)} path=/api/v2/orders/${Math.floor(r() * 1e6)} status=200\n`;
}

/** Synthetic but well-formed secrets (valid Luhn, mod-97, base32...). */
const SECRETS = [
  'card 4111 1111 1111 1111 exp 12/27',
  'reach me at jane.doe@example.com',
  'SSN 123-45-6789',
  'IBAN DE89 3704 0044 0532 0130 00',
  'OPENAI_API_KEY=sk-proj-Q2x9TmV4aW5nS2V5Rm9yVGVzdGluZ09ubHkxMjM0NTY3ODkw',
  'key id AKIAIOSFODNN7EXAMPLE',
  'Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
  'token ghp_16C7e42F292c6912E7710c838347Ae178B4a',
  'call +1 415 555 2671',
];

/** About `size` characters of mixed text with roughly one secret per 8 KB. */
export function corpus(size: number, seed: number): string {
  const r = rng(seed);
  const parts: string[] = [];
  let len = 0;
  let nextSecret = Math.floor(r() * 8192);
  while (len < size) {
    const x = r();
    const part = x < 0.45 ? prose(r) : x < 0.7 ? CODE[Math.floor(r() * CODE.length)]! : x < 0.9 ? json(r) : logLine(r);
    parts.push(part);
    len += part.length;
    if (len >= nextSecret) {
      const s = ` ${SECRETS[Math.floor(r() * SECRETS.length)]!} `;
      parts.push(s);
      len += s.length;
      nextSecret = len + 4096 + Math.floor(r() * 8192);
    }
  }
  // Round-trip through JSON: the sidecar scans strings JSON.parse made (flat, one byte per character
  // when ASCII), not the sliced and concatenated strings built here.
  return JSON.parse(JSON.stringify(parts.join('').slice(0, size))) as string;
}

// ----------------------------------------------------------------------------------------- measure

type Row = DlpRow;

function measure(label: string, scan: (t: string) => { length: number }, texts: string[], seconds: number): Row {
  const size = texts[0]!.length;
  let findings = 0;
  for (const t of texts) findings += scan(t).length; // count once
  // Warm up until the JIT has settled (300 ms, whatever --seconds says, so that the short rows of
  // --quick do not start on a colder JIT than the full run), then measure.
  const warm = performance.now() + 300;
  for (let k = 0; performance.now() < warm; k++) scan(texts[k % texts.length]!);
  const deadline = performance.now() + seconds * 1000;
  let chars = 0;
  let n = 0;
  const t0 = performance.now();
  do {
    for (let k = 0; k < 16; k++) {
      const t = texts[n++ % texts.length]!;
      scan(t);
      chars += t.length;
    }
  } while (performance.now() < deadline);
  const elapsed = (performance.now() - t0) / 1000;
  const totalChars = texts.reduce((a, t) => a + t.length, 0);
  return { label, size, mbps: chars / 1e6 / elapsed, findingsPerMB: findings / (totalChars / 1e6), usPerText: (elapsed * 1e6) / n };
}

/** Measures the scanners; `quick`: only the aim's and the all-checks policy's, and no per-detector rows. */
export function runDlpBench(opts: { seconds: number; quick: boolean; log?: (line: string) => void }): { rows: Row[]; single: Row[] } {
  const { seconds, quick } = opts;
  const sizes = [1 << 10, 64 << 10, 1 << 20];
  const corpora = new Map(sizes.map((s) => [s, Array.from({ length: s >= 1 << 20 ? 4 : 32 }, (_, i) => corpus(s, 1000 + i))]));

  const all: DlpSpec = { detectors: [...DLP_DETECTORS], sensitivity: 'high' };
  const configs: Array<{ label: string; spec: DlpSpec; quick?: boolean }> = [
    { label: DLP_AIM_LABEL, spec: { ...all }, quick: true },
    { label: 'default (medium)', spec: {} },
    // bench/policies/all-checks.yaml's scanner.
    { label: 'all 9 + custom `EMP-[0-9]{6}`', spec: { ...all, custom: [{ name: 'employee_id', pattern: 'EMP-[0-9]{6}' }] }, quick: true },
    // No literal prefix: re2js's DFA reads every character (it finds nothing here).
    { label: 'all 9 + custom `[A-Z]{3}[0-9]{9}`', spec: { ...all, custom: [{ name: 'account', pattern: '[A-Z]{3}[0-9]{9}' }] } },
    // No literal prefix, and it matches the corpus's "SKU-12345" ids: re2js's NFA then locates them.
    { label: 'all 9 + custom `\\b[A-Z]{3,5}-\\d{4,6}\\b`', spec: { ...all, custom: [{ name: 'ticket', pattern: '\\b[A-Z]{3,5}-\\d{4,6}\\b' }] } },
  ];
  const rows: Row[] = [];
  for (const c of configs) {
    if (quick && !c.quick) continue;
    const scanner = compileDlp(c.spec);
    for (const s of sizes) {
      const row = measure(c.label, (t) => scanner.scan(t), corpora.get(s)!, seconds);
      rows.push(row);
      opts.log?.(`${row.label.padEnd(36)} ${fmtSize(s).padStart(6)}  ${row.mbps.toFixed(0).padStart(6)} MB/s`);
    }
  }
  // Each built-in detector alone (its own gate pass), on 64 KB: where the time goes.
  const single: Row[] = [];
  if (!quick) {
    for (const d of DLP_DETECTORS) {
      const det = createDetector(d, 'high');
      single.push(measure(d, (t) => det.find(t), corpora.get(64 << 10)!, Math.min(seconds, 0.5)));
    }
  }
  return { rows, single };
}

function main(): void {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string' },
      out: { type: 'string', default: join(ROOT, 'bench', 'results') },
      quick: { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
  const quick = values.quick ?? false;
  const seconds = Number(values.seconds ?? (quick ? '0.5' : '1.2'));
  if (!(seconds > 0)) throw new Error('--seconds: a positive number');
  const { rows, single } = runDlpBench({ seconds, quick, log: (l) => process.stderr.write(`${l}\n`) });
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  if (values.json) {
    process.stdout.write(JSON.stringify({ cpu, node: process.version, seconds, rows, single }) + '\n');
    return;
  }

  const lines = [
    '# DLP scan throughput',
    '',
    `Single core, ${cpu}, Node ${process.version}, Linux ${release()}. Text: synthetic mixed prose, code, JSON and log lines with`,
    'about one secret per 8 KB (cards, emails, SSNs, IBANs, API keys, AWS key ids, JWTs, phone numbers). MB = 10^6 characters.',
    `Generated by \`node dist/bench/dlp.js${quick ? ' --quick' : ''}\` (${seconds} s per row).`,
    '',
    ...dlpTable(rows),
    '',
  ];
  if (single.length) {
    lines.push(
      'Each built-in detector alone (`createDetector(name, "high").find`), 64 KB texts:',
      '',
      '| detector | MB/s |',
      '|---|---:|',
      ...single.map((r) => `| ${r.label} | ${r.mbps.toFixed(0)} |`),
      '',
    );
  }
  const md = lines.join('\n');
  process.stdout.write(md);
  mkdirSync(values.out!, { recursive: true });
  writeFileSync(join(values.out!, 'dlp.md'), md);
  process.stderr.write(`wrote ${join(values.out!, 'dlp.md')}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
