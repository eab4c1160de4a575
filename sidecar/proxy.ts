// The proxy's ways in (docs/design.md §4), all ending in the same exchange (calls) or tunnel (bytes):
//  1. Forward proxy, absolute-URI requests (`HTTP_PROXY` for http:// URLs).
//  2. CONNECT (`HTTPS_PROXY`): the client's first bytes are read before any flow. TLS for an
//     intercepted host is terminated with a leaf from the namespace CA and its requests handled like
//     any other; plain HTTP inside is served the same way; other hosts are tunnelled byte for byte.
//     A TLS server name that is not the CONNECT target is refused (domain fronting), so no tunnel
//     can carry a provider's traffic past the checks.
//  3. Base-URL routes: /openai/v1/... and /anthropic/v1/... (for SDKs configured with a base URL),
//     and /proxy/{scheme}/{host[:port]}/{path} for any other destination (an MCP server URL).
//  4. Transparent capture (transparent.ts): connections redirected by the pod's iptables rules.
// WebSocket upgrades come in every one of these ways and go to websocket/upgrade.ts.
// Every request's path is made canonical where it comes in (here and in inner-server.ts), so the
// adapters, the egress rules and the upstream all read the same one (canonical-path.ts).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { handleUpgrade, type UpgradeContext } from './websocket/upgrade.js';
import type { Duplex } from 'node:stream';
import { BlockList, isIP, type Socket } from 'node:net';
import { ambiguousEscape, canonicalTarget, splitAbsoluteTarget, tryCanonicalPath } from './canonical-path.js';
import type { DataPath, Target } from './data-path.js';
import { prepareAndDecide, refuse } from './decision.js';
import { handleExchange } from './exchange.js';
import { readFirstBytes } from './first-bytes.js';
import { headerValue } from './http-util.js';
import { identify, type Identity } from './identity.js';
import { createInnerServer, createLimitedServer, isIntercepted, parseAuthority, plainError, rawError, type InnerServer, type ServerLimits } from './inner-server.js';
import type { LeafCertificates } from './leaf-certificates.js';
import { blocks, type Outcome } from './policy/verdict.js';
import { connected, recordTunnel, relay, tunnelCall, type Tunnel } from './tunnel.js';

/** Base-URL routes: prefix -> the provider's real origin. */
const BASE_ROUTES: ReadonlyArray<{ prefix: string; host: string }> = [
  { prefix: '/openai/', host: 'api.openai.com' },
  { prefix: '/anthropic/', host: 'api.anthropic.com' },
  { prefix: '/gemini/', host: 'generativelanguage.googleapis.com' },
];

export interface ProxyOptions extends ServerLimits {
  /** Tunnels with no traffic either way for this long are closed. */
  tunnelIdleMs: number;
}

/** What the listeners share: the data path, the certificates, the inner server, the bookkeeping. */
export interface Gate {
  dp: DataPath;
  certs: LeafCertificates;
  options: ProxyOptions;
  inner: InnerServer;
  /** Counts work in flight (drain waits for it) until the returned release runs (idempotent). */
  busy(): () => void;
  /** A client connection closed last when draining (tunnels and terminated TLS). */
  keep(socket: Duplex): void;
  /** The transparent listener's ports (filled in by whoever starts it): never a target on loopback. */
  transparentPorts: Set<number>;
}

export interface Proxy {
  server: Server;
  gate: Gate;
  /** Requests and tunnels in flight (for draining). */
  inflight(): number;
  /** Stops accepting, closes idle connections; resolves when in-flight work ends or the deadline passes. */
  drain(deadlineMs: number, listeners?: readonly { close(): unknown }[]): Promise<boolean>;
}

