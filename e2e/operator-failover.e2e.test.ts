// Two operator replicas (in-process, short Lease): only the leader writes, the other takes over when
// the leader stops; then the operator and the API server are restarted mid-stream and the state
// converges.
import { randomBytes } from 'node:crypto';
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { isNotFound, loadKubeConfig } from '../lib/kube.js';
import { createLogger } from '../lib/logger.js';
import { startOperator, type Operator } from '../operator/main.js';
import { canRestartApiServer, restartApiServer } from './control-plane/cluster.js';
import { kubeconfig, kubectl, kubectlOk, installCrd } from './harness/kubectl.js';

const NS = `chaperone-e2e-ha-${randomBytes(3).toString('hex')}`;
const OWN_NS = 'chaperone-system';
const POLL = { timeout: 20_000, interval: 100 };
const SLOW_POLL = { timeout: 60_000, interval: 200 };

let kc: KubeConfig;
let core: CoreV1Api;
let custom: CustomObjectsApi;
const running = new Set<Operator>();

const policy = (mode: string, sensitivity = 'medium') =>
  JSON.stringify({ apiVersion: 'chaperone.dev/v1alpha1', kind: 'GovernancePolicy', metadata: { name: 'ha', namespace: NS }, spec: { mode, dlp: { sensitivity } } });

async function start(identity: string): Promise<Operator> {
  const op = await startOperator({
    kubeconfig: kc,
    namespace: OWN_NS,
    leaderElection: true,
    healthAddr: '127.0.0.1:0',
    identity,
    log: createLogger('operator', 'error'),
    leaseDurationMs: 3_000,
    renewDeadlineMs: 2_000,
    retryPeriodMs: 200,
  });
  running.add(op);
  return op;
}

async function stop(op: Operator): Promise<void> {
  running.delete(op);
  await op.stop();
}

async function reconciles(op: Operator): Promise<number> {
  const metric = await op.registry.getSingleMetric('chaperone_reconcile_total')!.get();
  return metric.values.reduce((sum, v) => sum + v.value, 0);
}

/** `ha` in chaperone-config as "generation/mode" (undefined while absent). */
async function configured(): Promise<string | undefined> {
  try {
    const cm = await core.readNamespacedConfigMap({ name: 'chaperone-config', namespace: NS });
    for (const doc of parseAllDocuments(cm.data?.['policies.yaml'] ?? '')) {
      const p = doc.toJS() as { metadata: { name: string; generation: number }; spec: { mode: string } } | null;
      if (p?.metadata.name === 'ha') return `${p.metadata.generation}/${p.spec.mode}`;
    }
    return undefined;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

async function observedGeneration(): Promise<number | undefined> {
  const gp = (await custom.getNamespacedCustomObject({ group: 'chaperone.dev', version: 'v1alpha1', plural: 'governancepolicies', namespace: NS, name: 'ha' })) as {
    status?: { observedGeneration?: number };
  };
  return gp.status?.observedGeneration;
}

beforeAll(async () => {
  process.env.KUBECONFIG ??= kubeconfig();
  kc = loadKubeConfig();
  core = kc.makeApiClient(CoreV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
  await installCrd();
  await kubectl(['create', 'namespace', OWN_NS]);
  await kubectlOk(['create', 'namespace', NS]);
});

afterAll(async () => {
  for (const op of [...running]) await stop(op);
  await core?.deleteNamespace({ name: NS }).catch(() => undefined);
});

describe('operator replicas, restarts', () => {
  let survivor: Operator;

  it('two replicas: only the leader writes; when it stops the other takes over and changes still propagate', async () => {
    const a = await start(`e2e-ha-a-${randomBytes(2).toString('hex')}`);
    const b = await start(`e2e-ha-b-${randomBytes(2).toString('hex')}`);
    await expect.poll(() => Number(a.isLeader()) + Number(b.isLeader()), POLL).toBe(1);
    const [leader, follower] = a.isLeader() ? [a, b] : [b, a];

    await kubectlOk(['apply', '-f', '-'], policy('enforce'));
    await expect.poll(configured, POLL).toBe('1/enforce');
    await expect.poll(observedGeneration, POLL).toBe(1);
    await kubectlOk(['apply', '-f', '-'], policy('audit'));
    await expect.poll(configured, POLL).toBe('2/audit');
    expect(await reconciles(leader)).toBeGreaterThan(0);
    expect(await reconciles(follower)).toBe(0);
    expect(follower.isLeader()).toBe(false);
    const cm = await core.readNamespacedConfigMap({ name: 'chaperone-config', namespace: NS });
    expect((cm.metadata?.managedFields ?? []).map((f) => `${f.manager}/${f.operation}`)).toEqual(['chaperone-operator/Apply']);

    await stop(leader);
    await expect.poll(() => follower.isLeader(), POLL).toBe(true);
    await kubectlOk(['apply', '-f', '-'], policy('enforce', 'high'));
    await expect.poll(configured, POLL).toBe('3/enforce');
    await expect.poll(observedGeneration, POLL).toBe(3);
    expect(await reconciles(follower)).toBeGreaterThan(0);
    survivor = follower;
  });

  it('operator restarted with a policy change in between: the new one converges', async () => {
    await stop(survivor);
    await kubectlOk(['apply', '-f', '-'], policy('audit', 'high'));
    await new Promise((r) => setTimeout(r, 200)); // no operator is running: nothing can pick it up
    expect(await configured()).toBe('3/enforce');
    survivor = await start(`e2e-ha-c-${randomBytes(2).toString('hex')}`);
    await expect.poll(configured, POLL).toBe('4/audit');
    await expect.poll(observedGeneration, POLL).toBe(4);
  });

  it.skipIf(!canRestartApiServer())('API server restarted while a change is pending: informers relist and the state converges', async () => {
    await expect.poll(() => survivor.isLeader(), POLL).toBe(true);
    await kubectlOk(['apply', '-f', '-'], policy('enforce', 'low'));
    await restartApiServer();
    // And one more right after it is back, while the operator's watches are still reconnecting.
    await kubectlOk(['apply', '-f', '-'], policy('audit', 'low'));
    await expect.poll(configured, SLOW_POLL).toBe('6/audit');
    await expect.poll(observedGeneration, SLOW_POLL).toBe(6);
    // Watches are live again: a further change propagates quickly.
    await kubectlOk(['apply', '-f', '-'], policy('enforce', 'medium'));
    await expect.poll(configured, POLL).toBe('7/enforce');
  });
});
