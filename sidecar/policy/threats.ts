// spec.threats: attacks carried in tool-call arguments (SQL and command injection, path traversal,
// SSRF, exfiltration, and the policy's own patterns). The detectors live in ./threats/; this file
// turns their findings into verdicts.
//
// Where it looks:
//   request()    the tool calls a request carries (call.toolCalls): an MCP tools/call before the tool
//                runs, and the calls of the last assistant turn that an agent sends back with their
//                results
//   response()   the tool calls a model proposes in a whole answer (facts.toolCalls): the answer is
//                withheld before the agent can act on them
//   streams      not here. A stream's tool_call event carries only the name (its arguments arrive in
//                pieces, complete only at the end, after the frames went out), so whole arguments
//                cannot be judged there; the call is judged when the agent sends it back (request()),
//                and an MCP tools/call before the tool runs.
//
// What it answers:
//   deny         any finding of a built-in category or of a custom rule with action block, naming the
//                category, the tool and the argument (`tool call web_fetch argument url: SSRF to a
//                cloud metadata address`); never the matched text
//   redact       only custom rules with action redact matched, and every match lies in an argument
//                string the request lists as a text field (MCP arguments, Anthropic and Bedrock tool
//                inputs, OpenAI's raw argument JSON): those fields are rewritten with
//                [REDACTED:<rule>]. A match the data path cannot rewrite (an argument cut by the
//                scan's bounds, an escape the raw JSON spells differently, a call the model proposes
//                in an answer) is a deny instead: what cannot be masked is not forwarded.
// The section's mode is applied by the pipeline: audit records the finding and lets the call through.
// Verdicts carry the categories that fired (verdict.threats): the audit line's `threats` and the
// chaperone_threats_detected_total counter.
import { policyKey, type GovernancePolicy } from '../../api/index.js';
import type { JsonPath, TextField, ToolCall } from '../call.js';
import type { Check } from './pipeline.js';
import { compileThreats, type ThreatCategory, type ThreatFinding, type ThreatScan, type ThreatScanner } from './threats/index.js';
import type { TextRewrite, Verdict } from './verdict.js';

const CATEGORY_WORDS: Readonly<Record<ThreatCategory, string>> = {
  sql_injection: 'SQL injection',
  command_injection: 'command injection',
  path_traversal: 'path traversal',
  ssrf: 'SSRF',
  exfiltration: 'exfiltration',
  custom: 'custom rule',
};

/** "SQL injection: a tautology after a quote"; SSRF details say SSRF themselves. */
function describe(f: ThreatFinding): string {
  if (f.category === 'custom') return f.detail;
  if (f.detail.startsWith('SSRF')) return f.detail;
  return `${CATEGORY_WORDS[f.category]}: ${f.detail}`;
}

interface Scanned {
  call: ToolCall;
  scan: ThreatScan;
}

/** The calls with findings. All the calls of a request share one set of bounds (threats/leaves.ts). */
function scanCalls(scanner: ThreatScanner, calls: readonly ToolCall[]): Scanned[] {
  const scans = scanner.scanCalls(calls.map((c) => ({ tool: c.name, args: c.arguments })));
  return calls.flatMap((call, i) => (scans[i]!.findings.length > 0 ? [{ call, scan: scans[i]! }] : []));
}

const blocking = (f: ThreatFinding): boolean => f.category !== 'custom' || f.action !== 'redact';

/** The categories that fired, sorted: what the audit line and the counter carry. */
function categoriesOf(scanned: readonly Scanned[]): ThreatCategory[] {
  return [...new Set(scanned.flatMap((s) => s.scan.findings.map((f) => f.category)))].sort();
}

/** "; and 2 more findings (exfiltration, ssrf)". */
function more(scanned: readonly Scanned[], first: ThreatFinding): string {
  const rest = scanned.flatMap((s) => s.scan.findings).filter((f) => f !== first);
  if (rest.length === 0) return '';
  const cats = [...new Set(rest.map((f) => f.category))].sort().join(', ');
  return `; and ${rest.length} more finding${rest.length === 1 ? '' : 's'} (${cats})`;
}

type Side = 'request' | 'response';

const subject = (side: Side, call: ToolCall, f: ThreatFinding): string =>
  side === 'request' ? `tool call ${call.name} argument ${f.path}` : `the model proposed tool call ${call.name} with argument ${f.path}`;

function verdictFor(policy: GovernancePolicy, scanned: readonly Scanned[], side: Side, texts: readonly TextField[]): Verdict | undefined {
  if (scanned.length === 0) return undefined;
  const base = { rule: 'threats' as const, policy: policyKey(policy), threats: categoriesOf(scanned) };
  for (const { call, scan } of scanned) {
    const f = scan.findings.find(blocking);
    if (f) return { decision: 'deny', ...base, reason: `${subject(side, call, f)}: ${describe(f)}${more(scanned, f)}` };
  }
  // Only custom redact rules matched.
  const first = scanned[0]!;
  const f = first.scan.findings[0]!;
  const rewrites = side === 'request' ? rewritesFor(scanned, texts) : undefined;
  if (!rewrites) {
    const where = side === 'request' ? 'where it cannot be rewritten' : 'in a proposed tool call, which cannot be rewritten';
    return { decision: 'deny', ...base, reason: `${subject(side, first.call, f)}: ${describe(f)}, ${where}${more(scanned, f)}` };
  }
  return { decision: 'redact', ...base, rewrites, reason: `${subject(side, first.call, f)}: ${describe(f)} (redacted)${more(scanned, f)}` };
}

const endsWith = (path: JsonPath, tail: JsonPath): boolean =>
  tail.length <= path.length && tail.every((k, i) => path[path.length - tail.length + i] === k);

/**
 * The text-field rewrites that carry out every redaction, or undefined when one cannot be carried
 * out. An argument string is found among the request's text fields as itself at a path ending in
 * its own (MCP, Anthropic and Bedrock list each one), or JSON-escaped inside a raw argument string
 * (OpenAI lists the JSON as sent).
 */
function rewritesFor(scanned: readonly Scanned[], texts: readonly TextField[]): TextRewrite[] | undefined {
  const changed = new Map<number, string>();
  for (const { scan } of scanned) {
    for (const r of scan.redactions) {
      if (r.redacted === undefined) return undefined;
      let done = false;
      texts.forEach((t, k) => {
        if (t.text === r.original && endsWith(t.path, r.jsonPath)) {
          changed.set(k, r.redacted!);
          done = true;
        }
      });
      if (done) continue;
      const from = JSON.stringify(r.original);
      const to = JSON.stringify(r.redacted);
      texts.forEach((t, k) => {
        const current = changed.get(k) ?? t.text;
        if (current.includes(from)) {
          changed.set(k, current.split(from).join(to));
          done = true;
        }
      });
      if (!done) return undefined;
    }
  }
  return [...changed].map(([k, text]) => ({ path: texts[k]!.path, text }));
}

export const threatsCheck: Check = {
  section: 'threats',

  request(call, policy) {
    const spec = policy.spec.threats;
    if (!spec || call.toolCalls.length === 0) return undefined;
    return verdictFor(policy, scanCalls(compileThreats(spec), call.toolCalls), 'request', call.texts);
  },

  response(_call, facts, policy) {
    const spec = policy.spec.threats;
    if (!spec || facts.toolCalls.length === 0) return undefined;
    return verdictFor(policy, scanCalls(compileThreats(spec), facts.toolCalls), 'response', []);
  },
};
