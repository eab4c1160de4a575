// Chaperone as a user runs it, on real pods under a real kubelet: `helm install` runs the operator and
// the webhook as pods from the image built from the Dockerfile, the API server calls the webhook pod,
// `helm test` passes; an annotated agent Deployment is injected and runs, with native sidecars and
// then without (`helm upgrade --set sidecar.nativeSidecars=off`); from inside the agent pod curl, a
// Node.js client (the official openai SDK) and a Python client reach the fake provider (a pod too)
// through the sidecar with nothing but the injected env and trust bundle, and the policy the operator
// compiled decides their calls; Jobs complete in both sidecar modes; Prometheus finds and scrapes the
// sidecar at its pod address as the chart's PodMonitor would; a pod that cannot start says why.
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { PROJECT_ROOT } from '../lib/project.js';
import { deployFakeProvider, type FakeProviderPod } from './harness/fake-provider-pod.js';
import { CHART_DIR, helm, helmOk } from './harness/helm.js';
import { kubectl, kubectlOk } from './harness/kubectl.js';
import { kubectlChaperone } from './harness/plugin.js';
import {
  AGENT_IMAGE, CHAPERONE_IMAGE_REPOSITORY, describePod, E2E_IMAGE_TAG, exec, hasSucceeded, jsonLogLines, logs, waitForPod,
  waitForReady, waitForReadyBySelector,
} from './harness/pods.js';
import { freePort } from './harness/ports.js';
import { waitFor } from './harness/wait.js';

const RUN = randomBytes(3).toString('hex');
const RELEASE = 'pods';
const RELEASE_NS = `chaperone-e2e-rel-${RUN}`;
const NS = `chaperone-e2e-pods-${RUN}`;
/** Only namespaces with this label reach this release's webhook: other suites' pods are untouched. */
const RUN_LABEL = 'e2e.chaperone.dev/pods-run';
const UPSTREAM_CA_CONFIGMAP = 'e2e-upstream-ca';
const FAKE_HOSTS = ['api.openai.com', 'api.anthropic.com'];
const POLL = { timeout: 120_000, interval: 500 };
/** A pod for server-side dry runs: what would the webhook make of it now? */
const PROBE_POD = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'probe', namespace: NS, annotations: { 'chaperone.dev/inject': 'true' } }, spec: { containers: [{ name: 'a', image: AGENT_IMAGE }] } };

let dir: string;
let valuesFile: string;
let fake: FakeProviderPod;
let prometheus: ChildProcess | undefined;

const json = <T>(text: string): T => JSON.parse(text) as T;

const apply = (obj: unknown): Promise<string> => kubectlOk(['apply', '-f', '-'], JSON.stringify(obj));

/** An agent pod template: injected, its app records whether the proxy was ready when it started. */
function agentTemplate(app: string, command: string, annotations: Record<string, string> = {}): Record<string, unknown> {
  return {
    metadata: { labels: { app }, annotations: { 'chaperone.dev/inject': 'true', 'chaperone.dev/agent': 'researcher', ...annotations } },
    spec: {
      automountServiceAccountToken: false,
      // No public DNS here: the provider names lead to the fake provider's Service.
      hostAliases: fake.hostAliases,
      containers: [{ name: 'agent', image: AGENT_IMAGE, imagePullPolicy: 'Never', command: ['sh', '-c', command] }],
    },
  };
}

/** What the app runs first: is its proxy already answering /readyz (HTTPS, the namespace CA)? */
const PROXY_AT_START = `code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert /etc/chaperone/trust/ca.crt https://127.0.0.1:14090/readyz); echo "proxy readyz at app start: $code"`;

async function agentDeployment(name: string, annotations: Record<string, string> = {}): Promise<V1Pod> {
  await apply({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS },
    spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: agentTemplate(name, `${PROXY_AT_START}; exec sleep infinity`, annotations) },
  });
  return waitForReadyBySelector(NS, `app=${name}`, 180_000);
}

