// The operator against the real API server, running in-process (startOperator, with leader
// election on a short Lease): policies applied, updated, made invalid and deleted with kubectl, and
// `chaperone-config`, the policies' status, `chaperone-ca` and `chaperone-trust` following.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { connect, createServer as createTlsServer } from 'node:tls';
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { isNotFound, loadKubeConfig } from '../lib/kube.js';
import { createLogger } from '../lib/logger.js';
import { PROJECT_ROOT } from '../lib/project.js';
import { startOperator, type Operator } from '../operator/main.js';
import { LeafCertificates } from '../sidecar/leaf-certificates.js';
import { kubeconfig, kubectl, kubectlOk, installCrd } from './harness/kubectl.js';

const NS = `chaperone-e2e-op-${randomBytes(3).toString('hex')}`;
const OWN_NS = 'chaperone-system';
const POLL = { timeout: 20_000, interval: 100 };

let kc: KubeConfig;
let core: CoreV1Api;
let custom: CustomObjectsApi;
let operator: Operator | undefined;

const policy = (name: string, spec: object) => ({ apiVersion: 'chaperone.dev/v1alpha1', kind: 'GovernancePolicy', metadata: { name, namespace: NS }, spec });

interface Condition { type: string; status: string; reason: string; message: string; observedGeneration: number }
interface GP { metadata: { generation: number }; status?: { observedGeneration?: number; conditions?: Condition[]; selectedPods?: number } }

