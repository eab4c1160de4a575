// `chaperone sidecar`: the proxy, in a pod or standalone.
import { CA_DIR } from '../api/pod-contract.js';
import { createLogger, runUntilSignal } from '../lib/logger.js';
import { intFlag, parseFlags, UsageError } from '../lib/cli.js';
import { VERSION } from '../lib/project.js';
import { SIDECAR_DEFAULTS, startSidecar } from '../sidecar/main.js';
import type { OpaqueTraffic } from '../sidecar/transparent.js';

export const SIDECAR_HELP = `Usage: chaperone sidecar [flags]

The proxy sidecar. In a pod it reads ${SIDECAR_DEFAULTS.configFile}, ${CA_DIR} and
${SIDECAR_DEFAULTS.podinfoDir}. Standalone, give --policy (and --ca-dir to intercept TLS).

Flags:
  --policy FILE            GovernancePolicy YAML (repeatable, multi-document allowed); standalone mode
  --ca-dir DIR             interception CA (tls.crt, tls.key); default ${CA_DIR} in a pod
  --config FILE            pod config file (default ${SIDECAR_DEFAULTS.configFile})
  --podinfo DIR            downward-API labels/annotations (default ${SIDECAR_DEFAULTS.podinfoDir})
  --listen HOST:PORT       proxy listener (default ${SIDECAR_DEFAULTS.listen})
  --transparent-port N     transparent capture: also accept the connections the pod's iptables rules
                           redirect (chaperone capture-init) on 127.0.0.1:N and [::1]:N; the injector
                           sets it for pods with chaperone.dev/capture: transparent
  --opaque-traffic MODE    captured traffic with no TLS server name and no HTTP Host: deny (default) |
                           egress (judged by the egress rules on its original destination, from conntrack)
  --admin HOST:PORT        admin listener: /healthz /readyz /metrics /status (default ${SIDECAR_DEFAULTS.admin})
  --resolve HOST=IP:PORT   send HOST's upstream traffic to IP:PORT, TLS still verifying HOST (repeatable)
  --upstream-ca FILE       trust this CA (PEM) for upstream TLS, besides the public roots
  --shared-limits-url URL  fleet-wide rate limits and budgets: keep the rate-limit buckets and spending
                           totals in this Redis (redis://HOST:PORT, or rediss://HOST:PORT for TLS),
                           shared by every replica; while it is away each policy's onStoreFailure
                           applies. Without it each sidecar counts on its own
  --shared-limits-username NAME
                           the store's ACL user (AUTH NAME PASSWORD), e.g. one per namespace limited
                           to its own keys; without it the default user
  --shared-limits-password-file FILE
                           the store's password (AUTH), read from FILE; never on the command line
  --shared-limits-ca FILE  trust this CA (PEM) for a rediss:// store, besides the public roots
  --admin-token-file FILE  bearer token for the admin calls that change state (a standalone sidecar's
                           approvals; /quitquitquit)
  --approvals-credentials DIR
                           keep approvals as ApprovalRequest objects, talking to the API server with the
                           token, ca.crt and namespace in DIR (Secret chaperone-sidecar-token, which only
                           the sidecar mounts); the injector sets it. Without it approvals stay in memory
                           and are decided on the admin port with the admin token
  --api-server URL         the API server for --approvals-credentials (default
                           https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT)
  --admin-tls              serve the admin port over HTTPS, with a certificate from the interception CA
                           (names localhost, 127.0.0.1, ::1 and $POD_IP); the injector sets it
  --max-body-bytes N       largest request body accepted (default ${SIDECAR_DEFAULTS.maxBodyBytes})
  --max-response-bytes N   largest whole JSON answer read from an inspected upstream; a larger one is
                           never buffered on: refused with 502, or checked on its first N bytes and
                           relayed (spec.intercept.largeAnswers: checkPrefix) (default ${SIDECAR_DEFAULTS.maxResponseBytes})
  --client-timeout-ms N    time a client may take to send a request, and an idle connection may stay silent (default ${SIDECAR_DEFAULTS.clientTimeoutMs})
  --connect-timeout-ms N   upstream connect timeout (default ${SIDECAR_DEFAULTS.connectTimeoutMs})
  --upstream-timeout-ms N  upstream time to headers and longest silence mid-body (default ${SIDECAR_DEFAULTS.upstreamTimeoutMs})
  --tunnel-idle-ms N       close tunnels idle this long (default ${SIDECAR_DEFAULTS.tunnelIdleMs})
  --drain-timeout-ms N     on SIGTERM, wait this long for calls in flight (default ${SIDECAR_DEFAULTS.drainTimeoutMs})
  --max-agent-labels N     distinct agent/model metric labels before "other" (default ${SIDECAR_DEFAULTS.maxAgentLabels})
`;

function opaqueTraffic(value: string | undefined): OpaqueTraffic {
  if (value === undefined) return SIDECAR_DEFAULTS.opaqueTraffic;
  if (value !== 'deny' && value !== 'egress') throw new UsageError(`--opaque-traffic ${value}: expected deny or egress`);
  return value;
}

