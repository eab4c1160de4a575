// Tunnels: connections the sidecar relays byte for byte because it has no reason to read them (a
// host it does not intercept, named by the CONNECT target or the TLS server name, or an original
// destination under --opaque-traffic egress). Each is a Call with operation 'tunnel' that goes
// through the same decide-and-record path as any request; only its host and port can be judged.
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Call } from './call.js';
import { recordDecision } from './decision.js';
import type { DataPath } from './data-path.js';
import type { Identity } from './identity.js';
import type { Outcome } from './policy/verdict.js';

/** How the tunnel came in: a CONNECT request, a captured TLS connection, a captured connection of unknown protocol. */
export type TunnelKind = 'CONNECT' | 'TLS' | 'TCP';

export interface Tunnel {
  call: Call;
  started: bigint;
}

export function tunnelCall(identity: Identity, host: string, port: number, kind: TunnelKind): Tunnel {
  return {
    started: process.hrtime.bigint(),
    call: {
      id: randomUUID(),
      provider: 'unknown',
      agent: identity.agent,
      host,
      port,
      method: kind,
      path: '',
      operation: 'tunnel',
      toolsDefined: [],
      toolCalls: [],
      texts: [],
      stream: false,
    },
  };
}

/** The audit line and metrics of a tunnel's decision (once, when it is refused, fails or starts). */
export function recordTunnel(dp: DataPath, tunnel: Tunnel, identity: Identity, outcome: Outcome, status: number, error?: string): void {
  const { call } = tunnel;
  recordDecision(dp, {
    requestId: call.id,
    agent: call.agent,
    ...(identity.subAgent ? { subAgent: identity.subAgent } : {}),
    provider: 'unknown',
    operation: 'tunnel',
    host: call.host,
    method: call.method,
    path: '',
    decision: outcome.final.decision,
    ...(outcome.final.policy ? { policy: outcome.final.policy } : {}),
    status,
    latencyMs: Number(process.hrtime.bigint() - tunnel.started) / 1e6,
    overheadMs: 0,
    ...(error ? { error } : {}),
    ...(status === 403 && outcome.final.reason ? { reason: outcome.final.reason } : {}),
    findings: outcome.findings,
    timed: false,
  });
}

/** Waits for an upstream tunnel socket to connect; rejects with its error. */
export function connected(upstream: Socket): Promise<void> {
  return new Promise((ok, fail) => {
    upstream.once('connect', ok).once('error', fail);
  });
}

/**
 * Relays bytes both ways (after replaying `head`, what the client sent first) until either side
 * closes or both are idle for `idleMs`; `onClose` runs once.
 */
export function relay(client: Duplex, upstream: Socket, head: Buffer, idleMs: number, onClose: () => void): void {
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    upstream.destroy();
    client.destroy();
    onClose();
  };
  upstream.on('error', close).once('close', close);
  client.on('error', close).once('close', close);
  if (head.length > 0) upstream.write(head);
  upstream.pipe(client);
  client.pipe(upstream);
  client.resume();
  if ('setTimeout' in client && typeof client.setTimeout === 'function') (client as Socket).setTimeout(idleMs, close);
  upstream.setTimeout(idleMs, close);
}
