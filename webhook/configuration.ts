// The MutatingWebhookConfiguration, as a pure function of where the webhook listens. Two entries:
// pods that opt in by annotation (failurePolicy Ignore, always: an outage must not stop pods that
// merely asked), and pods in namespaces labelled for injection (failurePolicy configurable: Fail
// makes governance mandatory there). Both exclude the system namespaces and Chaperone's own by the
// immutable kubernetes.io/metadata.name label, so a broken webhook can never block them.
import type { V1LabelSelectorRequirement, V1MutatingWebhook, V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { INJECTION_ENABLED, INJECTION_LABEL, NEVER_INJECTED_NAMESPACES } from './names.js';

export const WEBHOOK_CONFIGURATION_NAME = 'chaperone-webhook';
export const POD_WEBHOOK_NAME = 'pods.inject.chaperone.dev';
export const NAMESPACE_WEBHOOK_NAME = 'namespace.inject.chaperone.dev';
export const POD_INJECT_PATH = '/inject';
export const NAMESPACE_INJECT_PATH = '/inject/namespace';

export interface WebhookConfigurationOptions {
  name?: string;
  /** Chaperone's own namespace (excluded, like the system namespaces). */
  namespace: string;
  /** In-cluster: the webhook Service. */
  service?: { name: string; port?: number };
  /** Out of cluster (tests, a webhook run by hand): the base URL, e.g. https://127.0.0.1:14443. */
  url?: string;
  caBundle?: string;
  namespaceFailurePolicy?: 'Ignore' | 'Fail';
  timeoutSeconds?: number;
  /** Further namespace conditions for both webhooks (e.g. only namespaces of one team, or of one test). */
  namespaceSelectorExpressions?: V1LabelSelectorRequirement[];
}

export function webhookConfiguration(opts: WebhookConfigurationOptions): V1MutatingWebhookConfiguration {
  if (!opts.service === !opts.url) throw new Error('webhookConfiguration: give exactly one of service and url');
  // Fresh objects per entry: shared ones would alias (a change to one entry changing the other) and
  // come out of a YAML serializer as anchors.
  const excluded = (): V1LabelSelectorRequirement => ({ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...NEVER_INJECTED_NAMESPACES, opts.namespace] });
  const entry = (name: string, path: string, failurePolicy: 'Ignore' | 'Fail', injection: 'In' | 'NotIn'): V1MutatingWebhook => ({
    name,
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    timeoutSeconds: Math.min(opts.timeoutSeconds ?? 5, 10),
    failurePolicy,
    matchPolicy: 'Equivalent',
    reinvocationPolicy: 'Never',
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
    namespaceSelector: {
      matchExpressions: [excluded(), { key: INJECTION_LABEL, operator: injection, values: [INJECTION_ENABLED] }, ...structuredClone(opts.namespaceSelectorExpressions ?? [])],
    },
    clientConfig: {
      ...(opts.service
        ? { service: { name: opts.service.name, namespace: opts.namespace, port: opts.service.port ?? 443, path } }
        : { url: `${opts.url!.replace(/\/$/, '')}${path}` }),
      ...(opts.caBundle ? { caBundle: opts.caBundle } : {}),
    },
  });
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: opts.name ?? WEBHOOK_CONFIGURATION_NAME, labels: { 'app.kubernetes.io/name': 'chaperone', 'app.kubernetes.io/component': 'webhook' } },
    webhooks: [
      entry(POD_WEBHOOK_NAME, POD_INJECT_PATH, 'Ignore', 'NotIn'),
      entry(NAMESPACE_WEBHOOK_NAME, NAMESPACE_INJECT_PATH, opts.namespaceFailurePolicy ?? 'Ignore', 'In'),
    ],
  };
}
