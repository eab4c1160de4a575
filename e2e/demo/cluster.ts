// `make demo`: the whole story on the local cluster's real node (or the cluster in $KUBECONFIG, with
// the images loaded: see the README).
//  1. `helm install` of the chart: the operator and the webhook run as pods of the image built from
//     the Dockerfile; the webhook leader writes its certificate and the caBundle.
//  2. An example GovernancePolicy is applied and an annotated agent pod is created: the API server
//     calls the webhook pod, which injects it; the operator pod compiles the policy, the namespace CA
//     and the trust bundle. A fake provider (real OpenAI, Anthropic and MCP wire formats over TLS)
//     runs as a pod too, reached by the provider names.
//  3. From inside the agent pod, curl with nothing but the injected env sends allowed, redacted,
//     denied, rate-limited and held calls through the sidecar.
//  4. Decisions (the sidecar's audit log), its metrics (its admin port at the pod address), and the
//     webhook's and operator's metrics are printed; everything is removed.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { Agent, request } from 'undici';
import { parseAllDocuments } from 'yaml';
import { PROJECT_ROOT } from '../../lib/project.js';
import { down, up } from '../control-plane/cluster.js';
import { CURL_BASE_ARGS, parseCurl } from '../harness/curl.js';
import { deployFakeProvider } from '../harness/fake-provider-pod.js';
import { CHART_DIR, helm } from '../harness/helm.js';
import { kubectl, kubectlOk } from '../harness/kubectl.js';
import { kubectlChaperone } from '../harness/plugin.js';
import { AGENT_IMAGE, CHAPERONE_IMAGE_REPOSITORY, describePod, E2E_IMAGE_TAG, exec, jsonLogLines, waitForReady } from '../harness/pods.js';
import type { LogLine } from '../harness/sidecar-process.js';
import { waitFor } from '../harness/wait.js';
import { demoCalls, demoReport, say, type DemoTarget } from './calls.js';

// A release and namespaces of the demo's own, so it never touches a Chaperone you installed yourself
// (release `chaperone` in `chaperone-system`, as the README says) or its cluster-wide objects.
const RELEASE = 'demo';
const RELEASE_NS = 'chaperone-demo-system';
/** The agents the demo's calls name (e2e/demo/calls.ts), one pod each. */
const AGENTS = ['researcher', 'writer', 'intern'];
/** The agents' namespace (the example policy says `agents`; the demo moves it here). */
const AGENTS_NS = 'chaperone-demo';
/** The chart's approver ClusterRole (<release fullname>-approver) and the person bound to it. */
const APPROVER_ROLE = `${RELEASE}-chaperone-approver`;
const APPROVER = 'alice@example.com';
const POLICY = join(PROJECT_ROOT, 'examples', 'policies', 'demo.yaml');
const FAKE_HOSTS = ['api.openai.com', 'api.anthropic.com', 'mcp.tools.example.com'];
const UPSTREAM_CA = 'demo-upstream-ca';

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };

const podIp = async (namespace: string, selector: string): Promise<string> =>
  (await kubectlOk(['get', 'pods', '-n', namespace, '-l', selector, '--field-selector', 'status.phase=Running', '-o', 'jsonpath={.items[0].status.podIP}'])).trim();

