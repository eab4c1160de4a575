// The manager's health and metrics port: /healthz (the process answers), /readyz (the caches are
// synced) and /metrics (Prometheus text; lib/health-endpoints.ts, as every component serves them),
// over plain HTTP or TLS with a self-signed certificate.

import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import { splitHostPort } from '../../lib/cli.js';
import { serveHealth } from '../../lib/health-endpoints.js';
import { selfSignedServing } from '../../lib/x509.js';

export interface HealthServerOptions {
  /** HOST:PORT (port 0: any free port). */
  addr: string;
  /** Serve over TLS with a certificate made at start. */
  tls: boolean;
  isReady: () => boolean;
  registry: Registry;
}

export interface HealthServer {
  address: AddressInfo;
  close(): Promise<void>;
}

export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const endpoints = { notReadyReason: () => (opts.isReady() ? undefined : 'informers not synced'), registry: opts.registry };
  const serve: RequestListener = (req, res) => {
    if (!serveHealth(endpoints, req, res)) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  };
  // TLS without a CA to trust: kubelet's HTTPS probes do not verify, and Prometheus scrapes it with
  // insecureSkipVerify (as controller-runtime's secure metrics do); it keeps the traffic private.
  const server: Server = opts.tls
    ? createHttpsServer({ ...(await selfSignedServing([hostname(), 'localhost'], ['127.0.0.1'])), minVersion: 'TLSv1.2' }, serve)
    : createHttpServer(serve);
  const { host, port } = splitHostPort(opts.addr, '--health-addr');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    address: server.address() as AddressInfo,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