export function createProxy(dp: DataPath, certs: LeafCertificates, options: ProxyOptions): Proxy {
  let active = 0;
  const kept = new Set<Duplex>();
  const busy = (): (() => void) => {
    active++;
    let released = false;
    return () => {
      if (!released) (released = true), active--;
    };
  };

  /**
   * The transparent listener's ports: a request sent there is routed by its Host header, which
   * names the same place again, without end. (A request to the proxy port comes back once, in
   * origin form, and ends at a base-URL route or a 404.)
   */
  const transparentPorts = new Set<number>();
  const track = (req: IncomingMessage, res: ServerResponse, target: Target): void => {
    // A request the sidecar would send to itself would come back to be sent again, without end.
    if (transparentPorts.has(target.port) && isLoopback(target.host)) return plainError(res, 508, `${target.host}:${target.port} is this sidecar: refusing to loop`);
    res.once('close', busy());
    handleExchange(dp, req, res, target).catch((err: Error) => {
      dp.log.error({ err: err.message }, 'unhandled exchange error');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  };
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer, target: Target): void => {
    if (transparentPorts.has(target.port) && isLoopback(target.host)) return rawError(socket, 508, `${target.host}:${target.port} is this sidecar: refusing to loop`);
    handleUpgrade(upgradeContext, req, socket, head, target).catch((err: Error) => {
      dp.log.error({ err: err.message }, 'unhandled WebSocket upgrade error');
      socket.destroy();
    });
  };
  const inner = createInnerServer(options, () => dp.snapshot(), track, upgrade);
  const gate: Gate = {
    dp,
    certs,
    options,
    inner,
    busy,
    transparentPorts,
    keep: (socket) => {
      kept.add(socket);
      socket.once('close', () => kept.delete(socket));
    },
  };

  const upgradeContext: UpgradeContext = { dp, idleMs: options.tunnelIdleMs, busy, keep: (socket) => gate.keep(socket) };

  /** Where a request on the proxy port goes, or the answer it gets instead. */
  const routeOf = (req: IncomingMessage, webSocket: boolean): Target | RouteError => {
    // A WebSocket client may name its target ws:// or wss://: the same places as http:// and https://.
    const url = webSocket ? (req.url ?? '/').replace(/^ws(s?):\/\//i, 'http$1://') : (req.url ?? '/');
    // 1. Absolute URI: a forward-proxy request. Split by hand, not by `new URL()`, whose own path
    // rewriting would be a third spelling next to the one checked and the one forwarded.
    if (/^https?:\/\//i.test(url)) {
      const absolute = splitAbsoluteTarget(url);
      const to = absolute && parseAuthority(absolute.authority, absolute.scheme === 'https' ? 443 : 80);
      if (!absolute || !to) return { status: 400, message: `malformed request URL` };
      return canonicalTarget({ scheme: absolute.scheme, ...to, inspect: isIntercepted(to.host, dp.snapshot()) }, absolute.pathAndQuery);
    }
    // 3. Base-URL routes, chosen on the canonical path (`/openai/./v1/...` is `/openai/v1/...`).
    const canonical = tryCanonicalPath(url);
    const routed = canonical.ok ? canonical.path : url;
    if (/^\/proxy(\/|$)/.test(routed)) {
      const self = (host: string, port: number): boolean => isLoopback(host) && (port === req.socket.localPort || transparentPorts.has(port));
      return proxyRoute(url, (host) => isIntercepted(host, dp.snapshot()), self);
    }
    const route = BASE_ROUTES.find((r) => routed.startsWith(r.prefix));
    if (route) {
      const where = { scheme: 'https' as const, host: route.host, port: 443, path: routed.slice(route.prefix.length - 1), inspect: true };
      const refused = canonical.ok ? ambiguousEscape(where.path) : canonical.reason;
      return refused === undefined ? where : { ...where, refused };
    }
    return { status: 404, message: `no route for ${routed.split('?')[0]}: use chaperone as HTTP(S)_PROXY, the base URLs /openai/v1 and /anthropic/v1, or /proxy/{scheme}/{host}/{path}` };
  };

  const server = createLimitedServer(
    options,
    (req, res) => {
      const routed = routeOf(req, false);
      if ('status' in routed) return plainError(res, routed.status, routed.message);
      track(req, res, routed);
    },
    (req, socket, head) => {
      const routed = routeOf(req, true);
      if ('status' in routed) return rawError(socket, routed.status, routed.message);
      upgrade(req, socket, head, routed);
    },
  );

  server.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const release = busy();
    socket.once('close', release);
    handleConnect(gate, req, socket, head)
      .catch((err: Error) => {
        dp.log.error({ err: err.message }, 'unhandled CONNECT error');
        socket.destroy();
      })
      .finally(release);
  });

  return {
    server,
    gate,
    inflight: () => active,
    async drain(deadlineMs, listeners = []): Promise<boolean> {
      dp.draining = true;
      server.close();
      for (const l of listeners) l.close();
      server.closeIdleConnections();
      inner.server.closeIdleConnections();
      const deadline = Date.now() + deadlineMs;
      while (active > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        server.closeIdleConnections();
        inner.server.closeIdleConnections();
      }
      const clean = active === 0;
      server.closeAllConnections();
      inner.server.closeAllConnections();
      for (const socket of kept) socket.destroy();
      return clean;
    },
  };
}

