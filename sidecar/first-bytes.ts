// Reads what a client sends first on a connection, before a byte of it goes anywhere: enough for
// client-hello.ts to tell a TLS ClientHello (and its server name) from an HTTP request head or
// anything else. Bounded in bytes (MAX_SNIFF_BYTES) and in time; the bytes read are handed back so
// the caller can replay them (unshift) into TLS, an HTTP server or a tunnel.
import type { Duplex } from 'node:stream';
import { MAX_SNIFF_BYTES, sniff, type Sniffed } from './client-hello.js';

export interface FirstBytes {
  sniffed: Sniffed;
  /** Everything read so far, to replay. */
  head: Buffer;
  /** The client closed, failed, or sent nothing in time: there is nothing to route. */
  gone: boolean;
}

/** Resolves once `sniff` can classify the bytes, the bound is reached, the client leaves or `timeoutMs` passes. */
export function readFirstBytes(socket: Duplex, timeoutMs: number): Promise<FirstBytes> {
  return new Promise((resolve) => {
    let head: Buffer = Buffer.alloc(0);
    const done = (result: Omit<FirstBytes, 'head'>): void => {
      clearTimeout(timer);
      socket.off('data', onData).off('end', onGone).off('close', onGone).off('error', onGone);
      socket.pause();
      resolve({ ...result, head });
    };
    const onData = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const sniffed = head.length > MAX_SNIFF_BYTES ? ({ kind: 'opaque', reason: `more than ${MAX_SNIFF_BYTES} bytes without a complete ClientHello or request head` } as const) : sniff(head);
      if (sniffed.kind !== 'need-more') done({ sniffed, gone: false });
    };
    const onGone = (): void => done({ sniffed: { kind: 'opaque', reason: 'the client left before it could be read' }, gone: true });
    const timer = setTimeout(() => done({ sniffed: { kind: 'opaque', reason: `nothing readable within ${timeoutMs} ms` }, gone: true }), timeoutMs);
    socket.on('data', onData).once('end', onGone).once('close', onGone).once('error', onGone);
    socket.resume();
  });
}
