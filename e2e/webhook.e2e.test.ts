// The admission webhook against the real API server: `chaperone webhook` runs as a child process
// with only deploy/webhook/rbac.yaml's permissions, manages its own TLS (Secret + caBundle), and the
// API server calls it for real pods: kubectl apply, Deployments through kube-controller-manager, a
// labelled namespace, the system namespaces, server-side dry run, renewal without a restart, and an
// outage with failurePolicy Ignore. The pods it injects run under a real kubelet in pods.e2e.test.ts;
// here they name images the node cannot pull (they only need to exist in the API).
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { CoreV1Api, type KubeConfig, type V1Container, type V1Pod } from '@kubernetes/client-node';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isNotFound, loadKubeConfig } from '../lib/kube.js';
import { createLogger } from '../lib/logger.js';
import { PROJECT_ROOT } from '../lib/project.js';
import { startOperator, type Operator } from '../operator/main.js';
import { webhookConfiguration } from '../webhook/configuration.js';
import { installCrd, kubeconfig, kubectl, kubectlOk, serviceAccountKubeconfig } from './harness/kubectl.js';
import { freePort, WEBHOOK_HOST } from './harness/ports.js';
import { spawnChaperone, type ChaperoneProcess } from './harness/sidecar-process.js';

const RUN = randomBytes(3).toString('hex');
const OWN_NS = 'chaperone-system';
/** Only namespaces carrying this label reach this run's webhook, so other suites' pods are untouched. */
const RUN_LABEL = 'e2e.chaperone.dev/webhook-run';
const NS = `chaperone-e2e-wh-${RUN}`;
const LABELLED_NS = `chaperone-e2e-whns-${RUN}`;
const POLL = { timeout: 30_000, interval: 200 };

let kc: KubeConfig;
let core: CoreV1Api;
let dir: string;
let saKubeconfig: string;
let port: number;
let webhook: ChaperoneProcess | undefined;
/** Reports the pods created while the webhook is down (the outage test). */
let operator: Operator | undefined;

const webhookArgs = (extra: string[] = []): string[] => [
  'webhook',
  '--listen', `${WEBHOOK_HOST}:${port}`,
  '--kubeconfig', saKubeconfig,
  '--tls-san', WEBHOOK_HOST,
  '--tls-refresh-ms', '300',
  '--image', 'registry.example/chaperone:e2e',
  '--identity', `e2e-webhook-${RUN}`,
  ...extra,
];

async function startWebhook(extra: string[] = []): Promise<ChaperoneProcess> {
  const child = spawnChaperone(webhookArgs(extra), { CHAPERONE_LOG_LEVEL: 'debug' });
  await child.waitForLine((l) => l.msg === 'webhook serving', 30_000);
  return child;
}

/** The CA the API server trusts for the webhook (what the leader wrote into the caBundle). */
async function caBundle(): Promise<string | undefined> {
  const config = JSON.parse(await kubectlOk(['get', 'mutatingwebhookconfiguration', 'chaperone-webhook', '-o', 'json'])) as {
    webhooks: Array<{ clientConfig: { caBundle?: string } }>;
  };
  const bundles = new Set(config.webhooks.map((w) => w.clientConfig.caBundle ?? ''));
  const [only] = [...bundles];
  return bundles.size === 1 && only ? Buffer.from(only, 'base64').toString('utf8') : undefined;
}

const pod = (name: string, namespace: string, annotations: Record<string, string> = {}, extra: Partial<V1Pod['spec']> = {}): V1Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace, labels: { app: name }, annotations },
  spec: {
    automountServiceAccountToken: false,
    containers: [{ name: 'app', image: 'registry.example/agent:1', env: [{ name: 'NO_PROXY', value: 'internal.example.com' }] }],
    ...extra,
  },
});

async function getPod(name: string, namespace: string): Promise<V1Pod> {
  return core.readNamespacedPod({ name, namespace });
}

const names = (list: V1Container[] | undefined): string[] => (list ?? []).map((c) => c.name);
const isInjected = (p: V1Pod): boolean => names(p.spec?.initContainers).includes('chaperone-proxy') || names(p.spec?.containers).includes('chaperone-proxy');

