// The health and metrics endpoints every component serves the same way (the sidecar's admin port,
// the webhook's TLS port, the operator's health port): GET /healthz (the process answers), /readyz
// (200 "ready", or 503 "not ready: <reason>") and /metrics (Prometheus text). One plain request
// handler, so the webhook's hot admission path and express alike can put it in front of their own.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

export interface HealthEndpoints {
  /** Why the component is not ready, or undefined when it is. */
  notReadyReason(): string | undefined;
  registry: Registry;
  /** Brings gauges that follow state kept elsewhere up to date before a scrape. */
  beforeScrape?: () => void;
}

/** Answers the request when it is one of the health or metrics endpoints; returns whether it did. */
export function serveHealth(endpoints: HealthEndpoints, req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/healthz') return text(res, 200, 'ok\n');
  if (path === '/readyz') {
    const reason = endpoints.notReadyReason();
    return reason === undefined ? text(res, 200, 'ready\n') : text(res, 503, `not ready: ${reason}\n`);
  }
  if (path !== '/metrics') return false;
  endpoints.beforeScrape?.();
  endpoints.registry.metrics().then(
    (body) => void res.writeHead(200, { 'content-type': endpoints.registry.contentType, 'content-length': Buffer.byteLength(body) }).end(body),
    (err: unknown) => void text(res, 500, `${String(err)}\n`),
  );
  return true;
}

function text(res: ServerResponse, status: number, body: string): true {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) }).end(body);
  return true;
}
