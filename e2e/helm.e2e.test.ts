// The Helm chart (charts/chaperone) with real helm built from its Go module: lint, the schema, what
// `helm template` renders with default and alternative values, every rendered object accepted by the
// real API server (`kubectl apply --dry-run=server`), and `helm install` / `upgrade` / `uninstall` in a
// fresh namespace leaving nothing behind.
//
// The local control plane has no kubelet or scheduler: pods never run, so installs use --wait=false and
// nothing waits for readiness (the chart's `helm test` pod is rendered and dry-run, not run).
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  V1ClusterRole,
  V1ConfigMap,
  V1Container,
  V1Deployment,
  V1MutatingWebhookConfiguration,
  V1PodDisruptionBudget,
  V1Pod,
  V1PodSpec,
  V1PolicyRule,
  V1Role,
  V1Service,
  V1ServiceAccount,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMap, parse as parseYaml, parseDocument, type Scalar, type YAMLMap } from 'yaml';
import { OPERATOR_HELP } from '../bin/operator.js';
import { WEBHOOK_HELP } from '../bin/webhook.js';
import { PROJECT_ROOT, VERSION } from '../lib/project.js';
import { createCa } from '../lib/x509.js';
import { approvalAdmissionObjects, serviceAccountUser } from '../api/approval-admission.js';
import { webhookConfiguration } from '../webhook/configuration.js';
import { CHART_DIR, helm, helmBinary, helmOk, parseManifests, renderChart, valuesFile, type Manifest } from './harness/helm.js';
import { installCrd, kubectl, kubectlOk } from './harness/kubectl.js';

const ID = randomBytes(3).toString('hex');
/** Server-side dry runs render into this namespace (it must exist for namespaced objects). */
const NS_DRY = `chaperone-e2e-helm-dry-${ID}`;
const NS_INSTALL = `chaperone-e2e-helm-${ID}`;
const POLL = { timeout: 60_000, interval: 500 };

/** Every toggle flipped away from its default, in one values set. */
const ALTERNATIVE = {
  webhook: {
    failurePolicy: 'Fail',
    priorityClassName: 'chaperone-critical',
    certManager: { enabled: true },
    namespaceSelector: { matchExpressions: [{ key: 'environment', operator: 'NotIn', values: ['prod'] }] },
    tls: { extraSans: ['webhook.example.com', '10.1.2.3'] },
  },
  sidecar: {
    nativeSidecars: 'off',
    image: { repository: 'registry.example.com/chaperone', tag: 'custom', pullPolicy: 'Always' },
    resources: { requests: { cpu: '100m', memory: '96Mi' }, limits: { cpu: 2, memory: '1Gi' } },
  },
  metrics: { serviceMonitor: { enabled: true, labels: { release: 'prometheus' } }, podMonitor: { enabled: true } },
  operator: { priorityClassName: 'chaperone-critical', extraArgs: ['--identity', 'x'] },
};

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
}

