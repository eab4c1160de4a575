// Payment card numbers: 13-19 digits, optionally grouped with single spaces or dashes, with a known
// issuer prefix (IIN) for that length and a valid Luhn check digit. A random 16-digit number passes
// Luhn one time in ten; the issuer table removes most of the rest (timestamps start with 1, ids with 0).
import { defineDetector } from './engine.js';
import { digitRuns, freeLeft, freeRight, joiner, NUMBERS } from './numeric.js';
import type { Detector, Span } from './types.js';

export function luhn(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** Issuer prefixes: [low, high] over the first `digits` digits, and the lengths that brand uses. */
const IIN: ReadonlyArray<{ brand: string; digits: number; low: number; high: number; lengths: readonly number[] }> = [
  { brand: 'visa', digits: 1, low: 4, high: 4, lengths: [13, 16, 19] },
  { brand: 'mastercard', digits: 2, low: 51, high: 55, lengths: [16] },
  { brand: 'mastercard', digits: 4, low: 2221, high: 2720, lengths: [16] },
  { brand: 'amex', digits: 2, low: 34, high: 34, lengths: [15] },
  { brand: 'amex', digits: 2, low: 37, high: 37, lengths: [15] },
  { brand: 'discover', digits: 4, low: 6011, high: 6011, lengths: [16, 17, 18, 19] },
  { brand: 'discover', digits: 3, low: 644, high: 649, lengths: [16, 17, 18, 19] },
  { brand: 'discover', digits: 2, low: 65, high: 65, lengths: [16, 17, 18, 19] },
  { brand: 'unionpay', digits: 2, low: 62, high: 62, lengths: [16, 17, 18, 19] },
  { brand: 'diners', digits: 3, low: 300, high: 305, lengths: [14, 15, 16, 17, 18, 19] },
  { brand: 'diners', digits: 2, low: 36, high: 36, lengths: [14, 15, 16, 17, 18, 19] },
  { brand: 'diners', digits: 2, low: 38, high: 39, lengths: [14, 15, 16, 17, 18, 19] },
  { brand: 'jcb', digits: 4, low: 3528, high: 3589, lengths: [16, 17, 18, 19] },
  { brand: 'mir', digits: 4, low: 2200, high: 2204, lengths: [16, 17, 18, 19] },
  { brand: 'maestro', digits: 2, low: 50, high: 50, lengths: [13, 14, 15, 16, 17, 18, 19] },
  { brand: 'maestro', digits: 2, low: 56, high: 58, lengths: [13, 14, 15, 16, 17, 18, 19] },
  { brand: 'maestro', digits: 2, low: 67, high: 67, lengths: [13, 14, 15, 16, 17, 18, 19] },
  { brand: 'maestro', digits: 2, low: 63, high: 63, lengths: [13, 14, 15, 16, 17, 18, 19] },
];

/** The card brand of a digit string whose prefix and length fit a known issuer, if any. */
export function cardBrand(digits: string): string | undefined {
  if (digits.length < 4) return undefined;
  const p4 = Number(digits.slice(0, 4));
  for (const r of IIN) {
    const p = Math.floor(p4 / 10 ** (4 - r.digits));
    if (p >= r.low && p <= r.high && r.lengths.includes(digits.length)) return r.brand;
  }
  return undefined;
}

export function validCard(digits: string): boolean {
  return digits.length >= 13 && digits.length <= 19 && cardBrand(digits) !== undefined && luhn(digits);
}

function validate(text: string, from: number, to: number, out: Span[]): void {
  const { n, run: runs, digits: total } = digitRuns(text, from, to);
  if (total < 13) return;
  let i = 0;
  while (i < n) {
    const first = runs[i]!;
    let found = -1;
    const lead = text.charCodeAt(first.start);
    // Every issuer prefix starts with 2-6: ids, timestamps (1...) and zero-padded numbers stop here.
    if (lead >= 50 && lead <= 54 && freeLeft(text, first.start)) {
      // Grow the candidate run by run (same single separator throughout) and keep the longest valid one.
      let digits = text.slice(first.start, first.end);
      let sep = '';
      for (let j = i; ; ) {
        if (digits.length > 19) break;
        const run = runs[j]!;
        if (digits.length >= 13 && freeRight(text, run.end) && validCard(digits)) found = j;
        if (j + 1 >= n) break;
        const next = runs[j + 1]!;
        const s = joiner(text, run, next);
        if ((s !== ' ' && s !== '-') || (sep !== '' && s !== sep)) break;
        sep = s;
        digits += text.slice(next.start, next.end);
        j++;
      }
    }
    if (found >= 0) {
      out.push({ start: first.start, end: runs[found]!.end });
      i = found + 1;
    } else {
      i++;
    }
  }
}

export function createCreditCard(): Detector {
  return defineDetector('credit_card', [{ ...NUMBERS, validate }]);
}
