// JSON Web Tokens (JWS compact form, and the five-segment JWE form): base64url segments joined by
// dots, the first decoding to a JSON object header with an "alg". "eyJ" is how '{"' encodes, so the
// gate is cheap; decoding the header is what tells a token from a string that merely looks like one.
import { defineDetector } from './engine.js';
import { literal } from './finders.js';
import { at, isTokenChar, type Detector, type Span } from './types.js';

const TOKEN = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)?/y;

/** Whether a base64url segment decodes to a JSON object with a string "alg". */
export function isJoseHeader(segment: string): boolean {
  if (segment.length > 4096) return false;
  const json = Buffer.from(segment, 'base64url').toString('utf8');
  // Cheap tests first: JSON.parse throwing on every look-alike would be the slowest step by far.
  if (!json.includes('"alg"') || json.trimEnd().at(-1) !== '}') return false;
  try {
    const header: unknown = JSON.parse(json);
    return typeof header === 'object' && header !== null && typeof (header as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}

function validate(text: string, hitAt: number, _to: number, out: Span[]): void {
  const from = hitAt - 1; // the hit is "yJ" of "eyJ" ('y' is rarer than 'e')
  if (text[from] !== 'e') return;
  const p = at(text, from - 1);
  if (isTokenChar(p)) return;
  TOKEN.lastIndex = from;
  if (!TOKEN.test(text)) return;
  const end = TOKEN.lastIndex;
  if (isTokenChar(at(text, end))) return;
  const dot = text.indexOf('.', from);
  if (!isJoseHeader(text.slice(from, dot))) return;
  out.push({ start: from, end });
}

export function createJwt(): Detector {
  return defineDetector('jwt', [{ key: 'yJ', finder: literal('yJ'), validate }]);
}
