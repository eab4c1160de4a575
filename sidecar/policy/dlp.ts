// spec.dlp: sensitive data (card numbers, SSNs, IBANs, emails, phone numbers, API keys, AWS keys,
// private keys, JWTs, the policy's own patterns) in what an agent sends and, with scanResponses, in
// what comes back. The detectors live in ./dlp/; this file turns their findings into verdicts.
//
//   mode enforce  deny the call (or cut the answer)
//   mode redact   replace each finding with [REDACTED:<detector>] and let the call through
//   mode audit    let it through, noted (the pipeline turns this check's deny into audit)
//   mode off      not run (the pipeline skips the section)
//
// Verdicts carry counts per detector (verdict.dlp) and never a matched value: not in the reason, not
// anywhere else. Rewrites carry the redacted text only.
import { effectiveDlpMode, policyKey, type GovernancePolicy } from '../../api/index.js';
import type { Call, StreamEvent, TextField, ToolCall } from '../call.js';
import { compileDlp, countFindings, redact, type DlpScanner } from './dlp/index.js';
import type { Check } from './pipeline.js';
import type { TextRewrite, Verdict } from './verdict.js';

/** What a scan of a call's (or an answer's) fields found. */
interface Scanned {
  counts: Record<string, number>;
  /** Redacted replacements for the text fields that had findings. */
  rewrites: TextRewrite[];
  /** Findings in places a rewrite cannot reach (tool-call arguments not also listed as texts). */
  unrewritable: number;
}

/** Integers this long may be a card number or an SSN sent as a JSON number. */
const MIN_NUMERIC_LEAF = 10_000_000;

/** Calls fn on every string leaf (and long integer) of a parsed JSON value. */
function forEachLeaf(value: unknown, fn: (s: string) => void): void {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') fn(v);
    else if (typeof v === 'number') {
      if (Number.isSafeInteger(v) && Math.abs(v) >= MIN_NUMERIC_LEAF) fn(String(v));
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push(v[i]);
    } else if (typeof v === 'object' && v !== null) {
      const vals = Object.values(v);
      for (let i = vals.length - 1; i >= 0; i--) stack.push(vals[i]);
    }
  }
}

function scanFields(scanner: DlpScanner, texts: readonly TextField[], toolCalls: readonly ToolCall[]): Scanned {
  const counts: Record<string, number> = {};
  const rewrites: TextRewrite[] = [];
  for (const t of texts) {
    const findings = scanner.scan(t.text);
    if (findings.length === 0) continue;
    countFindings(findings, counts);
    rewrites.push({ path: t.path, text: redact(t.text, findings) });
  }
  let unrewritable = 0;
  if (toolCalls.some((c) => c.arguments !== undefined)) {
    // Adapters that can locate argument strings (MCP tools/call) also list them as texts: those were
    // scanned above and can be rewritten. Count each value once.
    const asTexts = new Set(texts.map((t) => t.text));
    for (const c of toolCalls) {
      forEachLeaf(c.arguments, (s) => {
        if (asTexts.has(s)) return;
        const findings = scanner.scan(s);
        if (findings.length === 0) return;
        countFindings(findings, counts);
        unrewritable += findings.length;
      });
    }
  }
  return { counts, rewrites, unrewritable };
}

/** "credit_card x1, email x2": detector names and counts, never values. */
export function describeCounts(counts: Record<string, number>): string {
  return Object.keys(counts)
    .sort()
    .map((d) => `${d} x${counts[d]}`)
    .join(', ');
}

function verdictFor(policy: GovernancePolicy, scanned: Scanned, where: string): Verdict | undefined {
  const { counts, rewrites, unrewritable } = scanned;
  if (rewrites.length === 0 && unrewritable === 0) return undefined;
  const base = { rule: 'dlp' as const, policy: policyKey(policy), dlp: counts };
  const found = `sensitive data detected${where}: ${describeCounts(counts)}`;
  if (effectiveDlpMode(policy.spec) === 'redact') {
    // Redaction must not forward what it could not mask: a tool call's arguments have no JSON path
    // to rewrite, so a finding there stops the call even in redact mode.
    if (unrewritable > 0) return { decision: 'deny', ...base, reason: `${found} (${unrewritable} in tool-call arguments, which cannot be redacted)` };
    return { decision: 'redact', ...base, reason: `${found} (redacted)`, rewrites };
  }
  // enforce, or audit: the pipeline turns this deny into an audit note in audit mode.
  return { decision: 'deny', ...base, reason: found };
}

