// The admin port (14090): health, readiness, metrics, a status page, and a standalone sidecar's
// approvals. It listens on the pod IP so kubelet probes and Prometheus reach it.
// - Approvals here exist only for a standalone sidecar (in-memory store), and every approvals call
//   needs the bearer token from --admin-token-file: a process that shares the sidecar's loopback
//   (the agent itself) must not approve its own calls. In a pod, approvals are ApprovalRequest
//   objects decided with kubectl, and these routes answer 404 saying so.
// - POST /quitquitquit needs the token when one is set, else must come from loopback (the app asks).
// - GET /status needs the token when one is set (it lists agents, session ids and spend), else is
//   open like /healthz, /readyz and /metrics, which are always open (probes and Prometheus).
import { timingSafeEqual } from 'node:crypto';
import express, { type Express, type Request, type Response } from 'express';
import { serveHealth } from '../lib/health-endpoints.js';
import { MemoryApprovals } from './approvals/memory.js';
import type { ApprovalStore } from './approvals/store.js';
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
  /** More sections for /status (it may read a store: awaited). */
  extraStatus?: () => Record<string, unknown> | Promise<Record<string, unknown>>;
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

  const health = { notReadyReason: state.notReadyReason, registry: state.metrics.registry, ...(state.beforeScrape ? { beforeScrape: state.beforeScrape } : {}) };
  app.use((req, res, next) => {
    if (!serveHealth(health, req, res)) next();
  });

  // It names agents, session ids and spend: with a token configured, only its holder reads it.
  app.get('/status', async (req, res) => {
    if (state.adminToken && !authorised(req, state.adminToken)) return void deny(res, state.adminToken);
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
      ...(state.approvals instanceof MemoryApprovals ? { approvalsPending: state.approvals.pendingCount() } : { approvals: 'ApprovalRequest objects' }),
      ...((await state.extraStatus?.()) ?? {}),
    });
  });

  // Reading the list needs the same right as deciding: it shows tool arguments.
  app.use('/approvals', (req, res, next) => {
    const store = state.approvals;
    if (!(store instanceof MemoryApprovals)) {
      return void res.status(404).json({ error: 'approvals are ApprovalRequest objects in the pod\'s namespace: kubectl chaperone list, kubectl chaperone approve NAME' });
    }
    if (!state.adminToken) return void res.status(403).json({ error: 'approvals on the admin port need --admin-token-file' });
    if (!authorised(req, state.adminToken)) return void deny(res, state.adminToken);
    res.locals.store = store;
    next();
  });

  app.get('/approvals', (_req, res) => {
    res.json({ approvals: (res.locals.store as MemoryApprovals).list() });
  });

  app.get('/approvals/:id', (req, res) => {
    const view = (res.locals.store as MemoryApprovals).get(req.params.id);
    if (!view) return void res.status(404).json({ error: `no approval ${req.params.id}` });
    res.json(view);
  });

  // Who decided is the token's holder: no header names an approver.
  app.post('/approvals/:id/:verdict', (req, res) => {
    const { id, verdict } = req.params;
    if (verdict !== 'approve' && verdict !== 'deny') return void res.status(404).json({ error: 'use /approvals/{id}/approve or /approvals/{id}/deny' });
    const result = (res.locals.store as MemoryApprovals).decide(id, verdict === 'approve', 'admin-token');
    if (!result.ok) return void res.status(result.status).json({ error: result.error });
    res.json(result.view);
  });

  // Job pods on clusters without native sidecars: the app asks the proxy to leave when it is done,
  // so the pod can complete (the injector gives such apps CHAPERONE_QUIT_URL).
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