async function createPod(p: V1Pod): Promise<{ pod: V1Pod; stderr: string }> {
  const r = await kubectl(['apply', '-f', '-'], JSON.stringify(p));
  if (r.code !== 0) throw new Error(`kubectl apply ${p.metadata!.name}: ${r.stderr}`);
  return { pod: await getPod(p.metadata!.name!, p.metadata!.namespace!), stderr: r.stderr };
}

function httpsAgent(ca: string): Agent {
  return new Agent({ connect: { ca } });
}

/** The serving certificate's fingerprint, from a new TLS connection. */
function servedFingerprint(ca: string, at = port): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: WEBHOOK_HOST, port: at, ca }, () => {
      const fp = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
      socket.end();
      resolve(fp);
    });
    socket.once('error', reject);
  });
}

beforeAll(async () => {
  process.env.KUBECONFIG ??= kubeconfig();
  kc = loadKubeConfig();
  core = kc.makeApiClient(CoreV1Api);
  await installCrd();
  await kubectlOk(['apply', '-f', join(PROJECT_ROOT, 'deploy', 'operator', 'rbac.yaml')]); // the namespace
  await kubectlOk(['apply', '-f', join(PROJECT_ROOT, 'deploy', 'webhook', 'rbac.yaml')]);
  await kubectl(['delete', 'secret', 'chaperone-webhook-tls', '-n', OWN_NS, '--ignore-not-found']);
  await kubectl(['delete', 'mutatingwebhookconfiguration', 'chaperone-webhook', '--ignore-not-found']);
  await kubectlOk(['create', 'namespace', NS]);
  await kubectlOk(['label', 'namespace', NS, `${RUN_LABEL}=${RUN}`]);
  await kubectlOk(['create', 'namespace', LABELLED_NS]);
  await kubectlOk(['label', 'namespace', LABELLED_NS, `${RUN_LABEL}=${RUN}`, 'chaperone.dev/injection=enabled']);
  dir = await mkdtemp(join(tmpdir(), 'chaperone-webhook-e2e-'));
  saKubeconfig = await serviceAccountKubeconfig('chaperone-webhook', OWN_NS, dir);
  port = await freePort();

  // The configuration as the chart installs it, without a caBundle: the webhook's leader fills it in.
  const config = webhookConfiguration({
    namespace: OWN_NS,
    url: `https://${WEBHOOK_HOST}:${port}`,
    namespaceSelectorExpressions: [{ key: RUN_LABEL, operator: 'In', values: [RUN] }],
  });
  await kubectlOk(['apply', '-f', '-'], JSON.stringify(config));
  webhook = await startWebhook();
  await vi.waitFor(async () => expect(await caBundle()).toMatch(/BEGIN CERTIFICATE/), POLL);
  operator = await startOperator({
    kubeconfig: kc,
    namespace: OWN_NS,
    leaderElection: false,
    healthAddr: '127.0.0.1:0',
    identity: `e2e-wh-${RUN}`,
    log: createLogger('operator', 'warn'),
  });

  // The API server picks up the caBundle within a moment: until then calls fail and (Ignore) pods pass.
  await vi.waitFor(async () => {
    const r = await kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], JSON.stringify(pod('probe', NS, { 'chaperone.dev/inject': 'true' })));
    expect(r.code === 0 && isInjected(JSON.parse(r.stdout) as V1Pod)).toBe(true);
  }, POLL);
}, 180_000);

