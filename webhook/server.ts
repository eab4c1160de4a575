// The webhook's HTTPS server: /inject and /inject/namespace (AdmissionReview v1), /healthz, /readyz
// and /metrics, all on one TLS port. It starts listening only once a certificate is there, and a new
// certificate replaces the old one in place (setSecureContext): connections already open keep theirs.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { serveHealth } from '../lib/health-endpoints.js';
import type { Logger } from '../lib/logger.js';
import { admit, type AdmissionScope } from './admission.js';
import { NAMESPACE_INJECT_PATH, POD_INJECT_PATH } from './configuration.js';
import type { WebhookMetrics } from './metrics.js';
import type { InjectionSettings } from './settings.js';
import type { TlsSource } from './tls-source.js';

export interface WebhookServerOptions {
  host: string;
  port: number;
  tls: TlsSource;
  settings: () => InjectionSettings;
  /** The namespace's labels, when known (capture mode, Pod Security level). */
  namespaceLabels?: (namespace: string) => Readonly<Record<string, string>> | undefined;
  metrics: WebhookMetrics;
  log: Logger;
  /** AdmissionReviews of pods with many containers can be large; the API server caps them at 3 MiB. */
  maxBodyBytes?: number;
}

export interface WebhookServer {
  server: Server;
  url: string;
  ready(): boolean;
  close(): Promise<void>;
}

export async function startWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  const { metrics, log } = opts;
  const first = opts.tls.current();
  if (!first) throw new Error('webhook: no serving certificate yet');
  let serving = false;

  const send = (res: ServerResponse, status: number, type: string, body: string): void => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) }).end(body);
  };
  const text = (res: ServerResponse, status: number, body: string): void => send(res, status, 'text/plain; charset=utf-8', body);

  const review = (scope: AdmissionScope, body: unknown, res: ServerResponse): void => {
    const started = process.hrtime.bigint();
    const answer = admit(body, scope, opts.settings(), opts.namespaceLabels);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.admissions.inc({ result: answer.result });
    metrics.admissionDuration.observe({ result: answer.result }, seconds);
    if (answer.status === 400) {
      log.warn({ reason: answer.message }, 'malformed AdmissionReview');
      return text(res, 400, `${answer.message}\n`);
    }
    const line = { pod: answer.pod, scope, result: answer.result, detail: answer.detail, ms: Math.round(seconds * 1e5) / 100 };
    if (answer.result === 'error') log.error(line, 'injection failed; pod admitted without the sidecar');
    else if (answer.result === 'injected') log.info(line, 'admission');
    else log.debug(line, 'admission');
    send(res, 200, 'application/json', JSON.stringify(answer.review));
  };

  // A plain request listener rather than express: every pod creation in the cluster waits on this
  // path, and express's routing and body parsing cost as much CPU per review as the injection
  // itself (bench/admission.ts: 0.8 ms against 0.45 ms per review, client included).
  const limit = opts.maxBodyBytes ?? 4 * 1024 * 1024;
  const health = { notReadyReason: () => (serving ? undefined : 'TLS not serving'), registry: metrics.registry };
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    const scope: AdmissionScope | undefined = path === POD_INJECT_PATH ? 'pod' : path === NAMESPACE_INJECT_PATH ? 'namespace' : undefined;
    if (serveHealth(health, req, res)) return;
    if (!scope) return text(res, 404, 'not found\n');
    if (req.method !== 'POST') return text(res, 405, 'use POST\n');
    // Read the body, bounded: the API server caps AdmissionReviews at 3 MiB.
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > limit) {
        metrics.admissions.inc({ result: 'invalid' });
        return text(res, 413, `request body over ${limit} bytes\n`);
      }
      let body: unknown;
      try {
        body = size === 0 ? undefined : JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
      } catch (err) {
        metrics.admissions.inc({ result: 'invalid' });
        return text(res, 400, `invalid JSON: ${(err as Error).message}\n`);
      }
      review(scope, body, res);
    });
    req.on('error', () => res.destroy());
  };

  const server = createServer({ cert: first.cert, key: first.key, minVersion: 'TLSv1.2' }, handle);
  server.keepAliveTimeout = 65_000; // the API server reuses connections
  opts.tls.onChange((pair) => {
    server.setSecureContext({ cert: pair.cert, key: pair.key, minVersion: 'TLSv1.2' });
    log.info('serving certificate reloaded');
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port, opts.host, () => {
      server.off('error', fail);
      ok();
    });
  });
  serving = true;
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `https://${host}:${address.port}`,
    ready: () => serving,
    close: () =>
      new Promise<void>((resolve) => {
        serving = false;
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
