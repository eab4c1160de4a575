import { describe, expect, it } from 'vitest';
import { FakeClusterClient } from '../testing.js';
import { MANAGED_LABELS } from '../namespace-config.js';
import { AppliedObjects } from './applied-objects.js';

const cm = (value: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'chaperone-config', namespace: 'team', labels: { ...MANAGED_LABELS } }, data: { k: value } });
const role = (verb: string) => ({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'chaperone-sidecar', namespace: 'team', labels: { ...MANAGED_LABELS } }, rules: [{ verbs: [verb] }] });
const applies = (client: FakeClusterClient): number => client.calls.filter((c) => c.startsWith('apply')).length;

describe('AppliedObjects', () => {
  it('applies a new object, then not again while it and the cached copy are unchanged', async () => {
    const client = new FakeClusterClient();
    const applied = new AppliedObjects();
    await applied.applyIfChanged(client, cm('a'));
    await applied.applyIfChanged(client, cm('a'));
    applied.forgetUncached(); // a resync
    await applied.applyIfChanged(client, cm('a'));
    expect(applies(client)).toBe(1);
  });

  it('applies again when the desired object changes', async () => {
    const client = new FakeClusterClient();
    const applied = new AppliedObjects();
    await applied.applyIfChanged(client, cm('a'));
    await applied.applyIfChanged(client, cm('b'));
    expect(applies(client)).toBe(2);
    expect((client.get('ConfigMap', 'team', 'chaperone-config') as { data: unknown }).data).toEqual({ k: 'b' });
  });

  it('repairs drift: applies again when the cache shows a version someone else wrote, or the object is gone', async () => {
    const client = new FakeClusterClient();
    const applied = new AppliedObjects();
    await applied.applyIfChanged(client, cm('a'));
    client.put(cm('edited by hand'));
    await applied.applyIfChanged(client, cm('a'));
    expect(applies(client)).toBe(2);
    expect((client.get('ConfigMap', 'team', 'chaperone-config') as { data: unknown }).data).toEqual({ k: 'a' });
    client.store.clear();
    await applied.applyIfChanged(client, cm('a'));
    expect(applies(client)).toBe(3);
  });

  it('does not apply again while the cache still shows the version from before its own write', async () => {
    const client = new FakeClusterClient();
    const applied = new AppliedObjects();
    await applied.applyIfChanged(client, cm('a'));
    client.freezeCache(); // the watch has not delivered the next write yet
    await applied.applyIfChanged(client, cm('b'));
    await applied.applyIfChanged(client, cm('b'));
    expect(applies(client)).toBe(2);
  });

  it('objects no cache holds are trusted until the next resync, then applied again', async () => {
    const client = new FakeClusterClient();
    const applied = new AppliedObjects();
    await applied.applyIfChanged(client, role('get'));
    await applied.applyIfChanged(client, role('get'));
    expect(applies(client)).toBe(1);
    applied.forgetUncached();
    await applied.applyIfChanged(client, role('get'));
    expect(applies(client)).toBe(2);
  });

  it('forgets a namespace', async () => {
    const client = new FakeClusterClient();
    const applied = new AppliedObjects();
    await applied.applyIfChanged(client, role('get'));
    applied.forgetNamespace('other');
    await applied.applyIfChanged(client, role('get'));
    applied.forgetNamespace('team');
    await applied.applyIfChanged(client, role('get'));
    expect(applies(client)).toBe(2);
  });
});