const byKind = <T = Manifest>(objs: Manifest[], kind: string): T[] => objs.filter((o) => o.kind === kind) as unknown as T[];
function one<T = Manifest>(objs: Manifest[], kind: string, name?: string): T {
  const found = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.map((o) => o.metadata.name).join(', ') || 'none'}`);
  return found[0] as unknown as T;
}
const podSpec = (d: V1Deployment): V1PodSpec => d.spec!.template.spec!;
const container = (d: V1Deployment): V1Container => podSpec(d).containers[0]!;
/** The value after a flag in an args list (flags are given as separate words). */
function flag(args: string[] | undefined, name: string): string | undefined {
  const i = (args ?? []).indexOf(name);
  return i >= 0 ? args![i + 1] : undefined;
}
const flagValues = (args: string[] | undefined, name: string): string[] => (args ?? []).flatMap((a, i) => (a === name ? [args![i + 1]!] : []));

/** The rules of one kind of object in deploy/operator/rbac.yaml. */
async function repoOperatorRules(kind: 'ClusterRole' | 'Role'): Promise<V1PolicyRule[]> {
  const objs = parseManifests(await readFile(join(PROJECT_ROOT, 'deploy', 'operator', 'rbac.yaml'), 'utf8'));
  return one<V1ClusterRole>(objs, kind).rules!;
}

let defaults: Manifest[];
let alternative: Manifest[];

beforeAll(async () => {
  helmBinary(); // builds helm on first use (cold: a minute or two), then cached
  defaults = parseManifests(await renderChart('chaperone', 'chaperone-system'));
  alternative = parseManifests(await renderChart('chaperone', 'chaperone-system', ALTERNATIVE));
}, 20 * 60_000);

describe('the chart files', () => {
  it('Chart.yaml: appVersion is package.json version', async () => {
    const chart = parseYaml(await readFile(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as { appVersion: string; name: string };
    expect(chart.name).toBe('chaperone');
    expect(chart.appVersion).toBe(VERSION);
  });

  it("the chart's CRDs are crds/ byte for byte", async () => {
    const repo = (await readdir(join(PROJECT_ROOT, 'crds'))).sort();
    const chart = (await readdir(join(CHART_DIR, 'crds'))).sort();
    expect(chart).toEqual(repo);
    for (const file of repo) {
      const [a, b] = await Promise.all([readFile(join(PROJECT_ROOT, 'crds', file), 'utf8'), readFile(join(CHART_DIR, 'crds', file), 'utf8')]);
      expect(b, `charts/chaperone/crds/${file} differs from crds/${file}: cp crds/*.yaml charts/chaperone/crds/`).toBe(a);
    }
  });

  it('helm lint passes, plain and --strict, with default and alternative values', async () => {
    for (const args of [[], ['--strict'], ['--strict', '-f', valuesFile(ALTERNATIVE)]]) {
      const r = await helm(['lint', CHART_DIR, ...args]);
      expect(r.code, `helm lint ${args.join(' ')}\n${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
      expect(r.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    }
  });

  it('values.yaml: every value has a comment and is declared in values.schema.json', async () => {
    const doc = parseDocument(await readFile(join(CHART_DIR, 'values.yaml'), 'utf8'));
    const schema = JSON.parse(await readFile(join(CHART_DIR, 'values.schema.json'), 'utf8')) as SchemaNode;
    const uncommented: string[] = [];
    const undeclared: string[] = [];
    const walk = (map: YAMLMap, node: SchemaNode | undefined, prefix: string): void => {
      map.items.forEach((pair, i) => {
        const key = `${prefix}${String((pair.key as Scalar).value)}`;
        const sub = node?.properties?.[String((pair.key as Scalar).value)];
        if (node?.properties && !sub) undeclared.push(key);
        // The yaml library gives a comment above a map's first key to the map itself.
        const commented = Boolean((pair.key as Scalar).commentBefore) || (i === 0 && Boolean(map.commentBefore));
        const nested = isMap(pair.value) && !pair.value.flow && pair.value.items.length > 0;
        if (!commented && !nested) uncommented.push(key);
        if (nested) walk(pair.value as YAMLMap, sub, `${key}.`);
      });
    };
    walk(doc.contents as YAMLMap, schema, '');
    expect(uncommented, 'values without a comment').toEqual([]);
    expect(undeclared, 'values missing from values.schema.json').toEqual([]);
    expect(schema.additionalProperties).toBe(false);
  });

  const bad: Array<[string, object, RegExp]> = [
    ['an unknown failurePolicy', { webhook: { failurePolicy: 'Sometimes' } }, /webhook\/failurePolicy/],
    ['an unknown native sidecar mode', { sidecar: { nativeSidecars: 'maybe' } }, /sidecar\/nativeSidecars/],
    ['a misspelt key', { webhook: { replicas: 3 } }, /webhook.*replicas/],
    ['a sidecar CPU that is no quantity', { sidecar: { resources: { requests: { cpu: 'lots' } } } }, /sidecar\/resources\/requests\/cpu/],
    ['an unknown pull policy', { image: { pullPolicy: 'Sometimes' } }, /image\/pullPolicy/],
    ['a webhook without replicas', { webhook: { replicaCount: 0 } }, /webhook\/replicaCount/],
    ['an unknown issuer kind', { webhook: { certManager: { issuerRef: { name: 'x', kind: 'Vault' } } } }, /certManager\/issuerRef\/kind/],
  ];
  it.each(bad)('values.schema.json rejects %s, naming the field', async (_what, values, field) => {
    const r = await helm(['template', 'chaperone', CHART_DIR, '-f', valuesFile(values)]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/values don't meet the specifications of the schema/);
    expect(r.stderr).toMatch(field);
  });

  it('refuses several operators without leader election', async () => {
    const r = await helm(['template', 'chaperone', CHART_DIR, '-f', valuesFile({ operator: { replicaCount: 2, leaderElection: false } })]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/operator\.leaderElection/);
  });
});

describe('helm template, default values (release chaperone in chaperone-system)', () => {
  it('renders the expected objects, with the contract names', () => {
    const names = defaults.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(names).toEqual(
      [
        'ClusterRole/chaperone-approver',
        'ClusterRole/chaperone-operator',
        'ClusterRole/chaperone-webhook',
        'ClusterRoleBinding/chaperone-operator',
        'ClusterRoleBinding/chaperone-webhook',
        'ConfigMap/chaperone-dashboard',
        'Deployment/chaperone-operator',
        'Deployment/chaperone-webhook',
        'MutatingWebhookConfiguration/chaperone-webhook',
        'Pod/chaperone-test',
        'PodDisruptionBudget/chaperone-webhook',
        'Role/chaperone-operator-leader-election',
        'Role/chaperone-webhook',
        'RoleBinding/chaperone-operator-leader-election',
        'RoleBinding/chaperone-webhook',
        'Service/chaperone-operator',
        'Service/chaperone-webhook',
        'ServiceAccount/chaperone-operator',
        'ServiceAccount/chaperone-webhook',
        'ValidatingAdmissionPolicy/chaperone-approvals',
        'ValidatingAdmissionPolicyBinding/chaperone-approvals',
      ].sort(),
    );
    for (const o of defaults) {
      expect(o.metadata.labels?.['app.kubernetes.io/instance'], `${o.kind}/${o.metadata.name}`).toBe('chaperone');
      if (!['ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'].includes(o.kind)) {
        expect(o.metadata.namespace).toBe('chaperone-system');
      }
    }
  });

  it('the MutatingWebhookConfiguration is exactly webhookConfiguration() of webhook/configuration.ts, without a caBundle', () => {
    const mwc = one<V1MutatingWebhookConfiguration>(defaults, 'MutatingWebhookConfiguration');
    const expected = webhookConfiguration({ namespace: 'chaperone-system', service: { name: 'chaperone-webhook' } });
    expect(mwc.webhooks).toEqual(expected.webhooks);
    expect(mwc.metadata?.annotations).toBeUndefined();
    for (const w of mwc.webhooks!) expect(w.clientConfig.caBundle).toBeUndefined();
  });

  it.each([
    ['chaperone', 'chaperone-system', 'chaperone'],
    ['team-a', 'team-a-system', 'team-a-chaperone'],
  ])('the approvals admission policy, its binding and the approver ClusterRole (release %s) are approvalAdmissionObjects() of api/approval-admission.ts', async (release, namespace, fullname) => {
    const objs = release === 'chaperone' ? defaults : parseManifests(await renderChart(release, namespace));
    const kinds = ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'ClusterRole'];
    const key = (o: { kind: string; metadata: { name: string } }): string => `${o.kind}/${o.metadata.name}`;
    const chart = objs.filter((o) => kinds.includes(o.kind) && o.metadata.labels?.['app.kubernetes.io/component'] === 'approvals').sort((a, b) => key(a).localeCompare(key(b)));
    expect(chart).toHaveLength(3);
    const labels = chart[0]!.metadata.labels!;
    for (const o of chart) expect(o.metadata.labels, key(o)).toEqual(labels);
    const generated = approvalAdmissionObjects({
      operatorUser: serviceAccountUser(namespace, `${fullname}-operator`),
      fullname,
      labels,
    }) as unknown as Manifest[];
    expect(chart).toEqual(generated.sort((a, b) => key(a).localeCompare(key(b))));
    // The operator the policy trusts is the release's own ServiceAccount.
    expect(objs.some((o) => o.kind === 'ServiceAccount' && o.metadata.name === `${fullname}-operator` && o.metadata.namespace === namespace)).toBe(true);
  });

  it('the operator: one replica, leader election, its namespace, HTTPS probes on 14091', () => {
    const d = one<V1Deployment>(defaults, 'Deployment', 'chaperone-operator');
    expect(d.spec!.replicas).toBe(1);
    const c = container(d);
    expect(c.image).toBe(`ghcr.io/chaperone-dev/chaperone:${VERSION}`);
    expect(c.args![0]).toBe('operator');
    expect(flag(c.args, '--namespace')).toBe('chaperone-system');
    expect(flag(c.args, '--health-addr')).toBe('0.0.0.0:14091');
    expect(flag(c.args, '--leader-elect')).toBe('true');
    expect(c.env).toContainEqual({ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    expect(flag(c.args, '--health-tls')).toBeUndefined(); // the CLI's default: HTTPS
    expect(c.ports).toEqual([{ name: 'https-metrics', containerPort: 14091, protocol: 'TCP' }]);
    for (const probe of [c.livenessProbe!, c.readinessProbe!]) {
      expect(probe.httpGet!.port).toBe('https-metrics');
      expect(probe.httpGet!.scheme).toBe('HTTPS');
    }
    expect(podSpec(d).serviceAccountName).toBe('chaperone-operator');
    const svc = one<V1Service>(defaults, 'Service', 'chaperone-operator');
    expect(svc.spec!.selector).toEqual(d.spec!.selector!.matchLabels);
  });

  it('the webhook: two replicas, HTTPS on 14443 behind Service port 443, preferred anti-affinity, a PodDisruptionBudget', () => {
    const d = one<V1Deployment>(defaults, 'Deployment', 'chaperone-webhook');
    expect(d.spec!.replicas).toBe(2);
    const c = container(d);
    expect(c.args![0]).toBe('webhook');
    expect(c.ports).toEqual([{ name: 'https', containerPort: 14443, protocol: 'TCP' }]);
    for (const probe of [c.startupProbe!, c.livenessProbe!, c.readinessProbe!]) expect(probe.httpGet!.scheme).toBe('HTTPS');
    expect(c.readinessProbe!.httpGet!.path).toBe('/readyz');
    expect(podSpec(d).priorityClassName).toBeUndefined();
    const anti = podSpec(d).affinity!.podAntiAffinity!;
    expect(anti.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
    expect(anti.preferredDuringSchedulingIgnoredDuringExecution![0]!.podAffinityTerm.labelSelector!.matchLabels).toEqual(d.spec!.selector!.matchLabels);
    const svc = one<V1Service>(defaults, 'Service', 'chaperone-webhook');
    expect(svc.spec!.ports).toEqual([{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }]);
    expect(svc.spec!.selector).toEqual(d.spec!.selector!.matchLabels);
    const pdb = one<V1PodDisruptionBudget>(defaults, 'PodDisruptionBudget');
    expect(pdb.spec!.minAvailable).toBe(1);
    expect(pdb.spec!.selector!.matchLabels).toEqual(d.spec!.selector!.matchLabels);
  });

  it('the webhook flags: names, self-managed TLS, sidecar defaults, leader election', () => {
    const args = container(one<V1Deployment>(defaults, 'Deployment', 'chaperone-webhook')).args;
    expect(flag(args, '--listen')).toBe('0.0.0.0:14443');
    expect(flag(args, '--namespace')).toBe('chaperone-system');
    expect(flag(args, '--service')).toBe('chaperone-webhook');
    expect(flag(args, '--webhook-config')).toBe('chaperone-webhook');
    expect(flag(args, '--tls-secret')).toBe('chaperone-webhook-tls');
    expect(flag(args, '--cert-validity-seconds')).toBe('7776000');
    expect(flag(args, '--tls-cert-file')).toBeUndefined();
    expect(flag(args, '--image')).toBe(`ghcr.io/chaperone-dev/chaperone:${VERSION}`);
    expect(flag(args, '--image-pull-policy')).toBe('IfNotPresent');
    expect([flag(args, '--proxy-cpu-request'), flag(args, '--proxy-memory-request'), flag(args, '--proxy-cpu-limit'), flag(args, '--proxy-memory-limit')]).toEqual(['50m', '128Mi', '1', '256Mi']);
    expect(flag(args, '--native-sidecars')).toBe('auto');
    expect([flag(args, '--capture'), flag(args, '--capture-ports'), flag(args, '--opaque-traffic')]).toEqual(['proxy-env', '80,443', 'deny']);
    expect(flag(args, '--leader-elect')).toBe('true');
  });

  it('passes only flags the commands know (their --help), in both TLS modes', () => {
    const known = (help: string): Set<string> => new Set(help.match(/--[a-z][a-z-]*/g));
    const check = (objs: Manifest[], help: string, name: string): void => {
      const args = container(one<V1Deployment>(objs, 'Deployment', name)).args!.filter((a) => a.startsWith('--'));
      expect(args.length).toBeGreaterThanOrEqual(3);
      for (const a of args) expect(known(help), `${name}: ${a}`).toContain(a.split('=')[0]);
    };
    for (const objs of [defaults, alternative]) {
      check(objs, OPERATOR_HELP, 'chaperone-operator');
      check(objs, WEBHOOK_HELP, 'chaperone-webhook');
    }
  });

  it('self-managed TLS: extra names become --tls-san flags', async () => {
    const objs = parseManifests(await renderChart('chaperone', 'chaperone-system', { webhook: { tls: { extraSans: ['webhook.example.com', '10.1.2.3'] } } }));
    expect(flagValues(container(one<V1Deployment>(objs, 'Deployment', 'chaperone-webhook')).args, '--tls-san')).toEqual(['webhook.example.com', '10.1.2.3']);
  });

  it("the operator's RBAC is exactly deploy/operator/rbac.yaml's", async () => {
    expect(one<V1ClusterRole>(defaults, 'ClusterRole', 'chaperone-operator').rules).toEqual(await repoOperatorRules('ClusterRole'));
    expect(one<V1Role>(defaults, 'Role', 'chaperone-operator-leader-election').rules).toEqual(await repoOperatorRules('Role'));
  });

  it("the webhook's RBAC is the contract's: its Secret, its Lease, its MutatingWebhookConfiguration, namespaces read-only", () => {
    expect(one<V1Role>(defaults, 'Role', 'chaperone-webhook').rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['chaperone-webhook-tls'], verbs: ['get', 'update'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['chaperone-webhook'], verbs: ['get', 'update'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
    ]);
    expect(one<V1ClusterRole>(defaults, 'ClusterRole', 'chaperone-webhook').rules).toEqual([
      { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations'], resourceNames: ['chaperone-webhook'], verbs: ['get', 'patch'] },
    ]);
  });

  // deploy/webhook/rbac.yaml is the webhook's RBAC outside the chart; the two must not drift apart.
  it("the webhook's RBAC rules are deploy/webhook/rbac.yaml's", async () => {
    const repo = parseManifests(await readFile(join(PROJECT_ROOT, 'deploy', 'webhook', 'rbac.yaml'), 'utf8'));
    expect(one<V1Role>(defaults, 'Role', 'chaperone-webhook').rules).toEqual(one<V1Role>(repo, 'Role').rules);
    expect(one<V1ClusterRole>(defaults, 'ClusterRole', 'chaperone-webhook').rules).toEqual(one<V1ClusterRole>(repo, 'ClusterRole').rules);
  });

  it('every pod is non-root 65532, read-only, drops ALL, RuntimeDefault; tokens only where the API is used', () => {
    const pods: Array<[string, V1PodSpec]> = [
      ...byKind<V1Deployment>(defaults, 'Deployment').map((d): [string, V1PodSpec] => [d.metadata!.name!, podSpec(d)]),
      ...byKind<V1Pod>(defaults, 'Pod').map((p): [string, V1PodSpec] => [p.metadata!.name!, p.spec!]),
    ];
    expect(pods).toHaveLength(3);
    for (const [name, spec] of pods) {
      expect(spec.securityContext, name).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } });
      for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
        expect(c.securityContext, `${name}/${c.name}`).toMatchObject({
          runAsNonRoot: true,
          runAsUser: 65532,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        });
        expect(c.resources?.requests, `${name}/${c.name}`).toBeDefined();
      }
      expect(spec.automountServiceAccountToken, name).toBe(name !== 'chaperone-test');
    }
    for (const sa of byKind<V1ServiceAccount>(defaults, 'ServiceAccount')) expect(sa.automountServiceAccountToken).toBe(false);
  });

  it('the helm test hook checks the webhook /readyz over HTTPS and the operator /healthz', () => {
    const pod = one<V1Pod>(defaults, 'Pod', 'chaperone-test');
    expect(pod.metadata!.annotations!['helm.sh/hook']).toBe('test');
    const env = Object.fromEntries(pod.spec!.containers[0]!.env!.map((e) => [e.name, e.value]));
    expect(env.WEBHOOK_URL).toBe('https://chaperone-webhook.chaperone-system.svc:443/readyz');
    expect(env.OPERATOR_URL).toBe('https://chaperone-operator.chaperone-system.svc:14091/healthz');
    expect(pod.spec!.restartPolicy).toBe('Never');
  });

  it('the Grafana dashboard ConfigMap carries dashboards/chaperone.json, labelled grafana_dashboard: "1"', async () => {
    const cm = one<V1ConfigMap>(defaults, 'ConfigMap', 'chaperone-dashboard');
    expect(cm.metadata!.labels!.grafana_dashboard).toBe('1');
    const file = await readFile(join(CHART_DIR, 'dashboards', 'chaperone.json'), 'utf8');
    expect(cm.data!['chaperone.json']).toBe(file.trim());
    expect(() => JSON.parse(cm.data!['chaperone.json']!) as unknown).not.toThrow();
  });

  it('leaves cert-manager and the Prometheus Operator out', () => {
    for (const kind of ['Certificate', 'Issuer', 'ServiceMonitor', 'PodMonitor']) expect(byKind(defaults, kind)).toEqual([]);
  });
});

