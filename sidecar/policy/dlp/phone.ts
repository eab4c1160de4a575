// Telephone numbers: E.164 / international ("+44 20 7946 0958", "+14155552671"), North American
// ("(415) 555-2671", "415-555-2671", "1 415 555 2671") and trunk-prefixed national numbers
// ("020 7946 0958", "07700 900123"). Off unless sensitivity is high or the detector is listed: numbers
// shaped like these are everywhere (order ids, invoice numbers), so this detector is the noisiest.
import { defineDetector } from './engine.js';
import { plusNumbers } from './finders.js';
import { digitRuns, freeLeft, freeRight, NUMBERS } from './numeric.js';
import { isDigit, type Detector, type Span } from './types.js';

const FORMATS = new RegExp(
  [
    // international: '+', country code, then groups (an area code may sit in parentheses)
    String.raw`\+[1-9]\d{0,3}(?:[ .\-]?(?:\(\d{1,4}\)|\d{1,5})){1,6}`,
    // North American: optional trunk 1, area and exchange codes start with 2-9
    String.raw`(?:1[ .\-])?(?:\([2-9]\d\d\) ?|[2-9]\d\d[ .\-])[2-9]\d\d[ .\-]\d{4}`,
    // national with a trunk 0: at least two groups
    String.raw`0\d{1,4}[ \-]\d{3,4}[ \-]?\d{3,4}`,
  ].map((s) => `(?:${s})`).join('|'),
  'g',
);

function countDigits(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (isDigit(s.charCodeAt(i))) n++;
  return n;
}

/** The most digits an international number may have: 15 (E.164), 11 for +1 (North America). */
const maxDigits = (s: string): number => (s[1] === '1' ? 11 : 15);

/** Whether a matched number has a plausible digit count for its format. */
function plausible(s: string): boolean {
  const n = countDigits(s);
  if (s[0] === '+') return n >= 8 && n <= maxDigits(s);
  return n >= 10 && n <= 11;
}

/** '-' and '.' chain numbers ("415-555-2671-99" is not a phone); a space may separate two numbers. */
function standalone(text: string, start: number, end: number): boolean {
  return freeLeft(text, start, '-') && freeLeft(text, start, '.') && text[start - 1] !== '+'
    && freeRight(text, end, '-') && freeRight(text, end, '.');
}

function validate(text: string, from: number, to: number, out: Span[]): void {
  // Without a '+', a phone number has 10 or 11 digits in at least two groups: not one long run.
  if (text[from] !== '+') {
    const { n, digits } = digitRuns(text, from, to);
    if (digits < 10 || n < 2) return;
  }
  const region = text.slice(from, to);
  FORMATS.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = FORMATS.exec(region)) !== null) {
    const start = from + m.index;
    let s = m[0];
    // An international number greedily takes the groups after it; give them back until it fits.
    while (s[0] === '+' && countDigits(s) > maxDigits(s)) {
      const cut = Math.max(s.lastIndexOf(' '), s.lastIndexOf('-'), s.lastIndexOf('.'));
      if (cut <= 1) break;
      s = s.slice(0, cut);
    }
    const end = start + s.length;
    if (plausible(s) && standalone(text, start, end)) {
      out.push({ start, end });
      FORMATS.lastIndex = m.index + s.length;
    } else {
      FORMATS.lastIndex = m.index + 1;
    }
  }
}

export function createPhone(): Detector {
  // International numbers in short groups ("+33 1 23 45 67 89") have no run of four digits.
  return defineDetector('phone', [{ ...NUMBERS, validate }, { key: 'plus-numbers', finder: plusNumbers, validate }]);
}
