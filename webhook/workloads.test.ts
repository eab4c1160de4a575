import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { UsageError } from '../lib/cli.js';
import { defaultInjectionSettings } from './settings.js';
import { injectManifests, injectObject } from './workloads.js';

const SETTINGS = defaultInjectionSettings({ version: '0.0.0-test', image: 'chaperone:test' });

const podSpec = () => ({ containers: [{ name: 'app', image: 'app:1' }] });
const template = (annotations: Record<string, string> = {}) => ({ metadata: { labels: { app: 'web' }, annotations }, spec: podSpec() });
const workload = (kind: string, apiVersion: string, spec: Record<string, unknown>, namespace?: string) => ({
  apiVersion, kind, metadata: { name: 'web', ...(namespace ? { namespace } : {}) }, spec,
});

const podAt = (value: unknown, path: string[]): V1Pod =>
  path.reduce<unknown>((v, key) => (v as Record<string, unknown> | undefined)?.[key], value) as V1Pod;
const TEMPLATE = ['spec', 'template'];

describe('injectObject', () => {
  it.each<[string, Record<string, unknown>, string[]]>([
    ['Pod', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' }, spec: podSpec() }, []],
    ['Deployment', workload('Deployment', 'apps/v1', { replicas: 2, template: template() }), TEMPLATE],
    ['StatefulSet', workload('StatefulSet', 'apps/v1', { serviceName: 'web', template: template() }), TEMPLATE],
    ['DaemonSet', workload('DaemonSet', 'apps/v1', { template: template() }), TEMPLATE],
    ['ReplicaSet', workload('ReplicaSet', 'apps/v1', { template: template() }), TEMPLATE],
    ['Job', workload('Job', 'batch/v1', { backoffLimit: 1, template: { ...template(), spec: { ...podSpec(), restartPolicy: 'Never' } } }), TEMPLATE],
    ['CronJob', workload('CronJob', 'batch/v1', { schedule: '@daily', jobTemplate: { spec: { template: template() } } }), ['spec', 'jobTemplate', 'spec', 'template']],
  ])('injects the pod template of a %s and changes nothing else', (_kind, object, path) => {
    const original = structuredClone(object);
    const { object: out, notes } = injectObject(object, SETTINGS, 'default');
    expect(object).toEqual(original);
    expect(notes).toEqual([]);
    const pod = podAt(out, path);
    expect(pod.spec?.initContainers?.map((c) => c.name)).toEqual(['chaperone-proxy']);
    expect(pod.metadata?.labels?.['chaperone.dev/injected']).toBe('true');
    expect(pod.metadata?.annotations?.['chaperone.dev/status']).toBeDefined();
    // The pod template gets no namespace; the object around it is as it was.
    expect(pod.metadata?.namespace).toBeUndefined();
    if (path.length > 0) expect({ ...(out as object), spec: undefined }).toEqual({ ...original, spec: undefined });
  });

  it('passes other kinds and non-objects through untouched', () => {
    for (const object of [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { template: template() } }, { kind: 'constructor' }, 'text', 42, null]) {
      expect(injectObject(object, SETTINGS, 'default')).toEqual({ object, notes: [] });
    }
  });

  it('injects the items of a v1 List', () => {
    const list = { apiVersion: 'v1', kind: 'List', items: [
      workload('Deployment', 'apps/v1', { template: template() }),
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '1' } },
      workload('DaemonSet', 'apps/v1', { template: template({ 'chaperone.dev/inject': 'false' }) }),
    ] };
    const { object, notes } = injectObject(list, SETTINGS, 'default');
    const items = (object as { items: unknown[] }).items;
    expect(podAt(items[0], TEMPLATE).spec?.initContainers?.[0]?.name).toBe('chaperone-proxy');
    expect(items[1]).toEqual(list.items[1]);
    expect(items[2]).toEqual(list.items[2]);
    expect(notes).toEqual(['DaemonSet/web: skipped: opted out with chaperone.dev/inject: "false"']);
  });

  it('takes the namespace from the object, else the one given', () => {
    const deployment = (ns?: string) => workload('Deployment', 'apps/v1', { template: template() }, ns);
    expect(injectObject(deployment('kube-system'), SETTINGS, 'agents').notes).toEqual(['Deployment/web: skipped: namespace kube-system is never injected']);
    expect(injectObject(deployment(), SETTINGS, 'kube-system').notes).toEqual(['Deployment/web: skipped: namespace kube-system is never injected']);
    expect(injectObject(deployment('agents'), SETTINGS, 'kube-system').notes).toEqual([]);
  });

  it('names the object in warnings and in a missing template', () => {
    const job = workload('Job', 'batch/v1', { template: { ...template(), spec: { ...podSpec(), restartPolicy: 'Never' } } });
    expect(injectObject(job, { ...SETTINGS, nativeSidecars: 'off' }, 'default').notes).toEqual([
      'Job/web: warning: restartPolicy Never without native sidecars: the pod completes only after the app POSTs to $CHAPERONE_QUIT_URL',
    ]);
    expect(injectObject({ kind: 'CronJob', metadata: {}, spec: { schedule: '@daily' } }, SETTINGS, 'default').notes).toEqual([
      'CronJob/(unnamed): skipped: no pod template at spec.jobTemplate.spec.template',
    ]);
  });
});

describe('injectManifests', () => {
  const text = `# a comment
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {template: {metadata: {labels: {app: web}}, spec: {containers: [{name: app, image: app:1}]}}}
---
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
`;

  it('writes one document per non-empty input document', () => {
    const { yaml, notes } = injectManifests(text, 'in.yaml', SETTINGS, 'default');
    expect(notes).toEqual([]);
    const docs = parseAllDocuments(yaml).map((d) => d.toJS() as { kind: string });
    expect(docs.map((d) => d.kind)).toEqual(['Deployment', 'Service']);
    expect(podAt(docs[0], TEMPLATE).spec?.initContainers?.[0]?.name).toBe('chaperone-proxy');
    expect(docs[1]).toEqual({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { ports: [{ port: 80 }] } });
  });

  it('gives the same text when run on its own output', () => {
    const once = injectManifests(text, 'in.yaml', SETTINGS, 'default').yaml;
    expect(injectManifests(once, 'in.yaml', SETTINGS, 'default').yaml).toBe(once);
  });

  it('keeps the status annotation on one line', () => {
    const { yaml } = injectManifests(text, 'in.yaml', SETTINGS, 'default');
    expect(yaml).toMatch(/^ {8}chaperone\.dev\/status: '\{"version":"0\.0\.0-test",.*\}'$/m);
  });

  it.each([
    ['kind: Pod\n---\nmetadata: {name: [unclosed\n', /^in\.yaml: document 2: /],
    ['a: &x [1]\nb: *y\n', /^in\.yaml: document 1: /],
  ])('names the document that does not parse', (bad, message) => {
    expect(() => injectManifests(bad, 'in.yaml', SETTINGS, 'default')).toThrow(UsageError);
    expect(() => injectManifests(bad, 'in.yaml', SETTINGS, 'default')).toThrow(message);
  });
});
