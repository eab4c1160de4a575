// International Bank Account Numbers: country code, two check digits, then the country's BBAN, as one
// block ("DE89370400440532013000") or printed in groups of four ("DE89 3704 0044 0532 0130 00").
// Valid only with the exact length registered for the country and ISO 7064 mod-97 == 1.
import { defineDetector } from './engine.js';
import { NUMBERS } from './numeric.js';
import { at, isAlnum, isDigit, isUpper, type Detector, type Span } from './types.js';

/** IBAN length per country (SWIFT IBAN registry). */
export const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28,
  CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18,
  FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22,
  IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20,
  LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20, MR: 27, MT: 31, MU: 30, NI: 28, NL: 18,
  NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24, SC: 31,
  SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29,
  VA: 22, VG: 24, XK: 20, YE: 30,
};

/** ISO 7064 MOD 97-10 over an IBAN without spaces (upper case): true when the remainder is 1. */
export function ibanChecksumOk(iban: string): boolean {
  const s = iban.slice(4) + iban.slice(0, 4);
  let r = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isDigit(c)) r = (r * 10 + (c - 48)) % 97;
    else if (isUpper(c)) r = (r * 100 + (c - 55)) % 97;
    else return false;
  }
  return r === 1;
}

export function validIban(iban: string): boolean {
  const len = IBAN_LENGTHS[iban.slice(0, 2)];
  return len !== undefined && iban.length === len && /^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(iban) && ibanChecksumOk(iban);
}

/** An IBAN starting at `from` ("CCdd..."), with or without spaces between groups of four: its end, or -1. */
function ibanAt(text: string, from: number): number {
  const len = IBAN_LENGTHS[text.slice(from, from + 2)];
  if (len === undefined || !isDigit(at(text, from + 2)) || !isDigit(at(text, from + 3))) return -1;
  const p = at(text, from - 1);
  if (isAlnum(p) || p === 95) return -1;
  // Collect exactly `len` characters; a single space may only sit between groups of four.
  let s = '';
  let i = from;
  while (s.length < len && i < text.length) {
    const c = text.charCodeAt(i);
    if (isDigit(c) || isUpper(c)) {
      s += text[i];
      i++;
    } else if (c === 32 && s.length % 4 === 0 && s.length > 0 && (isDigit(at(text, i + 1)) || isUpper(at(text, i + 1)))) {
      i++;
    } else {
      break;
    }
  }
  if (s.length !== len) return -1;
  const n = at(text, i);
  if (isAlnum(n) || n === 95) return -1;
  return ibanChecksumOk(s) ? i : -1;
}

/**
 * Every IBAN holds a number region (8+ digits around a run of 4, finders.numberRegions): its account
 * number. The IBAN itself starts up to a few groups before that region ("GB82 WEST 1234 5698 7654 32")
 * or just inside it ("DE89 3704 ..." begins two characters before the "89"): look back from the
 * region's start over upper-case letters, digits and single spaces for "CCdd".
 */
function validate(text: string, from: number, to: number, out: Span[]): void {
  let p = from;
  const limit = Math.max(0, from - 40);
  while (p > limit) {
    const c = text.charCodeAt(p - 1);
    if (!(isUpper(c) || isDigit(c) || (c === 32 && p - 1 > limit && text.charCodeAt(p - 2) !== 32))) break;
    p--;
  }
  // Candidates: upper-case pairs in [p, from + 2) followed by two digits.
  for (let i = p; i < from + 2 && i < to; i++) {
    if (!isUpper(text.charCodeAt(i)) || !isUpper(text.charCodeAt(i + 1))) continue;
    const end = ibanAt(text, i);
    if (end > 0) {
      out.push({ start: i, end });
      return;
    }
  }
}

export function createIban(): Detector {
  return defineDetector('iban', [{ ...NUMBERS, validate }]);
}
