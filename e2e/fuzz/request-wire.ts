// How a hostile request is put on the wire: the body's encoding (content codings, charsets, BOMs,
// lying content types), the path's spelling, the request target's form for each way into the
// sidecar, the body mutations, and the framing tricks written as raw bytes.
import { brotliCompressSync, constants, deflateSync, gzipSync } from 'node:zlib';

export type Header = [string, string];

/** A request body as sent and the headers that describe it. */
export interface EncodedBody {
  body: Buffer;
  headers: Header[];
  /** Sent with Transfer-Encoding: chunked instead of Content-Length. */
  chunked?: boolean;
}

const JSON_CT: Header = ['Content-Type', 'application/json'];
const gzip = (b: Buffer | string): Buffer => gzipSync(b, { level: 1 });
const br = (b: Buffer | string): Buffer => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 3 } });
const utf16be = (s: string): Buffer => Buffer.from(s, 'utf16le').swap16();
const BOM8 = Buffer.from([0xef, 0xbb, 0xbf]);
const BOM16LE = Buffer.from([0xff, 0xfe]);
const BOM16BE = Buffer.from([0xfe, 0xff]);

/** Decompresses to far more than --max-body-bytes (10 MiB): gzip members concatenate, so one is made once. */
let bombMember: Buffer | undefined;
const bomb = (): Buffer => (bombMember ??= gzipSync(Buffer.alloc(12 * 1024 * 1024, 0x20), { level: 9 }));

/**
 * Body encodings. Those the sidecar reads (codings gzip/deflate/br, UTF-8 or UTF-16 by BOM or
 * charset, JSON whatever the content type) must be checked as the provider reads them; the rest
 * (another coding, a lying coding, another charset, a bomb) must be refused, never forwarded.
 */
export const ENCODINGS: Record<string, (text: string) => EncodedBody> = {
  json: (t) => ({ body: Buffer.from(t), headers: [JSON_CT] }),
  'json-charset': (t) => ({ body: Buffer.from(t), headers: [['Content-Type', 'application/json; charset=utf-8']] }),
  'json-charset-quoted': (t) => ({ body: Buffer.from(t), headers: [['Content-Type', 'Application/JSON;Charset="UTF-8"']] }),
  'no-content-type': (t) => ({ body: Buffer.from(t), headers: [] }),
  'text-plain': (t) => ({ body: Buffer.from(t), headers: [['Content-Type', 'text/plain']] }),
  form: (t) => ({ body: Buffer.from(t), headers: [['Content-Type', 'application/x-www-form-urlencoded']] }),
  'octet-stream': (t) => ({ body: Buffer.from(t), headers: [['Content-Type', 'application/octet-stream']] }),
  'vendor-json': (t) => ({ body: Buffer.from(t), headers: [['Content-Type', 'application/vnd.api+json']] }),
  gzip: (t) => ({ body: gzip(t), headers: [JSON_CT, ['Content-Encoding', 'gzip']] }),
  'x-gzip-upper': (t) => ({ body: gzip(t), headers: [JSON_CT, ['Content-Encoding', 'X-GZIP']] }),
  deflate: (t) => ({ body: deflateSync(t, { level: 1 }), headers: [JSON_CT, ['Content-Encoding', 'deflate']] }),
  br: (t) => ({ body: br(t), headers: [JSON_CT, ['Content-Encoding', 'br']] }),
  'gzip-then-br': (t) => ({ body: br(gzip(t)), headers: [JSON_CT, ['Content-Encoding', 'gzip, br']] }),
  'identity-coding': (t) => ({ body: Buffer.from(t), headers: [JSON_CT, ['Content-Encoding', 'identity']] }),
  'utf8-bom': (t) => ({ body: Buffer.concat([BOM8, Buffer.from(t)]), headers: [JSON_CT] }),
  'utf16le-bom': (t) => ({ body: Buffer.concat([BOM16LE, Buffer.from(t, 'utf16le')]), headers: [JSON_CT] }),
  'utf16be-bom': (t) => ({ body: Buffer.concat([BOM16BE, utf16be(t)]), headers: [['Content-Type', 'text/plain']] }),
  'utf16le-charset': (t) => ({ body: Buffer.from(t, 'utf16le'), headers: [['Content-Type', 'application/json; charset=utf-16le']] }),
  'utf16be-charset': (t) => ({ body: utf16be(t), headers: [['Content-Type', 'application/json; charset="UTF-16BE"']] }),
  'utf16-charset': (t) => ({ body: utf16be(t), headers: [['Content-Type', 'application/json;charset=utf-16']] }),
  'utf16le-bom-gzip': (t) => ({ body: gzip(Buffer.concat([BOM16LE, Buffer.from(t, 'utf16le')])), headers: [JSON_CT, ['Content-Encoding', 'gzip']] }),
  'bom-gzip-form': (t) => ({ body: gzip(Buffer.concat([BOM8, Buffer.from(t)])), headers: [['Content-Type', 'application/x-www-form-urlencoded'], ['Content-Encoding', 'gzip']] }),
  chunked: (t) => ({ body: Buffer.from(t), headers: [JSON_CT], chunked: true }),
  'gzip-chunked': (t) => ({ body: gzip(t), headers: [JSON_CT, ['Content-Encoding', 'gzip']], chunked: true }),
  // Refused: not read as sent.
  'unknown-coding': (t) => ({ body: Buffer.from(t), headers: [JSON_CT, ['Content-Encoding', 'compress']] }),
  'lying-gzip': (t) => ({ body: Buffer.from(t), headers: [JSON_CT, ['Content-Encoding', 'gzip']] }),
  'latin1-charset': (t) => ({ body: Buffer.from(t, 'latin1'), headers: [['Content-Type', 'application/json; charset=iso-8859-1']] }),
  'utf8-as-utf16': (t) => ({ body: Buffer.from(t), headers: [['Content-Type', 'application/json; charset=utf-16le']] }),
  'gzip-bomb': (t) => ({ body: Buffer.concat([bomb(), gzip(t)]), headers: [JSON_CT, ['Content-Encoding', 'gzip']] }),
};

