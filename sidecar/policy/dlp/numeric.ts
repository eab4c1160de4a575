// What the number detectors (ssn, credit_card, phone, iban) share: their search (finders.numberRegions:
// 8+ digits joined by at most two separators at a time, around a run of 4+ digits) and the helpers
// that take such a region apart. Short numbers, dates and versions never reach a validator.
import { numberRegions } from './finders.js';
import { at, isAlnum, isDigit } from './types.js';

/** The key and search of the shared number gate. */
export const NUMBERS = { key: 'numbers', finder: numberRegions } as const;

/** A maximal run of digits inside a numeric region. */
export interface DigitRun {
  start: number;
  end: number;
}

/** The digit runs of a region. Valid until the next digitRuns() call: the objects are reused. */
export interface Runs {
  /** How many runs. */
  readonly n: number;
  /** run[0 .. n-1]; entries beyond n are stale. */
  readonly run: readonly DigitRun[];
  /** Digits in all runs. */
  readonly digits: number;
}

const last = { text: '', from: -1, to: -1, n: 0, digits: 0, run: [] as DigitRun[] };

/** The digit runs of text[from, to), in order. Remembers the last answer: the number detectors
 *  validate the same region one after the other. */
export function digitRuns(text: string, from: number, to: number): Runs {
  if (last.from === from && last.to === to && last.text === text) return last;
  let n = 0;
  let digits = 0;
  let i = from;
  while (i < to) {
    while (i < to && !isDigit(text.charCodeAt(i))) i++;
    if (i >= to) break;
    const start = i;
    while (i < to && isDigit(text.charCodeAt(i))) i++;
    const r = last.run[n];
    if (r) {
      r.start = start;
      r.end = i;
    } else {
      last.run.push({ start, end: i });
    }
    n++;
    digits += i - start;
  }
  last.text = text;
  last.from = from;
  last.to = to;
  last.n = n;
  last.digits = digits;
  return last;
}

/** The single character joining two runs, or '' when they are not joined by exactly one character. */
export function joiner(text: string, a: DigitRun, b: DigitRun): string {
  return b.start - a.end === 1 ? text[a.end]! : '';
}

/**
 * Whether a number that starts at `start` stands on its own on the left: no letter or digit right
 * before it, and not the tail of a longer number chained with `sep` ("1-123-45-6789").
 */
export function freeLeft(text: string, start: number, sep = ''): boolean {
  const p = at(text, start - 1);
  if (isAlnum(p) || p === 95 /* _ */) return false;
  if (sep !== '' && text[start - 1] === sep && isDigit(at(text, start - 2))) return false;
  return true;
}

/** The mirror of freeLeft for a number ending at `end`. */
export function freeRight(text: string, end: number, sep = ''): boolean {
  const n = at(text, end);
  if (isAlnum(n) || n === 95) return false;
  if (sep !== '' && text[end] === sep && isDigit(at(text, end + 1))) return false;
  return true;
}
