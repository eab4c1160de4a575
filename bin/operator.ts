// `chaperone operator`: compiles GovernancePolicies into each namespace's sidecar config and CA.
import { boolFlag, normaliseBoolFlag, parseFlags } from '../lib/cli.js';
import { createLogger, runUntilSignal } from '../lib/logger.js';
import { OPERATOR_DEFAULTS, runOperator } from '../operator/main.js';

export const OPERATOR_HELP = `Usage: chaperone operator [flags]

The cluster operator: per governed namespace, the ConfigMap chaperone-config (policies.yaml), the
Secret chaperone-ca and the ConfigMap chaperone-trust; per GovernancePolicy, its status.

Flags:
  --namespace NS          the operator's own namespace (never governed; holds the leader Lease)
                          (default ${OPERATOR_DEFAULTS.namespace})
  --health-addr HOST:PORT /healthz /readyz /metrics (default ${OPERATOR_DEFAULTS.healthAddr})
  --health-tls BOOL       serve them over HTTPS with a self-signed certificate (default ${OPERATOR_DEFAULTS.healthTls})
  --leader-elect BOOL     elect a leader with a Lease, so replicas are safe (default ${OPERATOR_DEFAULTS.leaderElection})
  --kubeconfig FILE       cluster to talk to (default $KUBECONFIG, ~/.kube/config, else in-cluster)
  --identity ID           leader-election identity (default $POD_NAME, else hostname + random suffix)
`;

export async function operatorCommand(argv: string[]): Promise<number> {
  const args = normaliseBoolFlag(normaliseBoolFlag(argv, '--leader-elect'), '--health-tls');
  const { values } = parseFlags(args, {
    namespace: { type: 'string' },
    'health-addr': { type: 'string' },
    'health-tls': { type: 'string' },
    'leader-elect': { type: 'string' },
    kubeconfig: { type: 'string' },
    identity: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(OPERATOR_HELP);
    return 0;
  }
  const healthTls = boolFlag(values['health-tls'], 'health-tls', OPERATOR_DEFAULTS.healthTls);
  const log = createLogger('operator');
  const operator = await runOperator(
    {
      namespace: values.namespace ?? OPERATOR_DEFAULTS.namespace,
      healthAddr: values['health-addr'] ?? OPERATOR_DEFAULTS.healthAddr,
      healthTls,
      leaderElection: boolFlag(values['leader-elect'], 'leader-elect', OPERATOR_DEFAULTS.leaderElection),
      ...(values.kubeconfig ? { kubeconfigFile: values.kubeconfig } : {}),
      ...(values.identity ? { identity: values.identity } : {}),
    },
    log,
  );
  const { address, port } = operator.healthAddress;
  log.info({ health: `${healthTls ? 'https' : 'http'}://${address}:${port}` }, 'operator started');
  return runUntilSignal(() => operator.stop(), log);
}