/** A request the proxy port answers itself (no route, a malformed one). */
interface RouteError {
  status: number;
  message: string;
}

const PROXY_SCHEMES: Record<string, 'http' | 'https'> = { http: 'http', https: 'https', ws: 'http', wss: 'https' };

/**
 * `/proxy/{scheme}/{host[:port]}/{path}`: a destination named by the path, for clients that take a
 * base URL and no proxy (an agent's MCP server URL, Akto-style): `/proxy/https/mcp.example.com/mcp`
 * goes to `https://mcp.example.com/mcp` like a forward-proxy request to it would, inspected when
 * the host is intercepted, else under the egress rules only. The route is chosen on the canonical
 * path (so `/proxy/./https/...` routes the same), the target's own path made canonical after, as
 * any request's. Schemes http and https (ws and wss for WebSocket clients), no userinfo, a port
 * in range, never the sidecar itself: anything else is answered 400 naming the problem.
 */
export function proxyRoute(url: string, intercepted: (host: string) => boolean, self: (host: string, port: number) => boolean): Target | RouteError {
  // The trailing slash is kept while the route is read: whether it stays is the target's to say.
  const canonical = tryCanonicalPath(url, { keepTrailingSlash: true });
  const routed = canonical.ok ? canonical.path : url;
  const m = /^\/proxy(?:\/([^/?]*))?(?:\/([^/?]*))?(.*)$/s.exec(routed);
  const bad = (message: string): RouteError => ({ status: 400, message: `${message}; the route is /proxy/{http|https|ws|wss}/{host[:port]}/{path}` });
  if (!m) return bad('malformed /proxy route');
  const [, schemeName = '', authority = '', rest = ''] = m;
  const scheme = PROXY_SCHEMES[schemeName.toLowerCase()];
  if (!scheme) return bad(schemeName === '' ? 'no scheme in the /proxy route' : `the scheme ${JSON.stringify(schemeName.slice(0, 16))} is not one the proxy route takes`);
  if (authority === '') return bad('no host in the /proxy route');
  if (/@|%40/i.test(authority)) return bad('a user name or password (userinfo) in the /proxy route\'s host is not allowed');
  const to = parseAuthority(authority, scheme === 'https' ? 443 : 80);
  if (!to) {
    const port = /:([^:\]]*)$/.exec(authority);
    return bad(port && !authority.startsWith('[') ? `the port ${JSON.stringify(port[1]!.slice(0, 16))} is not a port (1-65535)` : `the host ${JSON.stringify(authority.slice(0, 64))} is not a host name or address`);
  }
  if (self(to.host, to.port)) return bad(`${to.host}:${to.port} is this sidecar`);
  const path = rest === '' ? '/' : rest.startsWith('?') ? `/${rest}` : rest;
  const where = { scheme, ...to, inspect: intercepted(to.host) };
  return canonical.ok ? canonicalTarget(where, path) : { ...where, path, refused: canonical.reason };
}

