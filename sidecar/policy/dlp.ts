// spec.dlp: sensitive data (card numbers, SSNs, IBANs, emails, phone numbers, API keys, AWS keys,
// private keys, JWTs, the policy's own patterns) in what an agent sends and, with scanResponses, in
// what comes back. The detectors live in ./dlp/; this file turns their findings into verdicts.
//
//   mode enforce  deny the call (or cut the answer)
//   mode redact   replace each finding with [REDACTED:<detector>] and let the call through
//   mode audit    let it through, noted (the pipeline turns this check's deny into audit)
//   mode off      not run (the pipeline skips the section)
//
// What is read: every text field the adapter lists (each normalised by the scanner, see
// dlp/normalize.ts), the junction of each field with the next (a number split over two messages),
// tool-call arguments the adapter could not locate, and the URL's query string. The last two cannot
// be rewritten, so a finding there is a deny even in redact mode.
//
// Verdicts carry counts per detector (verdict.dlp) and never a matched value: not in the reason, not
// anywhere else. Rewrites carry the redacted text only.
//
// A large body is read ahead in slices (prepareRequest, prepareResponse; see pipeline.ts): the whole
// scan (scanFieldsSteps) is written as steps, each announcing how many characters it is about to
// read, and the same steps run straight through in request() / response() when nothing was prepared.
// A single long text is scanned in overlapping windows (dlp/index.ts scanSteps).
import { effectiveDlpMode, policyKey, type GovernancePolicy } from '../../api/index.js';
import type { Call, ResponseFacts, StreamEvent, TextField, ToolCall } from '../call.js';
import { compileDlp, countFindings, redact, SCAN_CALL_COST, SCAN_SLICE, scanSteps, type DlpScanner, type Finding, type Steps } from './dlp/index.js';
import type { Check, Pause } from './pipeline.js';
import type { TextRewrite, Verdict } from './verdict.js';
import { runToEnd } from '../../lib/steps.js';

/** What a scan of a call's (or an answer's) fields found. */
interface Scanned {
  counts: Record<string, number>;
  /** Redacted replacements for the text fields that had findings. */
  rewrites: TextRewrite[];
  /** Findings in places a rewrite cannot reach (tool-call arguments not also listed as texts, the query string). */
  unrewritable: number;
  /** Of those, in the query string. */
  inQuery: number;
}

/** Integers this long may be a card number or an SSN sent as a JSON number. */
const MIN_NUMERIC_LEAF = 10_000_000;

/** Every string leaf (and long integer, as a string) of a parsed JSON value, in document order. */
function* leaves(value: unknown): Generator<{ s: string; isNumber: boolean }, void, void> {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') yield { s: v, isNumber: false };
    else if (typeof v === 'number') {
      if (Number.isSafeInteger(v) && Math.abs(v) >= MIN_NUMERIC_LEAF) yield { s: String(v), isNumber: true };
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push(v[i]);
    } else if (typeof v === 'object' && v !== null) {
      const vals = Object.values(v);
      for (let i = vals.length - 1; i >= 0; i--) stack.push(vals[i]);
    }
  }
}

/**
 * How much of each side of the junction between two consecutive text fields is scanned together: a
 * number or a key split over two messages ("... 4111 1111" | "1111 1111 ...") is found there.
 */
const JUNCTION = 64;

/**
 * Findings that straddle the junction of two consecutive fields a and b, each as the part in a
 * (from aStart to the end of a) and the part in b (from the start of b to bEnd). The two sides are
 * scanned joined as they are and joined by a space ("4111 1111" | "1111 1111").
 */
function junctionFindings(scanner: DlpScanner, a: string, b: string): Array<{ detector: string; aStart: number; bEnd: number }> {
  const tailStart = Math.max(0, a.length - JUNCTION);
  const tail = a.slice(tailStart);
  const head = b.slice(0, JUNCTION);
  if (tail.length === 0 || head.length === 0) return [];
  const found: Array<{ detector: string; aStart: number; bEnd: number }> = [];
  for (const glue of ['', ' ']) {
    const headAt = tail.length + glue.length;
    for (const f of scanner.scan(tail + glue + head)) {
      if (f.start >= tail.length || f.end <= headAt) continue; // all on one side: found there
      found.push({ detector: f.detector, aStart: tailStart + f.start, bEnd: f.end - headAt });
    }
    if (found.length > 0) break;
  }
  return found;
}

/** The query string of a request path, percent-decoded ('+' as a space); '' when there is none. */
export function queryText(path: string): string {
  const q = path.indexOf('?');
  if (q < 0) return '';
  const raw = path.slice(q + 1).replace(/\+/g, ' ');
  try {
    return decodeURIComponent(raw);
  } catch {
    // A stray '%': decode the sequences that are valid.
    return raw.replace(/(?:%[0-9a-fA-F]{2})+/g, (m) => {
      try {
        return decodeURIComponent(m);
      } catch {
        return m;
      }
    });
  }
}

