// Threat detection in tool calls: which detectors a policy's threats section turns on, one compiled
// scanner per section, and the scan of one tool call's arguments. The check that uses it is
// ../threats.ts; the benchmark is bench/threats.ts.
//
// A scan walks the arguments' string leaves (leaves.ts: bounded per request in count, length and depth), reads
// each as the tool would (text.ts), gives it roles from its name, its tool's name and its shape,
// and asks each detector about it:
//   sql-injection.ts      values breaking into SQL; injected statements in a query argument
//   command-injection.ts  reverse shells, download-and-execute, sensitive reads in shell commands;
//                         commands chained into values
//   path-traversal.ts     ../ escapes (plain, encoded, look-alike), null bytes, sensitive files
//   ssrf.ts               URLs and hosts pointing at metadata, loopback, link-local, the cluster
//   exfiltration.ts       secrets (DLP's detectors), encoded secrets, large encoded blobs, DNS payloads
//   custom.ts             the policy's own patterns, with block or redact
// Each detector reports at most one finding per leaf; findings name the category, the leaf's path
// and what was seen, never the matched text.
import { THREAT_CLUSTER_CIDRS, THREAT_CLUSTER_DOMAINS, type ThreatsSpec } from '../../../api/index.js';
import type { JsonPath } from '../../call.js';
import { parseCidr, type Cidr } from './addresses.js';
import { detectCommandInjection } from './command-injection.js';
import { compileRule, redactSpans, type CustomRule } from './custom.js';
import { detectExfiltration } from './exfiltration.js';
import { viewCalls, type CallArguments } from './leaves.js';
import { detectPathTraversal } from './path-traversal.js';
import { detectSqlInjection } from './sql-injection.js';
import { detectSsrfWith } from './ssrf.js';
import { BUILTIN_CATEGORIES, LEVEL, type BuiltinCategory, type Detect, type DetectOptions, type LeafView, type ThreatFinding } from './types.js';

export type { BuiltinCategory, Sensitivity, ThreatCategory, ThreatFinding } from './types.js';
export { BUILTIN_CATEGORIES } from './types.js';
export { MAX_LEAF_CHARS, MAX_LEAVES, MAX_TOTAL_CHARS } from './leaves.js';
export type { CallArguments } from './leaves.js';

/** At most this many findings are kept per scan (the verdict names the first; the rest are counted). */
const MAX_FINDINGS = 64;

/** A custom redact rule's rewrite of one leaf: `redacted` is undefined when the leaf was too long to read whole. */
export interface Redaction {
  jsonPath: JsonPath;
  original: string;
  redacted?: string;
}

export interface ThreatScan {
  findings: ThreatFinding[];
  redactions: Redaction[];
}

export interface ThreatScanner {
  readonly categories: readonly BuiltinCategory[];
  /** Custom rules that could not be compiled (and do not run), one line each. */
  readonly errors: readonly string[];
  /** The tool calls of one request (or one answer), sharing its bounds (leaves.ts); one scan per call. */
  scanCalls(calls: readonly CallArguments[]): ThreatScan[];
  /** One tool call alone. */
  scan(tool: string, args: unknown): ThreatScan;
}

function build(spec: ThreatsSpec): ThreatScanner {
  const level = LEVEL[spec.sensitivity ?? 'medium'];
  const wanted = new Set<string>(spec.categories ?? BUILTIN_CATEGORIES);
  const categories = BUILTIN_CATEGORIES.filter((c) => wanted.has(c));
  const cidrs = (spec.clusterCidrs ?? THREAT_CLUSTER_CIDRS).map(parseCidr).filter((c): c is Cidr => c !== undefined);
  const domains = (spec.clusterDomains ?? THREAT_CLUSTER_DOMAINS).map((d) => d.toLowerCase());
  const opts: DetectOptions = { level };
  const detectors: Record<BuiltinCategory, Detect> = {
    sql_injection: detectSqlInjection,
    command_injection: detectCommandInjection,
    path_traversal: detectPathTraversal,
    ssrf: detectSsrfWith({ cidrs, domains }),
    exfiltration: detectExfiltration,
  };
  const active = categories.map((c) => [c, detectors[c]] as const);
  const rules: CustomRule[] = [];
  const errors: string[] = [];
  for (const c of spec.custom ?? []) {
    try {
      rules.push(compileRule(c.name, c.pattern, c.action ?? 'block'));
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  /** One call's leaves, judged. */
  const judge = (leaves: readonly LeafView[]): ThreatScan => {
    const findings: ThreatFinding[] = [];
    const redactions: Redaction[] = [];
    for (const leaf of leaves) {
      for (const [category, detect] of active) {
        const detail = detect(leaf, opts);
        if (detail !== undefined && findings.length < MAX_FINDINGS) findings.push({ category, path: leaf.path, jsonPath: leaf.jsonPath, detail });
      }
      let redacted: string | undefined = leaf.raw;
      for (const rule of rules) {
        const spans = rule.find(leaf.raw);
        if (spans.length === 0) continue;
        if (findings.length < MAX_FINDINGS) {
          findings.push({ category: 'custom', path: leaf.path, jsonPath: leaf.jsonPath, detail: `matches custom rule ${rule.name}`, rule: rule.name, action: rule.action });
        }
        if (rule.action === 'redact' && redacted !== undefined) redacted = leaf.truncated ? undefined : redactSpans(redacted, rule.find(redacted), rule.name);
      }
      if (redacted !== leaf.raw) redactions.push({ jsonPath: leaf.jsonPath, original: leaf.raw, ...(redacted !== undefined ? { redacted } : {}) });
    }
    return { findings, redactions };
  };
  const scanCalls = (calls: readonly CallArguments[]): ThreatScan[] => viewCalls(calls).map(judge);
  return {
    categories,
    errors,
    scanCalls,
    scan: (tool, args) => scanCalls([{ tool, args }])[0]!,
  };
}

const cache = new WeakMap<ThreatsSpec, ThreatScanner>();

/**
 * The scanner for a threats section, compiled once per spec object: policies are immutable snapshots,
 * so a reload brings new objects and the old scanners go with the old snapshot.
 */
export function compileThreats(spec: ThreatsSpec): ThreatScanner {
  let scanner = cache.get(spec);
  if (!scanner) {
    scanner = build(spec);
    cache.set(spec, scanner);
  }
  return scanner;
}