/** CONNECT host:port — decided, answered, then routed by what the client sends first. */
async function handleConnect(gate: Gate, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const { dp, certs, options } = gate;
  const to = parseAuthority(req.url ?? '', 443);
  if (!to) return rawAnswer(socket, 400, 'CONNECT needs host:port');
  const snapshot = dp.snapshot();
  if (!snapshot) return rawAnswer(socket, 503, 'configuration not loaded yet');
  const identity = identify(headerValue(req.headers['x-chaperone-agent']), snapshot);
  const intercepted = isIntercepted(to.host, snapshot);
  if (intercepted && !certs.enabled) return rawAnswer(socket, 502, `no interception CA loaded: refusing to pass ${to.host} through uninspected`);

  // A host we do not intercept is judged by its name before the client learns anything, and
  // reached before we answer 200, so an unreachable host is a 502 the client can read.
  let tunnel: Tunnel | undefined;
  let outcome: Outcome | undefined;
  let upstream: Socket | undefined;
  if (!intercepted) {
    tunnel = tunnelCall(identity, to.host, to.port, 'CONNECT');
    outcome = await prepareAndDecide(dp, tunnel.call, snapshot);
    if (blocks(outcome.final.decision)) {
      const v = outcome.final;
      const headers = [`X-Chaperone-Request-Id: ${tunnel.call.id}`, `X-Chaperone-Decision: ${v.decision}`];
      if (v.rule) headers.push(`X-Chaperone-Rule: ${v.rule}`);
      if (v.policy) headers.push(`X-Chaperone-Policy: ${v.policy}`);
      rawAnswer(socket, 403, v.reason ?? 'denied by policy', headers);
      return recordTunnel(dp, tunnel, identity, outcome, 403);
    }
    upstream = dp.upstream.tunnel(to.host, to.port);
    try {
      await connected(upstream);
    } catch (err) {
      upstream.destroy();
      rawAnswer(socket, 502, `cannot reach ${to.host}:${to.port}: ${(err as Error).message}`);
      return recordTunnel(dp, tunnel, identity, outcome, 502, (err as Error).message);
    }
  }
  const idHeader = tunnel ? `X-Chaperone-Request-Id: ${tunnel.call.id}\r\nX-Chaperone-Decision: ${outcome!.final.decision}\r\n` : '';
  socket.write(`HTTP/1.1 200 Connection Established\r\n${idHeader}\r\n`);
  if (head.length > 0) socket.unshift(head);

  const first = await readFirstBytes(socket, options.clientTimeoutMs);
  const refused = (reason: string): void => {
    upstream?.destroy();
    socket.destroy();
    recordTunnel(dp, tunnel ?? tunnelCall(identity, to.host, to.port, 'CONNECT'), identity, refuse(reason), 403);
  };
  if (first.gone) {
    upstream?.destroy();
    socket.destroy();
    if (tunnel) recordTunnel(dp, tunnel, identity, outcome!, 499, first.sniffed.kind === 'opaque' ? first.sniffed.reason : 'client left');
    return;
  }
  const { sniffed } = first;
  if (sniffed.kind === 'tls' && sniffed.sni !== undefined && sniffed.sni !== to.host) {
    return refused(`the TLS server name ${sniffed.sni} is not the CONNECT target ${to.host} (domain fronting)`);
  }
  if (intercepted || sniffed.kind === 'http') {
    upstream?.destroy();
    socket.unshift(first.head);
    gate.keep(socket);
    if (sniffed.kind === 'tls') return gate.inner.terminateTls(socket, to.host, to.port, certs);
    if (sniffed.kind === 'http') return gate.inner.servePlain(socket, { scheme: 'http', host: to.host, port: to.port, byHostHeader: false });
    return refused(`${to.host} is intercepted, and what was sent is neither TLS nor HTTP${sniffed.kind === 'opaque' ? ` (${sniffed.reason})` : ''}`);
  }
  openRelay(gate, socket, upstream!, first.head, tunnel!, identity, outcome!);
}

/** Relays an admitted tunnel whose upstream is connected, and records it. */
export function openRelay(gate: Gate, client: Duplex, upstream: Socket, head: Buffer, tunnel: Tunnel, identity: Identity, outcome: Outcome): void {
  gate.keep(client);
  relay(client, upstream, head, gate.options.tunnelIdleMs, gate.busy());
  recordTunnel(gate.dp, tunnel, identity, outcome, 200);
}

/** Addresses that reach this host: 127.0.0.0/8 and ::1, and 0.0.0.0/8 and ::, which connect to it too. */
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addSubnet('0.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addAddress('::', 'ipv6');

/**
 * Loopback and localhost (IPv4-mapped too): where the sidecar's own listeners are. Every spelling
 * a resolver reads as such an address counts (`127.1`, `0x7f000001`, `2130706433`, `0`,
 * `[0:0:0:0:0:0:0:1]`), or it would name the sidecar past the check.
 */
export function isLoopback(host: string): boolean {
  let h = host.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  // A number in another form (inet_aton's: fewer parts, hex, octal): made a plain address first.
  if (isIP(h) === 0 && /^[0-9a-fx.]+$/.test(h)) {
    try {
      h = new URL(`http://${h}/`).hostname;
    } catch {
      return false;
    }
  }
  const family = isIP(h);
  return family !== 0 && LOOPBACK.check(h, family === 4 ? 'ipv4' : 'ipv6');
}

/** An HTTP answer written on a raw socket (CONNECT), then closed. */
function rawAnswer(socket: Duplex, status: number, message: string, headers: string[] = []): void {
  if (!socket.writable) return void socket.destroy();
  const reason = { 400: 'Bad Request', 403: 'Forbidden', 502: 'Bad Gateway', 503: 'Service Unavailable' }[status] ?? 'Error';
  const body = `chaperone: ${message}\n`;
  socket.end(
    [`HTTP/1.1 ${status} ${reason}`, 'Content-Type: text/plain', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close', ...headers, '', body].join('\r\n'),
  );
}
