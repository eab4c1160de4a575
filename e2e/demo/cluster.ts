// `make demo`: the whole story on the local control plane (or the cluster in $KUBECONFIG).
//  1. `helm template` renders the chart; its objects are applied (CRD, RBAC, Services, the
//     MutatingWebhookConfiguration, the dashboard). This control plane has no kubelet, so the two
//     Deployments run here as processes, with the Deployments' own arguments and the chart's
//     ServiceAccounts' tokens (so the chart's RBAC is what they get), and the webhook configuration
//     points at the local webhook.
//  2. An example GovernancePolicy is applied and an annotated agent pod is created: the webhook
//     injects it, the operator compiles the policy, the namespace CA and trust bundle.
//  3. The pod's sidecar runs from the injected spec (its volumes materialised from the API objects),
//     and the app's injected env sends allowed, redacted, denied, rate-limited and held calls.
//  4. Decisions, audit lines and metrics from all three components are printed; everything is removed.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
import { Agent, request } from 'undici';
import { parseAllDocuments } from 'yaml';
import { PROJECT_ROOT } from '../../lib/project.js';
import { down, up } from '../control-plane/cluster.js';
import { makeTestPki } from '../fake-provider/certs.js';
import { startFakeProvider } from '../fake-provider/server.js';
import { curlWithEnv } from '../harness/curl.js';
import { CHART_DIR, helmOk } from '../harness/helm.js';
import { kubectl, kubectlOk, serviceAccountKubeconfig } from '../harness/kubectl.js';
import { materialiseVolumes, runInjectedPod } from '../harness/pod-runtime.js';
import { freePort, WEBHOOK_HOST } from '../harness/ports.js';
import { spawnChaperone, type ChaperoneProcess } from '../harness/sidecar-process.js';
import { demoCalls, demoReport, say } from './calls.js';

const RELEASE_NS = 'chaperone-system';
/** The demo's own namespace (the example policy says `agents`; the demo moves it here so it never touches yours). */
const AGENTS_NS = 'chaperone-demo';
const POLICY = join(PROJECT_ROOT, 'examples', 'policies', 'demo.yaml');
const FAKE_HOSTS = ['api.openai.com', 'api.anthropic.com', 'mcp.tools.example.com'];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: unknown };

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** Replaces `--flag value` in args (or appends it). */
function setFlag(args: string[], flag: string, value: string): string[] {
  const i = args.indexOf(flag);
  return i >= 0 ? [...args.slice(0, i + 1), value, ...args.slice(i + 2)] : [...args, flag, value];
}

