// AWS credentials: access key ids (AKIA... long-term, ASIA... temporary: the prefix and 16 base32
// upper-case characters) and secret access keys, which have no marker of their own: a 40-character
// base64 value is only taken for one right after a name such as aws_secret_access_key,
// AWS_SECRET_KEY, SecretAccessKey or "aws secret".
import { defineDetector } from './engine.js';
import { literal } from './finders.js';
import { at, charMix, isAlnum, type Detector, type Span } from './types.js';

const KEY_ID = /A[KS]IA[A-Z2-7]{16}/y;

function validateKeyId(text: string, from: number, _to: number, out: Span[]): void {
  if (isAlnum(at(text, from - 1))) return;
  KEY_ID.lastIndex = from;
  if (!KEY_ID.test(text)) return;
  const end = KEY_ID.lastIndex;
  if (isAlnum(at(text, end))) return;
  out.push({ start: from, end });
}

/** Around "secret" (the hit is its "cret"): "aws" before it, or "access key" after it. */
const BEFORE = /aws[_\- ]?$/i;
const AFTER = /^[_\- ]?access[_\- ]?key/i;
/** After "secret": the rest of the name, an assignment, quotes, then the 40-character value. */
const VALUE = /^[A-Za-z_\- "']{0,24}(?::=|=>|[:=])?[ \t]*["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/;

function validateSecret(text: string, hitAt: number, _to: number, out: Span[]): void {
  const word = hitAt - 2; // "se" of "secret"
  if (word < 0 || text.slice(word, word + 6).toLowerCase() !== 'secret') return;
  const after = word + 6;
  if (!BEFORE.test(text.slice(Math.max(0, word - 4), word)) && !AFTER.test(text.slice(after, after + 12))) return;
  const m = VALUE.exec(text.slice(after, after + 100));
  if (!m) return;
  const start = after + m[0].length - 40;
  const mix = charMix(text, start, start + 40);
  if (mix.digits === 0 || mix.upper === 0 || mix.lower === 0) return;
  out.push({ start, end: start + 40 });
}

export function createAwsAccessKey(): Detector {
  return defineDetector('aws_access_key', [
    { key: 'AKIA', finder: literal('AKIA'), validate: validateKeyId },
    { key: 'ASIA', finder: literal('ASIA'), validate: validateKeyId },
    { key: 'cret', finder: literal('cret'), validate: validateSecret },
    { key: 'CRET', finder: literal('CRET'), validate: validateSecret },
  ]);
}
