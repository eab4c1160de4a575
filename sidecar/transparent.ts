// The transparent listener: in a pod with transparent capture, the pod's iptables rules (see
// capture/rules.ts) redirect its outbound TCP on the governed ports here, whatever the app's proxy
// settings. What the connection is decides where it goes, never the address the app dialled:
//   TLS with a server name the sidecar intercepts  -> terminated with a leaf, same pipeline as any call;
//   TLS naming another host                        -> tunnelled, after the egress rules, to that name
//                                                     (resolved here: the dialled address is not trusted);
//   plain HTTP                                     -> served, each request routed by its Host header;
//   anything else (no server name, no HTTP)        -> --opaque-traffic: denied, or judged by the egress
//                                                     rules on its original destination (from conntrack).
// The sidecar's own upstream connections run as its own UID, which the rules leave alone.
import { createServer, type Server, type Socket } from 'node:net';
import type { ConfigSnapshot } from './config.js';
import { prepareAndDecide, refuse } from './decision.js';
import { readFirstBytes } from './first-bytes.js';
import { identify, type Identity } from './identity.js';
import { isIntercepted } from './inner-server.js';
import { originalDestination, type Destination } from './original-destination.js';
import { blocks } from './policy/verdict.js';
import { openRelay, type Gate } from './proxy.js';
import { connected, recordTunnel, tunnelCall, type TunnelKind } from './tunnel.js';

export type OpaqueTraffic = 'deny' | 'egress';

export interface TransparentOptions {
  /** What happens to captured traffic that names no host. */
  opaqueTraffic: OpaqueTraffic;
  /** The kernel's connection table (tests may point elsewhere). */
  conntrackFile?: string;
}

/** Ports assumed when conntrack cannot say (the default captured ports). */
const DEFAULT_PORT = { tls: 443, http: 80 } as const;

export function createTransparentListener(gate: Gate, options: TransparentOptions): Server {
  // noDelay as node:http sets it on the proxy port: small TLS records and answers leave at once.
  return createServer({ noDelay: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    const release = gate.busy();
    socket.once('close', release);
    handleCaptured(gate, options, socket)
      .catch((err: Error) => {
        gate.dp.log.error({ err: err.message }, 'unhandled transparent-connection error');
        socket.destroy();
      })
      .finally(release);
  });
}

async function handleCaptured(gate: Gate, options: TransparentOptions, socket: Socket): Promise<void> {
  const { dp, certs } = gate;
  const snapshot = dp.snapshot();
  if (!snapshot) return void socket.destroy();
  const remote: Destination = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
  const local: Destination = { address: socket.localAddress ?? '', port: socket.localPort ?? 0 };
  const [first, original] = await Promise.all([
    readFirstBytes(socket, gate.options.clientTimeoutMs),
    originalDestination(remote, local, options.conntrackFile),
  ]);
  if (first.gone) return void socket.destroy();
  const { sniffed } = first;
  const identity = identify(undefined, snapshot);

  // Named traffic: the name decides, the original destination only lends its port.
  if (sniffed.kind === 'http') {
    socket.unshift(first.head);
    gate.keep(socket);
    return gate.inner.servePlain(socket, { scheme: 'http', host: original?.address ?? '', port: original?.port ?? DEFAULT_PORT.http, byHostHeader: true });
  }
  if (sniffed.kind === 'tls' && sniffed.sni !== undefined) {
    const host = sniffed.sni;
    const port = original?.port ?? DEFAULT_PORT.tls;
    if (isIntercepted(host, snapshot)) {
      if (!certs.enabled) return deny(gate, socket, identity, host, port, 'TLS', `no interception CA loaded: refusing to pass ${host} through uninspected`);
      socket.unshift(first.head);
      gate.keep(socket);
      return gate.inner.terminateTls(socket, host, port, certs);
    }
    return tunnel(gate, snapshot, socket, first.head, identity, host, port, 'TLS');
  }

  // Unnamed: TLS without a server name, or a protocol the sidecar cannot read.
  const kind: TunnelKind = sniffed.kind === 'tls' ? 'TLS' : 'TCP';
  const what = sniffed.kind === 'opaque' ? `neither TLS nor HTTP (${sniffed.reason})` : 'TLS without a server name';
  if (!original) return deny(gate, socket, identity, 'unknown', 0, kind, `${what}, and its original destination is unknown (conntrack not readable)`);
  if (options.opaqueTraffic === 'deny') {
    return deny(gate, socket, identity, original.address, original.port, kind, `${what} to ${original.address}:${original.port}: denied (--opaque-traffic deny)`);
  }
  return tunnel(gate, snapshot, socket, first.head, identity, original.address, original.port, kind);
}

/** Decides a tunnel by its host, then connects and relays it. */
async function tunnel(gate: Gate, snapshot: ConfigSnapshot, socket: Socket, head: Buffer, identity: Identity, host: string, port: number, kind: TunnelKind): Promise<void> {
  const { dp } = gate;
  const t = tunnelCall(identity, host, port, kind);
  const outcome = await prepareAndDecide(dp, t.call, snapshot);
  if (blocks(outcome.final.decision)) {
    socket.destroy();
    return recordTunnel(dp, t, identity, outcome, 403);
  }
  const upstream = dp.upstream.tunnel(host, port);
  try {
    await connected(upstream);
  } catch (err) {
    upstream.destroy();
    socket.destroy();
    return recordTunnel(dp, t, identity, outcome, 502, (err as Error).message);
  }
  openRelay(gate, socket, upstream, head, t, identity, outcome);
}

function deny(gate: Gate, socket: Socket, identity: Identity, host: string, port: number, kind: TunnelKind, reason: string): void {
  socket.destroy();
  recordTunnel(gate.dp, tunnelCall(identity, host, port, kind), identity, refuse(reason), 403);
}
