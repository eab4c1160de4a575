// The proxy listener (port 14001): three ways in (DESIGN §4).
//  1. Forward proxy, absolute-URI requests (`HTTP_PROXY` for http:// URLs).
//  2. CONNECT (`HTTPS_PROXY`): intercepted hosts get TLS terminated with a leaf from the namespace CA
//     and their requests handled like any other; every other host is tunnelled byte for byte.
//  3. Base-URL routes: /openai/v1/... and /anthropic/v1/... (for SDKs configured with a base URL).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type { Call } from './call.js';
import { recordDecision } from './decision-record.js';
import { handleExchange, type DataPath, type Target } from './exchange.js';
import type { LeafCertificates } from './leaf-certificates.js';
import { BUILTIN_INTERCEPT_HOSTS, hostMatches } from './providers/index.js';
import { blocks } from './policy/verdict.js';
import type { ConfigSnapshot } from './config.js';

/** Base-URL routes: prefix -> the provider's real origin. */
const BASE_ROUTES: ReadonlyArray<{ prefix: string; host: string }> = [
  { prefix: '/openai/', host: 'api.openai.com' },
  { prefix: '/anthropic/', host: 'api.anthropic.com' },
];

export interface ProxyOptions {
  /** How long a client may take to send a request (headers and body). */
  clientTimeoutMs: number;
  /** Idle keep-alive connections from agents are closed after this. */
  keepAliveMs: number;
  /** Tunnels with no traffic either way for this long are closed. */
  tunnelIdleMs: number;
}

export interface Proxy {
  server: Server;
  /** Requests and tunnels in flight (for draining). */
  inflight(): number;
  /** Stops accepting, closes idle connections; resolves when in-flight work ends or the deadline passes. */
  drain(deadlineMs: number): Promise<boolean>;
}

export function isIntercepted(host: string, snapshot: ConfigSnapshot | undefined): boolean {
  return (
    BUILTIN_INTERCEPT_HOSTS.some((p: string) => hostMatches(p, host)) ||
    (snapshot?.interceptHosts.some((p) => hostMatches(p, host)) ?? false)
  );
}

/** Splits `host:port` / `[v6]:port`; undefined when it is not an authority. */
export function parseAuthority(authority: string, defaultPort: number): { host: string; port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(authority);
  if (!m) return undefined;
  const port = m[2] ? Number(m[2]) : defaultPort;
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, '').toLowerCase(), port };
}

