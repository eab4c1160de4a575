// A real Prometheus (Debian's) scrapes a running sidecar's admin port: the metrics are well-formed
// (promtool check metrics) and queryable after real traffic.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './harness/ports.js';
import { spawnSidecar, type SidecarProcess } from './harness/sidecar-process.js';
import { createWorld, PASS_THROUGH_POLICY, writePolicy, type World } from './harness/world.js';

let world: World;
let sidecar: SidecarProcess;
let prometheus: ChildProcess;
let promUrl: string;

async function query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  return body.data?.result ?? [];
}

beforeAll(async () => {
  world = await createWorld();
  sidecar = await spawnSidecar(['--policy', await writePolicy(world.dir, 'prom', PASS_THROUGH_POLICY), '--ca-dir', world.caDir, ...world.upstreamFlags]);
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${sidecar.proxyUrl}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-chaperone-agent': 'prom-agent' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `hello ${i}` }] }),
    });
    expect(res.status).toBe(200);
  }
  const dir = await mkdtemp(join(tmpdir(), 'chaperone-prom-'));
  const target = new URL(sidecar.adminUrl).host;
  await writeFile(join(dir, 'prometheus.yml'), `global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: chaperone-sidecar
    static_configs: [{targets: ["${target}"]}]
`);
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  prometheus = spawn('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
  ], { stdio: 'ignore' });
});

afterAll(async () => {
  prometheus?.kill('SIGTERM');
  await sidecar?.stop();
  await world?.close();
});

describe('Prometheus scraping the sidecar', () => {
  it('passes promtool check metrics', async () => {
    const text = await (await fetch(`${sidecar.adminUrl}/metrics`)).text();
    const result = await new Promise<{ code: number; out: string }>((resolve) => {
      const child = execFile('promtool', ['check', 'metrics'], (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: stdout + stderr }));
      child.stdin!.end(text);
    });
    expect(result.out).toBe('');
    expect(result.code).toBe(0);
  });

  it('scrapes the target and answers PromQL over the data path metrics', async () => {
    await expect.poll(async () => (await query('up{job="chaperone-sidecar"}'))[0]?.value[1], { timeout: 30_000, interval: 500 }).toBe('1');
    await expect
      .poll(async () => (await query('sum(chaperone_requests_total{agent="prom-agent",decision="allow"})'))[0]?.value[1], { timeout: 15_000, interval: 500 })
      .toBe('3');
    const tokens = await query('sum by (type) (chaperone_tokens_total{provider="openai"})');
    expect(tokens.map((r) => r.metric.type).sort()).toEqual(['input', 'output']);
    const overhead = await query('sum(chaperone_proxy_overhead_seconds_count{provider="openai"})');
    expect(overhead[0]?.value[1]).toBe('3');
    const p50 = await query('histogram_quantile(0.5, sum by (le) (chaperone_proxy_overhead_seconds_bucket))');
    expect(Number(p50[0]?.value[1])).toBeGreaterThan(0);
  });
});
