// The admin port (14090): health, readiness, metrics and a status page. Listens on the pod IP so
// kubelet probes and Prometheus reach it; nothing here changes state (approvals come later, guarded
// by the admin token).
import express, { type Express } from 'express';
import type { AgentStats } from './audit.js';
import type { ConfigSnapshot } from './config.js';
import type { SidecarMetrics } from './metrics.js';

export interface AdminState {
  snapshot(): ConfigSnapshot | undefined;
  /** Why the sidecar is not ready, or undefined when it is. */
  notReadyReason(): string | undefined;
  metrics: SidecarMetrics;
  stats: AgentStats;
  version: string;
  startedAt: Date;
  lastReloadError(): string | undefined;
}

export function createAdminApp(state: AdminState): Express {
  const app = express();
  app.disable('x-powered-by');

  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });

  app.get('/readyz', (_req, res) => {
    const reason = state.notReadyReason();
    if (reason) res.status(503).type('text/plain').send(`not ready: ${reason}\n`);
    else res.type('text/plain').send('ready\n');
  });

  app.get('/metrics', async (_req, res) => {
    res.type(state.metrics.registry.contentType).send(await state.metrics.registry.metrics());
  });

  app.get('/status', (_req, res) => {
    const snapshot = state.snapshot();
    res.json({
      version: state.version,
      startedAt: state.startedAt.toISOString(),
      ready: state.notReadyReason() === undefined,
      config: snapshot
        ? {
            hash: snapshot.hash,
            loadedAt: snapshot.loadedAt.toISOString(),
            podAgent: snapshot.podAgent ?? null,
            interceptHosts: snapshot.interceptHosts,
            caLoaded: snapshot.ca !== undefined,
            lastReloadError: state.lastReloadError() ?? null,
          }
        : null,
      policies: (snapshot?.policies ?? []).map((p) => ({
        namespace: p.metadata.namespace,
        name: p.metadata.name,
        generation: p.metadata.generation ?? null,
        mode: p.spec.mode,
      })),
      agents: state.stats.snapshot(),
    });
  });

  return app;
}
