// The HTTP server behind every connection the sidecar has opened up: TLS it terminated for an
// intercepted host (CONNECT or transparent), and plain HTTP read off a CONNECT tunnel or a captured
// connection. Each connection carries its authority: where its requests go, fixed by what the
// sidecar itself established (the CONNECT target, the TLS server name), never by the request.
// Every request's path is made canonical here (canonical-path.ts) before anything reads it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type { ConfigSnapshot } from './config.js';
import { canonicalTarget, splitAbsoluteTarget } from './canonical-path.js';
import type { Target } from './data-path.js';
import type { LeafCertificates } from './leaf-certificates.js';
import { anyHostGlob } from '../api/host-glob.js';
import { BUILTIN_INTERCEPT_HOSTS } from './providers/index.js';
import { isWebSocketUpgrade, writeAnswer } from './websocket/handshake.js';

export function isIntercepted(host: string, snapshot: ConfigSnapshot | undefined): boolean {
  return (
    anyHostGlob(BUILTIN_INTERCEPT_HOSTS, host) ||
    (snapshot !== undefined && anyHostGlob(snapshot.interceptHosts, host))
  );
}

/** Splits `host:port` / `[v6]:port`; undefined when it is not an authority. */
export function parseAuthority(authority: string, defaultPort: number): { host: string; port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(authority);
  if (!m) return undefined;
  const port = m[2] ? Number(m[2]) : defaultPort;
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase(), port };
}

/** Where the requests of one connection go. */
export interface Authority {
  scheme: 'http' | 'https';
  host: string;
  port: number;
  /**
   * Transparent plain HTTP only: each request goes to the host its Host header names (resolved by
   * the sidecar, so naming a host is all a client can do). Otherwise the Host header is ignored.
   */
  byHostHeader: boolean;
}

export interface ServerLimits {
  /** How long a client may take to send a request (headers and body). */
  clientTimeoutMs: number;
  /** Idle keep-alive connections from agents are closed after this. */
  keepAliveMs: number;
}

export interface InnerServer {
  server: Server;
  /** Terminates TLS on `socket` (its first bytes already replayed) with a leaf for `host`, then serves its requests. */
  terminateTls(socket: Duplex, host: string, port: number, certs: LeafCertificates): Promise<void>;
  /** Serves the plain HTTP on `socket` (first bytes replayed). */
  servePlain(socket: Duplex, authority: Authority): void;
}

export type Handle = (req: IncomingMessage, res: ServerResponse, target: Target) => void;
/** A WebSocket upgrade request and its connection (websocket/upgrade.ts). */
export type HandleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer, target: Target) => void;

/** Where a request goes, or the answer it gets instead. */
type Routed = Target | { status: number; message: string };

export function createInnerServer(limits: ServerLimits, snapshot: () => ConfigSnapshot | undefined, handle: Handle, upgrade?: HandleUpgrade): InnerServer {
  const authorities = new WeakMap<object, Authority>();
  const targetOf = (req: IncomingMessage): Routed => {
    const authority = authorities.get(req.socket);
    if (!authority) return { status: 500, message: 'lost the connection authority' };
    let { host, port } = authority;
    if (authority.byHostHeader) {
      const named = parseAuthority(req.headers.host ?? '', authority.port);
      if (!named) return { status: 400, message: 'a Host header naming the destination is required' };
      ({ host, port } = named);
    }
    const where = { scheme: authority.scheme, host, port, inspect: authority.scheme === 'https' || isIntercepted(host, snapshot()) };
    const raw = req.url ?? '/';
    if (raw.startsWith('/')) return canonicalTarget(where, raw);
    // Inside a tunnel the destination is already fixed: an absolute-form target (legal HTTP/1.1)
    // must name that same place, and only its path is read, canonicalised like any other.
    const absolute = splitAbsoluteTarget(raw);
    const named = absolute && parseAuthority(absolute.authority, absolute.scheme === 'https' ? 443 : 80);
    if (!absolute || !named || absolute.scheme !== where.scheme || named.host !== host || named.port !== port) {
      const refused = `the request target must be a path (/...) or a URL of this connection's own destination, ${where.scheme}://${host}:${port}`;
      return { ...where, path: raw, refused };
    }
    return canonicalTarget(where, absolute.pathAndQuery);
  };
  const onWebSocket = upgrade
    ? (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
        const routed = targetOf(req);
        if ('status' in routed) return rawError(socket, routed.status, routed.message);
        upgrade(req, socket, head, routed);
      }
    : undefined;
  const server = createLimitedServer(
    limits,
    (req, res) => {
      const routed = targetOf(req);
      if ('status' in routed) return plainError(res, routed.status, routed.message);
      handle(req, res, routed);
    },
    onWebSocket,
  );
  return {
    server,
    async terminateTls(socket, host, port, certs) {
      const secureContext = await certs.contextFor(host);
      const tls = new TLSSocket(socket, { isServer: true, secureContext, ALPNProtocols: ['http/1.1'] });
      tls.on('error', () => tls.destroy());
      // The connection underneath (a CONNECT's, a captured one) ends with the TLS on it.
      tls.once('close', () => socket.destroy());
      authorities.set(tls, { scheme: 'https', host, port, byHostHeader: false });
      server.emit('connection', tls);
    },
    servePlain(socket, authority) {
      authorities.set(socket, authority);
      server.emit('connection', socket);
      socket.resume(); // paused while its first bytes were read
    },
  };
}

