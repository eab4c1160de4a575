// The opening handshake (RFC 6455 §4), on both sides of the sidecar: what makes a client's request
// a WebSocket upgrade, the upstream's side of it (connect, send the GET, read the 101 within a
// bound and a time), and the raw HTTP answers written on a socket the HTTP server has let go of.
import { createHash } from 'node:crypto';
import { request as httpRequest, STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { Target } from '../data-path.js';
import { forwardableHeaders, headerValue, isHopByHop } from '../http-util.js';
import { connected } from '../tunnel.js';
import type { Upstream } from '../upstream.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** The longest answer head read from an upstream (node's own default). */
const MAX_HEAD_BYTES = 16 * 1024;
/** The longest body of a refusal (an upstream's non-101 answer) relayed to the client. */
const MAX_REFUSAL_BODY = 64 * 1024;

/** Does the request ask to become a WebSocket (`Upgrade: websocket`)? */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return /(^|,)\s*websocket\s*(,|$)/i.test(headerValue(req.headers.upgrade) ?? '');
}

/** Why the request is not a WebSocket handshake the sidecar can carry; undefined when it is one. */
export function handshakeProblem(req: IncomingMessage): string | undefined {
  if (req.method !== 'GET') return `a WebSocket upgrade must be a GET, not ${req.method}`;
  if (headerValue(req.headers['sec-websocket-version']) !== '13') return 'a WebSocket upgrade needs Sec-WebSocket-Version: 13';
  const key = headerValue(req.headers['sec-websocket-key']) ?? '';
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) return 'a WebSocket upgrade needs a Sec-WebSocket-Key of 16 bytes in base64';
  // Whatever follows the head is read as frames: a body would be read as the first of them.
  const length = headerValue(req.headers['content-length']);
  if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined) return 'a WebSocket upgrade carries no body';
  return undefined;
}

/** The Sec-WebSocket-Accept a server must answer a key with. */
function acceptFor(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/**
 * The upgrade request's headers as the upstream gets them: the client's end-to-end headers
 * (credentials included; hop-by-hop and X-Chaperone-* dropped, as for any call), Host naming the
 * target, and the upgrade itself with the client's key, version and subprotocols.
 */
export function upstreamHeaders(req: IncomingMessage, target: Target, readFrames: boolean): OutgoingHttpHeaders {
  // Where frames are read, no extension is offered: permessage-deflate would compress every
  // message, and a compressed frame (RSV1 set) is bytes the checks cannot read. Without the offer
  // the server cannot choose it, and any reserved bit is then a protocol error (frames.ts).
  const drop = ['content-length', ...(readFrames ? ['sec-websocket-extensions'] : [])];
  const headers: OutgoingHttpHeaders = forwardableHeaders(req.headers, drop);
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  const defaultPort = target.scheme === 'https' ? 443 : 80;
  headers.host = target.port === defaultPort ? host : `${host}:${target.port}`;
  headers.connection = 'Upgrade';
  headers.upgrade = 'websocket';
  return headers;
}

export type UpstreamAnswer =
  | { kind: 'upgraded'; socket: Socket; head: Buffer; headers: IncomingHttpHeaders; rawHeaders: string[] }
  /** Anything but 101: relayed to the client as an HTTP answer (body bounded). */
  | { kind: 'answered'; status: number; rawHeaders: string[]; body: Buffer };

/** The upstream did not answer in time: a 504 rather than a 502. */
export class HandshakeTimeout extends Error {}

/**
 * Connects to the target (through --resolve, with the data path's TLS trust for https) and sends
 * the upgrade request; resolves with the 101 and its socket, or the answer that refused it.
 * Rejects when the upstream cannot be reached or does not answer within `timeoutMs`.
 */
export async function upstreamHandshake(upstream: Upstream, target: Target, headers: OutgoingHttpHeaders, timeoutMs: number): Promise<UpstreamAnswer> {
  const raw = upstream.tunnel(target.host, target.port);
  try {
    await connected(raw);
  } catch (err) {
    raw.destroy();
    throw err;
  }
  const socket: Socket =
    target.scheme === 'https'
      ? tlsConnect({
          socket: raw,
          // The certificate must name the real host, whatever --resolve says the address is.
          host: target.host,
          ...(isIP(target.host) ? {} : { servername: target.host }),
          secureContext: upstream.secureContext,
          ALPNProtocols: ['http/1.1'],
        })
      : raw;
  return new Promise<UpstreamAnswer>((resolve, reject) => {
    const req = httpRequest({
      method: 'GET',
      path: target.path,
      headers,
      setHost: false,
      maxHeaderSize: MAX_HEAD_BYTES,
      createConnection: () => socket,
    });
    const timer = setTimeout(() => req.destroy(new HandshakeTimeout(`no answer from ${target.host} within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    req.once('error', fail);
    req.once('upgrade', (res: IncomingMessage, upgraded: Socket, head: Buffer) => {
      clearTimeout(timer);
      req.off('error', fail);
      resolve({ kind: 'upgraded', socket: upgraded, head, headers: res.headers, rawHeaders: res.rawHeaders });
    });
    req.once('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_REFUSAL_BODY) return fail(new Error(`${target.host} refused the upgrade with ${res.statusCode} and a body over ${MAX_REFUSAL_BODY} bytes`));
        chunks.push(chunk);
      });
      res.once('end', () => {
        clearTimeout(timer);
        socket.destroy();
        resolve({ kind: 'answered', status: res.statusCode ?? 502, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) });
      });
      res.once('error', fail);
    });
    req.end();
  });
}

/** Why an upstream's 101 cannot be relayed; undefined when it is a proper answer to `key`. */
export function answerProblem(headers: IncomingHttpHeaders, key: string, readFrames: boolean): string | undefined {
  if (!isWebSocketUpgradeHeader(headerValue(headers.upgrade))) return 'the upstream switched to another protocol than websocket';
  if (headerValue(headers['sec-websocket-accept']) !== acceptFor(key)) return "the upstream's Sec-WebSocket-Accept does not answer the client's key";
  // An extension it was never offered would change how frames read (a compressed payload).
  if (readFrames && headers['sec-websocket-extensions'] !== undefined) return 'the upstream chose a WebSocket extension it was not offered';
  return undefined;
}

const isWebSocketUpgradeHeader = (value: string | undefined): boolean => /^\s*websocket\s*$/i.test(value ?? '');

/** Headers of an upstream answer that may reach the client: no hop-by-hop header, no X-Chaperone-*. */
export function relayedHeaders(rawHeaders: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    // writeAnswer frames the body itself: the upstream's length does not go with it.
    if (isHopByHop(lower) || lower === 'content-length' || lower.startsWith('x-chaperone-')) continue;
    out.push([name, rawHeaders[i + 1]!]);
  }
  return out;
}

/** Writes an HTTP/1.1 answer head (and body, then the end) on a raw client socket. */
export function writeAnswer(socket: Duplex, status: number, headers: ReadonlyArray<readonly [string, string]>, body?: Buffer): void {
  if (!socket.writable) return void socket.destroy();
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Status'}`, ...headers.map(([name, value]) => `${name}: ${value}`)];
  if (status === 101) {
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    return;
  }
  const bytes = body ?? Buffer.alloc(0);
  lines.push(`Content-Length: ${bytes.length}`, 'Connection: close');
  socket.end(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), bytes]));
}
