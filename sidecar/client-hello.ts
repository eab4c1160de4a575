// Classifies the first bytes a client sends on a connection, before any byte flows upstream: a TLS
// ClientHello (with its SNI and ALPN), an HTTP/1.x request head (with its Host), or something else.
// Pure: the caller buffers what arrived and calls sniff() again with the longer buffer while the
// answer is 'need-more'. Nothing here trusts a length field beyond what the buffer holds, and
// nothing is buffered beyond MAX_SNIFF_BYTES.

export type Sniffed =
  | { kind: 'need-more' }
  | { kind: 'tls'; sni?: string; alpn: string[] }
  | { kind: 'http'; host?: string }
  | { kind: 'opaque'; reason: string };

/** The most a caller buffers to decide; a hello or request head that does not fit is 'opaque'. */
export const MAX_SNIFF_BYTES = 64 * 1024;

const NEED_MORE: Sniffed = { kind: 'need-more' };
const TOO_LARGE: Sniffed = { kind: 'opaque', reason: 'too large' };

export function sniff(buffer: Buffer): Sniffed {
  if (buffer.length === 0) return NEED_MORE;
  // Decide on the first MAX_SNIFF_BYTES only: what completes inside them is answered even when more
  // has arrived (TLS 1.3 early data may follow a hello), what does not will never be.
  const view = buffer.subarray(0, MAX_SNIFF_BYTES);
  const result = view[0] === TLS_HANDSHAKE ? sniffTls(view) : sniffHttp(view);
  if (result.kind === 'need-more' && buffer.length >= MAX_SNIFF_BYTES) return TOO_LARGE;
  return result;
}

// ---------------------------------------------------------------------------------------------
// TLS (RFC 8446 §4.1.2, §5.1; RFC 6066 §3; RFC 7301)

const TLS_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 1;
const RECORD_HEADER = 5;
const MAX_RECORD_PAYLOAD = 1 << 14; // RFC 8446 §5.1: a plaintext record carries at most 2^14 bytes
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const NAME_TYPE_HOST_NAME = 0;

/** A structural error: the bytes claim to be a ClientHello but are not a well-formed one. */
class Malformed extends Error {}

