import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../lib/logger.js';
import { createCa } from '../../lib/x509.js';
import { PREVIOUS_CA_KEY } from '../ca-rotation.js';
import { FakeClusterClient } from '../testing.js';
import { MANAGED_LABELS } from '../namespace-config.js';
import { NamespaceReconciler } from './namespace.js';

const NS = 'team';
const DAY = 24 * 60 * 60_000;
const log = createLogger('operator', 'error');

function world(): { client: FakeClusterClient; reconciler: NamespaceReconciler; clock: { now: Date } } {
  const client = new FakeClusterClient();
  client.namespaces.set(NS, { metadata: { name: NS } });
  client.namespaces.set('quiet', { metadata: { name: 'quiet' } });
  client.policyList.push({
    apiVersion: 'chaperone.dev/v1alpha1',
    kind: 'GovernancePolicy',
    metadata: { name: 'p', namespace: NS, generation: 1, uid: 'uid-p' },
    spec: { podSelector: { matchLabels: { app: 'agent' } }, mode: 'audit' },
  });
  const clock = { now: new Date() };
  const reconciler = new NamespaceReconciler({
    clientFor: (signal) => {
      client.signal = signal;
      return client;
    },
    ownNamespace: 'chaperone-system',
    component: 'chaperone-operator',
    identity: 'test',
    caDays: 365,
    tokenTtlMs: DAY,
    log,
    clock: () => clock.now,
  });
  return { client, reconciler, clock };
}

afterEach(() => void vi.useRealTimers());

const run = (reconciler: NamespaceReconciler, namespace = NS, signal = new AbortController().signal) => reconciler.reconcile(namespace, signal);
const b64d = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');
const dataOf = (client: FakeClusterClient, kind: string, name: string): Record<string, string> => (client.get(kind, NS, name) as { data?: Record<string, string> } | undefined)?.data ?? {};

