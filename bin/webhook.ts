// `chaperone webhook`: the mutating admission webhook that injects the sidecar.
import { boolFlag, intFlag, normaliseBoolFlag, parseFlags, splitHostPort, UsageError } from '../lib/cli.js';
import { createLogger, runUntilSignal } from '../lib/logger.js';
import { loadKubeConfig } from '../lib/kube.js';
import { defaultIdentity } from '../lib/leader-election.js';
import { LEASE_NAME, WEBHOOK_DEFAULTS, runWebhook } from '../webhook/main.js';
import { SETTINGS_FLAGS, defaultInjectionSettings, settingsFlagsHelp, settingsFromFlags } from '../webhook/settings.js';

const d = WEBHOOK_DEFAULTS;
export const WEBHOOK_HELP = `Usage: chaperone webhook [flags]

The mutating admission webhook: injects the chaperone-proxy sidecar and the CA mount into pods that
opt in (annotation chaperone.dev/inject: "true", or namespace label chaperone.dev/injection: enabled).
One HTTPS port serves /inject, /inject/namespace, /healthz, /readyz and /metrics.

Flags:
  --listen HOST:PORT            HTTPS listener (default ${d.listen})
  --namespace NS                Chaperone's namespace: never injected; holds the TLS Secret and the Lease (default ${d.namespace})
  --service NAME                the webhook's Service, for the certificate's names (default ${d.service})
  --webhook-config NAME         MutatingWebhookConfiguration whose caBundle the leader keeps in step (default ${d.webhookConfig})
  --tls-secret NAME             self-managed TLS: CA and serving certificate in this Secret (default ${d.tlsSecret})
  --tls-cert-file FILE          use this certificate instead (cert-manager); re-read when it changes
  --tls-key-file FILE           its key
  --tls-san NAME                extra DNS name or IP address for the self-managed certificate (repeatable)
  --cert-validity-seconds N     self-managed certificate lifetime; renewed when a third remains (default ${d.certValiditySeconds})
  --tls-refresh-ms N            how often TLS material is re-read and checked (default ${d.refreshMs})
  --leader-elect BOOL           elect a leader (Lease ${LEASE_NAME}) to renew the certificate (default ${d.leaderElection})
  --kubeconfig FILE             cluster to talk to (default $KUBECONFIG, ~/.kube/config, else in-cluster)
  --identity ID                 leader-election identity (default $POD_NAME, else hostname + random suffix)
What is injected:
${settingsFlagsHelp()}`;

export async function webhookCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(normaliseBoolFlag(argv, '--leader-elect'), {
    listen: { type: 'string' },
    namespace: { type: 'string' },
    service: { type: 'string' },
    'webhook-config': { type: 'string' },
    'tls-secret': { type: 'string' },
    'tls-cert-file': { type: 'string' },
    'tls-key-file': { type: 'string' },
    'tls-san': { type: 'string', multiple: true },
    'cert-validity-seconds': { type: 'string' },
    'tls-refresh-ms': { type: 'string' },
    'leader-elect': { type: 'string' },
    kubeconfig: { type: 'string' },
    identity: { type: 'string' },
    ...SETTINGS_FLAGS,
  });
  if (values.help) {
    process.stdout.write(WEBHOOK_HELP);
    return 0;
  }
  if (!values['tls-cert-file'] !== !values['tls-key-file']) throw new UsageError('--tls-cert-file and --tls-key-file go together');
  const { host, port } = splitHostPort(values.listen ?? d.listen, '--listen');
  const log = createLogger('webhook');
  const webhook = await runWebhook(
    {
      host,
      port,
      namespace: values.namespace ?? d.namespace,
      service: values.service ?? d.service,
      webhookConfig: values['webhook-config'] ?? d.webhookConfig,
      tlsSecret: values['tls-secret'] ?? d.tlsSecret,
      ...(values['tls-cert-file'] ? { certFile: values['tls-cert-file'], keyFile: values['tls-key-file']! } : {}),
      extraNames: values['tls-san'] ?? [],
      certValiditySeconds: intFlag(values['cert-validity-seconds'], 'cert-validity-seconds', d.certValiditySeconds, 10),
      refreshMs: intFlag(values['tls-refresh-ms'], 'tls-refresh-ms', d.refreshMs, 100),
      leaderElection: boolFlag(values['leader-elect'], 'leader-elect', d.leaderElection),
      identity: values.identity ?? defaultIdentity(),
      settings: settingsFromFlags(values, defaultInjectionSettings()),
      kubeconfig: loadKubeConfig(values.kubeconfig),
    },
    log,
  );
  return runUntilSignal(() => webhook.stop(), log);
}
