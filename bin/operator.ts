// `chaperone operator`: compiles GovernancePolicies into each namespace's sidecar config and CA,
// gives each governed namespace's sidecars their identity, and runs the ApprovalRequests' lifecycle.
import { UsageError, boolFlag, normaliseBoolFlag, parseFlags } from '../lib/cli.js';
import { createLogger, runUntilSignal } from '../lib/logger.js';
import { formatDuration, parseDuration } from '../operator/duration.js';
import { APPROVAL_NOTIFY_URL_ENV, OPERATOR_DEFAULTS, runOperator, type OperatorConfig } from '../operator/main.js';
import { MIN_TOKEN_TTL_MS } from '../operator/sidecar-identity.js';

export const OPERATOR_HELP = `Usage: chaperone operator [flags]

The cluster operator: per governed namespace, the ConfigMap chaperone-config (policies.yaml), the
Secret chaperone-ca, the ConfigMap chaperone-trust, and the sidecar's identity (ServiceAccount, Role
and RoleBinding chaperone-sidecar, a token in Secret chaperone-sidecar-token); per GovernancePolicy,
its status; per ApprovalRequest, its phase (Pending, Approved, Denied, Expired), Events on it and on
the agent's pod, expiry, notification and garbage collection.

Flags:
  --namespace NS          the operator's own namespace (never governed; holds the leader Lease)
                          (default ${OPERATOR_DEFAULTS.namespace})
  --health-addr HOST:PORT /healthz /readyz /metrics (default ${OPERATOR_DEFAULTS.healthAddr})
  --health-tls BOOL       serve them over HTTPS with a self-signed certificate (default ${OPERATOR_DEFAULTS.healthTls})
  --leader-elect BOOL     elect a leader with a Lease, so replicas are safe (default ${OPERATOR_DEFAULTS.leaderElection})
  --kubeconfig FILE       cluster to talk to (default $KUBECONFIG, ~/.kube/config, else in-cluster)
  --identity ID           leader-election identity (default $POD_NAME, else hostname + random suffix)
  --sidecar-token-ttl DURATION
                          lifetime of the token minted for each namespace's chaperone-sidecar
                          ServiceAccount, re-minted when half of it is left; at least 10m
                          (default ${formatDuration(OPERATOR_DEFAULTS.sidecarTokenTtlMs)})
  --approval-retention DURATION
                          keep Approved, Denied, Expired and Used ApprovalRequests this long after
                          their last transition, then delete them (default ${formatDuration(OPERATOR_DEFAULTS.approvalRetentionMs)})
  --approval-notify-url URL
                          POST a JSON message (Slack-compatible "text", plus "approvalRequest") for
                          every new pending ApprovalRequest; 5 s timeout, never retried
                          (default $${APPROVAL_NOTIFY_URL_ENV}, else none)

DURATION: 24h, 90m, 1h30m, 45s.
`;

function durationFlag(value: string | undefined, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (ms === undefined || ms < min) throw new UsageError(`--${name} ${value}: expected a duration of at least ${formatDuration(min)} (e.g. 24h, 90m)`);
  return ms;
}

function notifyUrl(value: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const from = value !== undefined ? '--approval-notify-url' : APPROVAL_NOTIFY_URL_ENV;
  const text = (value ?? env[APPROVAL_NOTIFY_URL_ENV] ?? '').trim();
  if (!text) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    // reported below
  }
  // Never echo the value: chat webhook URLs carry their secret.
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new UsageError(`${from}: expected an http:// or https:// URL`);
  return text;
}

/** The command line (and $CHAPERONE_APPROVAL_NOTIFY_URL) as the operator's configuration; undefined for --help. */
export function operatorConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): OperatorConfig | undefined {
  const args = normaliseBoolFlag(normaliseBoolFlag(argv, '--leader-elect'), '--health-tls');
  const { values } = parseFlags(args, {
    namespace: { type: 'string' },
    'health-addr': { type: 'string' },
    'health-tls': { type: 'string' },
    'leader-elect': { type: 'string' },
    kubeconfig: { type: 'string' },
    identity: { type: 'string' },
    'sidecar-token-ttl': { type: 'string' },
    'approval-retention': { type: 'string' },
    'approval-notify-url': { type: 'string' },
  });
  if (values.help) return undefined;
  const approvalNotifyUrl = notifyUrl(values['approval-notify-url'], env);
  return {
    namespace: values.namespace ?? OPERATOR_DEFAULTS.namespace,
    healthAddr: values['health-addr'] ?? OPERATOR_DEFAULTS.healthAddr,
    healthTls: boolFlag(values['health-tls'], 'health-tls', OPERATOR_DEFAULTS.healthTls),
    leaderElection: boolFlag(values['leader-elect'], 'leader-elect', OPERATOR_DEFAULTS.leaderElection),
    ...(values.kubeconfig ? { kubeconfigFile: values.kubeconfig } : {}),
    ...(values.identity ? { identity: values.identity } : {}),
    sidecarTokenTtlMs: durationFlag(values['sidecar-token-ttl'], 'sidecar-token-ttl', OPERATOR_DEFAULTS.sidecarTokenTtlMs, MIN_TOKEN_TTL_MS),
    approvalRetentionMs: durationFlag(values['approval-retention'], 'approval-retention', OPERATOR_DEFAULTS.approvalRetentionMs, 1_000),
    ...(approvalNotifyUrl ? { approvalNotifyUrl } : {}),
  };
}

export async function operatorCommand(argv: string[]): Promise<number> {
  const config = operatorConfig(argv);
  if (!config) {
    process.stdout.write(OPERATOR_HELP);
    return 0;
  }
  const log = createLogger('operator');
  const operator = await runOperator(config, log);
  const { address, port } = operator.healthAddress;
  log.info({ health: `${config.healthTls ? 'https' : 'http'}://${address}:${port}` }, 'operator started');
  return runUntilSignal(() => operator.stop(), log);
}
