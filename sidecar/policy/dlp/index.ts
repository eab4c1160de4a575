// DLP scanning: which detectors a policy's dlp section turns on, one compiled scanner per section,
// and redaction. The check that uses it is ../dlp.ts.
//
//   detector        low  medium  high   (an explicit `detectors` list replaces this choice;
//   private_key      x     x      x      sensitivity still sets how eager ssn and api_key are)
//   aws_access_key   x     x      x
//   api_key          x     x      x + generic high-entropy secrets
//   jwt              x     x      x
//   credit_card      x     x      x
//   ssn                    dashed x + nine bare digits
//   iban                   x      x
//   email                  x      x
//   phone                         x
//   base64 decoding               x   (tokens of 24+ characters that decode to text: scanned too)
//
// Every text is normalised first (normalize.ts), so that full-width digits, Unicode dashes and
// zero-width characters do not hide a number.
import type { DlpDetector, DlpSensitivity, DlpSpec } from '../../../api/index.js';
import { createApiKey } from './api-key.js';
import { decodeBase64Text } from './base64.js';
import { createAwsAccessKey } from './aws-access-key.js';
import { createCreditCard } from './credit-card.js';
import { compileCustom, type CustomDetector } from './custom.js';
import { createEmail } from './email.js';
import { buildScan, resolve, type Scan } from './engine.js';
import { createIban } from './iban.js';
import { createJwt } from './jwt.js';
import { normalize, originalSpan } from './normalize.js';
import { createPhone } from './phone.js';
import { createPrivateKey } from './private-key.js';
import { createSsn } from './ssn.js';
import { TOKENS } from './finders.js';
import type { Detector, Finding, Gate } from './types.js';

export type { Detector, Finding, Span } from './types.js';
export type { CustomDetector } from './custom.js';
export { compileCustom, customPatternError } from './custom.js';

/** The detectors each sensitivity turns on when the policy lists none. */
export const SENSITIVITY_DETECTORS: Readonly<Record<DlpSensitivity, readonly DlpDetector[]>> = {
  low: ['private_key', 'aws_access_key', 'api_key', 'jwt', 'credit_card'],
  medium: ['private_key', 'aws_access_key', 'api_key', 'jwt', 'credit_card', 'ssn', 'iban', 'email'],
  high: ['private_key', 'aws_access_key', 'api_key', 'jwt', 'credit_card', 'ssn', 'iban', 'email', 'phone'],
};

/** Scan order: when two gates match at one position the earlier detector's is tried first. */
const ORDER: readonly DlpDetector[] = ['private_key', 'aws_access_key', 'api_key', 'jwt', 'iban', 'email', 'credit_card', 'ssn', 'phone'];

/** A built-in detector configured for a sensitivity. */
export function createDetector(name: DlpDetector, sensitivity: DlpSensitivity = 'medium'): Detector {
  const high = sensitivity === 'high';
  switch (name) {
    case 'ssn': return createSsn({ undashed: high });
    case 'credit_card': return createCreditCard();
    case 'iban': return createIban();
    case 'email': return createEmail();
    case 'phone': return createPhone();
    case 'aws_access_key': return createAwsAccessKey();
    case 'api_key': return createApiKey({ generic: high });
    case 'private_key': return createPrivateKey();
    case 'jwt': return createJwt();
  }
}

export interface DlpScanner {
  /** Names of the detectors that run: built-ins in scan order, then custom ones. */
  readonly detectors: readonly string[];
  /** Custom detectors that could not be compiled (and do not run), one line each. */
  readonly errors: readonly string[];
  /**
   * Validated, non-overlapping findings, sorted by start, on text's own offsets. The detectors read
   * text normalised (normalize.ts: NFKC, invisibles removed, dashes unified; a finding covers every
   * original character it came from) and, at sensitivity high, long base64 tokens decoded (base64.ts).
   */
  scan(text: string): Finding[];
}

/** The built-in detectors a dlp section turns on. */
export function enabledDetectors(spec: DlpSpec): DlpDetector[] {
  const wanted = new Set<DlpDetector>(spec.detectors ?? SENSITIVITY_DETECTORS[spec.sensitivity ?? 'medium']);
  return ORDER.filter((d) => wanted.has(d));
}

