// US Social Security numbers. Dashed (or space-separated) "123-45-6789" from medium sensitivity;
// bare nine-digit numbers only at high, where a false alarm costs less than a leak.
// Never issued, so rejected: area 000, 666 and 900-999; group 00; serial 0000.
import { defineDetector } from './engine.js';
import { digitRuns, freeLeft, freeRight, joiner, NUMBERS } from './numeric.js';
import type { Detector, Span } from './types.js';

export interface SsnOptions {
  /** Also nine digits with no separators (high sensitivity). */
  undashed: boolean;
}

/** Whether nine digits could be an issued SSN. */
export function validSsn(digits: string): boolean {
  if (!/^\d{9}$/.test(digits)) return false;
  const area = digits.slice(0, 3);
  if (area === '000' || area === '666' || area[0] === '9') return false;
  if (digits.slice(3, 5) === '00') return false;
  if (digits.slice(5) === '0000') return false;
  return true;
}

export function createSsn(opts: SsnOptions): Detector {
  const validate = (text: string, from: number, to: number, out: Span[]): void => {
    const { n, run: runs, digits } = digitRuns(text, from, to);
    if (digits < 9) return;
    for (let i = 0; i < n; i++) {
      const a = runs[i]!;
      const alen = a.end - a.start;
      if (alen === 3 && i + 2 < n) {
        const b = runs[i + 1]!;
        const c = runs[i + 2]!;
        const sep = joiner(text, a, b);
        if ((sep === '-' || sep === ' ') && joiner(text, b, c) === sep && b.end - b.start === 2 && c.end - c.start === 4
          && freeLeft(text, a.start, sep) && freeRight(text, c.end, sep)
          && validSsn(text.slice(a.start, a.end) + text.slice(b.start, b.end) + text.slice(c.start, c.end))) {
          out.push({ start: a.start, end: c.end });
          i += 2;
          continue;
        }
      }
      if (opts.undashed && alen === 9 && freeLeft(text, a.start, '-') && freeRight(text, a.end, '-') && text[a.start - 1] !== '+'
        && validSsn(text.slice(a.start, a.end))) {
        out.push({ start: a.start, end: a.end });
      }
    }
  };
  return defineDetector('ssn', [{ ...NUMBERS, validate }]);
}