export async function sidecarCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    policy: { type: 'string', multiple: true },
    'ca-dir': { type: 'string' },
    config: { type: 'string' },
    podinfo: { type: 'string' },
    listen: { type: 'string' },
    'transparent-port': { type: 'string' },
    'opaque-traffic': { type: 'string' },
    admin: { type: 'string' },
    resolve: { type: 'string', multiple: true },
    'upstream-ca': { type: 'string' },
    'shared-limits-url': { type: 'string' },
    'shared-limits-password-file': { type: 'string' },
    'shared-limits-username': { type: 'string' },
    'shared-limits-ca': { type: 'string' },
    'admin-token-file': { type: 'string' },
    'approvals-credentials': { type: 'string' },
    'api-server': { type: 'string' },
    'admin-tls': { type: 'boolean' },
    'max-body-bytes': { type: 'string' },
    'max-response-bytes': { type: 'string' },
    'client-timeout-ms': { type: 'string' },
    'connect-timeout-ms': { type: 'string' },
    'upstream-timeout-ms': { type: 'string' },
    'tunnel-idle-ms': { type: 'string' },
    'drain-timeout-ms': { type: 'string' },
    'max-agent-labels': { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(SIDECAR_HELP);
    return 0;
  }
  for (const flag of ['shared-limits-password-file', 'shared-limits-username', 'shared-limits-ca'] as const) {
    if (values[flag] && !values['shared-limits-url']) throw new UsageError(`--${flag} needs --shared-limits-url`);
  }
  const d = SIDECAR_DEFAULTS;
  const log = createLogger('sidecar');
  // POST /quitquitquit drains exactly as SIGTERM does (bound below, once the handler exists).
  let quit: () => void = () => {};
  const sidecar = await startSidecar(
    {
      listen: values.listen ?? d.listen,
      ...(values['transparent-port'] !== undefined ? { transparentPort: intFlag(values['transparent-port'], 'transparent-port', 0, 0) } : {}),
      opaqueTraffic: opaqueTraffic(values['opaque-traffic']),
      admin: values.admin ?? d.admin,
      policyFiles: values.policy ?? [],
      configFile: values.config ?? d.configFile,
      podinfoDir: values.podinfo ?? d.podinfoDir,
      ...(values['ca-dir'] ? { caDir: values['ca-dir'] } : {}),
      resolve: values.resolve ?? [],
      ...(values['upstream-ca'] ? { upstreamCaFile: values['upstream-ca'] } : {}),
      ...(values['shared-limits-url']
        ? {
            sharedLimits: {
              url: values['shared-limits-url'],
              ...(values['shared-limits-password-file'] ? { passwordFile: values['shared-limits-password-file'] } : {}),
              ...(values['shared-limits-username'] ? { username: values['shared-limits-username'] } : {}),
              ...(values['shared-limits-ca'] ? { caFile: values['shared-limits-ca'] } : {}),
            },
          }
        : {}),
      ...(values['admin-token-file'] ? { adminTokenFile: values['admin-token-file'] } : {}),
      ...(values['approvals-credentials'] ? { approvalsCredentials: values['approvals-credentials'] } : {}),
      ...(values['api-server'] ? { apiServer: values['api-server'] } : {}),
      maxBodyBytes: intFlag(values['max-body-bytes'], 'max-body-bytes', d.maxBodyBytes),
      maxResponseBytes: intFlag(values['max-response-bytes'], 'max-response-bytes', d.maxResponseBytes),
      clientTimeoutMs: intFlag(values['client-timeout-ms'], 'client-timeout-ms', d.clientTimeoutMs),
      connectTimeoutMs: intFlag(values['connect-timeout-ms'], 'connect-timeout-ms', d.connectTimeoutMs),
      upstreamTimeoutMs: intFlag(values['upstream-timeout-ms'], 'upstream-timeout-ms', d.upstreamTimeoutMs),
      tunnelIdleMs: intFlag(values['tunnel-idle-ms'], 'tunnel-idle-ms', d.tunnelIdleMs),
      drainTimeoutMs: intFlag(values['drain-timeout-ms'], 'drain-timeout-ms', d.drainTimeoutMs, 0),
      maxAgentLabels: intFlag(values['max-agent-labels'], 'max-agent-labels', d.maxAgentLabels),
      version: VERSION,
      onQuit: () => quit(),
      ...(values['admin-tls'] ? { adminTls: true } : {}),
    },
    log,
  );
  // SIGTERM (kubelet, Ctrl-C) or POST /quitquitquit: stop accepting, let calls in flight finish
  // (bounded), then exit. A repeated SIGTERM keeps draining; a second Ctrl-C means "now".
  return runUntilSignal(
    async () => {
      const clean = await sidecar.stop();
      log.info({ clean }, 'stopped');
    },
    log,
    { message: 'draining', expose: (trigger) => (quit = () => trigger('quitquitquit')) },
  );
}
