// The webhook's HTTPS server: /inject and /inject/namespace (AdmissionReview v1), /healthz, /readyz
// and /metrics, all on one TLS port. It starts listening only once a certificate is there, and a new
// certificate replaces the old one in place (setSecureContext): connections already open keep theirs.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
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

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.get('/healthz', (_req, res) => void res.type('text/plain').send('ok\n'));
  app.get('/readyz', (_req, res) => void (serving ? res.type('text/plain').send('ready\n') : res.status(503).type('text/plain').send('not ready: TLS not serving\n')));
  app.get('/metrics', async (_req, res) => void res.type(metrics.registry.contentType).send(await metrics.registry.metrics()));

  const review = (scope: AdmissionScope) => (req: Request, res: Response) => {
    const started = process.hrtime.bigint();
    const answer = admit(req.body, scope, opts.settings());
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.admissions.inc({ result: answer.result });
    metrics.admissionDuration.observe({ result: answer.result }, seconds);
    if (answer.status === 400) {
      log.warn({ reason: answer.message }, 'malformed AdmissionReview');
      return void res.status(400).type('text/plain').send(`${answer.message}\n`);
    }
    const line = { pod: answer.pod, scope, result: answer.result, detail: answer.detail, ms: Math.round(seconds * 1e5) / 100 };
    if (answer.result === 'error') log.error(line, 'injection failed; pod admitted without the sidecar');
    else if (answer.result === 'injected') log.info(line, 'admission');
    else log.debug(line, 'admission');
    res.json(answer.review);
  };
  const json = express.json({ limit: opts.maxBodyBytes ?? 4 * 1024 * 1024, type: () => true });
  app.post(POD_INJECT_PATH, json, review('pod'));
  app.post(NAMESPACE_INJECT_PATH, json, review('namespace'));
  // Body-parser errors (bad JSON, too large) are the caller's: a 4xx with the reason, counted as invalid.
  app.use((err: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status < 500) metrics.admissions.inc({ result: 'invalid' });
    res.status(status).type('text/plain').send(`${status < 500 ? err.message : 'internal error'}\n`);
  });

  const server = createServer({ cert: first.cert, key: first.key, minVersion: 'TLSv1.2' }, app);
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