afterAll(async () => {
  await webhook?.stop();
  await operator?.stop();
  await kubectl(['delete', 'mutatingwebhookconfiguration', 'chaperone-webhook', '--ignore-not-found']);
  await kubectl(['label', 'namespace', 'kube-public', `${RUN_LABEL}-`]);
  await kubectl(['label', 'namespace', OWN_NS, `${RUN_LABEL}-`]);
  for (const ns of [NS, LABELLED_NS]) await core?.deleteNamespace({ name: ns }).catch(() => undefined);
  await kubectl(['delete', 'pod', '--all', '-n', 'kube-public', '-l', `e2e-run=${RUN}`]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('chaperone webhook on a real API server', () => {
  it('injects an annotated pod applied with kubectl: native sidecar, volumes, env, label and status', async () => {
    const { pod: stored } = await createPod(pod('agent', NS, { 'chaperone.dev/inject': 'true', 'chaperone.dev/agent': 'researcher' }));
    const proxy = stored.spec!.initContainers!.find((c) => c.name === 'chaperone-proxy')!;
    expect(proxy.restartPolicy).toBe('Always'); // v1.36: native sidecars
    expect(proxy.image).toBe('registry.example/chaperone:e2e');
    expect(proxy.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(proxy.startupProbe?.httpGet?.path).toBe('/readyz');
    expect(stored.spec!.volumes!.map((v) => v.name)).toEqual(expect.arrayContaining(['chaperone-config', 'chaperone-ca', 'chaperone-trust', 'chaperone-podinfo']));
    const env = Object.fromEntries((stored.spec!.containers[0]!.env ?? []).map((e) => [e.name, e.value]));
    expect(env).toMatchObject({
      HTTPS_PROXY: 'http://127.0.0.1:14001',
      https_proxy: 'http://127.0.0.1:14001',
      SSL_CERT_FILE: '/etc/chaperone/trust/ca-bundle.crt',
      NODE_EXTRA_CA_CERTS: '/etc/chaperone/trust/ca.crt',
    });
    expect(env.NO_PROXY).toBe('internal.example.com,localhost,127.0.0.1,::1');
    expect(stored.metadata!.labels!['chaperone.dev/injected']).toBe('true');
    const status = JSON.parse(stored.metadata!.annotations!['chaperone.dev/status']!) as { native: boolean; initContainers: string[] };
    expect(status).toMatchObject({ native: true, initContainers: ['chaperone-proxy'] });
  });

  it('leaves a pod that did not opt in untouched', async () => {
    const { pod: stored } = await createPod(pod('plain', NS));
    expect(isInjected(stored)).toBe(false);
    expect(stored.metadata!.labels!['chaperone.dev/injected']).toBeUndefined();
  });

  it("injects a Deployment's pods, created by kube-controller-manager", async () => {
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'agents', namespace: NS },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'agents' } },
        template: {
          metadata: { labels: { app: 'agents' }, annotations: { 'chaperone.dev/inject': 'true' } },
          spec: { automountServiceAccountToken: false, containers: [{ name: 'app', image: 'registry.example/agent:1' }] },
        },
      },
    };
    await kubectlOk(['apply', '-f', '-'], JSON.stringify(deployment));
    const pods = async (): Promise<V1Pod[]> => (await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=agents' })).items;
    await expect.poll(async () => (await pods()).length, POLL).toBe(2);
    for (const p of await pods()) expect(isInjected(p), p.metadata!.name).toBe(true);
  });

  it('injects every pod of a namespace labelled chaperone.dev/injection=enabled, except those that opt out', async () => {
    const { pod: labelled } = await createPod(pod('by-namespace', LABELLED_NS));
    expect(isInjected(labelled)).toBe(true);
    const { pod: optedOut } = await createPod(pod('opted-out', LABELLED_NS, { 'chaperone.dev/inject': 'false' }));
    expect(isInjected(optedOut)).toBe(false);
  });

  it("never injects the system namespaces or Chaperone's own, even when they match every other condition", async () => {
    for (const ns of ['kube-public', OWN_NS]) {
      await kubectlOk(['label', 'namespace', ns, `${RUN_LABEL}=${RUN}`, '--overwrite']);
      const p = pod(`excluded-${RUN}`, ns, { 'chaperone.dev/inject': 'true' });
      p.metadata!.labels!['e2e-run'] = RUN;
      const { pod: stored } = await createPod(p);
      expect(isInjected(stored), ns).toBe(false);
      await kubectlOk(['delete', 'pod', p.metadata!.name!, '-n', ns, '--wait=false']);
      await kubectlOk(['label', 'namespace', ns, `${RUN_LABEL}-`]);
    }
  });

  it('answers server-side dry runs (sideEffects None) without creating anything', async () => {
    const r = await kubectl(['apply', '--dry-run=server', '-o', 'json', '-f', '-'], JSON.stringify(pod('dry', NS, { 'chaperone.dev/inject': 'true' })));
    expect(r.code, r.stderr).toBe(0);
    expect(isInjected(JSON.parse(r.stdout) as V1Pod)).toBe(true);
    await expect(getPod('dry', NS)).rejects.toSatisfy(isNotFound);
  });

  it('serves /readyz and /metrics over TLS, and answers a malformed AdmissionReview with 400 and a reason', async () => {
    const ca = (await caBundle())!;
    const dispatcher = httpsAgent(ca);
    const base = `https://${WEBHOOK_HOST}:${port}`;
    expect((await request(`${base}/readyz`, { dispatcher })).statusCode).toBe(200);
    const bad = await request(`${base}/inject`, { dispatcher, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'AdmissionReview' }) });
    expect(bad.statusCode).toBe(400);
    expect(await bad.body.text()).toMatch(/apiVersion/);
    const metrics = await (await request(`${base}/metrics`, { dispatcher })).body.text();
    const count = (result: string): number => Number(new RegExp(`^chaperone_webhook_admissions_total\\{result="${result}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);
    expect(count('injected')).toBeGreaterThanOrEqual(4);
    expect(count('skipped')).toBeGreaterThanOrEqual(2);
    expect(count('invalid')).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(/^chaperone_webhook_admission_duration_seconds_bucket\{le="0.01",result="injected"\} \d+/m);
    expect(Number(/^chaperone_webhook_certificate_expiry_timestamp_seconds (\S+)/m.exec(metrics)?.[1])).toBeGreaterThan(Date.now() / 1000);
    await dispatcher.close();
  });

  it('renews its certificate (the leader) and every replica serves the new one without a restart', async () => {
    await webhook!.stop();
    await kubectlOk(['delete', 'secret', 'chaperone-webhook-tls', '-n', OWN_NS]);
    webhook = await startWebhook(['--cert-validity-seconds', '12']);
    await expect.poll(async () => (await caBundle()) ?? '', POLL).toMatch(/BEGIN CERTIFICATE/);
    const ca = (await caBundle())!;
    // A second replica: it follows the Secret the leader keeps.
    const portB = await freePort();
    const replica = await startWebhook(['--cert-validity-seconds', '12', '--listen', `${WEBHOOK_HOST}:${portB}`, '--identity', `e2e-webhook-b-${RUN}`]);
    try {
      await expect.poll(() => servedFingerprint(ca).catch(() => ''), POLL).not.toBe('');
      const first = await servedFingerprint(ca);
      expect(await servedFingerprint(ca, portB)).toBe(first);
      await webhook.waitForLine((l) => l.msg === 'webhook serving certificate renewed', 20_000);
      await expect.poll(() => servedFingerprint(ca), POLL).not.toBe(first);
      await expect.poll(() => servedFingerprint(ca, portB), POLL).not.toBe(first);
      expect(replica.lines.some((l) => l.msg === 'webhook serving certificate renewed')).toBe(false);
    } finally {
      await replica.stop();
    }
    // Same CA, so the API server keeps calling: a new pod is still injected.
    expect(await caBundle()).toBe(ca);
    await expect.poll(async () => {
      const r = await kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], JSON.stringify(pod('after-renewal', NS, { 'chaperone.dev/inject': 'true' })));
      return r.code === 0 && isInjected(JSON.parse(r.stdout) as V1Pod);
    }, POLL).toBe(true);
    expect(new X509Certificate(ca).ca).toBe(true);
  });

  it('with the webhook down, an opted-in pod is still created (failurePolicy Ignore) and the operator reports it', async () => {
    await webhook!.stop();
    webhook = undefined;
    const { pod: stored } = await createPod(pod('while-down', NS, { 'chaperone.dev/inject': 'true' }));
    expect(isInjected(stored)).toBe(false);
    const events = async (): Promise<string[]> =>
      (JSON.parse(await kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=while-down', '-o', 'json'])) as { items: Array<{ reason: string }> }).items.map((e) => e.reason);
    await expect.poll(events, POLL).toContain('NotInjected');
  });
});