/** What a check reads of a call or an answer (scanFieldsSteps). */
interface Fields {
  texts: readonly TextField[];
  toolCalls: readonly ToolCall[];
  /** Texts that cannot be rewritten: a request's query string. */
  extra: readonly string[];
}

function requestFields(call: Call): Fields {
  // The query string is read by the provider too, and cannot be rewritten.
  const query = queryText(call.path);
  return { texts: call.texts, toolCalls: call.toolCalls, extra: query === '' ? [] : [query] };
}

/** An answer's tool calls are not scanned (see response()). One array: sameFields compares by identity. */
const NO_TOOL_CALLS: readonly ToolCall[] = Object.freeze([]);

const responseFields = (facts: ResponseFacts): Fields => ({ texts: facts.texts, toolCalls: NO_TOOL_CALLS, extra: [] });

/**
 * Scans text fields (each, and the junction of each with the next), tool-call arguments not listed
 * as texts, and `extra` texts that cannot be rewritten (a request's query string; counted as `inQuery`).
 * In steps (dlp/index.ts Steps): before each piece of work it yields its size in characters, so that
 * prepareRequest/prepareResponse can pause between slices; request()/response() run it straight.
 */
function* scanFieldsSteps(scanner: DlpScanner, { texts, toolCalls, extra }: Fields): Steps<Scanned> {
  const counts: Record<string, number> = {};
  const own: Finding[][] = [];
  for (const t of texts) {
    const findings = yield* scanSteps(scanner, t.text);
    countFindings(findings, counts);
    own.push(findings);
  }
  /** Each field's own findings, then the parts of junction findings that fall in it. */
  const perField: Finding[][] = own.map((f) => f.slice());
  for (let k = 0; k + 1 < texts.length; k++) {
    const a = texts[k]!.text;
    const b = texts[k + 1]!.text;
    // At most two scans of tail + glue + head.
    yield 2 * (Math.min(a.length, JUNCTION) + 1 + Math.min(b.length, JUNCTION) + SCAN_CALL_COST);
    const before = own[k]!;
    const after = own[k + 1]!;
    for (const j of junctionFindings(scanner, a, b)) {
      // A finding of either field that the junction only extends ("jane@example.com" + "Thanks")
      // is already counted: only what neither side holds alone is new.
      if (before.some((f) => f.end > j.aStart) || after.some((f) => f.start < j.bEnd)) continue;
      // Redact both parts: the end of one field and the start of the next.
      counts[j.detector] = (counts[j.detector] ?? 0) + 1;
      perField[k]!.push({ detector: j.detector, start: j.aStart, end: a.length });
      perField[k + 1]!.push({ detector: j.detector, start: 0, end: j.bEnd });
    }
  }
  const rewrites: TextRewrite[] = [];
  for (let k = 0; k < texts.length; k++) {
    const findings = perField[k]!;
    if (findings.length === 0) continue;
    const t = texts[k]!;
    yield t.text.length;
    rewrites.push({ path: t.path, text: redact(t.text, merge(findings)) });
  }
  let unrewritable = 0;
  for (const s of extra) {
    const findings = yield* scanSteps(scanner, s);
    countFindings(findings, counts);
    unrewritable += findings.length;
  }
  const inQuery = unrewritable;
  if (toolCalls.some((c) => c.arguments !== undefined)) {
    // Adapters that can locate argument strings (MCP tools/call, Anthropic and Bedrock tool inputs)
    // also list them as texts: those were scanned above and can be rewritten. Count each value once.
    // OpenAI lists the raw JSON argument string: a value found there verbatim is redacted there; one
    // that is not (JSON escapes hid it) cannot be.
    const asTexts = new Set(texts.map((t) => t.text));
    const withFindings = texts.filter((_, k) => perField[k]!.length > 0).map((t) => t.text);
    for (const c of toolCalls) {
      for (const { s, isNumber } of leaves(c.arguments)) {
        if (asTexts.has(s)) continue;
        const findings = yield* scanSteps(scanner, s);
        if (findings.length === 0) continue;
        // (A JSON number redacted inside the raw string would leave invalid JSON: not redacted there.)
        if (!isNumber && (yield* containedIn(withFindings, s))) continue;
        countFindings(findings, counts);
        unrewritable += findings.length;
      }
    }
  }
  return { counts, rewrites, unrewritable, inQuery };
}

/** Whether one of texts holds s, searched text by text (each a step: they may be megabytes). */
function* containedIn(texts: readonly string[], s: string): Steps<boolean> {
  for (const t of texts) {
    yield t.length;
    if (t.includes(s)) return true;
  }
  return false;
}

/**
 * How many characters of work (scanning, redacting) are done between two pauses: a few milliseconds.
 * One window of a long text (dlp/index.ts) is one slice and its margins.
 */
const SLICE_CHARS = SCAN_SLICE;

