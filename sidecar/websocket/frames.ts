// RFC 6455 framing, read strictly: what the sidecar judges must be exactly what the other side
// will read, so anything a lenient peer might read another way is a protocol error (close 1002):
// reserved bits or opcodes, a length not in its shortest form, a control frame that is fragmented
// or longer than 125 bytes, a masked frame from the server or an unmasked one from the client.
// Nothing is held without a bound: a frame or a message longer than the per-message bound is
// refused (1009) from its header, before its payload is buffered.
import { isUtf8 } from 'node:buffer';
import { randomFillSync } from 'node:crypto';

export const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** The close codes the sidecar sends (RFC 6455 §7.4.1). */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  unsupportedData: 1003,
  invalidPayload: 1007,
  policyViolation: 1008,
  tooBig: 1009,
  internalError: 1011,
} as const;

/** One message, assembled, is at most this long: the same bound as one SSE event of a stream. */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;
/**
 * All that one connection may hold at once, both directions together (partial frames waiting for
 * their rest, fragments of messages waiting to be whole): room for one largest message each way.
 */
export const MAX_BUFFERED_BYTES = 2 * MAX_MESSAGE_BYTES + 64 * 1024;
const MAX_CONTROL_PAYLOAD = 125;
/** The longest frame header: 2 bytes, an 8-byte length, a 4-byte mask key. */
const MAX_HEADER = 14;

/** A violation of the protocol or of a bound: the connection is closed with `code`. */
export class ProtocolError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export interface Frame {
  fin: boolean;
  opcode: number;
  /** Unmasked. */
  payload: Buffer;
}

export const isControl = (opcode: number): boolean => opcode >= 0x8;
const isKnownOpcode = (opcode: number): boolean => opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xa);

export interface ReaderOptions {
  /** Frames from a client must be masked, frames from a server must not be. */
  masked: boolean;
  maxMessageBytes?: number;
}

