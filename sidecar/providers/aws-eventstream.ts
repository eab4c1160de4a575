// The AWS event-stream binary framing (application/vnd.amazon.eventstream), as Bedrock's
// converse-stream speaks it. Each message:
//   total length u32 BE | headers length u32 BE | prelude CRC32 (of the 8 bytes before)
//   headers | payload | message CRC32 (of everything before it)
// A header is: name length u8, name (UTF-8), value type u8, value.
import { crc32 } from 'node:zlib';

export type HeaderValue =
  | { type: 'bool'; value: boolean }
  | { type: 'byte' | 'short' | 'int'; value: number }
  | { type: 'long' | 'timestamp'; value: bigint } // timestamp: milliseconds since the epoch
  | { type: 'bytes'; value: Buffer }
  | { type: 'string'; value: string }
  | { type: 'uuid'; value: string }; // 32 hex digits, dashes optional on input

export type Headers = Record<string, HeaderValue>;

export interface EventStreamMessage {
  headers: Headers;
  payload: Buffer;
}

export interface DecodedMessage extends EventStreamMessage {
  /** The message's exact bytes. */
  bytes: Buffer;
}

export class EventStreamError extends Error {
  /** Messages the same push decoded before the bad one, so a caller can still pass them on. */
  decoded: DecodedMessage[] = [];
  constructor(message: string) {
    super(message);
    this.name = 'EventStreamError';
  }
}

const PRELUDE = 12; // two lengths and the prelude CRC
const MIN_MESSAGE = PRELUDE + 4; // no headers, no payload, message CRC
/** The service's own limit; a larger length means we lost the framing, not a big message. */
export const MAX_MESSAGE = 16 * 1024 * 1024;

const TYPE_CODES = { long: 5, bytes: 6, string: 7, timestamp: 8 } as const;

function encodeHeader(name: string, h: HeaderValue): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  if (nameBytes.length > 255) throw new EventStreamError(`header name too long: ${name}`);
  let value: Buffer;
  let code: number;
  switch (h.type) {
    case 'bool':
      code = h.value ? 0 : 1;
      value = Buffer.alloc(0);
      break;
    case 'byte':
      code = 2;
      value = Buffer.alloc(1);
      value.writeInt8(h.value);
      break;
    case 'short':
      code = 3;
      value = Buffer.alloc(2);
      value.writeInt16BE(h.value);
      break;
    case 'int':
      code = 4;
      value = Buffer.alloc(4);
      value.writeInt32BE(h.value);
      break;
    case 'long':
    case 'timestamp':
      code = TYPE_CODES[h.type];
      value = Buffer.alloc(8);
      value.writeBigInt64BE(h.value);
      break;
    case 'bytes':
    case 'string': {
      code = TYPE_CODES[h.type];
      const data = h.type === 'string' ? Buffer.from(h.value, 'utf8') : h.value;
      if (data.length > 0xffff) throw new EventStreamError(`header ${name} too long`);
      value = Buffer.alloc(2 + data.length);
      value.writeUInt16BE(data.length);
      data.copy(value, 2);
      break;
    }
    case 'uuid':
      code = 9;
      value = Buffer.from(h.value.replace(/-/g, ''), 'hex');
      if (value.length !== 16) throw new EventStreamError(`header ${name}: bad uuid`);
      break;
  }
  return Buffer.concat([Buffer.from([nameBytes.length]), nameBytes, Buffer.from([code]), value]);
}

/** Encodes one message; plain strings are string headers, the common case. */
export function encodeMessage(headers: Record<string, string | HeaderValue>, payload: Buffer | string): Buffer {
  const headerBytes = Buffer.concat(
    Object.entries(headers).map(([name, v]) => encodeHeader(name, typeof v === 'string' ? { type: 'string', value: v } : v)),
  );
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const total = PRELUDE + headerBytes.length + body.length + 4;
  const out = Buffer.alloc(total);
  out.writeUInt32BE(total, 0);
  out.writeUInt32BE(headerBytes.length, 4);
  out.writeUInt32BE(crc32(out.subarray(0, 8)), 8);
  headerBytes.copy(out, PRELUDE);
  body.copy(out, PRELUDE + headerBytes.length);
  out.writeUInt32BE(crc32(out.subarray(0, total - 4)), total - 4);
  return out;
}