describe('helm template, alternative values', () => {
  it('cert-manager: a Certificate from a self-signed Issuer, its Secret mounted, the CA injected, no Secret or caBundle rights', () => {
    const cert = one(alternative, 'Certificate', 'chaperone-webhook') as Manifest & {
      spec: { secretName: string; dnsNames: string[]; ipAddresses?: string[]; issuerRef: { name: string; kind: string } };
    };
    expect(cert.spec.secretName).toBe('chaperone-webhook-cert');
    expect(cert.spec.dnsNames).toEqual([
      'chaperone-webhook',
      'chaperone-webhook.chaperone-system',
      'chaperone-webhook.chaperone-system.svc',
      'chaperone-webhook.chaperone-system.svc.cluster.local',
      'webhook.example.com',
    ]);
    expect(cert.spec.ipAddresses).toEqual(['10.1.2.3']);
    const issuer = one(alternative, 'Issuer') as Manifest & { spec: object };
    expect(issuer.spec).toEqual({ selfSigned: {} });
    expect(cert.spec.issuerRef).toMatchObject({ name: issuer.metadata.name, kind: 'Issuer' });

    const mwc = one<V1MutatingWebhookConfiguration>(alternative, 'MutatingWebhookConfiguration');
    expect(mwc.metadata!.annotations!['cert-manager.io/inject-ca-from']).toBe('chaperone-system/chaperone-webhook');

    const d = one<V1Deployment>(alternative, 'Deployment', 'chaperone-webhook');
    const args = container(d).args;
    expect(flag(args, '--tls-cert-file')).toBe('/etc/chaperone/webhook-tls/tls.crt');
    expect(flag(args, '--tls-key-file')).toBe('/etc/chaperone/webhook-tls/tls.key');
    expect(flag(args, '--tls-secret')).toBeUndefined();
    const mount = container(d).volumeMounts!.find((m) => m.mountPath === '/etc/chaperone/webhook-tls')!;
    expect(mount.subPath).toBeUndefined();
    expect(podSpec(d).volumes!.find((v) => v.name === mount.name)!.secret!.secretName).toBe('chaperone-webhook-cert');

    expect(one<V1Role>(alternative, 'Role', 'chaperone-webhook').rules!.flatMap((r) => r.resources)).toEqual(['leases', 'leases']);
    expect(byKind<V1ClusterRole>(alternative, 'ClusterRole').map((r) => r.metadata!.name).sort()).toEqual(['chaperone-approver', 'chaperone-operator', 'chaperone-webhook']);
    // No caBundle rights: only reading namespaces is left.
    expect(one<V1ClusterRole>(alternative, 'ClusterRole', 'chaperone-webhook').rules).toEqual([{ apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] }]);
  });

  it('cert-manager with an existing issuer brings no Issuer of its own', async () => {
    const objs = parseManifests(
      await renderChart('chaperone', 'chaperone-system', { webhook: { certManager: { enabled: true, issuerRef: { name: 'corp-ca', kind: 'ClusterIssuer' } } } }),
    );
    expect(byKind(objs, 'Issuer')).toEqual([]);
    expect((one(objs, 'Certificate') as Manifest & { spec: { issuerRef: object } }).spec.issuerRef).toEqual({ name: 'corp-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' });
  });

  it('failurePolicy Fail applies to the namespace-wide webhook only; extra selector expressions reach both', () => {
    const [pods, namespaces] = one<V1MutatingWebhookConfiguration>(alternative, 'MutatingWebhookConfiguration').webhooks!;
    expect(pods!.name).toBe('pods.inject.chaperone.dev');
    expect(pods!.failurePolicy).toBe('Ignore');
    expect(namespaces!.name).toBe('namespace.inject.chaperone.dev');
    expect(namespaces!.failurePolicy).toBe('Fail');
    for (const w of [pods!, namespaces!]) {
      const exprs = w.namespaceSelector!.matchExpressions!;
      expect(exprs[0]).toEqual({ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'kube-public', 'kube-node-lease', 'chaperone-system'] });
      expect(exprs).toContainEqual({ key: 'environment', operator: 'NotIn', values: ['prod'] });
      expect(exprs).toHaveLength(3);
    }
  });

  it('sidecar settings and the priority class reach the webhook', () => {
    const d = one<V1Deployment>(alternative, 'Deployment', 'chaperone-webhook');
    const args = container(d).args;
    expect(flag(args, '--native-sidecars')).toBe('off');
    expect(flag(args, '--image')).toBe('registry.example.com/chaperone:custom');
    expect(flag(args, '--image-pull-policy')).toBe('Always');
    expect([flag(args, '--proxy-cpu-request'), flag(args, '--proxy-memory-request'), flag(args, '--proxy-cpu-limit'), flag(args, '--proxy-memory-limit')]).toEqual(['100m', '96Mi', '2', '1Gi']);
    expect(flagValues(args, '--tls-san')).toEqual([]); // with cert-manager the names go into the Certificate
    expect(podSpec(d).priorityClassName).toBe('chaperone-critical');
    // The webhook's own image is still the chart's.
    expect(container(d).image).toBe(`ghcr.io/chaperone-dev/chaperone:${VERSION}`);
    const op = one<V1Deployment>(alternative, 'Deployment', 'chaperone-operator');
    expect(podSpec(op).priorityClassName).toBe('chaperone-critical');
    expect(container(op).args!.slice(-2)).toEqual(['--identity', 'x']);
  });

  it('a ServiceMonitor for the operator and the webhook, a PodMonitor for injected pods on chaperone-admin', () => {
    type Monitor = Manifest & { spec: { selector: { matchLabels: Record<string, string>; matchExpressions?: Array<{ key: string; values: string[] }> }; endpoints?: Array<{ port: string; scheme: string; tlsConfig?: object }>; podMetricsEndpoints?: Array<{ port: string; path: string }>; namespaceSelector: object } };
    const sm = one(alternative, 'ServiceMonitor') as Monitor;
    expect(sm.metadata.labels!.release).toBe('prometheus');
    expect(sm.spec.endpoints!.map((e) => [e.port, e.scheme])).toEqual([
      ['https-metrics', 'https'],
      ['https', 'https'],
    ]);
    // The selector picks exactly the two Services, each of which has the port its endpoint names.
    const services = byKind<V1Service>(alternative, 'Service').filter(
      (s) =>
        Object.entries(sm.spec.selector.matchLabels).every(([k, v]) => s.metadata!.labels![k] === v) &&
        (sm.spec.selector.matchExpressions ?? []).every((e) => e.values.includes(s.metadata!.labels![e.key]!)),
    );
    expect(services.map((s) => s.metadata!.name).sort()).toEqual(['chaperone-operator', 'chaperone-webhook']);
    expect(services.flatMap((s) => s.spec!.ports!.map((p) => p.name)).sort()).toEqual(['https', 'https-metrics']);

    const pm = one(alternative, 'PodMonitor') as Monitor;
    expect(pm.spec.selector.matchLabels).toEqual({ 'chaperone.dev/injected': 'true' });
    expect(pm.spec.podMetricsEndpoints).toEqual([expect.objectContaining({ port: 'chaperone-admin', path: '/metrics', scheme: 'https' })]);
    expect(pm.spec.namespaceSelector).toEqual({ any: true });
  });

  it('one webhook replica has no PodDisruptionBudget; the dashboard and the test pod can be turned off', async () => {
    const objs = parseManifests(await renderChart('chaperone', 'chaperone-system', { webhook: { replicaCount: 1 }, grafana: { dashboard: { enabled: false } }, tests: { enabled: false } }));
    expect(byKind(objs, 'PodDisruptionBudget')).toEqual([]);
    expect(byKind(objs, 'ConfigMap')).toEqual([]);
    expect(byKind(objs, 'Pod')).toEqual([]);
  });

  it('another release name prefixes every name, so releases never share a cluster-scoped object', async () => {
    const objs = parseManifests(await renderChart('team-a', 'team-a-system'));
    for (const o of objs) expect(o.metadata.name, `${o.kind}/${o.metadata.name}`).toMatch(/^team-a-chaperone-/);
    const args = container(one<V1Deployment>(objs, 'Deployment', 'team-a-chaperone-webhook')).args;
    expect([flag(args, '--service'), flag(args, '--webhook-config'), flag(args, '--tls-secret')]).toEqual([
      'team-a-chaperone-webhook',
      'team-a-chaperone-webhook',
      'team-a-chaperone-webhook-tls',
    ]);
    const mwc = one<V1MutatingWebhookConfiguration>(objs, 'MutatingWebhookConfiguration');
    expect(mwc.webhooks!.map((w) => w.clientConfig.service!.name)).toEqual(['team-a-chaperone-webhook', 'team-a-chaperone-webhook']);
  });
});

