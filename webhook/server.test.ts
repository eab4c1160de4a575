import type { V1Pod } from '@kubernetes/client-node';
import { X509Certificate } from 'node:crypto';
import { connect, type PeerCertificate } from 'node:tls';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { createWebhookMetrics, type WebhookMetrics } from './metrics.js';
import { INJECT_ANNOTATION, PROXY_CONTAINER } from './names.js';
import { applyJsonPatch, type Operation } from './patch.js';
import { startWebhookServer, type WebhookServer } from './server.js';
import { createServingBundle, renewServingBundle, servingNames, type ServingBundle } from './serving-cert.js';
import { defaultInjectionSettings } from './settings.js';
import type { TlsPair, TlsSource } from './tls-source.js';

const NAMES = servingNames('chaperone-webhook', 'chaperone-system', ['127.0.0.1']);
const log = createLogger('webhook-test', 'silent');

/** The smallest TlsSource: holds a pair and hands new ones to its listeners. */
class StaticTlsSource implements TlsSource {
  private readonly listeners: ((pair: TlsPair) => void)[] = [];
  constructor(private pair: TlsPair | undefined) {}
  current(): TlsPair | undefined {
    return this.pair;
  }
  onChange(listener: (pair: TlsPair) => void): void {
    this.listeners.push(listener);
  }
  async start(): Promise<void> {}
  stop(): void {}
  set(pair: TlsPair): void {
    this.pair = pair;
    for (const listener of this.listeners) listener(pair);
  }
}

const pairOf = (bundle: ServingBundle): TlsPair => ({ cert: bundle['tls.crt'], key: bundle['tls.key'] });

function pod(annotations?: Record<string, string>): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'agent', namespace: 'team-a', ...(annotations ? { annotations } : {}) },
    spec: { containers: [{ name: 'app', image: 'example.com/agent:1' }] },
  };
}

function admissionReview(object: V1Pod, uid = 'b6a1c3e2-0d5f-4a8e-9c7b-1f2e3d4c5b6a'): object {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      name: object.metadata?.name,
      namespace: 'team-a',
      operation: 'CREATE',
      userInfo: { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] },
      object,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

let bundle: ServingBundle;
let renewed: ServingBundle;
let dispatcher: Agent;
beforeAll(async () => {
  bundle = await createServingBundle(NAMES, 3_600_000);
  renewed = await renewServingBundle(bundle, NAMES, 3_600_000, new Date());
  dispatcher = new Agent({ connect: { ca: bundle['ca.crt'] } });
});
afterAll(async () => {
  await dispatcher.close();
});

let tls: StaticTlsSource;
let metrics: WebhookMetrics;
let webhook: WebhookServer;
beforeEach(async () => {
  tls = new StaticTlsSource(pairOf(bundle));
  metrics = createWebhookMetrics();
  webhook = await startWebhookServer({ host: '127.0.0.1', port: 0, tls, settings: () => defaultInjectionSettings(), metrics, log });
});
afterEach(async () => {
  await webhook.close();
});