/**
 * Runs steps with a pause before any step that would take the work done since the last pause past
 * SLICE_CHARS (a single step larger than that, one window of a long text, runs alone), and one at
 * the end, so that what runs next (another policy's preparation, the checks) starts a fresh slice.
 */
async function runStepsSliced<T>(steps: Steps<T>, pause: Pause): Promise<T> {
  let done = 0;
  for (;;) {
    const r = steps.next();
    if (r.done) {
      if (done > 0) await pause();
      return r.value;
    }
    if (done > 0 && done + r.value > SLICE_CHARS) {
      await pause();
      done = 0;
    }
    done += r.value;
  }
}

/**
 * What scanFieldsSteps found for an owner (the call, or the answer's facts) and scanner, worked out
 * ahead of the checks for a large body (prepareRequest, prepareResponse), with the fields it read.
 * request() and response() read it instead of scanning again: the same result, done at another time.
 */
const prepared = new WeakMap<object, Map<DlpScanner, { fields: Fields; scanned: Scanned }>>();

const sameFields = (a: Fields, b: Fields): boolean =>
  a.texts === b.texts && a.toolCalls === b.toolCalls && a.extra.length === b.extra.length && a.extra.every((s, i) => s === b.extra[i]);

async function prepare(owner: object, scanner: DlpScanner, fields: Fields, pause: Pause): Promise<void> {
  let byScanner = prepared.get(owner);
  if (!byScanner) prepared.set(owner, (byScanner = new Map()));
  const ahead = byScanner.get(scanner);
  if (ahead && sameFields(ahead.fields, fields)) return;
  byScanner.set(scanner, { fields, scanned: await runStepsSliced(scanFieldsSteps(scanner, fields), pause) });
}

/** The prepared scan of these fields, else a scan now. */
function scanned(owner: object, scanner: DlpScanner, fields: Fields): Scanned {
  const ahead = prepared.get(owner)?.get(scanner);
  return ahead && sameFields(ahead.fields, fields) ? ahead.scanned : runToEnd(scanFieldsSteps(scanner, fields));
}

/** Sorted findings without overlaps (overlapping ones merged: a junction part may cover a field's own). */
function merge(findings: Finding[]): Finding[] {
  if (findings.length < 2) return findings;
  findings.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: Finding[] = [];
  for (const f of findings) {
    const prev = out[out.length - 1];
    if (prev && f.start < prev.end) {
      if (f.end > prev.end) prev.end = f.end;
      continue;
    }
    out.push({ ...f });
  }
  return out;
}

/** "credit_card x1, email x2": detector names and counts, never values. */
export function describeCounts(counts: Record<string, number>): string {
  return Object.keys(counts)
    .sort()
    .map((d) => `${d} x${counts[d]}`)
    .join(', ');
}

function verdictFor(policy: GovernancePolicy, scanned: Scanned, where: string): Verdict | undefined {
  const { counts, rewrites, unrewritable, inQuery } = scanned;
  if (rewrites.length === 0 && unrewritable === 0) return undefined;
  // Copies: a prepared result is kept with its call, and may be read again.
  const base = { rule: 'dlp' as const, policy: policyKey(policy), dlp: { ...counts } };
  const found = `sensitive data detected${where}: ${describeCounts(counts)}`;
  if (effectiveDlpMode(policy.spec) === 'redact') {
    // Redaction must not forward what it could not mask: a tool call's arguments have no JSON path
    // to rewrite, nor has the URL's query string, so a finding there stops the call even in redact mode.
    if (unrewritable > 0) {
      const inArgs = unrewritable - inQuery;
      const where = [inArgs > 0 ? `${inArgs} in tool-call arguments` : '', inQuery > 0 ? `${inQuery} in the query string` : ''].filter(Boolean).join(', ');
      return { decision: 'deny', ...base, reason: `${found} (${where}, which cannot be redacted)` };
    }
    return { decision: 'redact', ...base, reason: `${found} (redacted)`, rewrites: rewrites.slice() };
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
    return verdictFor(policy, scanned(call, compileDlp(spec), requestFields(call)), '');
  },

  async prepareRequest(call, policy, pause) {
    if (policy.spec.dlp) await prepare(call, compileDlp(policy.spec.dlp), requestFields(call), pause);
  },

  async prepareResponse(_call, facts, policy, pause) {
    if (policy.spec.dlp?.scanResponses) await prepare(facts, compileDlp(policy.spec.dlp), responseFields(facts), pause);
  },

  /**
   * A whole answer (scanResponses): its text fields, rewritable at their JSON paths. Tool calls the
   * model proposes are not scanned here: whatever the agent runs with them comes back through
   * request() (the next turn's tool calls, an MCP tools/call) and is scanned there.
   */
  response(_call, facts, policy) {
    const spec = policy.spec.dlp;
    if (!spec?.scanResponses) return undefined;
    return verdictFor(policy, scanned(facts, compileDlp(spec), responseFields(facts)), ' in the response');
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