function proxyOf(pod: V1Pod) {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((c) => c.name === 'chaperone-proxy');
}

const curlIn = (pod: string, args: string[]) => exec(NS, pod, 'agent', ['curl', '-sS', '-D', '-', '-o', '/dev/stdout', '--max-time', '20', ...args]);
const chatBody = (content: string) => JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });

interface Outcome {
  status: number;
  decision?: string | null;
  content?: string | null;
  error?: string;
}

const providerReceived = (): Promise<string[]> => fake.receivedBodies();

async function promQuery(url: string, expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return ((await res.json()) as { data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }).data?.result ?? [];
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chaperone-pods-e2e-'));
  valuesFile = join(dir, 'values.yaml');
  await writeFile(valuesFile, stringify({
    image: { repository: CHAPERONE_IMAGE_REPOSITORY, tag: E2E_IMAGE_TAG, pullPolicy: 'Never' },
    sidecar: { image: { pullPolicy: 'Never' }, upstreamCaConfigMap: UPSTREAM_CA_CONFIGMAP },
    webhook: { namespaceSelector: { matchExpressions: [{ key: RUN_LABEL, operator: 'In', values: [RUN] }] } },
  }));
  await kubectlOk(['create', 'namespace', RELEASE_NS]);
  // The release: the chart's CRD, RBAC, Services and the two Deployments, which must become Ready.
  const installed = await helm(['install', RELEASE, CHART_DIR, '--namespace', RELEASE_NS, '-f', valuesFile, '--wait', '--timeout', '4m']);
  if (installed.code !== 0) {
    const pods = await kubectl(['get', 'pods', '-n', RELEASE_NS, '-o', 'name']);
    const why = await Promise.all(pods.stdout.split('\n').filter(Boolean).map((p) => describePod(RELEASE_NS, p.replace('pod/', ''))));
    throw new Error(`helm install failed: ${installed.stderr}\n${why.join('\n')}`);
  }

  // The agents' namespace: the fake provider (a pod) and the upstream CA the sidecars trust, a policy.
  await kubectlOk(['create', 'namespace', NS]);
  await kubectlOk(['label', 'namespace', NS, `${RUN_LABEL}=${RUN}`]);
  fake = await deployFakeProvider(NS, FAKE_HOSTS, UPSTREAM_CA_CONFIGMAP);
  await apply({
    apiVersion: 'chaperone.dev/v1alpha1',
    kind: 'GovernancePolicy',
    metadata: { name: 'agents', namespace: NS },
    spec: {
      mode: 'enforce',
      egress: { defaultAction: 'allow', rules: [{ match: 'api.openai.com/v1/embeddings', action: 'deny', reason: 'no embeddings' }] },
      dlp: { mode: 'redact', sensitivity: 'medium' },
      // The pod's identity (chaperone.dev/agent: researcher) may not call it, whatever name a call claims.
      tools: { agents: [{ name: 'researcher', forbidden: ['delete_database'] }] },
      approvals: { tools: ['send_email'] },
    },
  });
  // The operator pod compiles it, with the namespace CA and trust bundle, before any agent starts.
  await waitFor('the operator to compile the policy', async () => /name: agents/.test((await kubectl(['get', 'configmap', 'chaperone-config', '-n', NS, '-o', 'jsonpath={.data.policies\\.yaml}'])).stdout));
  await waitFor('the trust bundle', async () => /BEGIN CERTIFICATE/.test((await kubectl(['get', 'configmap', 'chaperone-trust', '-n', NS, '-o', 'jsonpath={.data.ca\\.crt}'])).stdout));
}, 420_000);

afterAll(async () => {
  prometheus?.kill('SIGTERM');
  await kubectl(['delete', 'namespace', NS, '--wait=false']);
  await helm(['uninstall', RELEASE, '--namespace', RELEASE_NS, '--wait', '--timeout', '2m']);
  await kubectl(['delete', 'namespace', RELEASE_NS, '--wait=false']);
  if (dir) await rm(dir, { recursive: true, force: true });
}, 180_000);

