// The documentation keeps up with the code. Every Prometheus metric, command-line flag, chaperone.dev/
// annotation or label and GovernancePolicy field the code defines must be documented in README.md
// or docs/*.md, and every relative link there must lead somewhere. The names are read from the
// source text (not imported), so the test follows the code wherever it moves.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { approvalRequestSpecSchema, approvalRequestStatusSchema } from '../api/approval-crd.js';
import { governancePolicySpecSchema, governancePolicyStatusSchema, type SchemaNode } from '../api/schema.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE_DIRS = ['api', 'bin', 'capture', 'lib', 'operator', 'sidecar', 'webhook'];

/** Non-test TypeScript sources under the component folders. */
function sources(dirs = SOURCE_DIRS): Array<{ file: string; text: string }> {
  const out: Array<{ file: string; text: string }> = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'testdata' && entry.name !== 'node_modules') walk(p);
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && entry.name !== 'testing.ts') {
        out.push({ file: relative(root, p), text: readFileSync(p, 'utf8') });
      }
    }
  };
  for (const d of dirs) if (existsSync(join(root, d))) walk(join(root, d));
  return out;
}

const docFiles = (): string[] => ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const allDocs = (): string => docFiles().map((f) => readFileSync(join(root, f), 'utf8')).join('\n');

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Names that no document mentions as a whole word (`--max-body-bytes` is not `--max-body`). */
export function undocumented(names: Iterable<string>, docs: string): string[] {
  return [...new Set(names)].filter((n) => !new RegExp(`(^|[^A-Za-z0-9_-])${escape(n)}($|[^A-Za-z0-9_-])`).test(docs)).sort();
}

function metricNames(): string[] {
  return sources().flatMap(({ text }) => [...text.matchAll(/\bname: '(chaperone_[a-z0-9_]+)'/g)].map((m) => m[1]!));
}

/** Flags of the parseFlags/parseArgs option objects: `'max-body-bytes': { type: 'string' }`. */
function flagNames(): string[] {
  const option = /(?:^|[{,])\s*'?([a-z][a-z0-9-]*)'?: \{ type: '(?:string|boolean)'(?:, (?:multiple: true|short: '[a-z]'))* \}/gm;
  return sources(SOURCE_DIRS.filter((d) => d !== 'api')).flatMap(({ text }) => [...text.matchAll(option)].map((m) => `--${m[1]!}`));
}

function kubernetesKeys(): string[] {
  return sources().flatMap(({ text }) => [...text.matchAll(/'(chaperone\.dev\/[a-z][a-z0-9-]*)'/g)].map((m) => m[1]!));
}

/** `spec.egress.rules[].match`, ... for every node of the schema. */
function schemaPaths(node: SchemaNode, path: string, out: string[] = []): string[] {
  out.push(path);
  const props = node.type === 'array' ? node.items?.properties : node.properties;
  const prefix = node.type === 'array' ? `${path}[]` : path;
  for (const [k, v] of Object.entries(props ?? {})) schemaPaths(v, `${prefix}.${k}`, out);
  return out;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    if (fenced) continue;
    const heading = /^#+\s+(.*)$/.exec(line);
    if (heading) {
      const slug = heading[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N}_\- ]/gu, '').replace(/ /g, '-');
      const n = seen.get(slug);
      seen.set(slug, (n ?? -1) + 1);
      anchors.add(n === undefined ? slug : `${slug}-${n + 1}`);
    }
    for (const m of line.matchAll(/<a id="([^"]+)"/g)) anchors.add(m[1]!);
  }
  return anchors;
}

describe('documentation', () => {
  it('finds names to check (the scans still read the code)', () => {
    expect(metricNames()).toContain('chaperone_requests_total');
    expect(metricNames()).toContain('chaperone_webhook_admissions_total');
    expect(metricNames()).toContain('chaperone_reconcile_total');
    expect(flagNames()).toEqual(expect.arrayContaining(['--max-body-bytes', '--approval-retention', '--tls-san', '--capture-ports', '--to-port']));
    expect(kubernetesKeys()).toEqual(expect.arrayContaining(['chaperone.dev/inject', 'chaperone.dev/agent', 'chaperone.dev/status']));
  });

  it('tells a documented name from an undocumented one', () => {
    const docs = 'Use `--max-body-bytes N` and watch `chaperone_requests_total{provider}`.';
    expect(undocumented(['--max-body-bytes', '--max-body', 'chaperone_requests_total', 'chaperone_requests'], docs)).toEqual(['--max-body', 'chaperone_requests']);
  });

  it('documents every metric the code registers', () => {
    expect(undocumented(metricNames(), allDocs())).toEqual([]);
  });

  it('documents every metric in the design contract', () => {
    expect(undocumented(metricNames(), readFileSync(join(root, 'docs/design.md'), 'utf8'))).toEqual([]);
  });

  it('documents every command-line flag', () => {
    expect(undocumented(flagNames(), allDocs())).toEqual([]);
  });

  it('documents every chaperone.dev/ annotation and label', () => {
    expect(undocumented(kubernetesKeys(), allDocs())).toEqual([]);
  });

  it('lists every GovernancePolicy field in the policy reference', () => {
    const reference = readFileSync(join(root, 'docs/policy-reference.md'), 'utf8');
    const paths = [...schemaPaths(governancePolicySpecSchema, 'spec'), ...schemaPaths(governancePolicyStatusSchema, 'status')];
    expect(paths.filter((p) => !reference.includes(`\`${p}\``))).toEqual([]);
  });

  it('lists every ApprovalRequest spec and status field in the approvals page', () => {
    const page = readFileSync(join(root, 'docs/approvals.md'), 'utf8');
    const fields = [
      ...Object.keys(approvalRequestSpecSchema.properties ?? {}).map((k) => `spec.${k}`),
      ...Object.keys(approvalRequestStatusSchema.properties ?? {}).map((k) => `status.${k}`),
    ];
    expect(fields.length).toBeGreaterThan(10);
    expect(fields.filter((f) => !new RegExp(`\\b${escape(f)}\\b`).test(page))).toEqual([]);
  });

  it('has no broken relative link or anchor in README.md and docs/', () => {
    const broken: string[] = [];
    const anchors = new Map(docFiles().map((f) => [f, anchorsOf(readFileSync(join(root, f), 'utf8'))]));
    for (const file of docFiles()) {
      const text = readFileSync(join(root, file), 'utf8');
      for (const m of text.matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        const [path, fragment] = target.split('#') as [string, string | undefined];
        const resolved = path === '' ? file : relative(root, resolve(root, dirname(file), path));
        if (!existsSync(join(root, resolved))) broken.push(`${file}: ${target}`);
        else if (fragment && resolved.endsWith('.md') && anchors.has(resolved) && !anchors.get(resolved)!.has(fragment)) broken.push(`${file}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