export function createProxy(dp: DataPath, certs: LeafCertificates, options: ProxyOptions): Proxy {
  let active = 0;
  /** Raw client sockets of tunnels and intercepted TLS sessions: closed last when draining. */
  const tunnels = new Set<Duplex>();
  /** The CONNECT target of each intercepted TLS socket. */
  const tlsTargets = new WeakMap<object, { host: string; port: number }>();

  const track = (req: IncomingMessage, res: ServerResponse, target: Target): void => {
    active++;
    res.once('close', () => active--);
    handleExchange(dp, req, res, target).catch((err: Error) => {
      dp.log.error({ err: err.message }, 'unhandled exchange error');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    // 1. Absolute URI: a forward-proxy request.
    if (/^https?:\/\//i.test(url)) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        return plainError(res, 400, `malformed request URL`);
      }
      const scheme = parsed.protocol === 'https:' ? 'https' : 'http';
      const host = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase();
      const port = parsed.port ? Number(parsed.port) : scheme === 'https' ? 443 : 80;
      return track(req, res, { scheme, host, port, path: parsed.pathname + parsed.search, inspect: isIntercepted(host, dp.snapshot()) });
    }
    // 3. Base-URL routes.
    const route = BASE_ROUTES.find((r) => url.startsWith(r.prefix));
    if (route) {
      return track(req, res, { scheme: 'https', host: route.host, port: 443, path: url.slice(route.prefix.length - 1), inspect: true });
    }
    plainError(res, 404, `no route for ${url.split('?')[0]}: use chaperone as HTTP(S)_PROXY, or the base URLs /openai/v1 and /anthropic/v1`);
  };

  /** Requests inside intercepted TLS: the host is the CONNECT target, never the Host header. */
  const onInterceptedRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const target = tlsTargets.get(req.socket);
    if (!target) return plainError(res, 500, 'lost the CONNECT target');
    track(req, res, { scheme: 'https', host: target.host, port: target.port, path: req.url ?? '/', inspect: true });
  };

  const server = createServer(serverOptions(options), onRequest);
  const intercepted = createServer(serverOptions(options), onInterceptedRequest);
  for (const s of [server, intercepted]) {
    s.requestTimeout = options.clientTimeoutMs;
    s.headersTimeout = Math.min(options.clientTimeoutMs, 30_000);
    s.keepAliveTimeout = options.keepAliveMs;
    s.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      // Malformed HTTP or a client timeout: answer if we still can, never crash.
      if (socket.writable && err.code !== 'ECONNRESET') {
        const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
        socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      } else socket.destroy();
    });
  }

  server.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const authority = parseAuthority(req.url ?? '', 443);
    if (!authority) return rawAnswer(socket, 400, 'CONNECT needs host:port');
    const snapshot = dp.snapshot();
    if (!snapshot) return rawAnswer(socket, 503, 'configuration not loaded yet');
    if (isIntercepted(authority.host, snapshot)) {
      if (!certs.enabled) return rawAnswer(socket, 502, `no interception CA loaded: refusing to pass ${authority.host} through uninspected`);
      active++;
      certs
        .contextFor(authority.host)
        .then((secureContext) => {
          socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
          if (head.length > 0) socket.unshift(head);
          const tls = new TLSSocket(socket, { isServer: true, secureContext, ALPNProtocols: ['http/1.1'] });
          tls.on('error', () => tls.destroy());
          tunnels.add(socket);
          socket.once('close', () => tunnels.delete(socket));
          tlsTargets.set(tls, authority);
          intercepted.emit('connection', tls);
        })
        .catch((err: Error) => rawAnswer(socket, 502, `cannot mint a certificate for ${authority.host}: ${err.message}`))
        .finally(() => active--);
      return;
    }
    openTunnel(req, socket, head, authority, snapshot);
  });

  /** A byte-for-byte tunnel, after the host-level checks (egress) had their say. */
  const openTunnel = (req: IncomingMessage, socket: Duplex, head: Buffer, to: { host: string; port: number }, snapshot: ConfigSnapshot): void => {
    const agent = String(req.headers['x-chaperone-agent'] ?? '') || snapshot.podAgent || 'unknown';
    const call: Call = {
      id: randomUUID(),
      provider: 'unknown',
      agent,
      host: to.host,
      port: to.port,
      method: 'CONNECT',
      path: '',
      operation: 'tunnel',
      toolsDefined: [],
      toolCalls: [],
      texts: [],
      stream: false,
    };
    const started = process.hrtime.bigint();
    const outcome = dp.pipeline.evaluateRequest(call, snapshot.policies);
    const audit = (status: number, error?: string): void =>
      recordDecision(dp, {
        requestId: call.id,
        agent,
        provider: 'unknown',
        operation: 'tunnel',
        host: to.host,
        method: 'CONNECT',
        path: '',
        decision: outcome.final.decision,
        ...(outcome.final.policy ? { policy: outcome.final.policy } : {}),
        status,
        latencyMs: Number(process.hrtime.bigint() - started) / 1e6,
        overheadMs: 0,
        ...(error ? { error } : {}),
        findings: outcome.findings,
        timed: false,
      });
    if (blocks(outcome.final.decision)) {
      const headers = [`X-Chaperone-Request-Id: ${call.id}`, `X-Chaperone-Decision: ${outcome.final.decision}`];
      if (outcome.final.rule) headers.push(`X-Chaperone-Rule: ${outcome.final.rule}`);
      if (outcome.final.policy) headers.push(`X-Chaperone-Policy: ${outcome.final.policy}`);
      rawAnswer(socket, 403, outcome.final.reason ?? 'denied by policy', headers);
      return audit(403);
    }
    const upstream = dp.upstream.tunnel(to.host, to.port);
    active++;
    tunnels.add(socket);
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      active--;
      tunnels.delete(socket);
      upstream.destroy();
      socket.destroy();
    };
    upstream.once('connect', () => {
      socket.write(`HTTP/1.1 200 Connection Established\r\nX-Chaperone-Request-Id: ${call.id}\r\nX-Chaperone-Decision: ${outcome.final.decision}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
      audit(200);
    });
    upstream.once('error', (err) => {
      if (!closed && !socket.destroyed && upstream.connecting) {
        rawAnswer(socket, 502, `cannot reach ${to.host}:${to.port}: ${err.message}`);
        audit(502, err.message);
      }
      close();
    });
    upstream.once('close', close);
    socket.once('close', close);
    (socket as Socket).setTimeout(options.tunnelIdleMs, close);
    upstream.setTimeout(options.tunnelIdleMs, close);
  };

  return {
    server,
    inflight: () => active,
    async drain(deadlineMs: number): Promise<boolean> {
      dp.draining = true;
      server.close();
      server.closeIdleConnections();
      intercepted.closeIdleConnections();
      const deadline = Date.now() + deadlineMs;
      while (active > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        server.closeIdleConnections();
        intercepted.closeIdleConnections();
      }
      const clean = active === 0;
      server.closeAllConnections();
      intercepted.closeAllConnections();
      for (const t of tunnels) t.destroy();
      return clean;
    },
  };
}

function serverOptions(options: ProxyOptions): { keepAliveTimeout: number; connectionsCheckingInterval: number } {
  return { keepAliveTimeout: options.keepAliveMs, connectionsCheckingInterval: Math.min(1_000, options.clientTimeoutMs) };
}

function plainError(res: ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ error: { message: `chaperone: ${message}`, type: 'proxy_error', code: status } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
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