describe('the chart on a real node', () => {
  it('runs the operator and the webhook as Ready pods of the image built from the Dockerfile, and helm test passes', async () => {
    const pods = json<{ items: V1Pod[] }>(await kubectlOk(['get', 'pods', '-n', RELEASE_NS, '-l', `app.kubernetes.io/instance=${RELEASE}`, '-o', 'json'])).items;
    const components = pods.map((p) => p.metadata!.labels!['app.kubernetes.io/component']).sort();
    expect(components).toEqual(['operator', 'webhook', 'webhook']);
    for (const p of pods) {
      expect(p.spec!.containers[0]!.image).toBe(`${CHAPERONE_IMAGE_REPOSITORY}:${E2E_IMAGE_TAG}`);
      expect(p.status!.containerStatuses![0]!.ready, p.metadata!.name).toBe(true);
      expect(p.status!.containerStatuses![0]!.restartCount, p.metadata!.name).toBe(0);
    }
    const test = await helm(['test', RELEASE, '--namespace', RELEASE_NS, '--logs', '--timeout', '3m']);
    expect(test.code, `${test.stdout}\n${test.stderr}`).toBe(0);
    expect(test.stdout).toMatch(/Phase:\s+Succeeded/);
    expect(test.stdout).toMatch(/ok: webhook https:\/\//);
    expect(test.stdout).toMatch(/ok: operator https:\/\//);
  }, 240_000);

  it('the webhook leader wrote the caBundle, and the API server calls the webhook pod for new pods', async () => {
    const mwc = json<{ webhooks: Array<{ clientConfig: { caBundle?: string; service?: { name: string } } }> }>(
      await kubectlOk(['get', 'mutatingwebhookconfiguration', `${RELEASE}-chaperone-webhook`, '-o', 'json']),
    );
    expect(mwc.webhooks[0]!.clientConfig.service?.name).toBe(`${RELEASE}-chaperone-webhook`);
    expect(Buffer.from(mwc.webhooks[0]!.clientConfig.caBundle ?? '', 'base64').toString()).toMatch(/BEGIN CERTIFICATE/);
    await expect.poll(async () => {
      const r = await kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], JSON.stringify(PROBE_POD));
      return r.code === 0 && proxyOf(json<V1Pod>(r.stdout)) !== undefined;
    }, POLL).toBe(true);
  });
});

describe('transparent capture where Pod Security forbids it', () => {
  it('a namespace enforcing "restricted" gets proxy-env mode, with the reason in a warning and in the status record', async () => {
    const restricted = `${NS}-restricted`;
    await kubectlOk(['create', 'namespace', restricted]);
    try {
      await kubectlOk(['label', 'namespace', restricted, `${RUN_LABEL}=${RUN}`, 'pod-security.kubernetes.io/enforce=restricted']);
      // A pod that "restricted" admits, asking for transparent capture.
      const pod = {
        ...PROBE_POD,
        metadata: { ...PROBE_POD.metadata, namespace: restricted, annotations: { ...PROBE_POD.metadata.annotations, 'chaperone.dev/capture': 'transparent' } },
        spec: {
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [{ name: 'a', image: AGENT_IMAGE, securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
        },
      };
      // The webhook learns the new namespace's labels from its watch: wait for its answer to change.
      let answer = { code: 1, stdout: '', stderr: '' };
      await waitFor('the webhook to see the restricted namespace', async () => {
        answer = await kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], JSON.stringify(pod));
        return answer.code === 0 && /transparent capture not possible/.test(answer.stderr);
      });
      const injected = json<V1Pod>(answer.stdout);
      expect(injected.spec!.initContainers!.map((c) => c.name)).toEqual(['chaperone-proxy']);
      expect(answer.stderr).toMatch(/enforces Pod Security "restricted"/);
      expect(JSON.parse(injected.metadata!.annotations!['chaperone.dev/status']!)).toMatchObject({ capture: 'proxy-env', captureFallback: expect.stringMatching(/restricted/) });
    } finally {
      await kubectl(['delete', 'namespace', restricted, '--wait=false']);
    }
  });
});

