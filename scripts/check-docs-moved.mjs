#!/usr/bin/env node
// Checks that moving the README's reference material into docs/ lost nothing: every `--flag`,
// chaperone_* metric, chaperone.dev/ annotation or label key, and backticked CRD field name of the
// README at REF (default: the last commit before the move) still appears in README.md + docs/*.md.
// With --all, every backticked span of the old README is checked too.
//
//   node scripts/check-docs-moved.mjs [REF] [--all]
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const all = args.includes('--all');
const ref = args.find((a) => !a.startsWith('--')) ?? 'aca2e31';

const before = execFileSync('git', ['-C', root, 'show', `${ref}:README.md`], { encoding: 'utf8', maxBuffer: 1 << 26 });
const files = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const after = files.map((f) => readFileSync(join(root, f), 'utf8')).join('\n');

const backticked = [...before.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]);
const uniq = (xs) => [...new Set(xs)].sort();
const kinds = {
  flags: uniq([...before.matchAll(/(?<![A-Za-z0-9-])--[a-z][a-z0-9-]*[a-z0-9]/g)].map((m) => m[0])),
  metrics: uniq([...before.matchAll(/\bchaperone_[a-z0-9_]*[a-z0-9]/g)].map((m) => m[0])),
  annotations: uniq([...before.matchAll(/\bchaperone\.dev\/[a-z][a-z0-9-]*[a-z0-9]/g)].map((m) => m[0])),
  // spec.dlp.mode, status.phase, rateLimits.onStoreFailure, and bare camelCase field names (`failureThreshold`).
  fields: uniq(
    backticked.flatMap((b) => [...b.matchAll(/\b(?:spec|status)(?:\.[A-Za-z][A-Za-z0-9]*(?:\[\])?)+/g)].map((m) => m[0]))
      .concat(backticked.filter((b) => /^[a-z]+[A-Z][A-Za-z0-9]*(\.[a-z][A-Za-z0-9]*)*$/.test(b))),
  ),
};
if (all) kinds.backticked = uniq(backticked);

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const present = (name) => new RegExp(`(^|[^A-Za-z0-9_-])${escape(name)}($|[^A-Za-z0-9_-])`).test(after) || after.includes(name);
let missing = 0;
for (const [kind, names] of Object.entries(kinds)) {
  const lost = names.filter((n) => !present(n));
  missing += lost.length;
  console.log(`${kind}: ${names.length} in the README at ${ref}, ${names.length - lost.length} documented now${lost.length ? `; missing: ${lost.join(' ')}` : ''}`);
}
process.exitCode = missing ? 1 : 0;
