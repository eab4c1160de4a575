// Wires the sidecar together: config source, CA, upstream pool, pipeline, proxy and admin listeners.
import type { AddressInfo, Server as NetServer } from 'node:net';
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { ADMIN_PORT, CA_DIR, CONFIG_FILE, PODINFO_DIR, PROXY_HOST, PROXY_PORT } from '../api/pod-contract.js';
import { createAuditLogger, createLogger, type Logger } from '../lib/logger.js';
import { splitHostPort } from '../lib/cli.js';
import { policyKey } from '../api/index.js';
import { createAdminApp } from './admin.js';
import { KubernetesApprovals } from './approvals/kubernetes.js';
import { MemoryApprovals } from './approvals/memory.js';
import { ToolPins } from './tool-pins/book.js';
import { KubernetesToolPins } from './tool-pins/kubernetes.js';
import { MemoryToolPins } from './tool-pins/memory.js';
import { AgentStats, Audit } from './audit.js';
import { ConfigSource } from './config.js';
import type { DataPath } from './data-path.js';
import { LeafCertificates } from './leaf-certificates.js';
import { createAdminTlsServer, type AdminTls } from './admin-tls.js';
import { SidecarMetrics } from './metrics.js';
import { Pipeline } from './policy/pipeline.js';
import { createChecks } from './policy/checks.js';
import { createProxy, type Proxy } from './proxy.js';
import { createTransparentListener, type OpaqueTraffic } from './transparent.js';
import { parseResolve, Upstream } from './upstream.js';
import { displayUrl, SharedLimitStore, storeOptionsFromFlags } from './shared-limits/store.js';
import { fleetSpend, StoreSpendLedger } from './shared-limits/spend-ledger.js';


export interface SidecarOptions {
  listen: string;
  /** Transparent capture: the loopback port the pod's iptables rules redirect to (127.0.0.1 and ::1). */
  transparentPort?: number;
  /** Captured traffic with no TLS server name and no HTTP Host: denied, or judged by egress on its original destination. */
  opaqueTraffic: OpaqueTraffic;
  /** Where the original destination of captured connections is read (conntrack). */
  conntrackFile?: string;
  admin: string;
  /** Standalone: GovernancePolicy files. Empty: pod mode (configFile + podinfoDir). */
  policyFiles: string[];
  configFile: string;
  podinfoDir: string;
  caDir?: string;
  resolve: string[];
  upstreamCaFile?: string;
  adminTokenFile?: string;
  /** Approvals as ApprovalRequest objects, with the credentials in this directory (token, ca.crt, namespace). */
  approvalsCredentials?: string;
  /** The API server for approvalsCredentials (default: the in-cluster KUBERNETES_SERVICE_HOST/PORT). */
  apiServer?: string;
  maxBodyBytes: number;
  /** The largest whole JSON answer from an inspected upstream; larger ones are refused (502). */
  maxResponseBytes: number;
  clientTimeoutMs: number;
  connectTimeoutMs: number;
  upstreamTimeoutMs: number;
  tunnelIdleMs: number;
  drainTimeoutMs: number;
  maxAgentLabels: number;
  version: string;
  /** Called on POST /quitquitquit (the caller drains and exits); without it the route answers 404. */
  onQuit?: () => void;
  /** Serve the admin port over HTTPS with a certificate from the interception CA (in a pod). */
  adminTls?: boolean;
  /** Fleet-wide rate limits: the shared counter store (redis:// or rediss://), its password file and CA. */
  sharedLimits?: { url: string; username?: string; passwordFile?: string; caFile?: string };
}

export const SIDECAR_DEFAULTS: Omit<SidecarOptions, 'policyFiles' | 'resolve' | 'version'> = {
  listen: `${PROXY_HOST}:${PROXY_PORT}`,
  opaqueTraffic: 'deny',
  admin: `0.0.0.0:${ADMIN_PORT}`,
  configFile: CONFIG_FILE,
  podinfoDir: PODINFO_DIR,
  maxBodyBytes: 10 * 1024 * 1024,
  maxResponseBytes: 32 * 1024 * 1024,
  clientTimeoutMs: 60_000,
  connectTimeoutMs: 10_000,
  upstreamTimeoutMs: 300_000,
  tunnelIdleMs: 600_000,
  drainTimeoutMs: 20_000,
  maxAgentLabels: 100,
};

export interface RunningSidecar {
  proxyUrl: string;
  adminUrl: string;
  /** The transparent listeners' addresses (tcp://127.0.0.1:PORT, tcp://[::1]:PORT), when capturing. */
  transparent: string[];
  /** Drains in-flight calls (bounded), then closes everything. True when nothing was cut off. */
  stop(): Promise<boolean>;
}

