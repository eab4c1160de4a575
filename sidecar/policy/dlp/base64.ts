// Base64 (and base64url) tokens that decode to text, so that a card number or a key sent encoded is
// read too. Only at sensitivity high (index.ts): every long token must be decoded to be judged, and
// the detectors then run once more over what it decodes to. One level deep: an encoded token inside
// decoded text is not decoded again.

// The tokens come from finders.TOKENS (24+ characters: 18 bytes, a card number with its spaces).
/** Longer tokens (an encoded file) are judged on their first this many characters only. */
const MAX_BASE64 = 64 * 1024;
/** Decoded bytes must be at least this share printable ASCII (or tab, CR, LF). */
const PRINTABLE = 0.9;

const VALUE = new Int8Array(128).fill(-1);
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
for (let i = 0; i < 62; i++) VALUE[ALPHABET.charCodeAt(i)] = i;
VALUE[43] = 62; // +
VALUE[45] = 62; // - (base64url)
VALUE[47] = 63; // /
VALUE[95] = 63; // _ (base64url)

let buf = new Uint8Array(1024);

/**
 * The text text[start, end) decodes to when it is base64 of mostly printable ASCII, else undefined.
 * Gives up as soon as too many bytes are not printable (most tokens, hashes and ids, fail fast).
 */
export function decodeBase64Text(text: string, start: number, end: number): string | undefined {
  while (end > start && text.charCodeAt(end - 1) === 61) end--;
  end = Math.min(end, start + MAX_BASE64);
  const total = Math.floor(((end - start) * 6) / 8);
  if (total < 12) return undefined;
  if (buf.length < total) buf = new Uint8Array(total);
  const allowed = Math.floor(total * (1 - PRINTABLE));
  let bad = 0;
  let acc = 0;
  let bits = 0;
  let len = 0;
  for (let i = start; i < end; i++) {
    acc = ((acc << 6) | VALUE[text.charCodeAt(i)]!) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      const b = (acc >> bits) & 0xff;
      if (!((b >= 0x20 && b < 0x7f) || b === 9 || b === 10 || b === 13) && ++bad > allowed) return undefined;
      buf[len++] = b;
    }
  }
  return Buffer.from(buf.buffer, buf.byteOffset, len).toString('latin1');
}
