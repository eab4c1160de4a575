// `chaperone operator` as a real child process, authenticated as the chaperone-operator
// ServiceAccount bound only to deploy/operator/rbac.yaml: it reconciles a namespace end to end with
// exactly those permissions (no "forbidden" in its log).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNotFound, loadKubeConfig } from '../lib/kube.js';
import { PROJECT_ROOT } from '../lib/project.js';
import { kubeconfig, kubectl, kubectlOk, installCrd, serviceAccountKubeconfig } from './harness/kubectl.js';
import { freePort } from './harness/ports.js';

const NS = `chaperone-e2e-rbac-${randomBytes(3).toString('hex')}`;
const POLL = { timeout: 30_000, interval: 100 };

let kc: KubeConfig;
let core: CoreV1Api;
let dir: string;
let saKubeconfig: string;
let child: ChildProcess | undefined;
let output = '';
let healthPort = 0;
const unverified = new Agent({ connect: { rejectUnauthorized: false } });

/** kubectl as the operator's ServiceAccount. */
const asOperator = (args: string[]): Promise<string> =>
  new Promise((resolve) => execFile('kubectl', ['--kubeconfig', saKubeconfig, ...args], (_err, stdout) => resolve(stdout.trim())));

async function exists(kind: 'configmap' | 'secret', name: string): Promise<boolean> {
  try {
    await (kind === 'secret' ? core.readNamespacedSecret({ name, namespace: NS }) : core.readNamespacedConfigMap({ name, namespace: NS }));
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

beforeAll(async () => {
  process.env.KUBECONFIG ??= kubeconfig();
  kc = loadKubeConfig();
  core = kc.makeApiClient(CoreV1Api);
  await installCrd();
  await kubectlOk(['apply', '-f', join(PROJECT_ROOT, 'deploy', 'operator', 'rbac.yaml')]);
  await kubectlOk(['create', 'namespace', NS]);
  dir = await mkdtemp(join(tmpdir(), 'chaperone-rbac-'));
  saKubeconfig = await serviceAccountKubeconfig('chaperone-operator', 'chaperone-system', dir);
  healthPort = await freePort();
});

afterAll(async () => {
  if (process.env.E2E_DEBUG) process.stderr.write(output);
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
  await core?.deleteNamespace({ name: NS }).catch(() => undefined);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('operator with only deploy/operator/rbac.yaml', () => {
  it('the ServiceAccount has the listed verbs and nothing broader', async () => {
    expect(await asOperator(['auth', 'can-i', 'patch', 'configmaps', '-n', NS])).toBe('yes');
    expect(await asOperator(['auth', 'can-i', 'update', 'configmaps', '-n', NS])).toBe('no');
    expect(await asOperator(['auth', 'can-i', 'get', 'governancepolicies.chaperone.dev', '-n', NS])).toBe('no');
    // Its informers list and watch only the ConfigMaps and Secrets labelled as its own (RBAC cannot
    // limit a list to a label); it still cannot update them.
    expect(await asOperator(['auth', 'can-i', 'watch', 'secrets', '-n', NS])).toBe('yes');
    expect(await asOperator(['auth', 'can-i', 'update', 'secrets', '-n', NS])).toBe('no');
    expect(await asOperator(['auth', 'can-i', 'update', 'leases', '-n', 'chaperone-system'])).toBe('yes');
    expect(await asOperator(['auth', 'can-i', 'update', 'leases', '-n', NS])).toBe('no');
  });

  it('reconciles a namespace as a child process: config, status, CA, trust, Events, clean-up', async () => {
    child = spawn(
      'node',
      [join(PROJECT_ROOT, 'dist', 'bin', 'chaperone.js'), 'operator', '--kubeconfig', saKubeconfig, '--health-addr', `127.0.0.1:${healthPort}`, '--identity', `e2e-rbac-${randomBytes(2).toString('hex')}`],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBECONFIG: '' } },
    );
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    // The CLI serves its health port over TLS with a self-signed certificate that no client can
    // verify (like kubelet's HTTPS probes, this check does not).
    const ready = async (): Promise<number> => (await request(`https://127.0.0.1:${healthPort}/readyz`, { dispatcher: unverified }).catch(() => undefined))?.statusCode ?? 0;
    await expect.poll(ready, POLL).toBe(200);

    await kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'chaperone.dev/v1alpha1', kind: 'GovernancePolicy', metadata: { name: 'p', namespace: NS }, spec: { mode: 'enforce' } }));
    await expect.poll(async () => (await kubectl(['get', 'gp', 'p', '-n', NS, '-o', 'jsonpath={.status.observedGeneration}'])).stdout, POLL).toBe('1');
    await expect.poll(() => exists('configmap', 'chaperone-config'), POLL).toBe(true);
    expect(await exists('configmap', 'chaperone-trust')).toBe(true);
    expect(await exists('secret', 'chaperone-ca')).toBe(true);

    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bare', namespace: NS, annotations: { 'chaperone.dev/inject': 'true' } }, spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] } };
    await expect.poll(async () => (await kubectl(['create', '-f', '-'], JSON.stringify(pod))).code, POLL).toBe(0);
    await expect.poll(async () => (await kubectl(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=bare,reason=NotInjected', '-o', 'jsonpath={.items[*].reason}'])).stdout, POLL).toBe('NotInjected');

    await kubectlOk(['delete', 'pod', 'bare', '-n', NS, '--wait=true']);
    await kubectlOk(['delete', 'gp', 'p', '-n', NS]);
    await expect.poll(() => exists('secret', 'chaperone-ca'), POLL).toBe(false);
    await expect.poll(() => exists('configmap', 'chaperone-config'), POLL).toBe(false);
    expect(await exists('configmap', 'chaperone-trust')).toBe(false);

    const lease = JSON.parse(await kubectlOk(['get', 'lease', 'chaperone-operator', '-n', 'chaperone-system', '-o', 'json'])) as { spec: { holderIdentity?: string } };
    expect(lease.spec.holderIdentity).toMatch(/^e2e-rbac-/);
    expect(output).not.toMatch(/forbidden/i);
  });
});