async function main(): Promise<void> {
  const ownCluster = !process.env.KUBECONFIG;
  const dir = await mkdtemp(join(tmpdir(), 'chaperone-demo-'));
  let installed = false;
  try {
    say('== Chaperone on a Kubernetes cluster with a real node');
    process.env.KUBECONFIG = process.env.KUBECONFIG ?? (await up());
    say(`cluster: ${(await kubectlOk(['config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}'])).trim()}`);
    say((await kubectlOk(['get', 'nodes', '-o', 'wide'])).trim().replace(/^/gm, '   '));

    // 1. The chart, as a user installs it.
    const helmArgs = [
      'install', RELEASE, CHART_DIR, '--namespace', RELEASE_NS, '--create-namespace',
      '--set', `image.repository=${CHAPERONE_IMAGE_REPOSITORY}`, '--set', `image.tag=${E2E_IMAGE_TAG}`, '--set', 'image.pullPolicy=IfNotPresent',
      '--set', `sidecar.upstreamCaConfigMap=${UPSTREAM_CA}`, '--set', 'webhook.replicaCount=1',
      '--wait', '--timeout', '4m',
    ];
    say(`\n-- helm ${helmArgs.join(' ')}`);
    // An earlier demo that was interrupted may have left its release.
    await helm(['uninstall', RELEASE, '--namespace', RELEASE_NS, '--wait']);
    installed = true;
    const install = await helm(helmArgs);
    if (install.code !== 0) {
      const pods = (await kubectl(['get', 'pods', '-n', RELEASE_NS, '-o', 'name'])).stdout.split('\n').filter(Boolean);
      throw new Error(`helm install failed: ${install.stderr}\n${(await Promise.all(pods.map((p) => describePod(RELEASE_NS, p.slice(4))))).join('\n')}`);
    }
    for (const line of install.stdout.split('\n').slice(0, 6)) say(`   ${line}`);
    say((await kubectlOk(['get', 'pods', '-n', RELEASE_NS, '-o', 'wide'])).trim().replace(/^/gm, '   '));
    const caBundle = await waitFor('the webhook to write its caBundle', async () => {
      const ca = (await kubectlOk(['get', 'mutatingwebhookconfiguration', `${RELEASE}-chaperone-webhook`, '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}'])).trim();
      return ca ? Buffer.from(ca, 'base64').toString('utf8') : undefined;
    });
    say('   the webhook pod created its serving certificate and set the caBundle');

    // 2. A fake provider, a policy and an annotated agent pod.
    // A fresh namespace: whatever an earlier run left there (other policies) would change the answers.
    await kubectl(['delete', 'namespace', AGENTS_NS, '--ignore-not-found', '--wait=true', '--timeout=90s']);
    await kubectlOk(['create', 'namespace', AGENTS_NS]);
    const fake = await deployFakeProvider(AGENTS_NS, FAKE_HOSTS, UPSTREAM_CA);
    say(`\n-- the fake provider runs as a pod behind Service ${fake.serviceIp}:443, for ${FAKE_HOSTS.join(', ')}`);
    const policy = parseAllDocuments(await readFile(POLICY, 'utf8')).map((d) => d.toJS() as K8sObject)[0]!;
    policy.metadata.namespace = AGENTS_NS;
    say(`-- kubectl apply -f ${POLICY} (namespace ${AGENTS_NS})`);
    say(`   ${(await kubectlOk(['apply', '-f', '-'], JSON.stringify(policy))).trim()}`);
    const gp = await waitFor('the policy to be Ready', async () => {
      const out = JSON.parse(await kubectlOk(['get', 'gp', policy.metadata.name, '-n', AGENTS_NS, '-o', 'json'])) as { status?: { conditions?: Array<{ type: string; status: string; reason: string }> } };
      return out.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True');
    });
    say(`   GovernancePolicy ${AGENTS_NS}/${policy.metadata.name}: Ready=${gp.status} (${gp.reason}); the operator pod wrote chaperone-config, chaperone-ca and chaperone-trust`);
    // One pod per agent: a pod's identity is its chaperone.dev/agent annotation, which no header changes.
    const agentPod = (agent: string): V1Pod => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: agent, namespace: AGENTS_NS, labels: { app: agent }, annotations: { 'chaperone.dev/inject': 'true', 'chaperone.dev/agent': agent } },
      spec: {
        automountServiceAccountToken: false,
        hostAliases: fake.hostAliases,
        containers: [{ name: 'agent', image: AGENT_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sleep', 'infinity'] }],
      },
    });
    say(`-- kubectl apply: pods ${AGENTS.map((a) => `${AGENTS_NS}/${a}`).join(', ')}, annotated chaperone.dev/inject: "true" and chaperone.dev/agent: <name>`);
    for (const agent of AGENTS) await kubectlOk(['apply', '-f', '-'], JSON.stringify(agentPod(agent)));
    const [pod] = await Promise.all(AGENTS.map((agent) => waitForReady(AGENTS_NS, agent, 180_000)));
    const proxy = pod!.spec!.initContainers?.find((c) => c.name === 'chaperone-proxy') ?? pod!.spec!.containers.find((c) => c.name === 'chaperone-proxy');
    if (!proxy) throw new Error('the pod was not injected');
    say(`   injected: ${proxy.restartPolicy === 'Always' ? 'native sidecar (initContainers, restartPolicy Always)' : 'sidecar container'} ${proxy.name}, image ${proxy.image}`);
    say(`   chaperone.dev/status: ${pod!.metadata!.annotations!['chaperone.dev/status']}`);
    say(`   Running and Ready on ${pod!.spec!.nodeName} at ${pod!.status!.podIP}`);
    const env = await exec(AGENTS_NS, 'researcher', 'agent', ['sh', '-c', 'echo HTTPS_PROXY=$HTTPS_PROXY SSL_CERT_FILE=$SSL_CERT_FILE']);
    say(`   app env: ${env.stdout.trim()}\n`);

    // 3. The calls, from inside the pod of the agent each names.
    const curlInPod = async (args: string[]) => {
      const named = args.map((a) => /^x-chaperone-agent: *(\S+)$/i.exec(a)?.[1]).find((a) => a !== undefined);
      const agent = named && AGENTS.includes(named) ? named : 'researcher';
      const r = await exec(AGENTS_NS, agent, 'agent', ['curl', ...CURL_BASE_ARGS(20_000), ...args]);
      return parseCurl(r.stdout, r.stderr, r.code);
    };
    const admin = new Agent({ connect: { ca: (await kubectlOk(['get', 'configmap', 'chaperone-trust', '-n', AGENTS_NS, '-o', 'jsonpath={.data.ca\\.crt}'])) } });
    const adminUrl = `https://${pod!.status!.podIP}:14090`;
    const target: DemoTarget = {
      viaProxy: curlInPod,
      direct: curlInPod,
      proxyUrl: 'http://127.0.0.1:14001',
      lastReceivedBody: async () => (await fake.receivedBodies()).at(-1) ?? '',
      audits: async () => (await Promise.all(AGENTS.map((a) => jsonLogLines(AGENTS_NS, a, 'chaperone-proxy')))).flat().filter((l) => l.audit === true) as LogLine[],
      metrics: async () => (await request(`${adminUrl}/metrics`, { dispatcher: admin })).body.text(),
      // A person, not the agent: a user bound to the chart's approver ClusterRole decides with kubectl.
      approveHow: (name) => `kubectl create rolebinding approvers -n ${AGENTS_NS} --clusterrole ${APPROVER_ROLE} --user ${APPROVER}; kubectl chaperone approve ${name} -n ${AGENTS_NS} --as ${APPROVER}`,
      approve: async (name) => {
        say(`   kubectl get ar -n ${AGENTS_NS}:\n${(await kubectlOk(['get', 'ar', '-n', AGENTS_NS])).replace(/^/gm, '     ')}`);
        await kubectlOk(['create', 'rolebinding', 'approvers', '-n', AGENTS_NS, '--clusterrole', APPROVER_ROLE, '--user', APPROVER]);
        const r = await kubectlChaperone(['approve', name, '-n', AGENTS_NS, '--as', APPROVER]);
        if (r.code !== 0) throw new Error(`kubectl chaperone approve failed: ${r.stderr}`);
        return r.stdout;
      },
    };
    try {
      await demoCalls(target);
      say(`\n   the sidecar's admin port at the pod address: ${adminUrl} (HTTPS, certificate from the namespace CA)`);
      await demoReport(target);
    } finally {
      await admin.close();
    }

    // 4. What the cluster components saw, at their pod addresses.
    // The webhook's certificate names its Service, not the pod address: the chain is checked, not the name.
    const dispatcher = new Agent({ connect: { ca: caBundle, checkServerIdentity: () => undefined } });
    const webhookIp = await podIp(RELEASE_NS, 'app.kubernetes.io/component=webhook');
    const webhookMetrics = await (await request(`https://${webhookIp}:14443/metrics`, { dispatcher })).body.text();
    await dispatcher.close();
    // The operator's health port is TLS with a self-signed certificate that nobody verifies.
    const unverified = new Agent({ connect: { rejectUnauthorized: false } });
    const operatorIp = await podIp(RELEASE_NS, 'app.kubernetes.io/component=operator');
    const operatorMetrics = await (await request(`https://${operatorIp}:14091/metrics`, { dispatcher: unverified })).body.text();
    await unverified.close();
    say('\n== Webhook and operator metrics (excerpt, from their pods)');
    for (const line of [...webhookMetrics.split('\n'), ...operatorMetrics.split('\n')]) {
      if (/^chaperone_(webhook_admissions_total|reconcile_total)/.test(line)) say(`   ${line}`);
    }
    say('\ndemo finished: the chart installed as pods, the pod injected, the policy compiled, and allow, redact, deny, rate_limited, hold and error all shown');
  } finally {
    // Everything the demo made goes again (the CRD stays: other users of a shared cluster may rely on it).
    await kubectl(['delete', 'namespace', AGENTS_NS, '--wait=false']);
    if (installed) await helm(['uninstall', RELEASE, '--namespace', RELEASE_NS, '--wait', '--timeout', '2m']);
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