describe.each([
  { mode: 'native sidecars', native: true },
  { mode: 'a regular sidecar container (--native-sidecars off)', native: false },
])('an injected agent with $mode', ({ native }) => {
  const name = native ? 'agent-native' : 'agent-classic';
  let pod: V1Pod;

  beforeAll(async () => {
    if (!native) {
      // The webhook pods roll with the new flag; the agent then gets the regular container.
      await helmOk(['upgrade', RELEASE, CHART_DIR, '--namespace', RELEASE_NS, '-f', valuesFile, '--set', 'sidecar.nativeSidecars=off', '--wait', '--timeout', '4m']);
      // Until the old webhook pods are gone, one may still answer: wait for the new answer.
      await waitFor('the webhook to inject regular sidecar containers', async () => {
        const r = await kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], JSON.stringify(PROBE_POD));
        return r.code === 0 && (json<V1Pod>(r.stdout).spec?.containers.some((c) => c.name === 'chaperone-proxy') ?? false);
      });
    }
    pod = await agentDeployment(name);
  }, 420_000);

  it('is injected as asked, runs Ready with its probes passing over HTTPS, and the proxy was ready before the app started', async () => {
    const proxy = proxyOf(pod)!;
    expect(proxy, 'injected').toBeDefined();
    if (native) {
      expect(pod.spec!.initContainers!.map((c) => c.name)).toContain('chaperone-proxy');
      expect(proxy.restartPolicy).toBe('Always');
    } else {
      expect(pod.spec!.containers[0]!.name).toBe('chaperone-proxy');
      expect(proxy.lifecycle?.postStart?.exec?.command?.slice(0, 2)).toEqual(['chaperone', 'wait-ready']);
    }
    expect(proxy.readinessProbe?.httpGet?.scheme).toBe('HTTPS');
    expect(proxy.startupProbe?.httpGet?.scheme).toBe('HTTPS');
    expect(proxy.securityContext?.readOnlyRootFilesystem).toBe(true);
    const statuses = [...(pod.status!.initContainerStatuses ?? []), ...(pod.status!.containerStatuses ?? [])];
    const proxyStatus = statuses.find((s) => s.name === 'chaperone-proxy')!;
    expect(proxyStatus.ready).toBe(true); // the HTTPS readiness probe passes
    expect(proxyStatus.restartCount).toBe(0);
    expect(await logs(NS, pod.metadata!.name!, 'agent')).toMatch(/^proxy readyz at app start: 200$/m);
  });

  it('curl in the pod, with only the injected env: allowed, denied by the compiled policy, and redacted', async () => {
    const p = pod.metadata!.name!;
    const json = ['-H', 'content-type: application/json'];
    const allowed = await curlIn(p, [...json, '-d', chatBody(`curl ${name}: hello`), 'https://api.openai.com/v1/chat/completions']);
    expect(allowed.stdout, allowed.stderr).toMatch(/^HTTP\/1\.1 200/m);
    expect(allowed.stdout).toMatch(/^x-chaperone-decision: allow/im);
    const denied = await curlIn(p, [...json, '-d', '{"model":"text-embedding-3-small","input":"x"}', 'https://api.openai.com/v1/embeddings']);
    expect(denied.stdout, denied.stderr).toMatch(/^HTTP\/1\.1 403/m);
    expect(denied.stdout).toMatch(/^x-chaperone-decision: deny/im);
    expect(denied.stdout).toMatch(/no embeddings/);
    const redacted = await curlIn(p, [...json, '-d', chatBody(`curl ${name}: card 4111 1111 1111 1111`), 'https://api.openai.com/v1/chat/completions']);
    expect(redacted.stdout).toMatch(/^x-chaperone-decision: redact/im);
    await expect.poll(async () => (await providerReceived()).filter((b) => b.includes(`curl ${name}: card`)).length, POLL).toBe(1);
    const received = (await providerReceived()).find((b) => b.includes(`curl ${name}: card`))!;
    expect(received).not.toMatch(/4111 1111 1111 1111/);
    // The sidecar's audit lines (its container log) name the decisions and the agent, read from the
    // pod's chaperone.dev/agent annotation through the downward API.
    const audits = (await jsonLogLines(NS, p, 'chaperone-proxy')).filter((l) => l.audit === true);
    expect(audits.map((a) => a.decision)).toEqual(expect.arrayContaining(['allow', 'deny', 'redact']));
    expect(audits.every((a) => a.agent === 'researcher')).toBe(true);
  });

  it('a Node.js client (official openai SDK) and a Python client in the pod get the same answers', async () => {
    const p = pod.metadata!.name!;
    const node = await exec(NS, p, 'agent', ['node', '/app/dist/e2e/agent-clients/openai-node.js']);
    expect(node.code, node.stderr).toBe(0);
    const python = await exec(NS, p, 'agent', ['python3', '-'], await readFile(join(PROJECT_ROOT, 'e2e', 'agent-clients', 'openai-python.py'), 'utf8'));
    expect(python.code, python.stderr).toBe(0);
    for (const [client, out] of [['node', node.stdout], ['python', python.stdout]] as const) {
      const r = JSON.parse(out.trim().split('\n').pop()!) as Record<'allow' | 'redact' | 'deny', Outcome>;
      expect(r.allow, client).toMatchObject({ status: 200, decision: 'allow' });
      expect(typeof r.allow.content, client).toBe('string');
      expect(r.redact, client).toMatchObject({ status: 200, decision: 'redact' });
      expect(r.deny, client).toMatchObject({ status: 403, decision: 'deny' });
    }
    const received = await providerReceived();
    for (const client of ['node', 'python']) {
      expect(received.some((b) => b.includes(`${client}: summarise the news`)), client).toBe(true);
      const card = received.find((b) => b.includes(`${client}: charge card`));
      expect(card, client).toBeDefined();
      expect(card, client).not.toMatch(/4111 1111 1111 1111/);
      expect(received.some((b) => b.includes(`${client}: embed me`)), `${client}: a denied call never reaches the provider`).toBe(false);
    }
  }, 120_000);

  it('with transparent capture, nothing in the pod gets around the sidecar: Node fetch, the openai SDK, curl --noproxy, Python, raw TLS to the address, a non-HTTP connection', async () => {
    const t = await agentDeployment(`${name}-transparent`, { 'chaperone.dev/capture': 'transparent' });
    const p = t.metadata!.name!;
    // The rules went in before the app, from the same image, and the app has no proxy variables.
    const inits = t.spec!.initContainers!.map((c) => c.name);
    expect(native ? inits.slice(0, 2) : inits.slice(-1)).toEqual(native ? ['chaperone-capture', 'chaperone-proxy'] : ['chaperone-capture']);
    const captureStatus = t.status!.initContainerStatuses!.find((s) => s.name === 'chaperone-capture')!;
    expect(captureStatus.state?.terminated?.exitCode).toBe(0);
    expect(await logs(NS, p, 'chaperone-capture')).toMatch(/IPv4: CHAPERONE_OUTPUT written/);
    expect(t.spec!.containers.find((c) => c.name === 'agent')!.env!.map((e) => e.name)).not.toContain('HTTPS_PROXY');
    expect(proxyOf(t)!.args).toEqual(expect.arrayContaining(['--transparent-port', '14002']));

    // Node's own fetch and the openai SDK, which ignore every proxy variable; a call claiming another
    // agent name is still the pod's agent (researcher may not call delete_database).
    const plain = await exec(NS, p, 'agent', ['node', '/app/dist/e2e/agent-clients/plain-node.js']);
    expect(plain.code, plain.stderr).toBe(0);
    const r = JSON.parse(plain.stdout.trim().split('\n').pop()!) as Record<string, Outcome & { rule?: string | null }>;
    expect(r.fetch).toMatchObject({ status: 200, decision: 'allow', content: 'Echo: plain fetch: hello' });
    expect(r.sdk).toMatchObject({ status: 200, decision: 'allow' });
    expect(r.sdkForbiddenTool).toMatchObject({ status: 403, decision: 'deny', rule: 'tools' });
    expect(r.fetchAsAdmin).toMatchObject({ status: 403, rule: 'tools' });

    const json = ['-H', 'content-type: application/json'];
    const denied = await curlIn(p, ['--noproxy', '*', ...json, '-d', '{"model":"text-embedding-3-small","input":"x"}', 'https://api.openai.com/v1/embeddings']);
    expect(denied.stdout, denied.stderr).toMatch(/^HTTP\/1\.1 403/m);
    expect(denied.stdout).toMatch(/no embeddings/);
    const python = await exec(NS, p, 'agent', ['python3', '-'], await readFile(join(PROJECT_ROOT, 'e2e', 'agent-clients', 'openai-python.py'), 'utf8'));
    const py = JSON.parse(python.stdout.trim().split('\n').pop()!) as Record<'allow' | 'redact' | 'deny', Outcome>;
    expect(py.allow).toMatchObject({ status: 200, decision: 'allow' });
    expect(py.redact).toMatchObject({ status: 200, decision: 'redact' });
    expect(py.deny).toMatchObject({ status: 403, decision: 'deny' });

    // Raw TLS to the provider's address (the Service IP) naming the provider: intercepted all the same.
    const raw = `const s = require('tls').connect({ host: '${fake.serviceIp}', port: 443, servername: 'api.openai.com', ca: require('fs').readFileSync('/etc/chaperone/trust/ca.crt') }, () => s.end('POST /v1/embeddings HTTP/1.1\\r\\nHost: api.openai.com\\r\\nContent-Type: application/json\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\n{}')); let t = ''; s.on('data', (d) => (t += d)); s.on('end', () => console.log(t.split('\\r\\n')[0]));`;
    const rawTls = await exec(NS, p, 'agent', ['node', '-e', raw]);
    expect(rawTls.stdout.trim(), rawTls.stderr).toBe('HTTP/1.1 403 Forbidden');
    // Bytes that are neither TLS nor HTTP: denied, the audit naming the original destination (conntrack).
    await exec(NS, p, 'agent', ['node', '-e', `const s = require('net').connect(443, '${fake.serviceIp}', () => s.write('SSH-2.0-x\\r\\n')); s.on('close', () => {}); s.on('error', () => {});`]);
    await expect.poll(async () => {
      const audits = (await jsonLogLines(NS, p, 'chaperone-proxy')).filter((l) => l.audit === true);
      return audits.find((a) => a.method === 'TCP')?.reason;
    }, POLL).toContain(`${fake.serviceIp}:443`);

    const audits = (await jsonLogLines(NS, p, 'chaperone-proxy')).filter((l) => l.audit === true);
    expect(audits.every((a) => a.agent === 'researcher')).toBe(true);
    expect(audits.some((a) => a.subAgent === 'admin' && a.decision === 'deny')).toBe(true);
    // One copy upstream: the sidecar's own connection to the provider was not captured again.
    expect((await providerReceived()).filter((b) => b.includes('plain fetch: hello')).length).toBe(native ? 1 : 2);
  }, 300_000);

  it('a Job whose pod has the injected sidecar completes', async () => {
    const job = `job-${native ? 'native' : 'classic'}`;
    // Without native sidecars the app ends its proxy through $CHAPERONE_QUIT_URL (the webhook sets it).
    const quit = 'if [ -n "$CHAPERONE_QUIT_URL" ]; then curl -sf -X POST --cacert /etc/chaperone/trust/ca.crt "$CHAPERONE_QUIT_URL"; fi';
    const call = `curl -sf -o /dev/null -H 'content-type: application/json' -d '${chatBody('job call')}' https://api.openai.com/v1/chat/completions`;
    const template = agentTemplate(job, `${call}; rc=$?; ${quit}; exit $rc`);
    (template.spec as { restartPolicy: string }).restartPolicy = 'Never';
    await apply({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: job, namespace: NS }, spec: { backoffLimit: 0, template } });
    const [jobPod] = (await (async () => {
      await expect.poll(async () => (await kubectlOk(['get', 'pods', '-n', NS, '-l', `job-name=${job}`, '-o', 'name'])).trim(), POLL).not.toBe('');
      return (await kubectlOk(['get', 'pods', '-n', NS, '-l', `job-name=${job}`, '-o', 'name'])).trim().split('\n');
    })());
    const done = await waitForPod(NS, jobPod!.replace('pod/', ''), 'Succeeded', hasSucceeded, 120_000);
    expect(proxyOf(done)?.restartPolicy === 'Always').toBe(native);
    await expect.poll(async () => (await kubectl(['get', 'job', job, '-n', NS, '-o', 'jsonpath={.status.succeeded}'])).stdout, POLL).toBe('1');
  }, 180_000);
});