async function main(): Promise<void> {
  const ownCluster = !process.env.KUBECONFIG;
  const dir = await mkdtemp(join(tmpdir(), 'chaperone-demo-'));
  const children: ChaperoneProcess[] = [];
  let installed: K8sObject[] = [];
  let core: CoreV1Api | undefined;
  try {
    say('== Chaperone on a Kubernetes control plane');
    process.env.KUBECONFIG = process.env.KUBECONFIG ?? (await up());
    const kc = new KubeConfig();
    kc.loadFromFile(process.env.KUBECONFIG);
    core = kc.makeApiClient(CoreV1Api);
    say(`cluster: ${kc.getCurrentCluster()?.server}`);

    // 1. The chart.
    say(`\n-- helm template ${CHART_DIR} (helm built from its Go module)`);
    const rendered = await helmOk(['template', 'chaperone', CHART_DIR, '--namespace', RELEASE_NS, '--include-crds', '--no-hooks']);
    const objects = parseAllDocuments(rendered).map((d) => d.toJS() as K8sObject | null).filter((o): o is K8sObject => !!o?.kind);
    const deployments = objects.filter((o) => o.kind === 'Deployment') as unknown as V1Deployment[];
    const byComponent = (c: string): V1Deployment => deployments.find((d) => d.metadata?.labels?.['app.kubernetes.io/component'] === c)!;
    const [operatorDeployment, webhookDeployment] = [byComponent('operator'), byComponent('webhook')];
    if (!operatorDeployment || !webhookDeployment) throw new Error('the chart rendered no operator or webhook Deployment');
    const webhookPort = await freePort();
    const toApply = objects
      .filter((o) => o.kind !== 'Deployment')
      .map((o) => {
        if (o.kind !== 'MutatingWebhookConfiguration') return o;
        // No kubelet, no Service endpoints: the API server calls the webhook process directly.
        const webhooks = (o.webhooks as Array<{ clientConfig: { service?: { path?: string }; url?: string } }>).map((w) => ({
          ...w,
          clientConfig: { url: `https://${WEBHOOK_HOST}:${webhookPort}${w.clientConfig.service?.path ?? '/inject'}` },
        }));
        return { ...o, webhooks };
      });
    const webhookConfigName = toApply.find((o) => o.kind === 'MutatingWebhookConfiguration')!.metadata.name;
    await kubectl(['create', 'namespace', RELEASE_NS]);
    installed = toApply.filter((o) => o.kind !== 'CustomResourceDefinition');
    const crds = toApply.filter((o) => o.kind === 'CustomResourceDefinition');
    await kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: crds }));
    await kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd/governancepolicies.chaperone.dev']);
    const applied = await kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: toApply.filter((o) => o.kind !== 'CustomResourceDefinition') }));
    for (const line of applied.trim().split('\n')) say(`   ${line}`);

    // The two Deployments, as processes with their own args and their ServiceAccounts' rights.
    const containerArgs = (d: V1Deployment): string[] => d.spec!.template.spec!.containers[0]!.args ?? [];
    const saFile = async (d: V1Deployment): Promise<string> => serviceAccountKubeconfig(d.spec!.template.spec!.serviceAccountName!, RELEASE_NS, dir);
    let webhookArgs = setFlag(containerArgs(webhookDeployment), '--listen', `${WEBHOOK_HOST}:${webhookPort}`);
    webhookArgs = [...webhookArgs, '--tls-san', WEBHOOK_HOST, '--kubeconfig', await saFile(webhookDeployment), '--identity', 'demo-webhook', '--tls-refresh-ms', '500'];
    const operatorHealth = await freePort();
    const operatorArgs = [...setFlag(containerArgs(operatorDeployment), '--health-addr', `127.0.0.1:${operatorHealth}`), '--kubeconfig', await saFile(operatorDeployment), '--identity', 'demo-operator'];
    say(`\n-- chaperone ${webhookArgs.join(' ')}`);
    const webhook = spawnChaperone(webhookArgs);
    children.push(webhook);
    await webhook.waitForLine((l) => l.msg === 'webhook serving', 30_000);
    say(`-- chaperone ${operatorArgs.join(' ')}`);
    const operator = spawnChaperone(operatorArgs);
    children.push(operator);
    await operator.waitForLine((l) => l.msg === 'operator started', 30_000);
    const caBundle = await waitFor('the webhook to write its caBundle', async () => {
      const config = JSON.parse(await kubectlOk(['get', 'mutatingwebhookconfiguration', webhookConfigName, '-o', 'json'])) as { webhooks: Array<{ clientConfig: { caBundle?: string } }> };
      const ca = config.webhooks[0]?.clientConfig.caBundle;
      return ca ? Buffer.from(ca, 'base64').toString('utf8') : undefined;
    });
    say('   the webhook created its serving certificate and set the caBundle');

    // 2. A policy and an annotated agent pod.
    // A fresh namespace: whatever an earlier run left there (other policies) would change the answers.
    await kubectl(['delete', 'namespace', AGENTS_NS, '--ignore-not-found', '--wait=true', '--timeout=60s']);
    await kubectlOk(['create', 'namespace', AGENTS_NS]);
    const policy = parseAllDocuments(await readFile(POLICY, 'utf8')).map((d) => d.toJS() as K8sObject)[0]!;
    policy.metadata.namespace = AGENTS_NS;
    say(`\n-- kubectl apply -f ${POLICY} (namespace ${AGENTS_NS})`);
    say(`   ${(await kubectlOk(['apply', '-f', '-'], JSON.stringify(policy))).trim()}`);
    const agentPod: V1Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'researcher', namespace: AGENTS_NS, labels: { app: 'researcher' }, annotations: { 'chaperone.dev/inject': 'true', 'chaperone.dev/agent': 'researcher' } },
      spec: { automountServiceAccountToken: false, containers: [{ name: 'agent', image: 'registry.example/research-agent:1' }] },
    };
    say(`-- kubectl apply: pod ${AGENTS_NS}/researcher, annotated chaperone.dev/inject: "true"`);
    // The API server may take a moment to load the new caBundle: until then (failurePolicy Ignore) a
    // pod would be created without the sidecar, so try it with a server-side dry run first.
    await waitFor('the API server to call the webhook', async () => {
      const r = await kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], JSON.stringify(agentPod));
      return r.code === 0 && (JSON.parse(r.stdout) as V1Pod).spec?.initContainers?.some((c) => c.name === 'chaperone-proxy') ? true : undefined;
    });
    await kubectlOk(['apply', '-f', '-'], JSON.stringify(agentPod));
    const pod = await core.readNamespacedPod({ name: 'researcher', namespace: AGENTS_NS });
    const proxy = pod.spec!.initContainers?.find((c) => c.name === 'chaperone-proxy') ?? pod.spec!.containers.find((c) => c.name === 'chaperone-proxy');
    if (!proxy) throw new Error('the pod was not injected');
    say(`   injected: ${proxy.restartPolicy === 'Always' ? 'native sidecar (initContainers, restartPolicy Always)' : 'sidecar container'} ${proxy.name}, image ${proxy.image}`);
    say(`   chaperone.dev/status: ${pod.metadata!.annotations!['chaperone.dev/status']}`);
    const gp = await waitFor('the policy to be Ready', async () => {
      const out = JSON.parse(await kubectlOk(['get', 'gp', policy.metadata.name, '-n', AGENTS_NS, '-o', 'json'])) as { status?: { conditions?: Array<{ type: string; status: string; reason: string }> } };
      return out.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True');
    });
    say(`   GovernancePolicy ${AGENTS_NS}/${policy.metadata.name}: Ready=${gp.status} (${gp.reason})`);
    await waitFor('the namespace config, CA and trust bundle', async () => {
      const [config, trust] = await Promise.all([
        core!.readNamespacedConfigMap({ name: 'chaperone-config', namespace: AGENTS_NS }),
        core!.readNamespacedConfigMap({ name: 'chaperone-trust', namespace: AGENTS_NS }),
        core!.readNamespacedSecret({ name: 'chaperone-ca', namespace: AGENTS_NS }),
      ]);
      return config.data?.['policies.yaml']?.includes('name: demo') && trust.data?.['ca.crt'] ? true : undefined;
    });
    say('   operator: chaperone-config, chaperone-ca and chaperone-trust are in place');

    // 3. The pod runs: its sidecar from the injected spec; the app's calls with the injected env.
    const pki = await makeTestPki(FAKE_HOSTS);
    const fake = await startFakeProvider({ tls: { cert: pki.cert, key: pki.key } });
    const upstreamCa = join(dir, 'upstream-ca.crt');
    await writeFile(upstreamCa, pki.caCert);
    const root = join(dir, 'pod');
    await materialiseVolumes(core, pod, root);
    const running = await runInjectedPod(pod, root, 'agent', ['--upstream-ca', upstreamCa, ...FAKE_HOSTS.flatMap((h) => ['--resolve', `${h}=127.0.0.1:${fake.port}`])]);
    say(`\n-- the pod's sidecar runs (volumes materialised in ${root}); the fake provider stands in for ${FAKE_HOSTS.join(', ')}`);
    say(`   app env: HTTPS_PROXY=${running.appEnv.HTTPS_PROXY} SSL_CERT_FILE=${running.appEnv.SSL_CERT_FILE}\n`);
    try {
      await waitFor('the sidecar to be ready', async () => ((await request(`${running.sidecar.adminUrl}/readyz`, { dispatcher: running.admin })).statusCode === 200 ? true : undefined));
      say(`   admin port: ${running.sidecar.adminUrl} (HTTPS, certificate from the namespace CA)\n`);
      const app = (args: string[]) => curlWithEnv(args, running.appEnv);
      await demoCalls(running.sidecar, fake, { viaProxy: app, direct: app, admin: running.admin });
      await demoReport(running.sidecar, running.admin);
    } finally {
      await running.sidecar.stop();
      await running.admin.close();
      await fake.close();
    }

    // 4. What the cluster components saw.
    const dispatcher = new Agent({ connect: { ca: caBundle } });
    const webhookMetrics = await (await request(`https://${WEBHOOK_HOST}:${webhookPort}/metrics`, { dispatcher })).body.text();
    await dispatcher.close();
    // The operator's health port is TLS with a self-signed certificate that nobody verifies.
    const unverified = new Agent({ connect: { rejectUnauthorized: false } });
    const operatorMetrics = await (await request(`https://127.0.0.1:${operatorHealth}/metrics`, { dispatcher: unverified })).body.text();
    await unverified.close();
    say('\n== Webhook and operator metrics (excerpt)');
    for (const line of [...webhookMetrics.split('\n'), ...operatorMetrics.split('\n')]) {
      if (/^chaperone_(webhook_admissions_total|reconcile_total)/.test(line)) say(`   ${line}`);
    }
    say('\ndemo finished: the chart installed, the pod injected, the policy compiled, and allow, redact, deny, rate_limited, hold and error all shown');
  } finally {
    for (const child of children.reverse()) await child.stop();
    // Everything the demo made goes again (the CRD stays: other users of a shared cluster may rely on it).
    if (core) await kubectl(['delete', 'namespace', AGENTS_NS, '--wait=false']);
    if (installed.length > 0) await kubectl(['delete', '--ignore-not-found', '--wait=false', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: installed }));
    if (ownCluster) await down();
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`demo failed: ${err.message}\n`);
    process.exit(1);
  },
);