// --- against the API server ---

/**
 * The Prometheus Operator's and cert-manager's CRDs are not on the local control plane. So that the
 * server can dry-run (and install) the ServiceMonitor, PodMonitor, Certificate and Issuer, the test
 * creates minimal stand-ins (schema-less: only apiVersion, kind and metadata are checked) -- only
 * where the real CRD is absent: on a cluster that has the real ones (kind with cert-manager), those
 * validate the objects instead and are never touched. The stand-ins are not removed afterwards:
 * concurrent runs share the cluster and may be using them, and the local control plane's state goes
 * with it when it stops.
 */
const STAND_INS = [
  { group: 'monitoring.coreos.com', kind: 'ServiceMonitor', plural: 'servicemonitors' },
  { group: 'monitoring.coreos.com', kind: 'PodMonitor', plural: 'podmonitors' },
  { group: 'cert-manager.io', kind: 'Certificate', plural: 'certificates' },
  { group: 'cert-manager.io', kind: 'Issuer', plural: 'issuers' },
];

async function ensureStandInCrds(): Promise<void> {
  for (const { group, kind, plural } of STAND_INS) {
    const name = `${plural}.${group}`;
    if ((await kubectl(['get', 'crd', name, '-o', 'name'])).code === 0) continue;
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'chaperone-e2e', 'chaperone.dev/e2e-stand-in': 'true' } },
      spec: {
        group,
        scope: 'Namespaced',
        names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase() },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } } },
          },
        ],
      },
    };
    const r = await kubectl(['create', '-f', '-'], JSON.stringify(crd));
    if (r.code !== 0 && !/AlreadyExists|already exists/.test(r.stderr)) throw new Error(`stand-in CRD ${name}: ${r.stderr}`);
  }
  await kubectlOk(['wait', '--for', 'condition=Established', '--timeout=60s', ...STAND_INS.map((s) => `crd/${s.plural}.${s.group}`)]);
}

