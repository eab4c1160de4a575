// What the detectors read: text folded so that look-alike spellings of a secret match like the plain
// one. Applied to every text before the detectors run (index.ts), with a map back to the original so
// that findings, and redaction, cover the characters actually sent.
//
//   NFKC, code point by code point   full-width digits and letters, ligatures, super/subscripts, odd
//                                    spaces (U+00A0, U+2000-U+200A, U+3000...) become ASCII
//   format characters (Cf) removed   zero-width space/joiners, soft hyphen, bidi marks, word joiner,
//                                    BOM, tags; variation selectors and U+034F (invisible) too
//   dashes and hyphens unified       U+2010-U+2015, U+2043, U+2212, U+FE58, U+FE63, U+FF0D -> '-'
//
// ASCII text (no code unit >= 0x80, almost everything agents send) is returned as is, after one
// length comparison, no copy.

/**
 * A text as the detectors read it, and where its characters came from: a piecewise map of segments,
 * each either a run copied as is (one original character per character) or the characters folded
 * from one original code point.
 */
export interface Normalized {
  text: string;
  /**
   * Segments, three numbers each: where it starts in text (ascending), where it starts in the
   * original, and 0 for a run copied as is or else the width (1 or 2) of the code point it was folded from.
   */
  segs: Int32Array;
}

const FORMAT = /^[\p{Cf}\u034f\ufe00-\ufe0f\u180b-\u180f]$/u;
const DASHES = new Set([0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2043, 0x2212, 0xfe58, 0xfe63, 0xff0d]);

/** NFKC of one code point, folded further (dashes, invisibles): cached, most texts reuse few. */
const folded = new Map<number, string>();
const FOLD_CACHE_MAX = 4096;

function fold(cp: number): string {
  let f = folded.get(cp);
  if (f !== undefined) return f;
  const ch = String.fromCodePoint(cp);
  if (DASHES.has(cp)) f = '-';
  else if (FORMAT.test(ch)) f = '';
  else {
    f = ch.normalize('NFKC');
    // A compatibility decomposition may itself hold a dash or an invisible (rare): fold those too.
    let g = '';
    for (const c of f) g += DASHES.has(c.codePointAt(0)!) ? '-' : FORMAT.test(c) ? '' : c;
    f = g;
  }
  if (folded.size < FOLD_CACHE_MAX) folded.set(cp, f);
  return f;
}

/** The output buffer, reused from text to text (up to BUFFER_KEEP code units). */
let buffer = new Uint16Array(4096);
const BUFFER_KEEP = 1 << 20;
/** Keeps a leading U+FEFF (never there: it is a format character, removed) and lone surrogates' length. */
const UTF16 = new TextDecoder('utf-16le', { ignoreBOM: true });

/** Per BMP code unit: not yet seen, folds to itself, or folds to something else (see `folded`). */
const KNOWN = new Uint8Array(65536);
const UNCHANGED = 1;
const CHANGED = 2;

/** Undefined when text is ASCII (nothing to fold); else the folded text with its map to text. */
export function normalize(text: string): Normalized | undefined {
  // All ASCII exactly when its UTF-8 form has one byte per code unit: V8 answers that for a one-byte
  // string without reading it char by char (~18 GB/s here, against ~1.7 for a regular expression).
  if (Buffer.byteLength(text, 'utf8') === text.length) return undefined;
  const n = text.length;
  let segs = new Int32Array(3 * 64);
  let nsegs = 0;
  const seg = (start: number, orig: number, width: number): void => {
    if (3 * nsegs + 3 > segs.length) {
      const bigger = new Int32Array(segs.length * 2);
      bigger.set(segs);
      segs = bigger;
    }
    segs[3 * nsegs] = start;
    segs[3 * nsegs + 1] = orig;
    segs[3 * nsegs + 2] = width;
    nsegs++;
  };
  // The output is written code unit by code unit into a reused buffer and decoded once: slicing and
  // joining the pieces of a two-byte string measured several times slower.
  if (buffer.length < n + 64) buffer = new Uint16Array(n + 64 + (n >> 2));
  let out = buffer;
  let len = 0;
  let run = 0; // start of the current run of characters copied as is
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    // Most non-ASCII characters (letters with accents, CJK, quotes) fold to themselves: known from a
    // table after the first time, without a look-up in the map.
    const known = c < 0x80 ? UNCHANGED : KNOWN[c]!;
    if (known === UNCHANGED) {
      out[len++] = c;
      i++;
      continue;
    }
    const cp = known === CHANGED ? c : text.codePointAt(i)!;
    const w = cp > 0xffff ? 2 : 1;
    const f = fold(cp);
    const bmp = cp <= 0xffff && (cp < 0xd800 || cp > 0xdfff);
    if (f.length === w && f.codePointAt(0) === cp) {
      if (bmp) KNOWN[cp] = UNCHANGED;
      out[len++] = c;
      if (w === 2) out[len++] = text.charCodeAt(i + 1);
      i += w; // unchanged: stays in the run
      continue;
    }
    if (bmp) KNOWN[cp] = CHANGED;
    if (i > run) seg(len - (i - run), run, 0);
    if (f.length > 0) {
      seg(len, i, w);
      if (len + f.length + (n - i) > out.length) {
        // Folding grew the text (a ligature, a compatibility expansion): room for the rest too.
        const bigger = new Uint16Array(2 * (len + f.length + (n - i)) + 64);
        bigger.set(out.subarray(0, len));
        out = buffer = bigger;
      }
      for (let k = 0; k < f.length; k++) out[len++] = f.charCodeAt(k);
    }
    i += w;
    run = i;
  }
  if (nsegs === 0) return { text, segs: new Int32Array([0, 0, 0]) }; // nothing folded
  if (n > run) seg(len - (n - run), run, 0);
  const folded = UTF16.decode(out.subarray(0, len));
  if (buffer.length > BUFFER_KEEP) buffer = new Uint16Array(4096); // do not hold on to a large one
  return { text: folded, segs: segs.subarray(0, 3 * nsegs) };
}

/** The original span of the folded character at j. */
function originalOf(norm: Normalized, j: number): { start: number; end: number } {
  const segs = norm.segs;
  let lo = 0;
  let hi = segs.length / 3 - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (segs[3 * mid]! <= j) lo = mid;
    else hi = mid - 1;
  }
  const orig = segs[3 * lo + 1]!;
  const w = segs[3 * lo + 2]!;
  if (w === 0) {
    const start = orig + (j - segs[3 * lo]!);
    return { start, end: start + 1 };
  }
  return { start: orig, end: orig + w };
}

/** The original span [start, end) of the folded span [from, to) (from < to). */
export function originalSpan(norm: Normalized, from: number, to: number): { start: number; end: number } {
  return { start: originalOf(norm, from).start, end: originalOf(norm, to - 1).end };
}
