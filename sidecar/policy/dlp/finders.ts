// The searches gates are built from. indexOf on a literal runs at memory speed (V8 looks for its
// first character with a vectorised memchr, so the literal should start with a rare character); a
// skip loop reads about one character in N where a candidate must be N long; for runs of four digits
// irregexp's /\d\d\d\d/ beat such a loop. A single regular expression joining all gates measured 5x
// slower than these passes together: irregexp tries every alternative at every position.
import { isTokenChar, type Finder } from './types.js';

/** Every occurrence of a literal. Pick a rare one: "k-" finds "sk-" far faster than "sk-" does. */
export function literal(s: string): Finder {
  return (text, pos, hit) => {
    const i = text.indexOf(s, pos);
    if (i < 0) return false;
    hit.start = i;
    hit.end = i + s.length;
    return true;
  };
}

const TOKEN = new Uint8Array(65536);
for (let c = 0; c < 128; c++) if (isTokenChar(c) || c === 43 /* + */ || c === 47 /* / */) TOKEN[c] = 1;

/** Start of the first run of `n` characters of `cls` at or after pos (reading ~1 character in n), or -1. */
function runOf(cls: Uint8Array, n: number, text: string, pos: number): number {
  // A Boyer-Moore-like skip: if the window's last character is outside the class, no run can
  // start anywhere in the window.
  const len = text.length;
  let i = pos;
  while (i + n <= len) {
    if (cls[text.charCodeAt(i + n - 1)] === 0) {
      i += n;
      continue;
    }
    let j = i + n - 2;
    while (j >= i && cls[text.charCodeAt(j)] === 1) j--;
    if (j < i) return i;
    i = j + 1;
  }
  return -1;
}

/** 1 for a digit, 2 for what may join the digits of one number: space - . ( ) */
const NUM = new Uint8Array(65536);
for (let c = 48; c <= 57; c++) NUM[c] = 1;
for (const c of ' -.()') NUM[c.charCodeAt(0)] = 2;

/** Where a number continuing rightwards from e ends, and how many digits it has from e on. */
function walkRight(text: string, e: number, out: { end: number; digits: number }): void {
  const n = text.length;
  let digits = 0;
  while (e < n) {
    const k = NUM[text.charCodeAt(e)];
    if (k === 1) {
      e++;
      digits++;
    } else if (k === 2 && e + 1 < n) {
      const k1 = NUM[text.charCodeAt(e + 1)];
      if (k1 === 1) e += 1;
      else if (k1 === 2 && e + 2 < n && NUM[text.charCodeAt(e + 2)] === 1) e += 2;
      else break;
    } else {
      break;
    }
  }
  out.end = e;
  out.digits = digits;
}
const right = { end: 0, digits: 0 };
/** A run of four or more digits. (Spelt out: irregexp skips faster on \d\d\d\d than on \d{4}.) */
const DIGIT_RUN = /\d\d\d\d\d*/g;

/**
 * Numbers: a region of digits joined by at most two separators at a time ("4111 1111 1111 1111",
 * "123-45-6789", "(555) 123-4567"), holding a run of at least four digits and at least 8 digits in
 * all, with a leading '+' or '(' kept. What ssn, credit_card, phone and iban validate.
 */
export const numberRegions: Finder = (text, pos, hit) => {
  DIGIT_RUN.lastIndex = pos;
  while (DIGIT_RUN.test(text)) {
    const runEnd = DIGIT_RUN.lastIndex;
    // Walk left from the run's end, through the run: digits, or up to two separators with a digit
    // before them.
    let s = runEnd;
    let digits = 0;
    while (s > 0) {
      const k = NUM[text.charCodeAt(s - 1)];
      if (k === 1) {
        s--;
        digits++;
      } else if (k === 2 && s > 1) {
        const k1 = NUM[text.charCodeAt(s - 2)];
        if (k1 === 1) s -= 1;
        else if (k1 === 2 && s > 2 && NUM[text.charCodeAt(s - 3)] === 1) s -= 2;
        else break;
      } else {
        break;
      }
    }
    walkRight(text, runEnd, right);
    digits += right.digits;
    if (digits >= 8) {
      const p = s > 0 ? text.charCodeAt(s - 1) : 0;
      if (p === 43 || p === 40) s--; // '+' or '('
      hit.start = s;
      hit.end = right.end;
      return true;
    }
    DIGIT_RUN.lastIndex = right.end;
  }
  return false;
};

/** A '+' followed by a number of at least 7 digits (international phone numbers in short groups). */
export const plusNumbers: Finder = (text, pos, hit) => {
  for (;;) {
    const i = text.indexOf('+', pos);
    if (i < 0) return false;
    walkRight(text, i + 1, right);
    const c = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
    if (right.digits >= 7 && (NUM[c] === 1 || c === 40)) {
      hit.start = i;
      hit.end = right.end;
      return true;
    }
    pos = i + 1;
  }
};

/** Tokens of `min` or more base64 / base64url characters ([A-Za-z0-9+/_-]), whole. */
export function tokensOf(min: number): Finder {
  return (text, pos, hit) => {
    let s = runOf(TOKEN, min, text, pos);
    if (s < 0) return false;
    while (s > 0 && TOKEN[text.charCodeAt(s - 1)] === 1) s--; // only when pos fell inside a token
    let e = s + min;
    while (e < text.length && TOKEN[text.charCodeAt(e)] === 1) e++;
    hit.start = s;
    hit.end = e;
    return true;
  };
}

/** Tokens of 32 or more base64 / base64url characters, whole. */
export const longTokens: Finder = tokensOf(32);

/**
 * The one pass over tokens of 24+ base64 characters that the generic api_key gate (32+) and base64
 * decoding (24+, index.ts) share at sensitivity high: two skip loops over a text cost twice one.
 */
export const TOKENS = { key: 'tokens', finder: tokensOf(24) } as const;