async function createNamespace(name: string): Promise<void> {
  await kubectlOk(['create', 'namespace', name]);
  // Pods (the helm test hook) need the namespace's default ServiceAccount, which the controller manager adds.
  const deadline = Date.now() + POLL.timeout;
  while ((await kubectl(['get', 'serviceaccount', 'default', '-n', name, '-o', 'name'])).code !== 0) {
    if (Date.now() > deadline) throw new Error(`no default ServiceAccount in ${name} after ${POLL.timeout} ms`);
    await new Promise((r) => setTimeout(r, POLL.interval));
  }
}

/** `kubectl apply --dry-run=server` of a whole rendered stream; every object must be accepted. */
async function serverDryRun(yamlText: string): Promise<string[]> {
  const objs = parseManifests(yamlText);
  const r = await kubectl(['apply', '--dry-run=server', '-f', '-'], yamlText);
  expect(r.code, r.stderr).toBe(0);
  const accepted = r.stdout.split('\n').filter((l) => /\((server dry run)\)$/.test(l));
  expect(accepted, r.stdout).toHaveLength(objs.length);
  return accepted;
}

/** Objects labelled with the release: cluster-scoped anywhere, and anything at all left in its namespace. */
async function leftovers(release: string, namespace: string): Promise<string[]> {
  const types = async (namespaced: boolean): Promise<string> =>
    (await kubectlOk(['api-resources', `--namespaced=${namespaced}`, '--verbs=list', '-o', 'name'])).split('\n').filter(Boolean).join(',');
  const cluster = await kubectlOk(['get', await types(false), '-l', `app.kubernetes.io/instance=${release}`, '-o', 'name']);
  // Everything in the namespace but what Kubernetes puts into every namespace, and Events.
  const inNamespace = await kubectlOk(['get', await types(true), '-n', namespace, '-o', 'name']);
  const expected = /^(serviceaccount\/default|configmap\/kube-root-ca\.crt|event(\.events\.k8s\.io)?\/.*)$/;
  return [...cluster.split('\n'), ...inNamespace.split('\n').filter((l) => !expected.test(l))].filter(Boolean);
}