export async function startSidecar(options: SidecarOptions, log: Logger = createLogger('sidecar')): Promise<RunningSidecar> {
  const standalone = options.policyFiles.length > 0;
  const caDir = options.caDir ?? (standalone ? undefined : CA_DIR);
  const metrics = new SidecarMetrics(options.maxAgentLabels);
  const stats = new AgentStats(options.maxAgentLabels);
  const certs = new LeafCertificates();
  let lastReloadError: string | undefined;
  let adminTls: AdminTls | undefined;

  const config = new ConfigSource(
    { policyFiles: options.policyFiles, configFile: options.configFile, podinfoDir: options.podinfoDir, ...(caDir ? { caDir } : {}) },
    (result, snapshot) => {
      if (result.result === 'unchanged') return;
      metrics.configReloads.inc({ result: result.result });
      if (result.result === 'error') {
        lastReloadError = result.error;
        log.error({ reason: result.error, keeping: snapshot?.hash ?? null }, 'configuration rejected; keeping the previous one');
        return;
      }
      lastReloadError = undefined;
      certs.useCa(snapshot?.ca);
      adminTls?.useCa(snapshot?.ca).catch((err: Error) => log.error({ err: err.message }, 'admin certificate not renewed'));
      metrics.policiesLoaded.set(snapshot?.policies.length ?? 0);
      log.info(
        { hash: snapshot?.hash, policies: snapshot?.policies.map((p) => `${p.metadata.namespace}/${p.metadata.name}`), ca: snapshot?.ca !== undefined },
        'configuration loaded',
      );
    },
  );

  const resolve = new Map(options.resolve.map(parseResolve));
  const upstream = new Upstream({
    resolve,
    ...(options.upstreamCaFile ? { extraCaPem: await readFile(options.upstreamCaFile, 'utf8') } : {}),
    connectTimeoutMs: options.connectTimeoutMs,
    responseTimeoutMs: options.upstreamTimeoutMs,
  });

  // Approvals and tool pins are objects in the pod's namespace, reached with the sidecar's own token.
  const inCluster = options.approvalsCredentials
    ? {
        credentialsDir: options.approvalsCredentials,
        server: options.apiServer ?? inClusterServer(),
        pod: { name: process.env.POD_NAME, uid: process.env.POD_UID, serviceAccount: process.env.POD_SERVICE_ACCOUNT },
      }
    : undefined;
  const approvals = inCluster ? new KubernetesApprovals(inCluster) : new MemoryApprovals();
  const pinStore = inCluster ? new KubernetesToolPins(inCluster) : new MemoryToolPins();
  const toolPins = new ToolPins(pinStore, { onDrift: (kind, tools) => metrics.toolPinChanges.inc({ kind }, tools) });
  const adminToken = options.adminTokenFile ? (await readFile(options.adminTokenFile, 'utf8')).trim() : undefined;
  if (options.adminTokenFile && !adminToken) throw new Error(`--admin-token-file ${options.adminTokenFile} is empty`);
  // Fleet-wide rate limits: the store connects in the background; until it answers, and whenever it
  // is away, each policy's rateLimits.onStoreFailure applies (policy/shared-limits.ts).
  let store: SharedLimitStore | undefined;
  let ledger: StoreSpendLedger | undefined;
  if (options.sharedLimits) {
    const storeOptions = await storeOptionsFromFlags(options.sharedLimits);
    const shown = displayUrl(options.sharedLimits.url);
    metrics.enableSharedLimits();
    let lastLogged = 0;
    store = new SharedLimitStore({
      ...storeOptions,
      onState: (up) => {
        metrics.sharedLimitsUp.set(up ? 1 : 0);
        if (up) {
          log.info({ store: shown }, 'shared limits store connected');
          // Budget charges made while it was away.
          void ledger?.flush();
        } else log.warn({ store: shown }, 'shared limits store unavailable; rate limits and budgets follow their onStoreFailure');
      },
      onError: (err) => {
        metrics.sharedLimitsErrors.inc();
        // A store that is away fails every reconnect attempt: log at most every 10 s.
        if (Date.now() - lastLogged > 10_000) {
          lastLogged = Date.now();
          log.warn({ store: shown, err: err.message }, 'shared limits store error');
        }
      },
    });
    ledger = new StoreSpendLedger(store);
    store.start();
  }
  // No onError here: the store's own onError above already counts every failed command (once).
  const checks = createChecks(undefined, store && ledger ? { shared: { store }, ledger } : {});
  const dp: DataPath = {
    maxBodyBytes: options.maxBodyBytes,
    maxResponseBytes: options.maxResponseBytes,
    snapshot: () => config.current(),
    upstream,
    pipeline: new Pipeline(checks.all),
    approvals,
    toolPins,
    metrics,
    audit: new Audit(createAuditLogger('sidecar')),
    stats,
    log,
    draining: false,
  };

  const first = await config.reload();
  // Standalone, a policy file that does not load is a usage error: say so and stop. In a pod the
  // ConfigMap may simply not be there yet: stay unready and keep watching.
  if (standalone && first.result === 'error') {
    await upstream.close();
    throw new Error(first.error);
  }
  config.watch();

  const proxy: Proxy = createProxy(dp, certs, {
    clientTimeoutMs: options.clientTimeoutMs,
    keepAliveMs: 60_000,
    tunnelIdleMs: options.tunnelIdleMs,
  });
  const admin = createAdminApp({
    snapshot: () => config.current(),
    notReadyReason: () => {
      if (dp.draining) return 'draining';
      if (!config.current()) return `configuration not loaded${lastReloadError ? `: ${lastReloadError}` : ''}`;
      if (caDir && !certs.enabled) return 'interception CA not loaded';
      // Only failClosed refuses calls while the store is away: then the pod is truly not serving.
      if (!store || store.up) return undefined;
      const closed = config.current()?.policies.find((p) => p.spec.rateLimits?.onStoreFailure === 'failClosed' || p.spec.budget?.onStoreFailure === 'failClosed');
      if (!closed) return undefined;
      const section = closed.spec.rateLimits?.onStoreFailure === 'failClosed' ? 'rateLimits' : 'budget';
      return `shared limits store unavailable (policy ${policyKey(closed)} has ${section}.onStoreFailure: failClosed)`;
    },
    metrics,
    stats,
    version: options.version,
    startedAt: new Date(),
    lastReloadError: () => lastReloadError,
    approvals,
    ...(adminToken ? { adminToken } : {}),
    extraStatus: async () => ({
      ...checks.status(),
      ...(store && ledger && options.sharedLimits
        ? {
            sharedLimits: {
              store: displayUrl(options.sharedLimits.url),
              up: store.up,
              ...(store.up ? {} : { reason: `unavailable${store.lastError ? `: ${store.lastError}` : ''}; rate limits and budgets follow each policy's onStoreFailure (default local)` }),
              ...(ledger.pendingCharges > 0 ? { pendingCharges: ledger.pendingCharges } : {}),
            },
            fleetSpend: await fleetSpend(ledger, config.current()?.policies ?? []),
          }
        : {}),
    }),
    ...(options.onQuit ? { quit: options.onQuit } : {}),
    // Gauges that follow state kept elsewhere are brought up to date when Prometheus scrapes.
    beforeScrape: () => {
      checks.refreshGauges({ circuitOpen: metrics.circuitOpen, budgetSpent: metrics.budgetSpent, agentLabel: (agent) => metrics.agents.value(agent) });
    },
  });


  const proxyAddr = splitHostPort(options.listen, '--listen');
  const adminAddr = splitHostPort(options.admin, '--admin');
  await listen(proxy.server, proxyAddr.host, proxyAddr.port);
  // Loopback only: the pod's own redirected connections, never another pod's (on the pod IP).
  const transparent: NetServer[] = [];
  if (options.transparentPort !== undefined) {
    for (const host of ['127.0.0.1', '::1']) {
      const listener = createTransparentListener(proxy.gate, { opaqueTraffic: options.opaqueTraffic, ...(options.conntrackFile ? { conntrackFile: options.conntrackFile } : {}) });
      try {
        await listen(listener, host, options.transparentPort);
        transparent.push(listener);
        proxy.gate.transparentPorts.add((listener.address() as AddressInfo).port);
      } catch (err) {
        // A pod without IPv6 has no ::1; IPv4 must work.
        if (host === '127.0.0.1' || (err as NodeJS.ErrnoException).code !== 'EADDRNOTAVAIL') throw err;
      }
    }
  }
  if (options.adminTls) {
    adminTls = await createAdminTlsServer(admin);
    await adminTls.useCa(config.current()?.ca);
  }
  const adminServer = adminTls ? adminTls.server.listen(adminAddr.port, adminAddr.host) : admin.listen(adminAddr.port, adminAddr.host);
  await new Promise<void>((ok, fail) => adminServer.once('listening', ok).once('error', fail));

  const url = (s: Server | NetServer, scheme = 'http'): string => {
    const a = s.address() as AddressInfo;
    return `${scheme}://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  };
  const proxyUrl = url(proxy.server);
  const adminUrl = url(adminServer, adminTls ? 'https' : 'http');
  const transparentAt = transparent.map((t) => url(t, 'tcp'));
  log.info({ proxy: proxyUrl, admin: adminUrl, transparent: transparentAt, mode: standalone ? 'standalone' : 'pod', caDir: caDir ?? null }, 'sidecar listening');

  let stopping: Promise<boolean> | undefined;
  return {
    proxyUrl,
    adminUrl,
    transparent: transparentAt,
    stop: () =>
      (stopping ??= (async () => {
        const clean = await proxy.drain(options.drainTimeoutMs, transparent);
        config.close();
        adminServer.close();
        adminServer.closeAllConnections();
        await upstream.close().catch(() => {});
        await store?.close();
        if (approvals instanceof KubernetesApprovals) await approvals.close().catch(() => {});
        if (pinStore instanceof KubernetesToolPins) await pinStore.close().catch(() => {});
        return clean;
      })()),
  };
}

/** The API server as a pod sees it (the kubelet sets these two in every container). */
function inClusterServer(): string {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) throw new Error('--approvals-credentials needs --api-server or KUBERNETES_SERVICE_HOST');
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function listen(server: Server | NetServer, host: string, port: number): Promise<void> {
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      ok();
    });
  });
}
