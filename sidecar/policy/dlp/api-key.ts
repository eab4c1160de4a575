// API keys with a vendor prefix: OpenAI (sk-..., sk-proj-..., sk-svcacct-..., sk-admin-...),
// Anthropic (sk-ant-api03-..., sk-ant-admin01-...), GitHub (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_).
// At high sensitivity also generic secrets: any 32-256 character base64/base64url token with the
// character mix and entropy of random data (both cases, several digits, >= 4 bits per character).
import { defineDetector } from './engine.js';
import { literal, TOKENS } from './finders.js';
import { at, charMix, entropy, isAlnum, isTokenChar, type Detector, type Gate, type Span } from './types.js';

export interface ApiKeyOptions {
  /** Also high-entropy tokens with no known prefix (high sensitivity). */
  generic: boolean;
}

/** OpenAI and Anthropic: the prefix, then a body of at least 20 base64url characters. */
const SK = /sk-(?:ant-[a-z]+\d*-|proj-|svcacct-|admin-|None-)?([A-Za-z0-9_-]{20,})/y;

/** Whether a token body looks random rather than like words ("sk-learn-compatible-estimators"). */
function randomLooking(text: string, start: number, end: number): boolean {
  const mix = charMix(text, start, end);
  if (mix.digits > 0 && mix.upper > 0 && mix.lower > 0) return true;
  // Single-case keys exist too; demand more of them.
  return end - start >= 32 && mix.digits >= 4 && mix.lower + mix.upper > 0 && entropy(text, start, end) >= 4;
}

/** The hit is "k-" of "sk-" ('k' is rare in text, 's' is not). */
function validateSk(text: string, hitAt: number, _to: number, out: Span[]): void {
  const from = hitAt - 1;
  if (text[from] !== 's' || isTokenChar(at(text, from - 1))) return;
  SK.lastIndex = from;
  const m = SK.exec(text);
  if (!m) return;
  const end = SK.lastIndex;
  if (!randomLooking(text, end - m[1]!.length, end)) return;
  out.push({ start: from, end });
}

const GITHUB = /(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{36,244})/y;

function validateGithub(text: string, from: number, out: Span[]): void {
  if (from < 0 || isTokenChar(at(text, from - 1))) return;
  GITHUB.lastIndex = from;
  if (!GITHUB.test(text)) return;
  const end = GITHUB.lastIndex;
  if (isAlnum(at(text, end))) return;
  const prefix = text.startsWith('github_pat_', from) ? 11 : 4;
  const mix = charMix(text, from + prefix, end);
  if (mix.digits === 0 || mix.upper + mix.lower === 0) return;
  out.push({ start: from, end });
}

const isB64 = (c: number): boolean => isTokenChar(c) || c === 43 || c === 47;

/** A whole token of 32+ base64 characters (finders.TOKENS finds them from 24). */
function validateGeneric(text: string, from: number, to: number, out: Span[]): void {
  if (to - from < 32) return;
  if (to - from > 256) return; // a blob (an inline image, a long hash chain), not a credential
  let end = to;
  while (text[end] === '=' && end - to < 2) end++; // base64 padding
  if (isB64(at(text, end))) return;
  // Hex ids (UUIDs, hashes) are most long tokens: rejected here, for want of upper-case letters.
  let upper = 0;
  let lower = 0;
  let digits = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c >= 97) lower += c <= 122 ? 1 : 0;
    else if (c >= 65) upper += c <= 90 ? 1 : 0;
    else if (c >= 48 && c <= 57) digits++;
  }
  if (upper < 2 || lower < 2 || digits < 3) return;
  if (entropy(text, from, to) < 4) return;
  out.push({ start: from, end });
}

export function createApiKey(opts: ApiKeyOptions): Detector {
  const gates: Gate[] = [
    { key: 'k-', finder: literal('k-'), validate: validateSk },
    { key: 'gh', finder: literal('gh'), validate: (text, i, _to, out) => validateGithub(text, i, out) },
    { key: '_pat_', finder: literal('_pat_'), validate: (text, i, _to, out) => validateGithub(text, i - 6, out) },
  ];
  if (opts.generic) gates.push({ ...TOKENS, validate: validateGeneric, fallback: true });
  return defineDetector('api_key', gates);
}