describe('against the API server', () => {
  beforeAll(async () => {
    await installCrd();
    await ensureStandInCrds();
    await createNamespace(NS_DRY);
    await createNamespace(NS_INSTALL);
  });

  afterAll(async () => {
    await kubectl(['delete', 'namespace', NS_DRY, NS_INSTALL, '--wait=false']);
  });

  it.each([
    ['default', {}],
    ['alternative', ALTERNATIVE],
  ])('kubectl apply --dry-run=server accepts every object rendered with %s values (CRD and helm test pod included)', async (_what, values) => {
    // A release name of our own: the cluster-scoped objects are new, whatever else runs on the cluster.
    const text = await renderChart(`dry-${ID}`, NS_DRY, values, ['--include-crds']);
    const kinds = parseManifests(text).map((o) => o.kind);
    expect(kinds).toContain('CustomResourceDefinition');
    expect(kinds).toContain('Pod');
    const accepted = await serverDryRun(text);
    expect(accepted.join('\n')).toMatch(/mutatingwebhookconfiguration\.admissionregistration\.k8s\.io\/dry-\w+-chaperone-webhook (created|configured)/);
  });

  it('helm install, upgrade (the caBundle the webhook wrote survives), uninstall: nothing left behind', async () => {
    const release = `e2e-${ID}`;
    const fullname = `${release}-chaperone`;
    // The installed MutatingWebhookConfiguration is real: an extra namespace selector that no namespace
    // matches keeps it from calling the (never running) webhook for other tests' pods. An image that
    // cannot be pulled keeps the pods from running on a cluster with nodes (kind) too, so that only the
    // chart's own objects exist: what a running webhook and operator write (the certificate Secret,
    // Leases) outlives an uninstall by design (NOTES.txt says so).
    const values = valuesFile({
      image: { repository: 'registry.invalid/chaperone' },
      webhook: { namespaceSelector: { matchExpressions: [{ key: 'chaperone.dev/e2e-helm-never', operator: 'In', values: [ID] }] } },
      metrics: { serviceMonitor: { enabled: true }, podMonitor: { enabled: true } },
    });
    await helmOk(['install', release, CHART_DIR, '--namespace', NS_INSTALL, '-f', values, '--wait=false', '--timeout', '2m']);
    try {
      expect(JSON.parse(await helmOk(['status', release, '-n', NS_INSTALL, '-o', 'json'])) as { info: { status: string } }).toMatchObject({ info: { status: 'deployed' } });
      const installed = (await kubectlOk(['get', 'deployments,services,serviceaccounts,roles,rolebindings,poddisruptionbudgets,configmaps,servicemonitors,podmonitors', '-n', NS_INSTALL, '-l', `app.kubernetes.io/instance=${release}`, '-o', 'name']))
        .split('\n')
        .filter(Boolean)
        .sort();
      expect(installed).toEqual(
        [
          `configmap/${fullname}-dashboard`,
          `deployment.apps/${fullname}-operator`,
          `deployment.apps/${fullname}-webhook`,
          `poddisruptionbudget.policy/${fullname}-webhook`,
          `podmonitor.monitoring.coreos.com/${fullname}-sidecars`,
          `role.rbac.authorization.k8s.io/${fullname}-operator-leader-election`,
          `role.rbac.authorization.k8s.io/${fullname}-webhook`,
          `rolebinding.rbac.authorization.k8s.io/${fullname}-operator-leader-election`,
          `rolebinding.rbac.authorization.k8s.io/${fullname}-webhook`,
          `service/${fullname}-operator`,
          `service/${fullname}-webhook`,
          `serviceaccount/${fullname}-operator`,
          `serviceaccount/${fullname}-webhook`,
          `servicemonitor.monitoring.coreos.com/${fullname}`,
        ].sort(),
      );

      // RBAC as installed, asked of the API server as each ServiceAccount.
      const can = async (sa: string, args: string[]): Promise<string> =>
        (await kubectl(['auth', 'can-i', ...args, '--as', `system:serviceaccount:${NS_INSTALL}:${fullname}-${sa}`])).stdout.trim();
      const webhook: Array<[string[], string]> = [
        [['get', `secret/${fullname}-webhook-tls`, '-n', NS_INSTALL], 'yes'],
        [['update', `secret/${fullname}-webhook-tls`, '-n', NS_INSTALL], 'yes'],
        [['create', 'secrets', '-n', NS_INSTALL], 'yes'],
        [['get', 'secret/chaperone-ca', '-n', NS_INSTALL], 'no'],
        [['list', 'secrets', '-n', NS_INSTALL], 'no'],
        [['get', `secret/${fullname}-webhook-tls`, '-n', 'default'], 'no'],
        [['update', 'lease/chaperone-webhook', '-n', NS_INSTALL], 'yes'],
        [['update', 'lease/chaperone-operator', '-n', NS_INSTALL], 'no'],
        [['patch', `mutatingwebhookconfiguration/${fullname}-webhook`], 'yes'],
        [['patch', 'mutatingwebhookconfiguration/someone-else'], 'no'],
        [['list', 'pods', '-A'], 'no'],
      ];
      const operator: Array<[string[], string]> = [
        [['patch', 'configmaps', '-n', 'default'], 'yes'],
        [['update', 'configmaps', '-n', 'default'], 'no'],
        [['watch', 'secrets', '-n', 'default'], 'yes'],
        [['update', 'secrets', '-n', 'default'], 'no'],
        [['update', 'lease/chaperone-operator', '-n', NS_INSTALL], 'yes'],
        [['update', 'lease/chaperone-operator', '-n', 'default'], 'no'],
        [['patch', 'governancepolicies.chaperone.dev', '--subresource=status', '-n', 'default'], 'yes'],
        [['patch', 'governancepolicies.chaperone.dev', '-n', 'default'], 'no'],
      ];
      for (const [args, answer] of webhook) expect(await can('webhook', args), `webhook can-i ${args.join(' ')}`).toBe(answer);
      for (const [args, answer] of operator) expect(await can('operator', args), `operator can-i ${args.join(' ')}`).toBe(answer);
      // The approvals policy and the approver role are installed under the release's names.
      expect((await kubectlOk(['get', 'validatingadmissionpolicy,validatingadmissionpolicybinding,clusterrole', '-l', `app.kubernetes.io/instance=${release},app.kubernetes.io/component=approvals`, '-o', 'name'])).split('\n').filter(Boolean).sort()).toEqual([
        `clusterrole.rbac.authorization.k8s.io/${fullname}-approver`,
        `validatingadmissionpolicy.admissionregistration.k8s.io/${fullname}-approvals`,
        `validatingadmissionpolicybinding.admissionregistration.k8s.io/${fullname}-approvals`,
      ]);

      // The webhook leader fills the caBundle (played here: no pod runs); an upgrade must keep it.
      const mwcName = `${fullname}-webhook`;
      const caBundle = Buffer.from((await createCa('chaperone-e2e-helm-webhook', 1)).certPem).toString('base64');
      await kubectlOk([
        'patch', 'mutatingwebhookconfiguration', mwcName, '--type=json',
        '-p', JSON.stringify([0, 1].map((i) => ({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle }))),
      ]);
      await helmOk(['upgrade', release, CHART_DIR, '--namespace', NS_INSTALL, '-f', values, '--set', 'webhook.failurePolicy=Fail', '--wait=false', '--timeout', '2m']);
      const mwc = JSON.parse(await kubectlOk(['get', 'mutatingwebhookconfiguration', mwcName, '-o', 'json'])) as V1MutatingWebhookConfiguration;
      expect(mwc.webhooks!.map((w) => w.failurePolicy)).toEqual(['Ignore', 'Fail']); // the upgrade did apply
      expect(mwc.webhooks!.map((w) => w.clientConfig.caBundle)).toEqual([caBundle, caBundle]);
      // Carried over by `lookup` into the release's own manifest, not merely left alone by the patch.
      const manifest = parseManifests(await helmOk(['get', 'manifest', release, '-n', NS_INSTALL]));
      expect(one<V1MutatingWebhookConfiguration>(manifest, 'MutatingWebhookConfiguration').webhooks!.map((w) => w.clientConfig.caBundle)).toEqual([caBundle, caBundle]);
    } finally {
      const r = await helm(['uninstall', release, '--namespace', NS_INSTALL, '--wait=false', '--timeout', '2m']);
      expect(r.code, r.stderr).toBe(0);
    }
    // Deployments' ReplicaSets and pods, and the Services' EndpointSlices, go with the garbage collector.
    await expect.poll(() => leftovers(release, NS_INSTALL), { ...POLL, timeout: 90_000 }).toEqual([]);
    expect((await helm(['status', release, '-n', NS_INSTALL])).code).not.toBe(0);
    // The CRDs (crds/ of the chart) stay, and with them every GovernancePolicy and ApprovalRequest.
    await kubectlOk(['get', 'crd', 'governancepolicies.chaperone.dev', 'approvalrequests.chaperone.dev']);
  }, 240_000);
});
