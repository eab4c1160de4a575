// `chaperone webhook` wiring: settings (with the cluster's native-sidecar support read from its
// version), the serving certificate's source, leader election for the one who renews it, the server.
import { VersionApi, type KubeConfig } from '@kubernetes/client-node';
import { kubernetesLease } from '../lib/kubernetes-lease.js';
import { LeaderElector } from '../lib/leader-election.js';
import type { Logger } from '../lib/logger.js';
import { WEBHOOK_CONFIGURATION_NAME } from './configuration.js';
import { createWebhookMetrics, type WebhookMetrics } from './metrics.js';
import { SelfManagedTls } from './self-managed-tls.js';
import { watchNamespaceLabels } from './namespaces.js';
import { startWebhookServer } from './server.js';
import { servingExpiry, servingNames } from './serving-cert.js';
import { nativeSidecarsSupported, type InjectionSettings } from './settings.js';
import { FileTlsSource, type TlsSource } from './tls-source.js';

export const WEBHOOK_DEFAULTS = Object.freeze({
  listen: '0.0.0.0:14443',
  namespace: 'chaperone-system',
  service: 'chaperone-webhook',
  webhookConfig: WEBHOOK_CONFIGURATION_NAME,
  tlsSecret: 'chaperone-webhook-tls',
  certValiditySeconds: 90 * 24 * 3600,
  leaderElection: true,
  refreshMs: 30_000,
});
export const LEASE_NAME = 'chaperone-webhook';

export interface WebhookConfig {
  host: string;
  port: number;
  namespace: string;
  service: string;
  webhookConfig: string;
  /** Self-managed TLS in this Secret, unless certFile/keyFile are given (cert-manager). */
  tlsSecret: string;
  certFile?: string;
  keyFile?: string;
  extraNames: string[];
  certValiditySeconds: number;
  leaderElection: boolean;
  identity: string;
  /** How often TLS material is re-read (and, as leader, renewed and the caBundle checked). */
  refreshMs: number;
  /** The settings before the cluster's native-sidecar support is known. */
  settings: InjectionSettings;
  kubeconfig: KubeConfig;
}

export interface RunningWebhook {
  url: string;
  metrics: WebhookMetrics;
  settings: InjectionSettings;
  stop(): Promise<void>;
}

/** Asks the API server its version; on failure, assumes no native sidecars (works everywhere). */
async function clusterHasNativeSidecars(kc: KubeConfig, log: Logger): Promise<boolean> {
  try {
    const version = await kc.makeApiClient(VersionApi).getCode();
    return nativeSidecarsSupported(version.gitVersion);
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'cannot read the cluster version; assuming no native sidecars');
    return false;
  }
}

export async function runWebhook(config: WebhookConfig, log: Logger): Promise<RunningWebhook> {
  const metrics = createWebhookMetrics();
  const settings: InjectionSettings = {
    ...config.settings,
    ownNamespace: config.namespace,
    clusterSupportsNativeSidecars: config.settings.nativeSidecars === 'auto' ? await clusterHasNativeSidecars(config.kubeconfig, log) : config.settings.clusterSupportsNativeSidecars,
  };

  // With self-managed TLS, one leader renews the certificate and keeps the caBundle.
  let leading = !config.leaderElection;
  const selfManaged =
    config.certFile && config.keyFile
      ? undefined
      : new SelfManagedTls({
          kubeconfig: config.kubeconfig,
          namespace: config.namespace,
          secretName: config.tlsSecret,
          webhookConfigName: config.webhookConfig,
          names: servingNames(config.service, config.namespace, config.extraNames),
          validityMs: config.certValiditySeconds * 1000,
          refreshMs: config.refreshMs,
          isLeader: () => leading,
          log,
        });
  const tls: TlsSource =
    selfManaged ?? new FileTlsSource(config.certFile!, config.keyFile!, config.refreshMs, (err) => log.warn({ err: err.message }, 'reading the TLS files failed'));
  const elector =
    config.leaderElection
      ? new LeaderElector(kubernetesLease(config.kubeconfig, config.namespace, LEASE_NAME), {
          identity: config.identity,
          onStartedLeading: () => {
            leading = true;
            log.info('leading: keeping the serving certificate and caBundle');
            // Renew or fix the caBundle now rather than at the next refresh.
            void selfManaged?.sync().catch((err: Error) => log.warn({ err: err.message }, 'webhook TLS sync failed'));
          },
          onStoppedLeading: () => {
            leading = false;
          },
          onError: (err) => log.warn({ err: (err as Error).message }, 'leader election'),
        })
      : undefined;

  const recordExpiry = (cert: string): void => {
    const expiry = servingExpiry(cert);
    if (expiry) metrics.certificateExpiry.set(expiry.getTime() / 1000);
  };
  tls.onChange((pair) => recordExpiry(pair.cert));
  elector?.start();
  await tls.start();
  const namespaces = watchNamespaceLabels(config.kubeconfig, log);
  const server = await startWebhookServer({ host: config.host, port: config.port, tls, settings: () => settings, namespaceLabels: namespaces.labels, metrics, log });
  log.info({ url: server.url, native: settings.clusterSupportsNativeSidecars, tls: config.certFile ? 'files' : `secret ${config.tlsSecret}` }, 'webhook serving');

  return {
    url: server.url,
    metrics,
    settings,
    stop: async () => {
      tls.stop();
      namespaces.stop();
      await elector?.stop();
      await server.close();
    },
  };
}