async function getPolicy(name: string): Promise<GP | undefined> {
  try {
    return (await custom.getNamespacedCustomObject({ group: 'chaperone.dev', version: 'v1alpha1', plural: 'governancepolicies', namespace: NS, name })) as GP;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

const ready = (gp: GP | undefined): Condition | undefined => gp?.status?.conditions?.find((c) => c.type === 'Ready');

async function configMapData(name: string): Promise<Record<string, string> | undefined> {
  try {
    return (await core.readNamespacedConfigMap({ name, namespace: NS })).data ?? {};
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** The policies in `chaperone-config` as name -> generation (undefined when the ConfigMap is absent). */
async function configPolicies(): Promise<Record<string, unknown> | undefined> {
  const data = await configMapData('chaperone-config');
  if (!data) return undefined;
  const out: Record<string, unknown> = {};
  for (const doc of parseAllDocuments(data['policies.yaml'] ?? '')) {
    const p = doc.toJS() as { metadata: { name: string; generation?: number }; spec: { mode?: string } } | null;
    if (p) out[p.metadata.name] = { generation: p.metadata.generation, mode: p.spec.mode };
  }
  return out;
}

beforeAll(async () => {
  process.env.KUBECONFIG ??= kubeconfig();
  kc = loadKubeConfig();
  core = kc.makeApiClient(CoreV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
  await installCrd();
  await kubectl(['create', 'namespace', OWN_NS]);
  await kubectlOk(['create', 'namespace', NS]);
  operator = await startOperator({
    kubeconfig: kc,
    namespace: OWN_NS,
    leaderElection: true,
    healthAddr: '127.0.0.1:0',
    identity: `e2e-${randomBytes(3).toString('hex')}`,
    log: createLogger('operator', 'warn'),
    leaseDurationMs: 3_000,
    renewDeadlineMs: 2_000,
    retryPeriodMs: 200,
    // Watches are replaced every second here (minutes in production): every change below must
    // still arrive across those restarts, with no watch lost or doubled.
    watchRefreshMs: 1_000,
  });
});

afterAll(async () => {
  await operator?.stop();
  await core?.deleteNamespace({ name: NS }).catch(() => undefined);
});

describe('chaperone operator', () => {
  it('becomes leader, and serves /healthz, /readyz and /metrics', async () => {
    await expect.poll(() => operator!.isLeader(), POLL).toBe(true);
    const base = `http://127.0.0.1:${operator!.healthAddress.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await expect.poll(async () => (await fetch(`${base}/readyz`)).status, POLL).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('chaperone_reconcile_total{controller="namespace",result="success"}');
    expect(metrics).toContain('chaperone_reconcile_duration_seconds_bucket');
    const lease = JSON.parse(await kubectlOk(['get', 'lease', 'chaperone-operator', '-n', OWN_NS, '-o', 'json'])) as { spec: { holderIdentity: string } };
    expect(lease.spec.holderIdentity).toMatch(/^e2e-/);
  });

  it('compiles a new policy into chaperone-config and marks it Ready', async () => {
    await kubectlOk(['apply', '-f', '-'], JSON.stringify(policy('alpha', { mode: 'enforce', dlp: {} })));
    await expect.poll(configPolicies, POLL).toEqual({ alpha: { generation: 1, mode: 'enforce' } });
    await expect.poll(async () => ready(await getPolicy('alpha')), POLL).toMatchObject({ status: 'True', reason: 'Compiled', observedGeneration: 1 });
    expect((await getPolicy('alpha'))?.status).toMatchObject({ observedGeneration: 1, selectedPods: 0 });
  });

  it('follows an update: config, observedGeneration and Ready', async () => {
    await kubectlOk(['apply', '-f', '-'], JSON.stringify(policy('alpha', { mode: 'audit', dlp: {} })));
    await expect.poll(configPolicies, POLL).toEqual({ alpha: { generation: 2, mode: 'audit' } });
    await expect.poll(async () => (await getPolicy('alpha'))?.status?.observedGeneration, POLL).toBe(2);
    expect(ready(await getPolicy('alpha'))).toMatchObject({ status: 'True', reason: 'Compiled', observedGeneration: 2 });
  });

  it('reports a semantically invalid policy (unknown time zone) with the field named, keeping the valid one', async () => {
    // The CRD schema accepts any string here; only our validator knows the time zones.
    await kubectlOk(['apply', '-f', '-'], JSON.stringify(policy('beta', { schedule: { days: ['Mon'], timezone: 'Mars/Olympus_Mons' } })));
    await expect.poll(async () => ready(await getPolicy('beta')), POLL).toMatchObject({ status: 'False', reason: 'Invalid', observedGeneration: 1 });
    expect(ready(await getPolicy('beta'))?.message).toMatch(/spec\.schedule\.timezone/);
    expect(await configPolicies()).toEqual({ alpha: { generation: 2, mode: 'audit' } });
    expect(ready(await getPolicy('alpha'))?.status).toBe('True');
  });

  it('gives the namespace a CA Secret and a trust ConfigMap whose ca.crt is that CA', async () => {
    await expect.poll(() => configMapData('chaperone-trust'), POLL).toBeDefined();
    const secret = await core.readNamespacedSecret({ name: 'chaperone-ca', namespace: NS });
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(secret.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('chaperone-operator');
    const caCrt = Buffer.from(secret.data!['tls.crt']!, 'base64').toString('utf8');
    expect(Buffer.from(secret.data!['tls.key']!, 'base64').toString('utf8')).toMatch(/BEGIN PRIVATE KEY/);
    const trust = (await configMapData('chaperone-trust'))!;
    expect(trust['ca.crt']!.trim()).toBe(caCrt.trim());
    expect(trust['ca-bundle.crt']!.trim().endsWith(caCrt.trim())).toBe(true);
    expect(trust['ca-bundle.crt']!.match(/BEGIN CERTIFICATE/g)!.length).toBeGreaterThan(10); // public roots too
  });

  it('the trust bundle verifies a leaf the sidecar mints from chaperone-ca', async () => {
    const secret = await core.readNamespacedSecret({ name: 'chaperone-ca', namespace: NS });
    const unb64 = (k: string): string => Buffer.from(secret.data![k]!, 'base64').toString('utf8');
    const leaves = new LeafCertificates();
    leaves.useCa({ certPem: unb64('tls.crt'), keyPem: unb64('tls.key') });
    const context = await leaves.contextFor('api.openai.com');
    const server = createTlsServer({ SNICallback: (_name, cb) => cb(null, context) }, (socket) => socket.end('hello\n'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const bundle = (await configMapData('chaperone-trust'))!['ca-bundle.crt']!;
      const socket = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername: 'api.openai.com', ca: bundle });
      await once(socket, 'secureConnect');
      expect(socket.authorized).toBe(true);
      expect(socket.getPeerCertificate().subjectaltname).toContain('DNS:api.openai.com');
      socket.destroy();
      // and a name the leaf was not minted for is refused against the same bundle
      const wrong = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername: 'api.openai.com', ca: bundle, checkServerIdentity: (host, cert) => (cert.subjectaltname?.includes('DNS:example.org') ? undefined : new Error(`not ${host}`)) });
      const [err] = (await once(wrong, 'error')) as [Error];
      expect(err.message).toMatch(/not api\.openai\.com/);
    } finally {
      server.close();
    }
  });

  it('reports a pod annotated for injection without the sidecar: a NotInjected Event and chaperone_uninjected_pods', async () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'agent-uninjected', namespace: NS, annotations: { 'chaperone.dev/inject': 'true' } },
      spec: { containers: [{ name: 'app', image: 'registry.invalid/agent:1' }] },
    };
    // The namespace's default ServiceAccount may not exist yet (ServiceAccount admission).
    await expect.poll(async () => (await kubectl(['create', '-f', '-'], JSON.stringify(pod))).code, POLL).toBe(0);
    const events = async (): Promise<Array<{ reason: string; type: string; message: string; involvedObject: { uid: string } }>> =>
      (JSON.parse(await kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=agent-uninjected,source=chaperone-operator', '-o', 'json'])) as { items: [] }).items;
    await expect.poll(async () => (await events()).map((e) => `${e.type}/${e.reason}`), POLL).toEqual(['Warning/NotInjected']);
    const uid = (await core.readNamespacedPod({ name: 'agent-uninjected', namespace: NS })).metadata!.uid!;
    expect((await events())[0]!.involvedObject.uid).toBe(uid);
    expect((await events())[0]!.message).toMatch(/chaperone-proxy/);
    const base = `http://127.0.0.1:${operator!.healthAddress.port}`;
    const gauge = async (): Promise<string | undefined> => (await (await fetch(`${base}/metrics`)).text()).match(new RegExp(`^chaperone_uninjected_pods\\{namespace="${NS}"\\} (\\d+)$`, 'm'))?.[1];
    await expect.poll(gauge, POLL).toBe('1');
    // Reconciled again (a policy change): still exactly one Event for this pod uid.
    await kubectlOk(['annotate', 'namespace', NS, 'chaperone.dev/e2e-touch=1']);
    await kubectlOk(['apply', '-f', '-'], JSON.stringify(policy('alpha', { mode: 'enforce', dlp: {} })));
    await expect.poll(configPolicies, POLL).toEqual({ alpha: { generation: 3, mode: 'enforce' } });
    expect(await events()).toHaveLength(1);
    // A pod that has the sidecar is not counted.
    const injectedPod = { ...pod, metadata: { ...pod.metadata, name: 'agent-injected' }, spec: { containers: [...pod.spec.containers, { name: 'chaperone-proxy', image: 'registry.invalid/chaperone:1' }] } };
    await kubectlOk(['create', '-f', '-'], JSON.stringify(injectedPod));
    await kubectlOk(['delete', 'pod', 'agent-uninjected', '-n', NS, '--wait=true']);
    await expect.poll(gauge, POLL).toBeUndefined();
    await kubectlOk(['delete', 'pod', 'agent-injected', '-n', NS, '--wait=true']);
  });

  it('follows deletes, and cleans up once the namespace is no longer governed', async () => {
    await kubectlOk(['delete', 'gp', 'alpha', '-n', NS]);
    await expect.poll(configPolicies, POLL).toEqual({});
    // beta (invalid) still makes the namespace governed: CA and trust stay
    expect(await configMapData('chaperone-trust')).toBeDefined();
    await kubectlOk(['delete', 'gp', 'beta', '-n', NS]);
    await expect.poll(() => configMapData('chaperone-config'), POLL).toBeUndefined();
    await expect.poll(() => configMapData('chaperone-trust'), POLL).toBeUndefined();
    await expect.poll(async () => core.readNamespacedSecret({ name: 'chaperone-ca', namespace: NS }).then(() => 'present', (err: unknown) => (isNotFound(err) ? 'gone' : String(err))), POLL).toBe('gone');
  });

  it('governs a namespace labelled chaperone.dev/injection=enabled without any policy', async () => {
    await kubectlOk(['label', 'namespace', NS, 'chaperone.dev/injection=enabled']);
    await expect.poll(configPolicies, POLL).toEqual({});
    await expect.poll(() => configMapData('chaperone-trust'), POLL).toBeDefined();
  });

  it('has RBAC manifests the API server accepts', async () => {
    const out = await kubectlOk(['apply', '--dry-run=server', '-f', join(PROJECT_ROOT, 'deploy', 'operator', 'rbac.yaml')]);
    expect(out).toMatch(/clusterrole\.rbac\.authorization\.k8s\.io\/chaperone-operator (created|configured|unchanged) \(server dry run\)/);
    expect(out).toMatch(/role\.rbac\.authorization\.k8s\.io\/chaperone-operator-leader-election/);
  });

  it('`chaperone operator --help` documents its flags', async () => {
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile('node', [join(PROJECT_ROOT, 'dist', 'bin', 'chaperone.js'), 'operator', '--help'], (err, out) => (err ? reject(err) : resolve(out))),
    );
    for (const flag of ['--namespace', '--health-addr', '--leader-elect', '--kubeconfig']) expect(stdout).toContain(flag);
  });

});
