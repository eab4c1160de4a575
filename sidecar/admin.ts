// The admin port (14090): health, readiness, metrics, a status page, and approvals. It listens on
// the pod IP so kubelet probes and Prometheus reach it; the only calls that change state (approve,
// deny) need the bearer token from --admin-token-file, or, without one, must come from loopback.
import { timingSafeEqual } from 'node:crypto';
import express, { type Express, type Request, type Response } from 'express';
import { describeApproval, type ApprovalStore } from './approvals.js';
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
  approvals: ApprovalStore;
  /** The admin bearer token, when one is configured. */
  adminToken?: string;
  /** Extra status sections from stateful checks (spend, circuits). */
  extraStatus?: () => Record<string, unknown>;
  /** Brings gauges that mirror state kept elsewhere up to date. */
  beforeScrape?: () => void;
  /** Drain and exit (POST /quitquitquit): how a Job pod without native sidecars completes. */
  quit?: () => void;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** May this request change state? Token when configured (constant-time compare), else loopback. */
function authorised(req: Request, token: string | undefined): boolean {
  if (!token) return LOOPBACK.has(req.socket.remoteAddress ?? '');
  const given = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
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
    state.beforeScrape?.();
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
      approvalsPending: state.approvals.pendingCount(),
      ...(state.extraStatus?.() ?? {}),
    });
  });

  // Reading the list needs the same right as deciding: it shows tool arguments.
  app.get('/approvals', (req, res) => {
    if (!authorised(req, state.adminToken)) return void deny(res, state.adminToken);
    res.json({ approvals: state.approvals.list().map((a) => describeApproval(a, state.approvals)) });
  });

  app.get('/approvals/:id', (req, res) => {
    if (!authorised(req, state.adminToken)) return void deny(res, state.adminToken);
    const a = state.approvals.get(req.params.id);
    if (!a) return void res.status(404).json({ error: `no approval ${req.params.id}` });
    res.json(describeApproval(a, state.approvals));
  });

  app.post('/approvals/:id/:verdict', (req, res) => {
    if (!authorised(req, state.adminToken)) return void deny(res, state.adminToken);
    const { id, verdict } = req.params;
    if (verdict !== 'approve' && verdict !== 'deny') return void res.status(404).json({ error: 'use /approvals/{id}/approve or /approvals/{id}/deny' });
    const by = String(req.headers['x-chaperone-approver'] ?? (state.adminToken ? 'token' : 'loopback'));
    const result = state.approvals.decide(id, verdict === 'approve', by);
    if ('error' in result) return void res.status(result.status).json({ error: result.error });
    res.json(describeApproval(result, state.approvals));
  });

  // Job pods on clusters without native sidecars: the app asks the proxy to leave when it is done,
  // so the pod can complete (the injector gives such apps CHAPERONE_QUIT_URL). Same right as approvals.
  app.post('/quitquitquit', (req, res) => {
    if (!authorised(req, state.adminToken)) return void deny(res, state.adminToken);
    if (!state.quit) return void res.status(404).json({ error: 'quitting is not enabled' });
    res.type('text/plain').send('draining\n');
    state.quit();
  });

  return app;
}

function deny(res: Response, token: string | undefined): void {
  res
    .status(token ? 401 : 403)
    .json({ error: token ? 'a valid bearer token is required (--admin-token-file)' : 'this call is only accepted from loopback when no admin token is configured' });
}