/**
 * Turns a byte stream into whole frames, keeping a partial frame (bounded) until its rest arrives.
 * `push` throws ProtocolError; after that the reader must not be used again.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private size = 0;
  private readonly max: number;

  constructor(private readonly options: ReaderOptions) {
    this.max = options.maxMessageBytes ?? MAX_MESSAGE_BYTES;
  }

  /** Bytes received and not yet returned in a frame. */
  get buffered(): number {
    return this.size;
  }

  push(chunk: Buffer): Frame[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    }
    const frames: Frame[] = [];
    for (;;) {
      const header = this.header();
      if (!header || this.size < header.length + header.payloadLength) break;
      const bytes = this.take(header.length + header.payloadLength);
      let payload = bytes.subarray(header.length);
      if (header.mask) payload = masked(payload, header.mask);
      frames.push({ fin: header.fin, opcode: header.opcode, payload });
    }
    return frames;
  }

  /** The next frame's header, once enough of it is here; undefined until then. */
  private header(): { fin: boolean; opcode: number; length: number; payloadLength: number; mask?: Buffer } | undefined {
    if (this.size < 2) return undefined;
    const head = this.peek(Math.min(this.size, MAX_HEADER));
    const b0 = head[0]!;
    const b1 = head[1]!;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    // No extension is ever negotiated where frames are read (the sidecar removes the offer), so
    // every reserved bit must be clear: a compressed frame would be read as what it is not.
    if ((b0 & 0x70) !== 0) throw new ProtocolError(CLOSE.protocolError, 'a frame has a reserved bit set (no extension was negotiated)');
    if (!isKnownOpcode(opcode)) throw new ProtocolError(CLOSE.protocolError, `a frame has the reserved opcode 0x${opcode.toString(16)}`);
    const isMasked = (b1 & 0x80) !== 0;
    if (isMasked !== this.options.masked) {
      throw new ProtocolError(CLOSE.protocolError, this.options.masked ? 'a frame from the client is not masked' : 'a frame from the server is masked');
    }
    let payloadLength = b1 & 0x7f;
    let length = 2;
    if (payloadLength === 126) {
      if (head.length < 4) return undefined;
      payloadLength = head.readUInt16BE(2);
      length = 4;
      if (payloadLength < 126) throw new ProtocolError(CLOSE.protocolError, 'a frame length is not in its shortest form');
    } else if (payloadLength === 127) {
      if (head.length < 10) return undefined;
      const long = head.readBigUInt64BE(2);
      length = 10;
      if (long >> 63n) throw new ProtocolError(CLOSE.protocolError, 'a frame length has its most significant bit set');
      if (long <= 0xffffn) throw new ProtocolError(CLOSE.protocolError, 'a frame length is not in its shortest form');
      // Beyond any bound: refused before it is read, whatever its exact size.
      payloadLength = long > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(long);
    }
    if (isControl(opcode)) {
      if (!fin) throw new ProtocolError(CLOSE.protocolError, 'a control frame is fragmented');
      if (payloadLength > MAX_CONTROL_PAYLOAD) throw new ProtocolError(CLOSE.protocolError, 'a control frame is longer than 125 bytes');
    } else if (payloadLength > this.max) {
      throw new ProtocolError(CLOSE.tooBig, `a frame of ${payloadLength} bytes is over the ${this.max}-byte message bound`);
    }
    let mask: Buffer | undefined;
    if (isMasked) {
      if (head.length < length + 4) return undefined;
      mask = Buffer.from(head.subarray(length, length + 4));
      length += 4;
    }
    return { fin, opcode, length, payloadLength, ...(mask ? { mask } : {}) };
  }

  /** The first `n` bytes (n <= size), without consuming them; copies at most `n` bytes. */
  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    for (const chunk of this.chunks) {
      at += chunk.copy(out, at, 0, Math.min(chunk.length, n - at));
      if (at === n) break;
    }
    return out;
  }

  /** Consumes and returns the first `n` bytes (n <= size), joining chunks once. */
  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
    } else {
      // Join only the chunks this frame spans.
      let k = 0;
      for (let have = 0; have < n; k++) have += this.chunks[k]!.length;
      const joined = Buffer.concat(this.chunks.slice(0, k));
      this.chunks.splice(0, k, joined);
      out = joined.subarray(0, n);
    }
    const rest = this.chunks[0]!.subarray(n);
    this.chunks.shift();
    if (rest.length > 0) this.chunks.unshift(rest);
    this.size -= n;
    return out;
  }
}

/** A copy of `payload` XORed with the 4-byte key (masking and unmasking are the same). */
function masked(payload: Buffer, key: Buffer): Buffer {
  const out = Buffer.allocUnsafe(payload.length);
  for (let i = 0; i < payload.length; i++) out[i] = payload[i]! ^ key[i & 3]!;
  return out;
}

export interface Message {
  opcode: typeof OPCODE.text | typeof OPCODE.binary;
  payload: Buffer;
}

/**
 * Reassembles fragmented messages (data frames only; control frames may come between fragments
 * and are handled by the caller). A text message must be valid UTF-8 (1007).
 */
export class MessageAssembler {
  private opcode: number | undefined;
  private data: Buffer | undefined;
  private length = 0;
  private readonly max: number;

  constructor(maxMessageBytes = MAX_MESSAGE_BYTES) {
    this.max = maxMessageBytes;
  }

  /** Bytes of a message in progress. */
  get buffered(): number {
    return this.length;
  }

