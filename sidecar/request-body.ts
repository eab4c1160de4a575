// What an intercepted request body says, read the way a provider would read it: content codings
// undone (gzip, deflate, br), the charset honoured (UTF-8, or UTF-16 by BOM or charset), a BOM
// dropped. The checks then see exactly what the provider would, and the forwarded body is the
// decoded text, so what is forwarded is what was checked. A body it cannot read this way is
// reported, never guessed at: the data path refuses it on an intercepted host (fail closed).
import { brotliDecompressSync, gunzipSync, inflateSync, type ZlibOptions } from 'node:zlib';
import { BodyTooLarge } from './http-util.js';

export type DecodedBody =
  /** `changed`: the text is not the bytes as sent (a coding undone, another charset, a BOM). */
  | { ok: true; text: string; changed: boolean }
  | { ok: false; reason: string };

type Charset = 'utf-8' | 'utf-16le' | 'utf-16be';

/**
 * Content codings, undone in one synchronous step. (On libuv's thread pool a decompression bomb held
 * a pool thread for ~250 ms and each pool thread's malloc arena kept ~150 MiB more resident: measured
 * with bench/soak.ts; the synchronous step costs about as much event-loop time as decoding the text.)
 */
const UNDO: Record<string, (body: Buffer, options: ZlibOptions) => Buffer> = {
  gzip: gunzipSync,
  'x-gzip': gunzipSync,
  deflate: inflateSync,
  br: brotliDecompressSync,
};

/**
 * A large body's text is decoded this many bytes at a time (small enough that each slice's text stays
 * in V8's young generation, see json-pieces.ts), the event loop let run after each PAUSE_EVERY bytes.
 */
const DECODE_SLICE = 64 * 1024;
const PAUSE_EVERY = 1024 * 1024;

/** A header value as quoted in an error: escaped and cut, since the agent chose it. */
export const quoted = (value: string): string => JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);

/** The charset a content type names (lower case), if any. */
export function charsetOf(contentType: string | undefined): string | undefined {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '');
  return m?.[1]!.toLowerCase();
}

function undoCodings(raw: Buffer, contentEncoding: string | undefined, limit: number): Buffer | string {
  const codings = (contentEncoding ?? '').split(',').map((c) => c.trim().toLowerCase()).filter((c) => c && c !== 'identity');
  let body = raw;
  // Codings are listed in the order they were applied: undo them from the last.
  for (const coding of codings.reverse()) {
    const undo = UNDO[coding];
    if (!undo) return `content-encoding ${quoted(coding)} is not one the sidecar reads (gzip, deflate, br)`;
    try {
      body = undo(body, { maxOutputLength: limit });
    } catch (err) {
      // A bomb stops at the limit: the decoded body would be over it.
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) throw new BodyTooLarge(limit);
      return `the ${coding} content coding is broken`;
    }
  }
  return body;
}

/** The charset to read: a BOM wins (as JSON readers do), then the declared one, else UTF-8. */
function pickCharset(body: Buffer, declared: string | undefined): { charset: Charset; bom: number } | string {
  if (body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) return { charset: 'utf-8', bom: 3 };
  if (body.length >= 2 && body[0] === 0xff && body[1] === 0xfe) return { charset: 'utf-16le', bom: 2 };
  if (body.length >= 2 && body[0] === 0xfe && body[1] === 0xff) return { charset: 'utf-16be', bom: 2 };
  if (declared === undefined || declared === 'utf-8' || declared === 'utf8' || declared === 'us-ascii') return { charset: 'utf-8', bom: 0 };
  if (declared === 'utf-16le' || declared === 'utf-16be') return { charset: declared, bom: 0 };
  if (declared === 'utf-16') return { charset: 'utf-16be', bom: 0 }; // RFC 2781: big-endian without a BOM
  return `charset ${quoted(declared)} is not one the sidecar reads (UTF-8 or UTF-16)`;
}

/**
 * The text `decoder` makes of `chunks`, a DECODE_SLICE at a time (a chunk may itself be large: one
 * write of 32 MiB upstream), with `pause` after each PAUSE_EVERY bytes. Throws what the decoder
 * throws (a fatal one, on an invalid sequence).
 */
async function decodeInSlices(decoder: InstanceType<typeof TextDecoder>, chunks: readonly Buffer[], pause: () => Promise<void>): Promise<string> {
  if (chunks.length === 1 && chunks[0]!.length <= DECODE_SLICE) return decoder.decode(chunks[0]);
  const parts: string[] = [];
  let sinceBreak = 0;
  for (const chunk of chunks) {
    for (let at = 0; at < chunk.length; at += DECODE_SLICE) {
      const slice = chunk.subarray(at, at + DECODE_SLICE);
      parts.push(decoder.decode(slice, { stream: true }));
      sinceBreak += slice.length;
      if (sinceBreak >= PAUSE_EVERY) {
        sinceBreak = 0;
        await pause();
      }
    }
  }
  parts.push(decoder.decode());
  return parts.join('');
}

/**
 * Decodes a request body; throws BodyTooLarge when undoing its codings would pass `limit` bytes.
 * `pause` lets the event loop run between the slices of a large body.
 */
export async function decodeRequestBody(
  raw: Buffer,
  contentEncoding: string | undefined,
  contentType: string | undefined,
  limit: number,
  pause: () => Promise<void> = () => Promise.resolve(),
): Promise<DecodedBody> {
  const body = undoCodings(raw, contentEncoding, limit);
  if (typeof body === 'string') return { ok: false, reason: body };
  const picked = pickCharset(body, charsetOf(contentType));
  if (typeof picked === 'string') return { ok: false, reason: picked };
  try {
    const decoder = new TextDecoder(picked.charset, { fatal: true, ignoreBOM: true });
    const text = await decodeInSlices(decoder, [picked.bom ? body.subarray(picked.bom) : body], pause);
    return { ok: true, text, changed: body !== raw || picked.charset !== 'utf-8' || picked.bom > 0 };
  } catch {
    return { ok: false, reason: `the body is not valid ${picked.charset.toUpperCase()}` };
  }
}

/**
 * The text of a body that came in `chunks`, read as UTF-8 the way Buffer#toString reads it (an
 * invalid sequence as U+FFFD, a BOM kept), a slice at a time with `pause` between: an answer is
 * relayed whatever its bytes, so nothing here refuses.
 */
export function utf8Text(chunks: readonly Buffer[], pause: () => Promise<void>): Promise<string> {
  return decodeInSlices(new TextDecoder('utf-8', { ignoreBOM: true }), chunks, pause);
}