describe('a tool call held for approval on a real pod', () => {
  it("is an ApprovalRequest the sidecar wrote with a token the app cannot read; the app's ServiceAccount cannot approve it, a person does with kubectl chaperone, and the resend passes once", async () => {
    const pod = await agentDeployment('agent-approvals');
    const p = pod.metadata!.name!;
    // The sidecar's credentials are mounted into the sidecar alone.
    const peek = await exec(NS, p, 'agent', ['sh', '-c', 'cat /var/run/secrets/chaperone.dev/sidecar/token']);
    expect(peek.code).not.toBe(0);
    expect(peek.stderr + peek.stdout).toMatch(/No such file/);

    const ask = ['-H', 'content-type: application/json', '-d', JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'please call tool send_email to the board' }], tools: [{ type: 'function', function: { name: 'send_email', parameters: { type: 'object' } } }] }), 'https://api.openai.com/v1/chat/completions'];
    const held = await curlIn(p, ask);
    expect(held.stdout, held.stderr).toMatch(/^HTTP\/1\.1 428/m);
    expect(held.stdout).not.toMatch(/"tool_calls"/);
    const name = /^x-chaperone-approval: (\S+)/im.exec(held.stdout)![1]!;
    const ar = json<{ spec: Record<string, unknown> }>(await kubectlOk(['get', 'ar', name, '-n', NS, '-o', 'json']));
    expect(ar.spec).toMatchObject({ agent: 'researcher', tool: 'send_email', pod: p, podUID: pod.metadata!.uid, serviceAccount: 'default', heldAt: 'response' });
    // The operator pod marks it Pending and tells the pod's story in its Events.
    await waitFor('the Held event on the pod', async () => /Held/.test((await kubectl(['get', 'events', '-n', NS, '--field-selector', `involvedObject.name=${p}`, '-o', 'jsonpath={.items[*].reason}'])).stdout));

    // In the pod, the admin port approves nothing any more.
    const selfApprove = await exec(NS, p, 'agent', ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', '/etc/chaperone/trust/ca.crt', '-X', 'POST', `https://127.0.0.1:14090/approvals/${name}/approve`]);
    expect(selfApprove.stdout).toBe('404');
    const asApp = await kubectlChaperone(['approve', name, '-n', NS, '--as', `system:serviceaccount:${NS}:default`]);
    expect(asApp.code).not.toBe(0);
    expect(asApp.stderr).toMatch(/forbidden/i);

    await kubectlOk(['create', 'rolebinding', 'alice-approves', '-n', NS, '--clusterrole', `${RELEASE}-chaperone-approver`, '--user', 'alice']);
    const approved = await kubectlChaperone(['approve', name, '-n', NS, '--as', 'alice']);
    expect(approved.code, approved.stderr).toBe(0);
    const released = await curlIn(p, ask);
    expect(released.stdout).toMatch(/^HTTP\/1\.1 200/m);
    expect(released.stdout).toMatch(/"tool_calls"/);
    const again = await curlIn(p, ask);
    expect(again.stdout).toMatch(/^HTTP\/1\.1 428/m);
    expect(/^x-chaperone-approval: (\S+)/im.exec(again.stdout)![1]).not.toBe(name);
    expect(json<{ status: { phase: string } }>(await kubectlOk(['get', 'ar', name, '-n', NS, '-o', 'json'])).status.phase).toBe('Used');
  }, 240_000);
});

