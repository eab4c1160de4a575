// `chaperone operator` wiring: defaults, the kubeconfig and the identity, then the controller.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from '../lib/kube.js';
import type { Logger } from '../lib/logger.js';
import { startOperator, type Operator } from './controller.js';

export const OPERATOR_DEFAULTS = Object.freeze({
  namespace: 'chaperone-system',
  /** /healthz /readyz /metrics; next to the sidecar's admin port 14090. */
  healthAddr: '0.0.0.0:14091',
  leaderElection: true,
});

export interface OperatorConfig {
  namespace: string;
  healthAddr: string;
  leaderElection: boolean;
  /** A kubeconfig file; default $KUBECONFIG, ~/.kube/config, else in-cluster. */
  kubeconfigFile?: string;
  /** Leader-election identity; default $POD_NAME, else hostname plus a random suffix. */
  identity?: string;
}

export function loadOperatorKubeConfig(file?: string): KubeConfig {
  if (!file) return loadKubeConfig();
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  if (!kc.getCurrentCluster()) throw new Error(`${file}: no current cluster`);
  return kc;
}

export function defaultIdentity(): string {
  return process.env.POD_NAME || `${hostname()}-${randomBytes(3).toString('hex')}`;
}

export function runOperator(config: OperatorConfig, log: Logger): Promise<Operator> {
  return startOperator({
    kubeconfig: loadOperatorKubeConfig(config.kubeconfigFile),
    namespace: config.namespace,
    healthAddr: config.healthAddr,
    leaderElection: config.leaderElection,
    identity: config.identity ?? defaultIdentity(),
    log,
  });
}
