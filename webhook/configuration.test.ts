import type { V1LabelSelectorRequirement, V1MutatingWebhook, V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  NAMESPACE_INJECT_PATH, NAMESPACE_WEBHOOK_NAME, POD_INJECT_PATH, POD_WEBHOOK_NAME, WEBHOOK_CONFIGURATION_NAME, webhookConfiguration,
} from './configuration.js';

const NS = 'chaperone-system';
const inCluster = { namespace: NS, service: { name: 'chaperone-webhook' } };

function entries(config: V1MutatingWebhookConfiguration): { pod: V1MutatingWebhook; namespace: V1MutatingWebhook } {
  expect(config.webhooks).toHaveLength(2);
  const [pod, namespace] = config.webhooks!;
  return { pod: pod!, namespace: namespace! };
}

const excluded = (ns = NS): V1LabelSelectorRequirement => ({
  key: 'kubernetes.io/metadata.name',
  operator: 'NotIn',
  values: ['kube-system', 'kube-public', 'kube-node-lease', ns],
});

describe('webhookConfiguration', () => {
  it('is a MutatingWebhookConfiguration named chaperone-webhook with the two entries, in order', () => {
    const config = webhookConfiguration(inCluster);
    expect(config.apiVersion).toBe('admissionregistration.k8s.io/v1');
    expect(config.kind).toBe('MutatingWebhookConfiguration');
    expect(config.metadata?.name).toBe(WEBHOOK_CONFIGURATION_NAME);
    expect(WEBHOOK_CONFIGURATION_NAME).toBe('chaperone-webhook');
    expect(config.metadata?.labels).toEqual({ 'app.kubernetes.io/name': 'chaperone', 'app.kubernetes.io/component': 'webhook' });
    expect(config.webhooks?.map((w) => w.name)).toEqual(['pods.inject.chaperone.dev', 'namespace.inject.chaperone.dev']);
    expect([POD_WEBHOOK_NAME, NAMESPACE_WEBHOOK_NAME]).toEqual(['pods.inject.chaperone.dev', 'namespace.inject.chaperone.dev']);
    expect([POD_INJECT_PATH, NAMESPACE_INJECT_PATH]).toEqual(['/inject', '/inject/namespace']);
  });

  it('takes another name', () => {
    expect(webhookConfiguration({ ...inCluster, name: 'chaperone-webhook-e2e' }).metadata?.name).toBe('chaperone-webhook-e2e');
  });

  it('gives both entries the contract’s common fields', () => {
    for (const webhook of webhookConfiguration(inCluster).webhooks!) {
      expect(webhook).toMatchObject({
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        timeoutSeconds: 5,
        matchPolicy: 'Equivalent',
        reinvocationPolicy: 'Never',
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
      });
    }
  });

  describe('clientConfig', () => {
    it('points at the Service in the namespace, port 443 by default, with each entry’s path', () => {
      const { pod, namespace } = entries(webhookConfiguration(inCluster));
      expect(pod.clientConfig).toEqual({ service: { name: 'chaperone-webhook', namespace: NS, port: 443, path: '/inject' } });
      expect(namespace.clientConfig).toEqual({ service: { name: 'chaperone-webhook', namespace: NS, port: 443, path: '/inject/namespace' } });
    });

    it('uses the Service port given', () => {
      const { pod } = entries(webhookConfiguration({ namespace: 'gov', service: { name: 'hook', port: 8443 } }));
      expect(pod.clientConfig.service).toEqual({ name: 'hook', namespace: 'gov', port: 8443, path: '/inject' });
    });

    it('points at a URL instead, the path appended (a trailing slash dropped)', () => {
      for (const url of ['https://127.0.0.1:14443', 'https://127.0.0.1:14443/']) {
        const { pod, namespace } = entries(webhookConfiguration({ namespace: NS, url }));
        expect(pod.clientConfig).toEqual({ url: 'https://127.0.0.1:14443/inject' });
        expect(namespace.clientConfig).toEqual({ url: 'https://127.0.0.1:14443/inject/namespace' });
      }
    });

    it('carries the caBundle in both entries when given, and none otherwise', () => {
      const caBundle = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64');
      for (const base of [inCluster, { namespace: NS, url: 'https://10.0.0.1:14443' }]) {
        for (const webhook of webhookConfiguration({ ...base, caBundle }).webhooks!) expect(webhook.clientConfig.caBundle).toBe(caBundle);
        for (const webhook of webhookConfiguration(base).webhooks!) expect(webhook.clientConfig).not.toHaveProperty('caBundle');
      }
    });

    it('requires exactly one of service and url', () => {
      expect(() => webhookConfiguration({ namespace: NS })).toThrow(/exactly one of service and url/);
      expect(() => webhookConfiguration({ namespace: NS, service: { name: 'chaperone-webhook' }, url: 'https://127.0.0.1:14443' })).toThrow(
        /exactly one of service and url/,
      );
      expect(() => webhookConfiguration({ namespace: NS, url: '' })).toThrow(/exactly one/);
    });
  });

  describe('failurePolicy', () => {
    it('is Ignore for both by default', () => {
      const { pod, namespace } = entries(webhookConfiguration(inCluster));
      expect(pod.failurePolicy).toBe('Ignore');
      expect(namespace.failurePolicy).toBe('Ignore');
    });

    it('is configurable for the namespace entry only: the pod entry stays Ignore', () => {
      const failing = entries(webhookConfiguration({ ...inCluster, namespaceFailurePolicy: 'Fail' }));
      expect(failing.namespace.failurePolicy).toBe('Fail');
      expect(failing.pod.failurePolicy).toBe('Ignore');
      expect(entries(webhookConfiguration({ ...inCluster, namespaceFailurePolicy: 'Ignore' })).namespace.failurePolicy).toBe('Ignore');
    });
  });

  describe('namespaceSelector', () => {
    it('excludes the system namespaces and Chaperone’s own; splits on the injection label', () => {
      const { pod, namespace } = entries(webhookConfiguration(inCluster));
      expect(pod.namespaceSelector).toEqual({
        matchExpressions: [excluded(), { key: 'chaperone.dev/injection', operator: 'NotIn', values: ['enabled'] }],
      });
      expect(namespace.namespaceSelector).toEqual({
        matchExpressions: [excluded(), { key: 'chaperone.dev/injection', operator: 'In', values: ['enabled'] }],
      });
      expect(pod.namespaceSelector).not.toHaveProperty('matchLabels');
    });

    it('excludes whichever namespace Chaperone runs in', () => {
      for (const webhook of webhookConfiguration({ namespace: 'governance', service: { name: 'chaperone-webhook' } }).webhooks!) {
        expect(webhook.namespaceSelector?.matchExpressions?.[0]).toEqual(excluded('governance'));
        expect(webhook.clientConfig.service?.namespace).toBe('governance');
      }
    });

    it('appends extra expressions to both entries, after the built-in ones', () => {
      const extra: V1LabelSelectorRequirement[] = [
        { key: 'team', operator: 'In', values: ['payments', 'search'] },
        { key: 'e2e-run', operator: 'Exists' },
      ];
      const { pod, namespace } = entries(webhookConfiguration({ ...inCluster, namespaceSelectorExpressions: extra }));
      for (const webhook of [pod, namespace]) {
        const expressions = webhook.namespaceSelector?.matchExpressions ?? [];
        expect(expressions).toHaveLength(4);
        expect(expressions[0]).toEqual(excluded());
        expect(expressions[1]?.key).toBe('chaperone.dev/injection');
        expect(expressions.slice(2)).toEqual(extra);
      }
    });

    it('shares no objects between the entries or with the caller (no aliasing, no YAML anchors)', () => {
      const extra: V1LabelSelectorRequirement[] = [{ key: 'team', operator: 'In', values: ['payments'] }];
      const config = webhookConfiguration({ ...inCluster, namespaceSelectorExpressions: extra });
      const { pod, namespace } = entries(config);
      pod.namespaceSelector!.matchExpressions![0]!.values!.push('team-x');
      pod.namespaceSelector!.matchExpressions![2]!.values!.push('team-y');
      expect(namespace.namespaceSelector?.matchExpressions?.[0]).toEqual(excluded());
      expect(namespace.namespaceSelector?.matchExpressions?.[2]).toEqual({ key: 'team', operator: 'In', values: ['payments'] });
      expect(extra).toEqual([{ key: 'team', operator: 'In', values: ['payments'] }]);

      const yaml = stringify(webhookConfiguration({ ...inCluster, namespaceSelectorExpressions: extra }));
      expect(yaml).not.toMatch(/&a\d|\*a\d/);
    });
  });

  describe('timeoutSeconds', () => {
    it.each([
      [undefined, 5],
      [1, 1],
      [3, 3],
      [10, 10],
      [11, 10],
      [30, 10],
    ])('%s gives %s in both entries', (timeoutSeconds, expected) => {
      for (const webhook of webhookConfiguration({ ...inCluster, timeoutSeconds }).webhooks!) expect(webhook.timeoutSeconds).toBe(expected);
    });
  });
});