/** Path spellings of the same resource (canonical-path.ts), and a few that cannot be made canonical. */
export const PATH_SPELLINGS: Record<string, (path: string, pick: (n: number) => number) => string> = {
  canonical: (p) => p,
  'dot-segment': (p) => insertBeforeLast(p, '/.'),
  'dot-dot': (p) => insertBeforeLast(p, '/x/..'),
  'encoded-dot': (p) => insertBeforeLast(p, '/%2e'),
  'double-slash': (p, pick) => (pick(2) === 0 ? `/${p}` : insertBeforeLast(p, '/')),
  'trailing-slash': (p) => `${p}/`,
  'pct-unreserved': (p, pick) => encodeOneLetter(p, pick),
  'encoded-slash': (p, pick) => encodeLastSlash(p, pick(2) === 0 ? '%2F' : '%2f'),
  query: (p) => `${p}?api-version=2024-10-21&x=%41`,
  mixed: (p, pick) => `/${insertBeforeLast(encodeOneLetter(p, pick), '/./x/..')}/`,
  'bad-escape': (p) => `${p}%zz`,
  backslash: (p) => insertBeforeLast(p, '\\x'),
};

function insertBeforeLast(path: string, piece: string): string {
  const q = path.indexOf('?');
  const bare = q < 0 ? path : path.slice(0, q);
  const i = bare.lastIndexOf('/');
  return `${bare.slice(0, i)}${piece}${bare.slice(i)}${q < 0 ? '' : path.slice(q)}`;
}

function encodeOneLetter(path: string, pick: (n: number) => number): string {
  const letters = [...path].map((c, i) => (/[a-z]/.test(c) ? i : -1)).filter((i) => i >= 0);
  const i = letters[letters.length - 1 - pick(Math.min(3, letters.length))]!;
  const hex = path.charCodeAt(i).toString(16);
  return `${path.slice(0, i)}%${pick(2) === 0 ? hex : hex.toUpperCase()}${path.slice(i + 1)}`;
}

function encodeLastSlash(path: string, slash: string): string {
  const i = path.lastIndexOf('/');
  // A one-segment path (/mcp) gets a segment before it, so the result still starts with '/'.
  return i === 0 ? `/x${slash}${path.slice(1)}` : `${path.slice(0, i)}${slash}${path.slice(i + 1)}`;
}

/** Chunked transfer coding of a body, in pieces of random size (some with chunk extensions). */
export function chunk(body: Buffer, pick: (n: number) => number, terminate = true): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < body.length) {
    const n = Math.min(body.length - at, 1 + pick(Math.max(1, Math.min(body.length, 4096))));
    const ext = pick(8) === 0 ? ';ext="1"' : '';
    parts.push(Buffer.from(`${n.toString(16)}${ext}\r\n`), body.subarray(at, at + n), Buffer.from('\r\n'));
    at += n;
  }
  if (terminate) parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

/** A request's head as bytes. */
export function head(method: string, target: string, headers: readonly Header[], version = 'HTTP/1.1'): Buffer {
  return Buffer.from(`${method} ${target} ${version}\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`, 'latin1');
}

/** A whole request: head with Content-Length (or chunked), then the body. */
export function request(method: string, target: string, headers: readonly Header[], enc: EncodedBody, pick: (n: number) => number): Buffer {
  const framing: Header = enc.chunked ? ['Transfer-Encoding', 'chunked'] : ['Content-Length', String(enc.body.length)];
  const body = enc.chunked ? chunk(enc.body, pick) : enc.body;
  return Buffer.concat([head(method, target, [...headers, ...enc.headers, framing]), body]);
}
