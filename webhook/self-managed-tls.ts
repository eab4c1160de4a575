// Self-managed webhook TLS, after vault-k8s: the serving certificate lives in a Secret in
// Chaperone's namespace. Any replica creates it when it is missing (creation is atomic: one wins);
// only the leader renews it and keeps the MutatingWebhookConfiguration's caBundle equal to its CAs.
// Every replica re-reads the Secret on a timer and serves the new certificate without a restart.
// Order on renewal: the caBundle gains a new CA before any replica can serve a leaf from it.
import { AdmissionregistrationV1Api, CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { applyObject, isConflict, isNotFound } from '../lib/kube.js';
import type { Logger } from '../lib/logger.js';
import { PairHolder } from './tls-source.js';
import { createServingBundle, renewServingBundle, renewalReason, type ServingBundle } from './serving-cert.js';

export const FIELD_MANAGER = 'chaperone-webhook';
const KEYS = ['ca.crt', 'ca.key', 'tls.crt', 'tls.key'] as const;

export interface SelfManagedTlsOptions {
  kubeconfig: KubeConfig;
  namespace: string;
  secretName: string;
  /** The MutatingWebhookConfiguration whose webhooks get our caBundle. */
  webhookConfigName: string;
  /** Names the certificate must carry (servingNames()). */
  names: readonly string[];
  validityMs: number;
  /** How often to re-read the Secret (and, as leader, check renewal and the caBundle). */
  refreshMs: number;
  isLeader: () => boolean;
  log: Logger;
  now?: () => Date;
}

function decode(secret: V1Secret): ServingBundle | undefined {
  const data = secret.data ?? {};
  if (!KEYS.every((k) => typeof data[k] === 'string' && data[k] !== '')) return undefined;
  return Object.fromEntries(KEYS.map((k) => [k, Buffer.from(data[k]!, 'base64').toString('utf8')])) as unknown as ServingBundle;
}

function encode(bundle: ServingBundle): Record<string, string> {
  return Object.fromEntries(KEYS.map((k) => [k, Buffer.from(bundle[k]).toString('base64')]));
}

export class SelfManagedTls extends PairHolder {
  private readonly core: CoreV1Api;
  private readonly admission: AdmissionregistrationV1Api;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly opts: SelfManagedTlsOptions) {
    super();
    this.core = opts.kubeconfig.makeApiClient(CoreV1Api);
    this.admission = opts.kubeconfig.makeApiClient(AdmissionregistrationV1Api);
  }

  async start(): Promise<void> {
    await this.sync();
    this.timer = setInterval(() => void this.sync().catch((err: Error) => this.opts.log.warn({ err: err.message }, 'webhook TLS sync failed')), this.opts.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One pass: read (or create) the Secret; as leader renew it and fix the caBundle; serve what it holds. */
  sync(): Promise<void> {
    // Never two passes at once (a slow API server and a short refresh interval).
    return (this.running ??= this.pass().finally(() => (this.running = undefined)));
  }

  private async pass(): Promise<void> {
    const { namespace, secretName: name } = this.opts;
    const now = (this.opts.now ?? (() => new Date()))();
    let secret = await this.core.readNamespacedSecret({ name, namespace }).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (!secret) secret = await this.create();
    let bundle = decode(secret);

    if (this.opts.isLeader()) {
      const reason = bundle ? renewalReason(bundle, this.opts.names, now) : 'Secret incomplete';
      if (reason) {
        const next = bundle ? await renewServingBundle(bundle, this.opts.names, this.opts.validityMs, now) : await createServingBundle(this.opts.names, this.opts.validityMs);
        // Trust first, then the new certificate: the API server must never see a leaf it cannot verify.
        await this.ensureCaBundle(next['ca.crt']);
        try {
          secret = await this.core.replaceNamespacedSecret({ name, namespace, body: { ...secret, data: encode(next) } });
          bundle = next;
          this.opts.log.info({ reason }, 'webhook serving certificate renewed');
        } catch (err) {
          if (!isConflict(err)) throw err;
          return; // someone else wrote it first: take theirs on the next pass
        }
      } else if (bundle) {
        await this.ensureCaBundle(bundle['ca.crt']);
      }
    }
    if (bundle) this.offer({ cert: bundle['tls.crt'], key: bundle['tls.key'] });
  }

  private async create(): Promise<V1Secret> {
    const { namespace, secretName: name } = this.opts;
    const bundle = await createServingBundle(this.opts.names, this.opts.validityMs);
    try {
      const created = await this.core.createNamespacedSecret({
        namespace,
        body: {
          apiVersion: 'v1',
          kind: 'Secret',
          type: 'kubernetes.io/tls',
          metadata: { name, namespace, labels: { 'app.kubernetes.io/name': 'chaperone', 'app.kubernetes.io/component': 'webhook' } },
          data: encode(bundle),
        },
      });
      this.opts.log.info({ secret: `${namespace}/${name}` }, 'webhook serving certificate created');
      return created;
    } catch (err) {
      if (!isConflict(err)) throw err;
      return this.core.readNamespacedSecret({ name, namespace }); // another replica won the race
    }
  }

  /** Every webhook in our configuration trusts exactly `caPem` (server-side apply of caBundle only). */
  private async ensureCaBundle(caPem: string): Promise<void> {
    const caBundle = Buffer.from(caPem).toString('base64');
    const config = await this.admission.readMutatingWebhookConfiguration({ name: this.opts.webhookConfigName }).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (!config) {
      this.opts.log.warn({ name: this.opts.webhookConfigName }, 'MutatingWebhookConfiguration not found; caBundle not set');
      return;
    }
    const webhooks = config.webhooks ?? [];
    if (webhooks.every((w) => w.clientConfig.caBundle === caBundle)) return;
    await applyObject(
      this.opts.kubeconfig,
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingWebhookConfiguration',
        metadata: { name: this.opts.webhookConfigName },
        webhooks: webhooks.map((w) => ({ name: w.name, clientConfig: { caBundle } })),
      } as never,
      FIELD_MANAGER,
    );
    this.opts.log.info({ name: this.opts.webhookConfigName, webhooks: webhooks.length }, 'caBundle updated');
  }
}
