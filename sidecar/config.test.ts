import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeProjectedVolume } from '../e2e/harness/configmap-dir.js';
import { ConfigSource, loadSnapshot, type ReloadResult } from './config.js';

const policy = (name: string, selector = '{}', extra = '') => `apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: ${name}, namespace: agents, generation: 2}
spec:
  podSelector: ${selector}
  intercept: {hosts: ["mcp.${name}.example.com"]}
${extra}`;

async function podDirs() {
  const root = await mkdtemp(join(tmpdir(), 'chaperone-config-'));
  return { config: join(root, 'config'), podinfo: join(root, 'podinfo'), root };
}

describe('config snapshot', () => {
  it('selects the policies whose podSelector matches the pod labels, and reads the agent annotation', async () => {
    const d = await podDirs();
    await writeProjectedVolume(d.config, {
      'policies.yaml': [policy('all'), policy('mine', '{matchLabels: {app: researcher}}'), policy('other', '{matchLabels: {app: writer}}')].join('---\n'),
    });
    await writeProjectedVolume(d.podinfo, { labels: 'app="researcher"\ntier="x"\n', annotations: 'chaperone.dev/agent="research-bot"\n' });
    const s = await loadSnapshot({ policyFiles: [], configFile: join(d.config, 'policies.yaml'), podinfoDir: d.podinfo });
    expect(s.policies.map((p) => p.metadata.name)).toEqual(['all', 'mine']);
    expect(s.podAgent).toBe('research-bot');
    expect(s.interceptHosts).toEqual(['mcp.all.example.com', 'mcp.mine.example.com']);
  });

  it("adds the pod's chaperone.dev/intercept-hosts to the policies' hosts, dropping what is not a host name", async () => {
    const d = await podDirs();
    await writeProjectedVolume(d.config, { 'policies.yaml': policy('all') });
    await writeProjectedVolume(d.podinfo, {
      labels: 'app="researcher"\n',
      annotations: 'chaperone.dev/intercept-hosts="MCP.Pod.example.com, *.tools.example.com,not a host,mcp.all.example.com"\n',
    });
    const s = await loadSnapshot({ policyFiles: [], configFile: join(d.config, 'policies.yaml'), podinfoDir: d.podinfo });
    expect(s.interceptHosts).toEqual(['mcp.all.example.com', 'mcp.pod.example.com', '*.tools.example.com']);
  });

  it('applies every policy standalone, where there are no pod labels', async () => {
    const d = await podDirs();
    const file = join(d.root, 'p.yaml');
    await writeFile(file, policy('other', '{matchLabels: {app: writer}}'));
    const s = await loadSnapshot({ policyFiles: [file], configFile: '/nonexistent', podinfoDir: d.podinfo });
    expect(s.policies.map((p) => p.metadata.name)).toEqual(['other']);
  });

  it('refuses an invalid config with the field named', async () => {
    const d = await podDirs();
    const file = join(d.root, 'p.yaml');
    await writeFile(file, policy('bad', '{}', '  dlp: {mode: shout}\n'));
    await expect(loadSnapshot({ policyFiles: [file], configFile: '' })).rejects.toThrow(/spec\.dlp\.mode: must be one of/);
  });
});

describe('config hot reload', () => {
  it('follows a ..data symlink swap, keeps the old config when the new one is invalid, and counts once', async () => {
    const d = await podDirs();
    await writeProjectedVolume(d.config, { 'policies.yaml': policy('first') });
    await writeProjectedVolume(d.podinfo, { labels: 'app="a"\n', annotations: '' });
    const results: ReloadResult[] = [];
    const source = new ConfigSource({ policyFiles: [], configFile: join(d.config, 'policies.yaml'), podinfoDir: d.podinfo }, (r) => results.push(r));
    await source.reload();
    source.watch(200);
    try {
      expect(source.current()?.policies.map((p) => p.metadata.name)).toEqual(['first']);

      await writeProjectedVolume(d.config, { 'policies.yaml': policy('second') });
      await expect.poll(() => source.current()?.policies[0]?.metadata.name, { timeout: 5_000 }).toBe('second');

      await writeProjectedVolume(d.config, { 'policies.yaml': policy('broken', '{}', '  schedule: {hours: {start: "25:00", end: "08:00"}}\n') });
      await expect.poll(() => results.filter((r) => r.result === 'error').length, { timeout: 5_000 }).toBe(1);
      expect(source.current()?.policies[0]?.metadata.name).toBe('second');
      const failure = results.find((r) => r.result === 'error');
      expect(failure && 'error' in failure ? failure.error : '').toMatch(/spec\.schedule\.hours\.start/);

      // Polls of the same broken bytes do not count again.
      await new Promise((r) => setTimeout(r, 700));
      expect(results.filter((r) => r.result === 'error')).toHaveLength(1);

      // Labels change: a policy that now selects the pod is picked up.
      await writeProjectedVolume(d.config, { 'policies.yaml': [policy('second'), policy('for-b', '{matchLabels: {app: b}}')].join('---\n') });
      await writeProjectedVolume(d.podinfo, { labels: 'app="b"\n', annotations: '' });
      await expect.poll(() => source.current()?.policies.map((p) => p.metadata.name).join(','), { timeout: 5_000 }).toBe('for-b,second');
    } finally {
      source.close();
    }
  });
});