/** A cursor over a buffer that throws Malformed instead of reading past its end. */
class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  u8(what: string): number {
    return this.bytes(1, what)[0]!;
  }

  u16(what: string): number {
    return this.bytes(2, what).readUInt16BE(0);
  }

  bytes(n: number, what: string): Buffer {
    if (n > this.remaining) throw new Malformed(`${what}: length does not fit`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  rest(): Buffer {
    return this.bytes(this.remaining, 'rest');
  }

  /** A vector with a 1- or 2-byte length prefix, as a Reader of its own. */
  vector(lengthBytes: 1 | 2, what: string): Reader {
    const n = lengthBytes === 1 ? this.u8(what) : this.u16(what);
    return new Reader(this.bytes(n, what));
  }
}

/** RFC 8701 GREASE values: 0x0A0A, 0x1A1A, ... 0xFAFA. Clients send them to keep servers tolerant. */
function isGrease(value: number): boolean {
  return (value & 0x0f0f) === 0x0a0a && value >> 8 === (value & 0xff);
}

function sniffTls(buf: Buffer): Sniffed {
  // The record layer: the ClientHello handshake message may be fragmented over several records,
  // so concatenate their payloads until the message's own length is covered.
  const payloads: Buffer[] = [];
  let payloadLength = 0;
  let messageLength: number | undefined; // body length from the handshake header, once seen
  let pos = 0;
  while (messageLength === undefined || payloadLength < 4 + messageLength) {
    // Check each header byte as soon as it is there, so garbage is refused early.
    if (pos < buf.length && buf[pos] !== TLS_HANDSHAKE) return opaque(`record type ${buf[pos]} before the ClientHello is complete`);
    if (pos + 1 < buf.length && buf[pos + 1] !== 3) return opaque(`record version ${buf[pos + 1]}.x`);
    if (buf.length < pos + RECORD_HEADER) return NEED_MORE;
    const length = buf.readUInt16BE(pos + 3);
    // Zero-length handshake fragments are forbidden (RFC 8446 §5.1).
    if (length === 0 || length > MAX_RECORD_PAYLOAD) return opaque(`record length ${length}`);
    // The handshake type is the first payload byte: anything but a ClientHello is refused at once.
    if (pos === 0 && buf.length > RECORD_HEADER && buf[RECORD_HEADER] !== HANDSHAKE_CLIENT_HELLO) {
      return opaque(`handshake type ${buf[RECORD_HEADER]}, not ClientHello`);
    }
    const end = pos + RECORD_HEADER + length;
    if (buf.length < end) return NEED_MORE;
    payloads.push(buf.subarray(pos + RECORD_HEADER, end));
    payloadLength += length;
    pos = end;

    if (messageLength === undefined && payloadLength >= 4) {
      messageLength = Buffer.concat(payloads).readUIntBE(1, 3);
      // The record headers add more; the buffer bound in sniff() catches those.
      if (4 + messageLength > MAX_SNIFF_BYTES) return TOO_LARGE;
    }
  }
  // Bytes after the ClientHello (in its last record or later records) are not ours to judge.
  const body = Buffer.concat(payloads).subarray(4, 4 + messageLength);
  try {
    return parseClientHello(body);
  } catch (err) {
    if (err instanceof Malformed) return opaque(`malformed ClientHello: ${err.message}`);
    throw err;
  }
}

function parseClientHello(body: Buffer): Sniffed {
  const r = new Reader(body);
  const legacyVersion = r.u16('legacy_version');
  if (legacyVersion >> 8 !== 3) throw new Malformed(`legacy_version 0x${legacyVersion.toString(16)}`);
  r.bytes(32, 'random');
  const sessionId = r.vector(1, 'legacy_session_id');
  if (sessionId.remaining > 32) throw new Malformed('legacy_session_id longer than 32 bytes');
  const suites = r.vector(2, 'cipher_suites');
  if (suites.remaining < 2 || suites.remaining % 2 !== 0) throw new Malformed('cipher_suites length');
  const compression = r.vector(1, 'legacy_compression_methods');
  if (compression.remaining < 1) throw new Malformed('no compression method');

  const result: { kind: 'tls'; sni?: string; alpn: string[] } = { kind: 'tls', alpn: [] };
  // Extensions are optional before TLS 1.3 (an SSL 3.0-style hello ends here).
  if (r.remaining === 0) return result;
  const extensions = r.vector(2, 'extensions');
  if (r.remaining !== 0) throw new Malformed('bytes after the extensions');

  const seen = new Set<number>();
  while (extensions.remaining > 0) {
    const type = extensions.u16('extension type');
    const data = extensions.vector(2, `extension ${type}`);
    if (isGrease(type)) continue;
    // RFC 8446 §4.2: at most one of each. Two server_name extensions could name two hosts, one
    // for us and another for the server that reads the other one: refuse rather than pick.
    if (seen.has(type)) throw new Malformed(`extension ${type} repeated`);
    seen.add(type);
    // Anything else (ECH 0xfe0d included: its outer hello's SNI is the public name, which is what
    // we report) is skipped.
    if (type === EXT_SERVER_NAME) result.sni = parseServerName(data);
    else if (type === EXT_ALPN) result.alpn = parseAlpn(data);
  }
  return result;
}

/** The host_name of a server_name extension, or undefined when it is not a usable DNS name. */
function parseServerName(data: Reader): string | undefined {
  const list = data.vector(2, 'server_name_list');
  if (data.remaining !== 0) throw new Malformed('bytes after server_name_list');
  if (list.remaining === 0) throw new Malformed('empty server_name_list');
  let hostName: Buffer | undefined;
  while (list.remaining > 0) {
    const nameType = list.u8('name_type');
    // Every name type is a 2-byte-length vector in practice; only host_name (0) is defined.
    const name = list.vector(2, 'server name').rest();
    if (nameType !== NAME_TYPE_HOST_NAME) continue;
    // RFC 6066 §3: at most one name of a type. Which of two would the server use? Refuse.
    if (hostName !== undefined) throw new Malformed('more than one host_name');
    if (name.length === 0) throw new Malformed('empty host_name'); // HostName<1..2^16-1>
    hostName = name;
  }
  // latin1 maps every byte to one character, so NUL or non-ASCII bytes fail the name check.
  return hostName === undefined ? undefined : normaliseHostName(hostName.toString('latin1'));
}

function parseAlpn(data: Reader): string[] {
  const list = data.vector(2, 'protocol_name_list');
  if (data.remaining !== 0) throw new Malformed('bytes after protocol_name_list');
  if (list.remaining === 0) throw new Malformed('empty protocol_name_list');
  const out: string[] = [];
  while (list.remaining > 0) {
    const bytes = list.vector(1, 'protocol name').rest();
    if (bytes.length === 0) throw new Malformed('empty protocol name');
    // RFC 8701 reserves the GREASE values as 2-byte ALPN identifiers too.
    if (bytes.length === 2 && isGrease(bytes.readUInt16BE(0))) continue;
    out.push(bytes.toString('latin1'));
  }
  return out;
}

/**
 * The SNI as we report it: lower-cased, one trailing dot removed, and only when it is a DNS host
 * name. IP literals are not allowed in SNI (RFC 6066 §3): IPv6 ones fail the character check, and
 * IPv4 ones the last-label check, which also refuses whatever a URL parser would read as an IPv4
 * address ("1.2.3", "0x7f.1": a last label that is a number).
 */
function normaliseHostName(raw: string): string | undefined {
  let name = raw.toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name.length === 0 || name.length > 253) return undefined;
  const labels = name.split('.');
  // Letters, digits, hyphens (not at either end of a label); underscore is tolerated because real
  // names carry it (it is not allowed in host names, but DNS serves it and clients send it).
  if (!labels.every((label) => /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/.test(label))) return undefined;
  if (/^(?:[0-9]+|0x[0-9a-f]*)$/.test(labels[labels.length - 1]!)) return undefined;
  return name;
}