  /** A data frame in; the message when this frame ends one. Throws ProtocolError. */
  push(frame: Frame): Message | undefined {
    if (frame.opcode === OPCODE.continuation) {
      if (this.opcode === undefined) throw new ProtocolError(CLOSE.protocolError, 'a continuation frame without a message to continue');
    } else {
      if (this.opcode !== undefined) throw new ProtocolError(CLOSE.protocolError, 'a new message began before the last one ended');
      if (frame.fin) return complete(frame.opcode, frame.payload);
      this.opcode = frame.opcode;
    }
    if (this.length + frame.payload.length > this.max) throw new ProtocolError(CLOSE.tooBig, `a message is over the ${this.max}-byte bound`);
    this.append(frame.payload);
    if (!frame.fin) return undefined;
    const message = complete(this.opcode, this.data!.subarray(0, this.length));
    this.opcode = undefined;
    this.data = undefined;
    this.length = 0;
    return message;
  }

  /** One growing buffer, not a list of fragments: a million 1-byte fragments cost no more than their bytes. */
  private append(bytes: Buffer): void {
    const need = this.length + bytes.length;
    if (!this.data || need > this.data.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.max, Math.max(need, 2 * (this.data?.length ?? 0), 1024)));
      this.data?.copy(grown, 0, 0, this.length);
      this.data = grown;
    }
    bytes.copy(this.data, this.length);
    this.length = need;
  }
}

function complete(opcode: number, payload: Buffer): Message {
  if (opcode === OPCODE.text && !isUtf8(payload)) throw new ProtocolError(CLOSE.invalidPayload, 'a text message is not valid UTF-8');
  return { opcode: opcode as Message['opcode'], payload };
}

/** One frame, FIN set unless told otherwise; masked with a fresh random key when sent to a server. */
export function encodeFrame(opcode: number, payload: Buffer, options: { mask: boolean; fin?: boolean }): Buffer {
  const n = payload.length;
  const ext = n < 126 ? 0 : n <= 0xffff ? 2 : 8;
  const keyLength = options.mask ? 4 : 0;
  const out = Buffer.allocUnsafe(2 + ext + keyLength + n);
  out[0] = ((options.fin ?? true) ? 0x80 : 0) | opcode;
  out[1] = (options.mask ? 0x80 : 0) | (ext === 0 ? n : ext === 2 ? 126 : 127);
  if (ext === 2) out.writeUInt16BE(n, 2);
  else if (ext === 8) out.writeBigUInt64BE(BigInt(n), 2);
  const at = 2 + ext + keyLength;
  if (!options.mask) {
    payload.copy(out, at);
    return out;
  }
  const key = out.subarray(2 + ext, at);
  randomFillSync(key);
  for (let i = 0; i < n; i++) out[at + i] = payload[i]! ^ key[i & 3]!;
  return out;
}

/** Close codes a peer may send (RFC 6455 §7.4): the defined ones that travel, and 3000-4999. */
function validCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/** A close frame's code and reason. Throws ProtocolError for a malformed one. */
export function parseClose(payload: Buffer): { code?: number; reason: string } {
  if (payload.length === 0) return { reason: '' };
  if (payload.length === 1) throw new ProtocolError(CLOSE.protocolError, 'a close frame with a 1-byte payload');
  const code = payload.readUInt16BE(0);
  if (!validCloseCode(code)) throw new ProtocolError(CLOSE.protocolError, `a close frame with the invalid code ${code}`);
  const reason = payload.subarray(2);
  if (!isUtf8(reason)) throw new ProtocolError(CLOSE.invalidPayload, 'a close reason is not valid UTF-8');
  return { code, reason: reason.toString('utf8') };
}

/** A close frame's payload: the code and as much of the reason as fits 125 bytes (cut on a character). */
export function closePayload(code: number, reason: string): Buffer {
  let text = Buffer.from(reason, 'utf8');
  if (text.length > MAX_CONTROL_PAYLOAD - 2) {
    let end = MAX_CONTROL_PAYLOAD - 2;
    while (end > 0 && (text[end]! & 0xc0) === 0x80) end--; // not inside a UTF-8 sequence
    text = text.subarray(0, end);
  }
  const out = Buffer.allocUnsafe(2 + text.length);
  out.writeUInt16BE(code, 0);
  text.copy(out, 2);
  return out;
}
