// PEM private keys: "-----BEGIN [RSA |EC |DSA |OPENSSH |ENCRYPTED ]PRIVATE KEY-----" up to the
// matching END line. A key cut short (no END within 64 KB, or pasted truncated) is still taken from
// its header through the base64 body that follows. Certificates and public keys are not secrets.
import { defineDetector } from './engine.js';
import { literal } from './finders.js';
import type { Detector, Span } from './types.js';

const HEADER = /-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----/y;
const FOOTER = /^-----END ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----/;
/** A body with no END: legacy "Proc-Type:"/"DEK-Info:" lines, then base64 characters and line breaks
 *  (real ones, or escaped as \n in code and JSON-in-strings). */
const BODY = /(?:[ \t]*(?:\r?\n|\\r?\\n)[ \t]*(?:(?:Proc-Type|DEK-Info):[^\r\n\\]*)?|[A-Za-z0-9+/=])*/y;
const MAX_BLOCK = 64 * 1024;

function validate(text: string, at: number, _to: number, out: Span[]): void {
  const from = at - 5; // the hit is "BEGIN " (rarer than "-----BEGIN ", so found faster)
  if (from < 0 || !text.startsWith('-----', from)) return;
  HEADER.lastIndex = from;
  if (!HEADER.test(text)) return;
  const bodyStart = HEADER.lastIndex;
  // The END must come before any next BEGIN (searching only that far keeps many headers linear).
  let window = text.slice(bodyStart, bodyStart + MAX_BLOCK);
  const nextBegin = window.indexOf('-----BEGIN ');
  if (nextBegin >= 0) window = window.slice(0, nextBegin);
  const endAt = window.indexOf('-----END ');
  if (endAt >= 0) {
    const footer = FOOTER.exec(text.slice(bodyStart + endAt, bodyStart + endAt + 80));
    if (footer) {
      out.push({ start: from, end: bodyStart + endAt + footer[0].length });
      return;
    }
  }
  BODY.lastIndex = bodyStart;
  BODY.test(text);
  let end = Math.min(BODY.lastIndex, bodyStart + MAX_BLOCK);
  // Leave the line break after a truncated body (real or escaped) in the text.
  for (;;) {
    if (end > bodyStart && /\s/.test(text[end - 1]!)) end--;
    else if (end - 2 >= bodyStart && text[end - 2] === '\\' && (text[end - 1] === 'n' || text[end - 1] === 'r')) end -= 2;
    else break;
  }
  out.push({ start: from, end });
}

export function createPrivateKey(): Detector {
  return defineDetector('private_key', [{ key: 'BEGIN ', finder: literal('BEGIN '), validate }]);
}
