// Small HTTP helpers of the data path: header hygiene, bounded body reads, backpressure.
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';

/** Headers that belong to one connection, never forwarded (RFC 9110 §7.6.1), plus the proxy's own. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  // The sidecar answers Expect: 100-continue itself; the upstream gets the whole body at once.
  'expect',
]);

/** Is this (lower-case) header one connection's own, never relayed (HOP_BY_HOP)? */
export const isHopByHop = (name: string): boolean => HOP_BY_HOP.has(name);

/**
 * Copies headers for forwarding: drops hop-by-hop headers, those the Connection header names,
 * and every X-Chaperone-* header (ours to read, never the upstream's to see).
 */
export function forwardableHeaders(headers: IncomingHttpHeaders, drop: readonly string[] = []): Record<string, string | string[]> {
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name) || name.startsWith('x-chaperone-')) continue;
    if (drop.includes(name)) continue;
    out[name] = value;
  }
  return out;
}

/**
 * Response headers from upstream, made safe to relay: no hop-by-hop headers, and no X-Chaperone-*
 * header (only the sidecar's own reach the agent: an upstream must not pass for Chaperone).
 */
export function relayableHeaders(headers: Record<string, string | string[] | undefined>, drop: readonly string[] = []): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [key, value] of Object.entries(headers)) {
    const name = key.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(name) || name.startsWith('x-chaperone-') || drop.includes(name)) continue;
    out[name] = value;
  }
  return out;
}

export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`body larger than ${limit} bytes`);
  }
}

/** Reads a whole body, refusing more than `limit` bytes (by Content-Length up front, else as it arrives). */
export function readBody(stream: Readable, limit: number, declaredLength?: string): Promise<Buffer> {
  if (declaredLength !== undefined && Number(declaredLength) > limit) return Promise.reject(new BodyTooLarge(limit));
  if (stream.readableEnded) return Promise.resolve(Buffer.alloc(0)); // read by someone else already: nothing left
  // 'data'/'end' listeners rather than `for await`: the async iterator costs a stream wrapper and
  // a promise per chunk, a few µs per call on the hot path (bench/README.md, profiling notes).
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        stream.pause();
        reject(new BodyTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    // Closed before its end (the client went away mid-body): as `for await` does, fail the read.
    const onClose = (): void => {
      cleanup();
      reject(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}

/**
 * Reads a body until its end or until `limit` bytes are in (then the stream is paused, and the rest
 * can still be read from it): `complete` says which. Holds at most `limit` plus one chunk, as the
 * chunks that came: joining 32 MiB into one buffer would hold the event loop for tens of ms.
 */
export function readUpTo(stream: Readable, limit: number): Promise<{ chunks: Buffer[]; size: number; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (complete: boolean): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      resolve({ chunks, size, complete });
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size <= limit) return;
      stream.pause();
      done(false);
    };
    const onEnd = (): void => done(true);
    const onError = (err: Error): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      reject(err);
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
  });
}

/** Writes and, when the client is slow, waits for it to catch up (or to go away). */
export function writeWithBackpressure(res: ServerResponse, data: Buffer): Promise<void> | undefined {
  if (res.write(data)) return undefined;
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

export function isJsonContentType(contentType: string | undefined): boolean {
  return contentType === undefined || /\bjson\b/i.test(contentType);
}

export const elapsedMs = (since: bigint): number => Number(process.hrtime.bigint() - since) / 1e6;
