// What every DLP detector shares: spans, findings, gates, and a few ASCII character tests.
//
// A detector is a set of gates. A gate is a cheap search (an indexOf for a rare literal such as
// "k-" of "sk-", "yJ" of "eyJ", "BEGIN ", '@'; a skip loop for runs of digits or of token characters;
// at most a simple regular expression) that marks where a candidate may sit; its validator then
// decides, by parsing and checksums rather than by regex alone, whether the candidate is the real
// thing and where exactly it starts and ends. Detectors that share a search (ssn, credit_card,
// phone and iban all start from runs of digits) share one pass over the text (engine.ts).

/** Where a match sits in a text: UTF-16 offsets, end exclusive. */
export interface Span {
  start: number;
  end: number;
}

/** A validated match, named by the detector that made it (a built-in or a custom detector's name). */
export interface Finding extends Span {
  detector: string;
}

/**
 * A search over a text: sets hit to the next candidate region at or after pos and returns true, or
 * returns false when there is none. It must make progress: hit.end > hit.start >= pos.
 */
export type Finder = (text: string, pos: number, hit: Span) => boolean;

export interface Gate {
  /** Gates with the same key run their finder once and share its hits. */
  readonly key: string;
  readonly finder: Finder;
  /** Appends the validated matches around one hit [from, to) to out. */
  validate(text: string, from: number, to: number, out: Span[]): void;
  /** Runs after the other gates, so on a tie (same span) the specific detector's name wins. */
  readonly fallback?: boolean;
}

export interface Detector {
  readonly name: string;
  /** How the shared scanner finds this detector's candidates. */
  readonly gates: readonly Gate[];
  /** Validated, non-overlapping matches in text, sorted by start. */
  find(text: string): Span[];
}

// ------------------------------------------------------------------------------- character classes

const C = {
  DIGIT: 1,
  UPPER: 2,
  LOWER: 4,
  /** base64url extras: '-' and '_' */
  URLSAFE: 8,
  /** base64 extras: '+' and '/' */
  B64: 16,
} as const;
const TABLE = new Uint8Array(65536);
for (let c = 48; c <= 57; c++) TABLE[c] = C.DIGIT;
for (let c = 65; c <= 90; c++) TABLE[c] = C.UPPER;
for (let c = 97; c <= 122; c++) TABLE[c] = C.LOWER;
TABLE[45] = C.URLSAFE;
TABLE[95] = C.URLSAFE;
TABLE[43] = C.B64;
TABLE[47] = C.B64;

const is = (code: number, mask: number): boolean => ((TABLE[code] ?? 0) & mask) !== 0;

export const isDigit = (code: number): boolean => code >= 48 && code <= 57;
export const isUpper = (code: number): boolean => code >= 65 && code <= 90;
export const isLower = (code: number): boolean => code >= 97 && code <= 122;
export const isAlnum = (code: number): boolean => is(code, C.DIGIT | C.UPPER | C.LOWER);
/** [A-Za-z0-9_-]: base64url, and the body of most API tokens. */
export const isTokenChar = (code: number): boolean => is(code, C.DIGIT | C.UPPER | C.LOWER | C.URLSAFE);

/** The code unit at i, or NaN outside the text (every test above is false for NaN). */
export const at = (text: string, i: number): number => text.charCodeAt(i);

/** Counts of digits, upper- and lower-case letters (reused: read it before the next call). */
export interface Mix {
  digits: number;
  upper: number;
  lower: number;
}
const mix: Mix = { digits: 0, upper: 0, lower: 0 };

/** Counts of digits, upper- and lower-case letters in text[start, end). */
export function charMix(text: string, start: number, end: number): Mix {
  let digits = 0;
  let upper = 0;
  let lower = 0;
  for (let i = start; i < end; i++) {
    const k = TABLE[text.charCodeAt(i)];
    if (k === C.DIGIT) digits++;
    else if (k === C.UPPER) upper++;
    else if (k === C.LOWER) lower++;
  }
  mix.digits = digits;
  mix.upper = upper;
  mix.lower = lower;
  return mix;
}

const counts = new Uint32Array(129);

/** Shannon entropy of text[start, end) in bits per character (ASCII; others share one bucket). */
export function entropy(text: string, start: number, end: number): number {
  const n = end - start;
  if (n <= 0) return 0;
  let h = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    counts[c < 128 ? c : 128]!++;
  }
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    const k = counts[c < 128 ? c : 128]!;
    if (k === 0) continue; // counted already
    const q = k / n;
    h -= q * Math.log2(q);
    counts[c < 128 ? c : 128] = 0;
  }
  return h;
}