function opaque(reason: string): Sniffed {
  return { kind: 'opaque', reason };
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.x (RFC 9112 §3, §5)

const HEAD_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

function sniffHttp(buf: Buffer): Sniffed {
  const lineEnd = buf.indexOf(CRLF);
  const firstLine = buf.subarray(0, lineEnd === -1 ? buf.length : lineEnd).toString('latin1');
  if (lineEnd === -1) {
    // Incomplete: keep waiting only while what we have can still become a request line.
    return couldStartRequestLine(firstLine) ? NEED_MORE : opaque('neither TLS nor HTTP/1.x');
  }
  if (!/^[A-Z]{1,20} [\x21-\x7e]+ HTTP\/1\.[01]$/.test(firstLine)) return opaque('neither TLS nor HTTP/1.x');

  // The request line may itself be followed directly by the blank line (no header fields).
  const headEnd = buf.indexOf(HEAD_END, lineEnd);
  if (headEnd === -1) return NEED_MORE;
  const lines = buf.subarray(lineEnd + 2, headEnd).toString('latin1');
  const hosts: string[] = [];
  if (lines.length > 0) {
    for (const line of lines.split('\r\n')) {
      // name ":" OWS value OWS. No whitespace before the colon and no obs-fold continuation lines:
      // RFC 9112 has servers reject both, and a proxy that read them differently would be smuggled past.
      const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/.exec(line);
      if (!m) return opaque('malformed HTTP header line');
      const value = m[2]!;
      if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) return opaque('control character in HTTP header value');
      if (m[1]!.toLowerCase() === 'host') hosts.push(value);
    }
  }
  // Two Host headers are a 400 (RFC 9112 §3.2); an empty one names nobody.
  const host = hosts.length === 1 && hosts[0] !== '' ? hosts[0]!.toLowerCase() : undefined;
  return host === undefined ? { kind: 'http' } : { kind: 'http', host };
}

/** Whether an unfinished first line (no CRLF yet) can still become `METHOD SP target SP HTTP/1.x`. */
function couldStartRequestLine(s: string): boolean {
  const sp1 = s.indexOf(' ');
  if (sp1 === -1) return /^[A-Z]{0,20}$/.test(s);
  if (!/^[A-Z]{1,20}$/.test(s.slice(0, sp1))) return false;
  const rest = s.slice(sp1 + 1);
  const sp2 = rest.indexOf(' ');
  if (sp2 === -1) return /^[\x21-\x7e]*$/.test(rest);
  if (!/^[\x21-\x7e]+$/.test(rest.slice(0, sp2))) return false;
  const version = rest.slice(sp2 + 1); // a prefix of "HTTP/1.x\r" (the \n has not arrived)
  return 'HTTP/1.0\r'.startsWith(version) || 'HTTP/1.1\r'.startsWith(version);
}
