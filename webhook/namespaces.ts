// The namespaces' labels, watched: a namespace's default capture mode (chaperone.dev/capture) and
// its Pod Security level decide how its pods are injected, and an admission request carries
// neither. Read-only (namespaces get/list/watch). Until the first list arrives, or when a
// namespace is not known yet, the answer is undefined and the pod gets the webhook's defaults.
import { CoreV1Api, makeInformer, type KubeConfig, type V1Namespace } from '@kubernetes/client-node';
import type { Logger } from '../lib/logger.js';

export interface NamespaceLabels {
  labels(namespace: string): Readonly<Record<string, string>> | undefined;
  stop(): void;
}

export function watchNamespaceLabels(kc: KubeConfig, log: Logger): NamespaceLabels {
  const api = kc.makeApiClient(CoreV1Api);
  const informer = makeInformer<V1Namespace>(kc, '/api/v1/namespaces', () => api.listNamespace());
  let stopped = false;
  let failures = 0;
  informer.on('connect', () => (failures = 0));
  // The informer stops on an error other than 410 Gone: list and watch again, with backoff.
  informer.on('error', (err: unknown) => {
    if (stopped) return;
    const delay = Math.min(200 * 2 ** failures++, 30_000);
    log.warn({ err: String(err), retryInMs: delay }, 'namespace watch failed; relisting');
    setTimeout(() => void (stopped ? undefined : informer.start().catch(() => undefined)), delay);
  });
  void informer.start().catch(() => undefined);
  return {
    labels: (namespace) => informer.get(namespace)?.metadata?.labels,
    stop: () => {
      stopped = true;
      void informer.stop();
    },
  };
}
