// Email addresses: a local part (RFC 5322 dot-atom subset, at most 64 characters), '@', and a domain
// of at least two labels ending in an alphabetic TLD. Decorators (@Component), npm scopes
// (@types/node) and user@localhost have no dotted domain and do not match.
import { defineDetector } from './engine.js';
import { literal } from './finders.js';
import { isAlnum, type Detector, type Span } from './types.js';

/** Labels of letters, digits and inner hyphens (internationalised names too), a TLD of letters. */
const DOMAIN = /(?:[\p{L}\p{N}](?:[\p{L}\p{N}\p{M}-]{0,61}[\p{L}\p{N}])?\.)+\p{L}{2,24}(?![\p{L}\p{N}\p{M}-])/uy;
const NON_ASCII_WORD = /[\p{L}\p{N}\p{M}]/u;

/** [A-Za-z0-9.!#$%&'*+/=?^_`{|}~-], and non-ASCII letters (RFC 6531): an unquoted local part. */
function isLocalChar(c: number): boolean {
  if (isAlnum(c)) return true;
  if (c > 127) return NON_ASCII_WORD.test(String.fromCharCode(c));
  switch (c) {
    case 46: case 95: case 37: case 43: case 45: // . _ % + -
    case 33: case 35: case 36: case 38: case 39: case 42: case 47: case 61: case 63: case 94: case 96: case 123: case 124: case 125: case 126:
      return true;
    default:
      return false;
  }
}

function validate(text: string, from: number, _to: number, out: Span[]): void {
  let start = from;
  while (start > 0 && from - start < 65 && isLocalChar(text.charCodeAt(start - 1))) start--;
  if (from - start > 64 && isLocalChar(text.charCodeAt(start - 1))) return;
  // Quotes and slashes are legal but far more often punctuation around an address: trim them.
  while (start < from && !isAlnum(text.charCodeAt(start)) && text.charCodeAt(start) < 128 && text[start] !== '_') start++;
  if (start === from || text[from - 1] === '.') return;
  DOMAIN.lastIndex = from + 1;
  if (!DOMAIN.test(text)) return;
  out.push({ start, end: DOMAIN.lastIndex });
}

export function createEmail(): Detector {
  return defineDetector('email', [{ key: '@', finder: literal('@'), validate }]);
}
