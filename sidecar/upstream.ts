// The upstream side: one undici Agent (a keep-alive pool per origin) for inspected calls, and raw
// TCP for tunnels. `--resolve HOST=IP:PORT` sends a host's traffic elsewhere while TLS still
// verifies the real host name; `--upstream-ca` adds a CA to the public roots.
import { connect as netConnect, type Socket } from 'node:net';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { Agent, buildConnector } from 'undici';

export interface UpstreamOptions {
  /** host -> address, from --resolve. Keys are lower-case host names, optionally `host:port`. */
  resolve: Map<string, { host: string; port: number }>;
  /** Extra CA certificates (PEM) trusted for upstream TLS. */
  extraCaPem?: string;
  connectTimeoutMs: number;
  /** Time to response headers, and the longest silence between two body chunks. */
  responseTimeoutMs: number;
  /** Idle keep-alive connections are closed after this. */
  keepAliveMs?: number;
  /** Connections per origin. */
  connectionsPerOrigin?: number;
}

export interface Address {
  host: string;
  port: number;
}

/** Parses `HOST=IP:PORT` (curl's --resolve, minus the port on the left, which is optional). */
export function parseResolve(spec: string): [string, Address] {
  const m = /^([^=]+)=(\[[^\]]+\]|[^:]+):(\d+)$/.exec(spec);
  if (!m) throw new Error(`--resolve ${spec}: expected HOST=IP:PORT (or HOST:PORT=IP:PORT)`);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new Error(`--resolve ${spec}: port out of range`);
  return [m[1]!.toLowerCase(), { host: m[2]!.replace(/^\[|\]$/g, ''), port }];
}

export class Upstream {
  readonly agent: Agent;
  /** The upstream TLS trust (public roots plus --upstream-ca), for connections made outside undici (WebSockets). */
  readonly secureContext: SecureContext;

  constructor(private readonly options: UpstreamOptions) {
    // One context for every connection: a `ca` option would make each tls.connect parse all the
    // public roots again (~20 ms of main-thread work per new upstream connection).
    const secureContext = (this.secureContext = createSecureContext(options.extraCaPem ? { ca: [...rootCertificates, options.extraCaPem] } : {}));
    const base = buildConnector({ timeout: options.connectTimeoutMs, secureContext });
    this.agent = new Agent({
      connect: (opts, callback) => {
        // servername stays the real host (undici derives it from opts.host), so TLS verifies it.
        const target = this.addressOf(opts.hostname, Number(opts.port) || (opts.protocol === 'https:' ? 443 : 80));
        return base({ ...opts, hostname: target.host, port: String(target.port) }, callback);
      },
      headersTimeout: options.responseTimeoutMs,
      bodyTimeout: options.responseTimeoutMs,
      keepAliveTimeout: options.keepAliveMs ?? 60_000,
      connections: options.connectionsPerOrigin ?? 128,
    });
  }

  /** Time to an upstream's answer (its headers). */
  get responseTimeoutMs(): number {
    return this.options.responseTimeoutMs;
  }

  /** Where traffic for host:port really goes. */
  addressOf(host: string, port: number): Address {
    const h = host.toLowerCase().replace(/^\[|\]$/g, '');
    return this.options.resolve.get(`${h}:${port}`) ?? this.options.resolve.get(h) ?? { host: h, port };
  }

  /** A raw TCP connection for a tunnel, honouring --resolve. */
  tunnel(host: string, port: number): Socket {
    const target = this.addressOf(host, port);
    const socket = netConnect({ host: target.host, port: target.port });
    socket.setTimeout(this.options.connectTimeoutMs, () => socket.destroy(new Error('connect timeout')));
    socket.once('connect', () => socket.setTimeout(0));
    return socket;
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
