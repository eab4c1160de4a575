// `chaperone operator`: compiles GovernancePolicies into each namespace's sidecar config and CA.
import { UsageError, parseFlags } from '../lib/cli.js';
import { createLogger } from '../lib/logger.js';
import { OPERATOR_DEFAULTS, runOperator } from '../operator/main.js';

export const OPERATOR_HELP = `Usage: chaperone operator [flags]

The cluster operator: per governed namespace, the ConfigMap chaperone-config (policies.yaml), the
Secret chaperone-ca and the ConfigMap chaperone-trust; per GovernancePolicy, its status.

Flags:
  --namespace NS          the operator's own namespace (never governed; holds the leader Lease)
                          (default ${OPERATOR_DEFAULTS.namespace})
  --health-addr HOST:PORT /healthz /readyz /metrics (default ${OPERATOR_DEFAULTS.healthAddr})
  --leader-elect BOOL     elect a leader with a Lease, so replicas are safe (default ${OPERATOR_DEFAULTS.leaderElection})
  --kubeconfig FILE       cluster to talk to (default $KUBECONFIG, ~/.kube/config, else in-cluster)
  --identity ID           leader-election identity (default $POD_NAME, else hostname + random suffix)
`;

function boolFlag(value: string | undefined, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new UsageError(`--${name} ${value}: expected true or false`);
}

export async function operatorCommand(argv: string[]): Promise<number> {
  // --leader-elect alone means true; --leader-elect=false (or --leader-elect false) turns it off.
  const args = argv.flatMap((a, i) => {
    if (a !== '--leader-elect') return [a];
    const next = argv[i + 1];
    return next === 'true' || next === 'false' ? [a] : ['--leader-elect=true'];
  });
  const { values } = parseFlags(args, {
    namespace: { type: 'string' },
    'health-addr': { type: 'string' },
    'leader-elect': { type: 'string' },
    kubeconfig: { type: 'string' },
    identity: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(OPERATOR_HELP);
    return 0;
  }
  const log = createLogger('operator');
  const operator = await runOperator(
    {
      namespace: values.namespace ?? OPERATOR_DEFAULTS.namespace,
      healthAddr: values['health-addr'] ?? OPERATOR_DEFAULTS.healthAddr,
      leaderElection: boolFlag(values['leader-elect'], 'leader-elect', OPERATOR_DEFAULTS.leaderElection),
      ...(values.kubeconfig ? { kubeconfigFile: values.kubeconfig } : {}),
      ...(values.identity ? { identity: values.identity } : {}),
    },
    log,
  );
  log.info({ health: operator.healthAddress }, 'operator started');
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        if (signal === 'SIGINT') process.exit(130);
        return;
      }
      stopping = true;
      log.info({ signal }, 'stopping');
      void operator.stop().then(
        () => log.flush(() => process.exit(0)),
        () => log.flush(() => process.exit(1)),
      );
      resolve(0);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
