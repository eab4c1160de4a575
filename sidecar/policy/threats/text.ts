// How a leaf's string is read before the detectors look at it: the way a tool at the other end
// would end up reading it, so that an encoding does not hide an attack.
//   - percent-escapes undone (a web framework decodes query and path parameters; a second round
//     catches double encoding, `%252e`); '+' read as a space where the string is percent-encoded
//   - folded as DLP folds text (../dlp/normalize.ts): NFKC, so full-width `．．／` and circled
//     `①②⑦` read as `../` and `127` (as IDNA and many filters fold them); invisible format
//     characters removed; Unicode dashes read as '-'
//   - lower case: the signals are written in lower case
// Every step is a single pass over the string (V8 regular expressions here are only single
// character classes, which run in linear time).

import { normalize } from '../dlp/normalize.js';

const PERCENT = /%[0-9a-fA-F]{2}/;

/** One round of percent-decoding, tolerant: a sequence that is not UTF-8 is decoded byte by byte (Latin-1). */
export function percentDecodeOnce(s: string): string {
  if (!PERCENT.test(s)) return s;
  let out = '';
  let i = 0;
  const n = s.length;
  while (i < n) {
    const p = s.indexOf('%', i);
    if (p < 0) {
      out += s.slice(i);
      break;
    }
    out += s.slice(i, p);
    // A run of %XX escapes, decoded together (a multi-byte UTF-8 character spans several).
    let j = p;
    const bytes: number[] = [];
    while (j + 2 < n && s.charCodeAt(j) === 37 /* % */ && isHex(s.charCodeAt(j + 1)) && isHex(s.charCodeAt(j + 2))) {
      bytes.push(parseInt(s.slice(j + 1, j + 3), 16));
      j += 3;
    }
    if (bytes.length === 0) {
      out += '%';
      i = p + 1;
      continue;
    }
    out += decodeBytes(bytes);
    i = j;
  }
  return out;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeBytes(bytes: number[]): string {
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    // Overlong or broken UTF-8 (`%c0%ae`): each byte as itself; the detectors look for those forms raw.
    return String.fromCharCode(...bytes);
  }
}

/** Percent-decoding as far as two rounds go ('+' as a space when the string was percent-encoded). */
export function percentDecode(s: string): string {
  if (!PERCENT.test(s)) return s;
  const once = percentDecodeOnce(s.replace(/\+/g, ' '));
  return PERCENT.test(once) ? percentDecodeOnce(once) : once;
}

/** The text the detectors read (see the top of this file). */
export function readable(s: string): string {
  const t = percentDecode(s);
  return (normalize(t)?.text ?? t).toLowerCase();
}

/** Shannon entropy in bits per character of s[start, end) (ASCII; other characters share one bucket). */
export function entropy(s: string, start = 0, end = s.length): number {
  const n = end - start;
  if (n <= 0) return 0;
  const counts = new Uint32Array(129);
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    counts[c < 128 ? c : 128]!++;
  }
  let h = 0;
  for (const k of counts) {
    if (k === 0) continue;
    const q = k / n;
    h -= q * Math.log2(q);
  }
  return h;
}