function decodeHeaders(buf: Buffer): Headers {
  const headers: Headers = {};
  let at = 0;
  const need = (n: number) => {
    if (at + n > buf.length) throw new EventStreamError('header runs past its section');
  };
  while (at < buf.length) {
    need(1);
    const nameLen = buf.readUInt8(at);
    at += 1;
    need(nameLen + 1);
    const name = buf.toString('utf8', at, at + nameLen);
    at += nameLen;
    const code = buf.readUInt8(at);
    at += 1;
    let h: HeaderValue;
    switch (code) {
      case 0:
      case 1:
        h = { type: 'bool', value: code === 0 };
        break;
      case 2:
        need(1);
        h = { type: 'byte', value: buf.readInt8(at) };
        at += 1;
        break;
      case 3:
        need(2);
        h = { type: 'short', value: buf.readInt16BE(at) };
        at += 2;
        break;
      case 4:
        need(4);
        h = { type: 'int', value: buf.readInt32BE(at) };
        at += 4;
        break;
      case 5:
      case 8:
        need(8);
        h = { type: code === 5 ? 'long' : 'timestamp', value: buf.readBigInt64BE(at) };
        at += 8;
        break;
      case 6:
      case 7: {
        need(2);
        const len = buf.readUInt16BE(at);
        at += 2;
        need(len);
        const data = buf.subarray(at, at + len);
        at += len;
        h = code === 7 ? { type: 'string', value: data.toString('utf8') } : { type: 'bytes', value: Buffer.from(data) };
        break;
      }
      case 9:
        need(16);
        h = { type: 'uuid', value: buf.toString('hex', at, at + 16) };
        at += 16;
        break;
      default:
        throw new EventStreamError(`unknown header value type ${code}`);
    }
    headers[name] = h;
  }
  return headers;
}

/** Decodes one complete message (exactly its bytes). Throws EventStreamError when it is not one. */
export function decodeMessage(bytes: Buffer): DecodedMessage {
  if (bytes.length < MIN_MESSAGE) throw new EventStreamError('message shorter than its prelude');
  const total = bytes.readUInt32BE(0);
  const headersLen = bytes.readUInt32BE(4);
  if (bytes.readUInt32BE(8) !== crc32(bytes.subarray(0, 8))) throw new EventStreamError('prelude CRC mismatch');
  if (total !== bytes.length) throw new EventStreamError(`message length ${total} but ${bytes.length} bytes`);
  if (headersLen > total - MIN_MESSAGE) throw new EventStreamError('headers longer than the message');
  if (bytes.readUInt32BE(total - 4) !== crc32(bytes.subarray(0, total - 4))) throw new EventStreamError('message CRC mismatch');
  return {
    bytes,
    headers: decodeHeaders(bytes.subarray(PRELUDE, PRELUDE + headersLen)),
    payload: bytes.subarray(PRELUDE + headersLen, total - 4),
  };
}

/**
 * Incremental decoder: feed chunks as they arrive, get whole messages back. Linear in the bytes:
 * chunks are kept as they came and each message's bytes are joined once, when it is complete (a
 * 16 MiB message in 16 KiB chunks is not copied a thousand times). A bad CRC or an impossible length
 * throws EventStreamError; after that the framing is lost for good, and pending() holds the bytes
 * from the bad message on.
 */
export class EventStreamDecoder {
  private chunks: Buffer[] = [];
  private size = 0;
  /** The length of the message being received, once its prelude has been checked. */
  private expected: number | undefined;

  push(chunk: Buffer): DecodedMessage[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    }
    const out: DecodedMessage[] = [];
    try {
      for (;;) {
        if (this.expected === undefined) {
          if (this.size < PRELUDE) break;
          // Check the prelude before trusting its length, so garbage does not make us wait for 4 GB.
          const prelude = this.peek(PRELUDE);
          if (prelude.readUInt32BE(8) !== crc32(prelude.subarray(0, 8))) throw new EventStreamError('prelude CRC mismatch');
          const total = prelude.readUInt32BE(0);
          if (total < MIN_MESSAGE || total > MAX_MESSAGE) throw new EventStreamError(`impossible message length ${total}`);
          this.expected = total;
        }
        if (this.size < this.expected) break;
        out.push(decodeMessage(this.take(this.expected)));
        this.expected = undefined;
      }
    } catch (err) {
      if (err instanceof EventStreamError) err.decoded = out;
      throw err;
    }
    return out;
  }

  /** Bytes of a message not yet complete. */
  pending(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
  }

  /** The first `n` bytes (n <= size), without consuming them; copies only when they span chunks. */
  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const parts: Buffer[] = [];
    for (let got = 0, i = 0; got < n; i++) {
      parts.push(this.chunks[i]!);
      got += this.chunks[i]!.length;
    }
    return Buffer.concat(parts).subarray(0, n);
  }

  /** Removes and returns the first `n` bytes (n <= size), joined once. */
  private take(n: number): Buffer {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const chunk = this.chunks[0]!;
      const want = n - got;
      if (chunk.length <= want) {
        parts.push(chunk);
        got += chunk.length;
        this.chunks.shift();
      } else {
        parts.push(chunk.subarray(0, want));
        this.chunks[0] = chunk.subarray(want);
        got = n;
      }
    }
    this.size -= n;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }
}

/** A header's value when it is a string (the event-stream protocol's own headers all are). */
export function headerString(headers: Headers, name: string): string | undefined {
  const h = headers[name];
  return h?.type === 'string' ? h.value : undefined;
}