function build(spec: DlpSpec): DlpScanner {
  const sensitivity = spec.sensitivity ?? 'medium';
  const builtins = enabledDetectors(spec).map((d) => createDetector(d, sensitivity));
  const decode = sensitivity === 'high';
  /** Base64 tokens that decode to text, collected during a top-level scan (undefined otherwise). */
  type Candidate = { start: number; end: number; decoded: string };
  let pending: Candidate[] | undefined;
  // At high, base64 decoding rides on the token pass the generic api_key gate makes (finders.TOKENS).
  const base64Gate: Gate = {
    ...TOKENS,
    fallback: true,
    validate(text, from, to) {
      if (!pending) return;
      let end = to;
      while (end < text.length && end - to < 2 && text.charCodeAt(end) === 61 /* = */) end++;
      const decoded = decodeBase64Text(text, from, to);
      if (decoded !== undefined) pending.push({ start: from, end, decoded });
    },
  };
  const scanBuiltins: Scan = buildScan(decode ? [...builtins, { name: 'base64', gates: [base64Gate] }] : builtins);
  const customs: CustomDetector[] = [];
  const errors: string[] = [];
  for (const c of spec.custom ?? []) {
    try {
      customs.push(compileCustom(c.name, c.pattern));
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  /** Findings in a text, on the original's offsets: normalised first (normalize.ts). */
  const scanText = (text: string, withBase64: boolean): Finding[] => {
    const norm = normalize(text);
    const t = norm?.text ?? text;
    const out: Finding[] = [];
    const candidates: Candidate[] | undefined = withBase64 ? [] : undefined;
    pending = candidates;
    try {
      scanBuiltins(t, out);
    } finally {
      pending = undefined;
    }
    for (const c of customs) for (const s of c.find(t)) out.push({ detector: c.name, start: s.start, end: s.end });
    // A token that decodes to text holding a finding is reported whole, under its first finding's name.
    // One level: what it decodes to is not decoded again.
    // It goes first: on the same span it is a more telling name than the generic api_key's.
    for (const c of candidates ?? []) {
      const inner = scanText(c.decoded, false);
      if (inner.length > 0) out.unshift({ detector: inner[0]!.detector, start: c.start, end: c.end });
    }
    const found = resolve(out);
    if (!norm) return found;
    // Back to the original: a finding covers every original character it was folded from, the
    // invisible ones between its characters included. Two findings folded from one code point merge.
    const mapped: Finding[] = [];
    for (const f of found) {
      const span = originalSpan(norm, f.start, f.end);
      const prev = mapped[mapped.length - 1];
      if (prev && span.start < prev.end) {
        if (span.end > prev.end) prev.end = span.end;
        continue;
      }
      mapped.push({ detector: f.detector, ...span });
    }
    return mapped;
  };
  return {
    detectors: [...builtins.map((d) => d.name), ...customs.map((c) => c.name)],
    errors,
    scan: (text: string): Finding[] => scanText(text, decode),
  };
}

const cache = new WeakMap<DlpSpec, DlpScanner>();

/**
 * The scanner for a dlp section, compiled once per spec object: policies are immutable snapshots, so a
 * reload brings new objects and the old scanners go with the old snapshot.
 */
export function compileDlp(spec: DlpSpec): DlpScanner {
  let scanner = cache.get(spec);
  if (!scanner) {
    scanner = build(spec);
    cache.set(spec, scanner);
  }
  return scanner;
}

/** Replaces each finding (sorted, non-overlapping, as scan() returns them) with [REDACTED:<detector>]. */
export function redact(text: string, findings: readonly Finding[]): string {
  if (findings.length === 0) return text;
  let out = '';
  let pos = 0;
  for (const f of findings) {
    if (f.start < pos) continue;
    out += text.slice(pos, f.start) + `[REDACTED:${f.detector}]`;
    pos = f.end;
  }
  return out + text.slice(pos);
}

/** Findings by detector name: what verdicts, metrics and audit lines carry (never the values). */
export function countFindings(findings: Iterable<Finding>, into: Record<string, number> = {}): Record<string, number> {
  for (const f of findings) into[f.detector] = (into[f.detector] ?? 0) + 1;
  return into;
}

// ------------------------------------------------------------------------------- scanning in slices

/**
 * Work done step by step: before each step the generator yields how much work that step is, in
 * characters, so that its driver (policy/dlp.ts) may let the event loop run before it. What it
 * returns at the end is the same whichever driver ran it.
 */
export type Steps<T> = Generator<number, T, void>;

/**
 * A text longer than one window (a slice and both margins) is scanned in windows, each keeping the
 * findings of one slice of this many characters (scanSteps).
 */
export const SCAN_SLICE = 512 * 1024;

/**
 * What a window reads on each side of its slice. A finding is kept by the window whose slice holds
 * its start, and comes out as a scan of the whole text finds it when what the detectors read to find
 * it, and every finding that overlaps it, lie inside the window. What they read around a finding:
 *   private_key   the header, up to 64 KiB of body (private-key.ts MAX_BLOCK), an 80-character footer
 *   jwt           a header of at most 4 KiB (jwt.ts), then two or four segments
 *   api_key       a generic token of at most 256 characters; a prefixed key's characters
 *   email         a local part of at most 64 characters back from the '@', then its domain
 *   iban          up to 40 characters back from its account number
 *   others        a character or two around a number, a name before an AWS secret (~100)
 * Passes skip hits inside a finding of theirs (engine.ts), and the number detectors read a whole
 * run of numbers at once; a window that starts inside such a run (or a finding) reads it from there:
 * findings that come out differently there lie near the window's edge, a margin away from its slice.
 * Folding (normalize.ts) goes code point by code point, so a window reads its characters folded as
 * the whole text is; an edge never splits a surrogate pair, and a combining sequence an edge cuts
 * lies a margin away from the slice too.
 * The margin holds the longest PEM block with room to spare. What can still differ from a whole scan:
 * what lies within or right after one thing longer than the margin that a window cuts: a PEM block
 * with a header line of kilobytes, a JWT payload or an email domain of more than ~70 KiB, a custom
 * pattern's match longer than that, a single run of numbers (digits joined by spaces, dots or dashes:
 * a vector printed as text) where candidates overlap one another across the whole margin, and, at
 * sensitivity high, a base64 token longer than the margin that decodes to text (base64.ts reads its
 * first 64 KiB): a whole scan reports the whole token, a window only up to its own end.
 */
export const SCAN_MARGIN = 72 * 1024;

/**
 * What a scan call costs beyond its characters (normalisation check, each pass's set-up), counted as
 * this many characters: a body of ten thousand short fields is as much work as its length says.
 */
export const SCAN_CALL_COST = 128;

/** i, moved back one when it would split a surrogate pair (a window never cuts a code point in two). */
function cutAt(text: string, i: number): number {
  if (i <= 0) return 0;
  if (i >= text.length) return text.length;
  const c = text.charCodeAt(i);
  const p = text.charCodeAt(i - 1);
  return c >= 0xdc00 && c <= 0xdfff && p >= 0xd800 && p <= 0xdbff ? i - 1 : i;
}

/** One window of a long text: it scans [from, to) and keeps the findings that start in [keepFrom, keepTo). */
export interface ScanWindow {
  from: number;
  to: number;
  keepFrom: number;
  keepTo: number;
}

/**
 * The windows a text is scanned in: none for a text that fits in one (scanned whole, as scan() does);
 * else slices of `slice` (at least 2) characters, each read with `margin` characters of context on
 * either side.
 */
export function scanWindows(text: string, slice = SCAN_SLICE, margin = SCAN_MARGIN): ScanWindow[] {
  if (text.length <= slice + 2 * margin) return [];
  const windows: ScanWindow[] = [];
  // Boundaries on a fixed grid: one moved back off a surrogate pair does not shift those after it.
  for (let k = 0, keepFrom = 0; keepFrom < text.length; k++) {
    const keepTo = cutAt(text, (k + 1) * slice);
    windows.push({ from: cutAt(text, keepFrom - margin), to: cutAt(text, keepTo + margin), keepFrom, keepTo });
    keepFrom = keepTo;
  }
  return windows;
}

/**
 * scanner.scan(text) in steps of at most one window (scanWindows): a text of megabytes in one scan
 * holds the event loop for tens of milliseconds. Findings are on text's own offsets, sorted and not
 * overlapping; they are those of scan(text) but for what SCAN_MARGIN lists.
 */
export function* scanSteps(scanner: Pick<DlpScanner, 'scan'>, text: string, slice = SCAN_SLICE, margin = SCAN_MARGIN): Steps<Finding[]> {
  const windows = scanWindows(text, slice, margin);
  if (windows.length === 0) {
    yield text.length + SCAN_CALL_COST;
    return scanner.scan(text);
  }
  const found: Finding[] = [];
  let keptEnd = 0;
  for (const w of windows) {
    yield w.to - w.from + SCAN_CALL_COST;
    for (const f of scanner.scan(text.slice(w.from, w.to))) {
      const start = w.from + f.start;
      // A finding that overlaps one kept already would have lost to it in a whole scan (resolve).
      if (start < w.keepFrom || start >= w.keepTo || start < keptEnd) continue;
      keptEnd = w.from + f.end;
      found.push({ detector: f.detector, start, end: keptEnd });
    }
  }
  return found;
}