describe('NamespaceReconciler', () => {
  it('gives a governed namespace its config, CA, trust bundle, sidecar identity, token and policy status', async () => {
    const { client, reconciler } = world();
    const result = await run(reconciler);
    for (const [kind, name] of [
      ['ConfigMap', 'chaperone-config'],
      ['Secret', 'chaperone-ca'],
      ['ConfigMap', 'chaperone-trust'],
      ['ServiceAccount', 'chaperone-sidecar'],
      ['Role', 'chaperone-sidecar'],
      ['RoleBinding', 'chaperone-sidecar'],
      ['ConfigMap', 'chaperone-tool-pins'],
      ['Secret', 'chaperone-sidecar-token'],
    ] as const) {
      expect(client.get(kind, NS, name), `${kind}/${name}`).toBeDefined();
    }
    const ca = b64d(dataOf(client, 'Secret', 'chaperone-ca')['tls.crt']);
    expect(dataOf(client, 'ConfigMap', 'chaperone-trust')['ca.crt']).toBe(`${ca.trim()}\n`);
    expect(b64d(dataOf(client, 'Secret', 'chaperone-sidecar-token').token)).toBe('token-1');
    expect(client.statuses.get(`${NS}/p`)).toMatchObject({ conditions: [expect.objectContaining({ type: 'Ready', status: 'True' })] });
    // The token lives a day and is renewed at half-life; the look comes at most an hour later.
    expect(result.requeueAfterMs).toBe(60 * 60_000);
  });

  it('a second reconcile (a resync) writes only what is applied every time: no trust bundle, no CA, no token', async () => {
    const { client, reconciler } = world();
    await run(reconciler);
    client.calls.length = 0;
    reconciler.applied.forgetUncached(); // what a resync does
    await run(reconciler);
    expect(client.calls.sort()).toEqual(
      ['apply ConfigMap/team/chaperone-tool-pins', 'apply Role/team/chaperone-sidecar', 'apply RoleBinding/team/chaperone-sidecar', 'apply ServiceAccount/team/chaperone-sidecar'].sort(),
    );
    client.calls.length = 0;
    await run(reconciler);
    expect(client.calls.sort()).toEqual(['apply ConfigMap/team/chaperone-tool-pins', 'apply ServiceAccount/team/chaperone-sidecar']);
  });

  it('puts back a trust bundle someone edited, and a config someone deleted', async () => {
    const { client, reconciler } = world();
    await run(reconciler);
    const trust = client.get('ConfigMap', NS, 'chaperone-trust')!;
    client.put({ ...trust, data: { 'ca.crt': 'tampered' } } as never);
    client.store.delete(`ConfigMap/${NS}/chaperone-config`);
    await run(reconciler);
    expect(dataOf(client, 'ConfigMap', 'chaperone-trust')['ca.crt']).not.toBe('tampered');
    expect(client.get('ConfigMap', NS, 'chaperone-config')).toBeDefined();
  });

  it('does not mint a second CA while the cache has not seen the first', async () => {
    const { client, reconciler } = world();
    client.freezeCache(); // nothing in the cache, and it stays so
    await run(reconciler);
    const first = dataOf(client, 'Secret', 'chaperone-ca')['tls.crt'];
    await run(reconciler);
    expect(dataOf(client, 'Secret', 'chaperone-ca')['tls.crt']).toBe(first);
    expect(client.calls.filter((c) => c === 'token team/chaperone-sidecar')).toHaveLength(1);
  });

  it('rotates a CA near its end, trusting old and new', async () => {
    const { client, reconciler, clock } = world();
    await run(reconciler);
    const old = b64d(dataOf(client, 'Secret', 'chaperone-ca')['tls.crt']);
    clock.now = new Date(Date.now() + 250 * DAY);
    await run(reconciler);
    const data = dataOf(client, 'Secret', 'chaperone-ca');
    expect(b64d(data['tls.crt'])).not.toBe(old);
    expect(b64d(data[PREVIOUS_CA_KEY])).toBe(old);
    const trusted = dataOf(client, 'ConfigMap', 'chaperone-trust')['ca.crt']!;
    expect(trusted).toContain(old.trim());
    expect(trusted).toContain(b64d(data['tls.crt']).trim());
  });

  it('rotates once, not again while the cache still shows the CA it replaced', async () => {
    const { client, reconciler, clock } = world();
    await run(reconciler);
    // 250 days on, for the new CA's validity too (createCa reads the system clock).
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 250 * DAY);
    clock.now = new Date();
    client.freezeCache(); // the watch lags: the cache keeps showing the old, rotation-due CA
    await run(reconciler);
    const rotated = dataOf(client, 'Secret', 'chaperone-ca')['tls.crt'];
    await run(reconciler);
    expect(dataOf(client, 'Secret', 'chaperone-ca')['tls.crt']).toBe(rotated);
    reconciler.recent.observed({ metadata: { name: 'chaperone-ca', namespace: NS } }, 'Secret'); // the watch catches up
    client.cacheLag = undefined;
    await run(reconciler);
    expect(dataOf(client, 'Secret', 'chaperone-ca')['tls.crt']).toBe(rotated);
  });

  it('keeps the CA of a chaperone-ca Secret it did not label, and labels it', async () => {
    const { client, reconciler } = world();
    const ca = await createCa('brought along', 365);
    client.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'chaperone-ca', namespace: NS }, data: { 'tls.crt': Buffer.from(ca.certPem).toString('base64'), 'tls.key': Buffer.from(ca.keyPem).toString('base64') } } as never);
    await run(reconciler);
    expect(client.calls).toContain('read Secret/team/chaperone-ca');
    expect(b64d(dataOf(client, 'Secret', 'chaperone-ca')['tls.crt'])).toBe(ca.certPem);
    expect(client.get('Secret', NS, 'chaperone-ca')!.metadata!.labels).toEqual({ ...MANAGED_LABELS });
  });

  it('reports an annotated pod without the sidecar once', async () => {
    const { client, reconciler } = world();
    client.podList.push({ metadata: { name: 'bare', namespace: NS, uid: 'abcdef0123', annotations: { 'chaperone.dev/inject': 'true' } }, spec: { containers: [{ name: 'app' }] } });
    await run(reconciler);
    await run(reconciler);
    expect(client.events.map((e) => `${e.reason}/${e.involvedObject.name}`)).toEqual(['NotInjected/bare']);
    expect(client.calls.filter((c) => c.startsWith('event'))).toHaveLength(1);
  });

  it('a namespace never governed costs no request; one no longer governed loses what the operator made', async () => {
    const { client, reconciler } = world();
    await run(reconciler, 'quiet');
    expect(client.calls).toEqual([]);

    await run(reconciler);
    client.policyList.length = 0; // the policy is deleted
    client.calls.length = 0;
    await run(reconciler);
    for (const [kind, name] of [
      ['ConfigMap', 'chaperone-config'],
      ['ConfigMap', 'chaperone-trust'],
      ['Secret', 'chaperone-ca'],
      ['Secret', 'chaperone-sidecar-token'],
      ['ServiceAccount', 'chaperone-sidecar'],
      ['Role', 'chaperone-sidecar'],
      ['RoleBinding', 'chaperone-sidecar'],
    ]) {
      expect(client.get(kind!, NS, name!), `${kind}/${name}`).toBeUndefined();
    }
    expect(client.get('ConfigMap', NS, 'chaperone-tool-pins')).toBeDefined(); // the sidecars' record stays
    client.calls.length = 0;
    await run(reconciler);
    expect(client.calls).toEqual([]);
  });

  it('cleans up what it wrote even while the cache has not seen it yet', async () => {
    const { client, reconciler } = world();
    client.freezeCache(); // the watch delivers nothing
    await run(reconciler);
    client.policyList.length = 0;
    await run(reconciler);
    for (const [kind, name] of [
      ['ConfigMap', 'chaperone-config'],
      ['ConfigMap', 'chaperone-trust'],
      ['Secret', 'chaperone-ca'],
      ['Secret', 'chaperone-sidecar-token'],
      ['ServiceAccount', 'chaperone-sidecar'],
    ]) {
      expect(client.get(kind!, NS, name!), `${kind}/${name}`).toBeUndefined();
    }
  });

  it('leaves objects of the same names that are not the operator\'s', async () => {
    const { client, reconciler } = world();
    client.policyList.length = 0;
    client.put({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'chaperone-sidecar', namespace: NS } });
    client.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'chaperone-config', namespace: NS } });
    client.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'chaperone-ca', namespace: NS, labels: { ...MANAGED_LABELS } } });
    await run(reconciler);
    expect(client.get('ServiceAccount', NS, 'chaperone-sidecar')).toBeDefined();
    expect(client.get('ConfigMap', NS, 'chaperone-config')).toBeDefined();
    expect(client.get('Secret', NS, 'chaperone-ca')).toBeUndefined();
  });

  it('skips a namespace that is gone or being deleted', async () => {
    const { client, reconciler } = world();
    client.namespaces.set(NS, { metadata: { name: NS, deletionTimestamp: new Date() } });
    await run(reconciler);
    await run(reconciler, 'absent');
    expect(client.calls).toEqual([]);
  });

  it('stops at its next write once its signal is aborted (leadership lost)', async () => {
    const { client, reconciler } = world();
    const leadership = new AbortController();
    leadership.abort();
    await expect(run(reconciler, NS, leadership.signal)).rejects.toThrow();
    expect(client.store.size).toBe(0);
  });
});
