// `chaperone operator` wiring: defaults, the kubeconfig and the identity, then the controller.
import { loadKubeConfig } from '../lib/kube.js';
import { defaultIdentity } from '../lib/leader-election.js';
import type { Logger } from '../lib/logger.js';
import { startOperator, type Operator } from './controller.js';

export const OPERATOR_DEFAULTS = Object.freeze({
  namespace: 'chaperone-system',
  /** /healthz /readyz /metrics; next to the sidecar's admin port 14090. */
  healthAddr: '0.0.0.0:14091',
  /** HTTPS with a self-signed certificate (probes and scrapes do not verify it). */
  healthTls: true,
  leaderElection: true,
  /** Lifetime of the sidecar tokens (re-minted at half-life). */
  sidecarTokenTtlMs: 24 * 60 * 60_000,
  /** How long decided, expired and used ApprovalRequests are kept. */
  approvalRetentionMs: 24 * 60 * 60_000,
});

/** Where the approval notification URL comes from when --approval-notify-url is not given (a Secret, in the chart). */
export const APPROVAL_NOTIFY_URL_ENV = 'CHAPERONE_APPROVAL_NOTIFY_URL';

export interface OperatorConfig {
  namespace: string;
  healthAddr: string;
  healthTls: boolean;
  leaderElection: boolean;
  /** A kubeconfig file; default $KUBECONFIG, ~/.kube/config, else in-cluster. */
  kubeconfigFile?: string;
  /** Leader-election identity; default $POD_NAME, else hostname plus a random suffix. */
  identity?: string;
  sidecarTokenTtlMs: number;
  approvalRetentionMs: number;
  /** POST a JSON message for every new pending ApprovalRequest. */
  approvalNotifyUrl?: string;
}

export function runOperator(config: OperatorConfig, log: Logger): Promise<Operator> {
  return startOperator({
    kubeconfig: loadKubeConfig(config.kubeconfigFile),
    namespace: config.namespace,
    healthAddr: config.healthAddr,
    healthTls: config.healthTls,
    leaderElection: config.leaderElection,
    identity: config.identity ?? defaultIdentity(),
    sidecarTokenTtlMs: config.sidecarTokenTtlMs,
    approvalRetentionMs: config.approvalRetentionMs,
    ...(config.approvalNotifyUrl ? { approvalNotifyUrl: config.approvalNotifyUrl } : {}),
    log,
  });
}