async function post(path: string, body: string | object, contentType = 'application/json') {
  const res = await request(`${webhook.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    dispatcher,
  });
  return { status: res.statusCode, type: String(res.headers['content-type']), text: await res.body.text() };
}

async function get(path: string) {
  const res = await request(`${webhook.url}${path}`, { dispatcher });
  return { status: res.statusCode, type: String(res.headers['content-type']), text: await res.body.text() };
}

/** A fresh TLS connection (never a pooled one): the certificate the server presents now. */
function peerCertificate(): Promise<PeerCertificate> {
  const url = new URL(webhook.url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port), ca: bundle['ca.crt'] }, () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      resolve(cert);
    });
    socket.once('error', reject);
  });
}

const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256;

describe('startWebhookServer', () => {
  it('serves HTTPS on the address asked, with the serving certificate', async () => {
    expect(webhook.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(Number(new URL(webhook.url).port)).toBeGreaterThan(0);
    expect(webhook.server.listening).toBe(true);
    expect((await peerCertificate()).fingerprint256).toBe(fingerprint(bundle['tls.crt']));
  });

  it('refuses to start without a certificate', async () => {
    await expect(
      startWebhookServer({ host: '127.0.0.1', port: 0, tls: new StaticTlsSource(undefined), settings: () => defaultInjectionSettings(), metrics, log }),
    ).rejects.toThrow(/no serving certificate/);
  });

  describe('/inject and /inject/namespace', () => {
    it('answers an AdmissionReview with a JSON AdmissionReview carrying the patch', async () => {
      const object = pod({ [INJECT_ANNOTATION]: 'true' });
      const res = await post('/inject', admissionReview(object, 'uid-1'));
      expect(res.status).toBe(200);
      expect(res.type).toMatch(/^application\/json/);
      const review = JSON.parse(res.text) as { apiVersion: string; kind: string; response: { uid: string; allowed: boolean; patchType?: string; patch?: string } };
      expect(review.apiVersion).toBe('admission.k8s.io/v1');
      expect(review.kind).toBe('AdmissionReview');
      expect(review.response.uid).toBe('uid-1');
      expect(review.response.allowed).toBe(true);
      expect(review.response.patchType).toBe('JSONPatch');
      const ops = JSON.parse(Buffer.from(review.response.patch!, 'base64').toString('utf8')) as Operation[];
      const injected = applyJsonPatch(object, ops);
      expect([...(injected.spec?.initContainers ?? []), ...(injected.spec?.containers ?? [])].map((c) => c.name)).toContain(PROXY_CONTAINER);
    });

    it('routes by path: a plain pod is skipped at /inject and injected at /inject/namespace', async () => {
      const byPod = JSON.parse((await post('/inject', admissionReview(pod()))).text) as { response: { allowed: boolean; patch?: string } };
      expect(byPod.response).toEqual({ uid: expect.any(String), allowed: true });
      const byNamespace = JSON.parse((await post('/inject/namespace', admissionReview(pod()))).text) as { response: { patch?: string } };
      expect(byNamespace.response.patch).toEqual(expect.any(String));
    });

    it('parses the body whatever its content type says', async () => {
      const res = await post('/inject', admissionReview(pod({ [INJECT_ANNOTATION]: 'true' })), 'text/plain');
      expect(res.status).toBe(200);
      expect((JSON.parse(res.text) as { response: { patchType?: string } }).response.patchType).toBe('JSONPatch');
    });

    it('answers bad JSON with 400 and the reason', async () => {
      const res = await post('/inject', '{"apiVersion": "admission.k8s.io/v1", ');
      expect(res.status).toBe(400);
      expect(res.type).toMatch(/^text\/plain/);
      expect(res.text).toMatch(/JSON/);
    });

    it('answers a malformed AdmissionReview with 400 naming the field', async () => {
      const res = await post('/inject', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' });
      expect(res.status).toBe(400);
      expect(res.text).toBe('request: missing\n');
      const empty = await post('/inject/namespace', '');
      expect(empty.status).toBe(400);
      expect(empty.text).toMatch(/^body:/);
      const array = await post('/inject', '[]');
      expect(array.status).toBe(400);
      expect(array.text).toMatch(/^body:/);
    });

    it('answers an unknown path with 404 and a GET of /inject with 405', async () => {
      expect((await get('/nope')).status).toBe(404);
      expect((await get('/inject')).status).toBe(405);
    });

    it('answers a body over the limit with 413', async () => {
      const small = await startWebhookServer({ host: '127.0.0.1', port: 0, tls, settings: () => defaultInjectionSettings(), metrics, log, maxBodyBytes: 1024 });
      try {
        const res = await request(`${small.url}/inject`, { method: 'POST', body: JSON.stringify(admissionReview(pod({ padding: 'x'.repeat(4096) }))), dispatcher });
        expect(res.statusCode).toBe(413);
        await res.body.text();
      } finally {
        await small.close();
      }
    });
  });

  describe('health', () => {
    it('/healthz and /readyz are 200 while serving; ready() follows', async () => {
      expect(await get('/healthz')).toMatchObject({ status: 200, text: 'ok\n' });
      expect(await get('/readyz')).toMatchObject({ status: 200, text: 'ready\n' });
      expect(webhook.ready()).toBe(true);
    });

    it('is not ready once closed', async () => {
      const other = await startWebhookServer({ host: '127.0.0.1', port: 0, tls, settings: () => defaultInjectionSettings(), metrics, log });
      expect(other.ready()).toBe(true);
      await other.close();
      expect(other.ready()).toBe(false);
      expect(other.server.listening).toBe(false);
    });
  });

  describe('/metrics', () => {
    it('counts admissions by result', async () => {
      await post('/inject', admissionReview(pod({ [INJECT_ANNOTATION]: 'true' })));
      let text = (await get('/metrics')).text;
      expect(text).toContain('chaperone_webhook_admissions_total{result="injected"} 1\n');
      expect(text).toContain('chaperone_webhook_admission_duration_seconds_count{result="injected"} 1\n');
      expect(text).not.toContain('result="invalid"');

      await post('/inject', 'not json');
      text = (await get('/metrics')).text;
      expect(text).toContain('chaperone_webhook_admissions_total{result="invalid"} 1\n');

      await post('/inject', { kind: 'AdmissionReview' });
      await post('/inject', admissionReview(pod()));
      const res = await get('/metrics');
      expect(res.status).toBe(200);
      expect(res.type).toMatch(/^text\/plain/);
      expect(res.text).toContain('chaperone_webhook_admissions_total{result="injected"} 1\n');
      expect(res.text).toContain('chaperone_webhook_admissions_total{result="invalid"} 2\n');
      expect(res.text).toContain('chaperone_webhook_admissions_total{result="skipped"} 1\n');
      expect(res.text).toContain('# TYPE chaperone_webhook_certificate_expiry_timestamp_seconds gauge');
    });
  });

  describe('certificate reload', () => {
    it('serves a new pair on new connections without a restart', async () => {
      const { server, url } = webhook;
      const before = await peerCertificate();
      expect(before.fingerprint256).toBe(fingerprint(bundle['tls.crt']));

      tls.set(pairOf(renewed));
      const after = await peerCertificate();
      expect(after.fingerprint256).toBe(fingerprint(renewed['tls.crt']));
      expect(after.fingerprint256).not.toBe(before.fingerprint256);

      // The same server, still listening on the same port, still answering over fresh connections.
      expect(webhook.server).toBe(server);
      expect(webhook.url).toBe(url);
      expect(server.listening).toBe(true);
      const fresh = new Agent({ connect: { ca: bundle['ca.crt'] } });
      try {
        const res = await request(`${url}/inject`, { method: 'POST', body: JSON.stringify(admissionReview(pod({ [INJECT_ANNOTATION]: 'true' }))), dispatcher: fresh });
        expect(res.statusCode).toBe(200);
        expect(((await res.body.json()) as { response: { patchType?: string } }).response.patchType).toBe('JSONPatch');
      } finally {
        await fresh.close();
      }
    });

    it('keeps the certificate it has when offered a pair whose key does not match, and takes the next good one', async () => {
      const mismatched = { cert: renewed['tls.crt'], key: bundle['tls.key'] };
      try {
        tls.set(mismatched); // setSecureContext throws; the source reports it (FileTlsSource: onError)
      } catch {
        // expected
      }
      expect((await peerCertificate()).fingerprint256).toBe(fingerprint(bundle['tls.crt']));
      expect((await get('/readyz')).status).toBe(200);
      tls.set(pairOf(renewed));
      expect((await peerCertificate()).fingerprint256).toBe(fingerprint(renewed['tls.crt']));
    });

    it('keeps connections already open on the certificate they began with', async () => {
      const url = new URL(webhook.url);
      const socket = connect({ host: url.hostname, port: Number(url.port), ca: bundle['ca.crt'] });
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', () => resolve());
        socket.once('error', reject);
      });
      try {
        tls.set(pairOf(renewed));
        expect((await peerCertificate()).fingerprint256).toBe(fingerprint(renewed['tls.crt']));
        expect(socket.destroyed).toBe(false);
        expect(socket.getPeerCertificate().fingerprint256).toBe(fingerprint(bundle['tls.crt']));
        // And it still carries requests.
        socket.write(`GET /healthz HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`);
        const response = await new Promise<string>((resolve, reject) => {
          let text = '';
          socket.setEncoding('utf8');
          socket.on('data', (chunk: string) => (text += chunk));
          socket.once('end', () => resolve(text));
          socket.once('error', reject);
        });
        expect(response).toMatch(/^HTTP\/1\.1 200 /);
      } finally {
        socket.destroy();
      }
    });
  });
});