// ------------------------------------------------------------------------------------------ streams

/**
 * How much of a streamed answer is kept between events: model streams arrive a few characters per
 * delta, so a card number or a key is almost always split over several deltas, and scanning each
 * delta alone would miss it. Each delta is scanned together with the last WINDOW characters before
 * it. Secrets longer than this (a whole PEM body) are still caught by their beginning.
 */
const STREAM_WINDOW = 1024;

interface StreamState {
  /** The last characters seen (at most STREAM_WINDOW). */
  tail: string;
  /** Characters of the stream seen before `tail` began. */
  tailOffset: number;
  /** Stream offset up to which findings have been reported (a finding still growing is counted once). */
  reportedEnd: number;
}

/** Per call, per policy (each policy has its own scanner): state dies with the call. */
const streams = new WeakMap<Call, Map<string, StreamState>>();

function streamState(call: Call, key: string): StreamState {
  let byPolicy = streams.get(call);
  if (!byPolicy) {
    byPolicy = new Map();
    streams.set(call, byPolicy);
  }
  let state = byPolicy.get(key);
  if (!state) {
    state = { tail: '', tailOffset: 0, reportedEnd: 0 };
    byPolicy.set(key, state);
  }
  return state;
}

/** Findings completed by this delta (ending inside it), each counted once even while it grows. */
function scanDelta(scanner: DlpScanner, state: StreamState, delta: string): Record<string, number> | undefined {
  const window = state.tail + delta;
  const seenBefore = state.tailOffset + state.tail.length;
  let counts: Record<string, number> | undefined;
  for (const f of scanner.scan(window)) {
    const start = state.tailOffset + f.start;
    const end = state.tailOffset + f.end;
    if (end <= seenBefore || start < state.reportedEnd) continue;
    counts ??= {};
    counts[f.detector] = (counts[f.detector] ?? 0) + 1;
    state.reportedEnd = end;
  }
  const keep = Math.min(window.length, STREAM_WINDOW);
  state.tailOffset += window.length - keep;
  state.tail = window.slice(window.length - keep);
  return counts;
}

// -------------------------------------------------------------------------------------------- check

export const dlpCheck: Check = {
  section: 'dlp',

  request(call, policy) {
    const spec = policy.spec.dlp;
    if (!spec) return undefined;
    return verdictFor(policy, scanFields(compileDlp(spec), call.texts, call.toolCalls), '');
  },

  /**
   * A whole answer (scanResponses): its text fields, rewritable at their JSON paths. Tool calls the
   * model proposes are not scanned here: whatever the agent runs with them comes back through
   * request() (the next turn's tool calls, an MCP tools/call) and is scanned there.
   */
  response(_call, facts, policy) {
    const spec = policy.spec.dlp;
    if (!spec?.scanResponses) return undefined;
    return verdictFor(policy, scanFields(compileDlp(spec), facts.texts, []), ' in the response');
  },

  /**
   * One event of a streamed answer. Text already sent to the agent cannot be taken back, and a delta
   * that completes a secret may hold only its last characters, so a stream is never rewritten:
   * enforce cuts it (deny), redact records it (audit), audit notes it (the pipeline downgrades the deny).
   * Keeps a sliding window per call (see STREAM_WINDOW): call it once per event, in order.
   */
  streamEvent(call, event: StreamEvent, policy) {
    const spec = policy.spec.dlp;
    if (!spec?.scanResponses || event.type !== 'text' || event.text.length === 0) return undefined;
    const key = policyKey(policy);
    const counts = scanDelta(compileDlp(spec), streamState(call, key), event.text);
    if (!counts) return undefined;
    const reason = `sensitive data detected in the streamed response: ${describeCounts(counts)}`;
    const base = { rule: 'dlp' as const, policy: key, dlp: counts };
    if (effectiveDlpMode(policy.spec) === 'redact') return { decision: 'audit', ...base, reason: `${reason} (streamed text cannot be redacted)` };
    return { decision: 'deny', ...base, reason };
  },
};