/**
 * An HTTP server with the client-side limits and a never-crashing answer to malformed HTTP.
 * `onWebSocket` takes WebSocket upgrades; without it, or for other upgrades (h2c), see serveUpgradeAsRequest.
 */
export function createLimitedServer(
  limits: ServerLimits,
  onRequest: (req: IncomingMessage, res: ServerResponse) => void,
  onWebSocket?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void,
): Server {
  const server = createServer({ keepAliveTimeout: limits.keepAliveMs, connectionsCheckingInterval: Math.min(1_000, limits.clientTimeoutMs) }, onRequest);
  server.requestTimeout = limits.clientTimeoutMs;
  server.headersTimeout = Math.min(limits.clientTimeoutMs, 30_000);
  server.keepAliveTimeout = limits.keepAliveMs;
  // Expect: 100-continue is answered by the exchange once it knows the body is welcome, so a body
  // declared over the limit gets its 413 before the client sends it (exchange.ts, expectsContinue).
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => server.emit('request', req, res));
  const handOver = boundSilence(server, limits.clientTimeoutMs);
  if (onWebSocket) {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!isWebSocketUpgrade(req)) return serveUpgradeAsRequest(server, req, socket, head);
      handOver(socket as Socket);
      onWebSocket(req, socket, head);
    });
  }
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // Malformed HTTP or a client timeout: answer if we still can, never crash.
    if (socket.writable && err.code !== 'ECONNRESET') {
      const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    } else socket.destroy();
  });
  return server;
}

/**
 * No agent connection may sit silent: one with no request in flight is closed after `ms` without
 * a byte either way (before its first request, after TLS, between requests), and a request must
 * arrive whole within `ms` of its start. Node's own headers and request timeouts do not reach
 * connections handed to the server by hand (terminated TLS, plain HTTP read off a CONNECT), so the
 * sidecar keeps these bounds itself, for every connection alike. A request in flight waiting on
 * its upstream is not silence: the upstream timeouts bound that.
 */
function boundSilence(server: Server, ms: number): (socket: Socket) => void {
  const inFlight = new WeakMap<object, number>();
  /** Connections a CONNECT took over: whoever serves them now (a tunnel, TLS, the inner server) bounds them. */
  const handedOver = new WeakSet<object>();
  server.on('connection', (socket: Socket) => {
    socket.on('timeout', () => {
      if (!inFlight.get(socket) && !handedOver.has(socket)) socket.destroy();
    });
    socket.setTimeout(ms);
  });
  // Node destroys a connection that times out unless someone listens: the listener above decides.
  server.on('timeout', () => undefined);
  // A connection that became a tunnel or a WebSocket: whoever relays it bounds its silence.
  const handOver = (socket: Socket): void => {
    handedOver.add(socket);
    socket.setTimeout(0);
  };
  server.prependListener('connect', (_req: IncomingMessage, socket: Socket) => handOver(socket));
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    const arriving = setTimeout(() => {
      if (req.complete) return;
      if (res.headersSent) return void socket.destroy();
      res.once('finish', () => socket.destroy());
      plainError(res, 408, `the request did not arrive whole within ${ms} ms`, { connection: 'close' });
    }, ms);
    arriving.unref();
    req.once('end', () => clearTimeout(arriving));
    res.once('close', () => {
      clearTimeout(arriving);
      inFlight.set(socket, (inFlight.get(socket) ?? 1) - 1);
      if (!socket.destroyed) socket.setTimeout(ms); // silence counts again from here
    });
  });
  return handOver;
}

/**
 * An upgrade to something other than a WebSocket (`Upgrade: h2c`, which `curl --http2` sends) is
 * not taken, as before the server listened for upgrades: node has let the connection go, so the
 * request is given back to the server as it came, less its Upgrade (hop-by-hop, never forwarded
 * anyway) and HTTP2-Settings headers, and the connection is served from there as any other.
 */
function serveUpgradeAsRequest(server: Server, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const drop = new Set(['upgrade', 'http2-settings']);
  const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!;
    let value = req.rawHeaders[i + 1]!;
    if (drop.has(name.toLowerCase())) continue;
    if (name.toLowerCase() === 'connection') {
      value = value.split(',').map((t) => t.trim()).filter((t) => t !== '' && !drop.has(t.toLowerCase())).join(', ');
      if (value === '') continue;
    }
    lines.push(`${name}: ${value}`);
  }
  socket.unshift(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), head]));
  server.emit('connection', socket);
}

/** An answer of the sidecar's own on a connection no HTTP server writes to any more, then closed. */
export function rawError(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ error: { message: `chaperone: ${message}`, type: 'proxy_error', code: status } });
  writeAnswer(socket, status, [['Content-Type', 'application/json']], Buffer.from(body));
}

export function plainError(res: ServerResponse, status: number, message: string, extra: Record<string, string> = {}): void {
  const body = JSON.stringify({ error: { message: `chaperone: ${message}`, type: 'proxy_error', code: status } });
  res.writeHead(status, { ...extra, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