describe('observability and failure on the node', () => {
  it('Prometheus scrapes each sidecar at its pod address over HTTPS verified against the namespace CA, the pods selected as the PodMonitor selects them', async () => {
    const caFile = join(dir, 'namespace-ca.crt');
    await writeFile(caFile, await kubectlOk(['get', 'configmap', 'chaperone-trust', '-n', NS, '-o', 'jsonpath={.data.ca\\.crt}']));
    // The chart's PodMonitor: pods labelled chaperone.dev/injected=true, the container port named
    // chaperone-admin (an init container's too: native sidecars), /metrics over HTTPS. Debian's
    // Prometheus is built without Kubernetes service discovery, so that selection is made here and
    // handed to it as file_sd targets.
    const injected = json<{ items: V1Pod[] }>(await kubectlOk(['get', 'pods', '-n', NS, '-l', 'chaperone.dev/injected=true', '--field-selector', 'status.phase=Running', '-o', 'json'])).items;
    const targets = injected.flatMap((p) =>
      [...(p.spec!.initContainers ?? []), ...p.spec!.containers]
        .flatMap((c) => c.ports ?? [])
        .filter((port) => port.name === 'chaperone-admin')
        .map((port) => ({ targets: [`${p.status!.podIP}:${port.containerPort}`], labels: { pod: p.metadata!.name!, namespace: NS } })),
    );
    expect(targets.length).toBe(5); // agent-native and agent-classic, each also with transparent capture, and agent-approvals
    await writeFile(join(dir, 'targets.json'), JSON.stringify(targets));
    await writeFile(join(dir, 'prometheus.yml'), stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      scrape_configs: [{
        job_name: 'chaperone-sidecars',
        scheme: 'https',
        metrics_path: '/metrics',
        tls_config: { ca_file: caFile },
        file_sd_configs: [{ files: [join(dir, 'targets.json')] }],
      }],
    }));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'prometheus')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: 'ignore' });
    await expect.poll(async () => (await promQuery(url, 'up{job="chaperone-sidecars"} == 1').catch(() => [])).map((r) => r.metric.pod).sort(), { timeout: 60_000, interval: 1_000 })
      .toEqual(targets.map((t) => t.labels.pod).sort());
    // curl, node and python were each denied once in each of the two proxy-env pods (and more in the transparent ones).
    await expect.poll(async () => Number((await promQuery(url, 'sum(chaperone_requests_total{decision="deny"})'))[0]?.value[1] ?? 0), { timeout: 30_000, interval: 1_000 })
      .toBeGreaterThanOrEqual(6);
  }, 120_000);

  it('a pod that cannot start says why: the missing upstream CA ConfigMap, in its events and in the wait error', async () => {
    const other = `chaperone-e2e-nocm-${RUN}`;
    await kubectlOk(['create', 'namespace', other]);
    await kubectlOk(['label', 'namespace', other, `${RUN_LABEL}=${RUN}`]);
    try {
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'stuck', namespace: other, annotations: { 'chaperone.dev/inject': 'true' } }, spec: { automountServiceAccountToken: false, containers: [{ name: 'agent', image: AGENT_IMAGE, imagePullPolicy: 'Never', command: ['sleep', 'infinity'] }] } };
      await apply(pod);
      const error = await waitForReady(other, 'stuck', 20_000).then(() => undefined, (e: Error) => e);
      expect(error?.message).toMatch(/not Ready after/);
      expect(error?.message).toMatch(/FailedMount.*configmap "e2e-upstream-ca" not found/);
    } finally {
      await kubectl(['delete', 'namespace', other, '--wait=false']);
    }
  }, 60_000);
});
