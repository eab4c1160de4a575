import { Counter, Registry } from 'prom-client';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startHealthServer, type HealthServer } from './health-server.js';

let server: HealthServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('health server', () => {
  it('answers /healthz, /readyz as the caches are, /metrics, and 404 elsewhere', async () => {
    const registry = new Registry();
    new Counter({ name: 'chaperone_test_total', help: 'test', registers: [registry] }).inc();
    let ready = false;
    server = await startHealthServer({ addr: '127.0.0.1:0', tls: false, isReady: () => ready, registry });
    const base = `http://127.0.0.1:${server.address.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${base}/readyz`);
    expect([notReady.status, await notReady.text()]).toEqual([503, 'not ready: informers not synced\n']);
    ready = true;
    expect((await fetch(`${base}/readyz?verbose`)).status).toBe(200);
    expect(await (await fetch(`${base}/metrics`)).text()).toContain('chaperone_test_total 1');
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('serves TLS with a self-signed certificate when asked', async () => {
    server = await startHealthServer({ addr: '127.0.0.1:0', tls: true, isReady: () => true, registry: new Registry() });
    const res = await request(`https://127.0.0.1:${server.address.port}/healthz`, { dispatcher: new Agent({ connect: { rejectUnauthorized: false } }) });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('ok\n');
  });
});
