// Admission latency (issue 6's bench): how long the webhook takes to answer, and what it adds to a
// pod create. Against $KUBECONFIG when set, else the local control plane (joined or started here).
//
//   make build && node dist/bench/admission.js     # about a minute; writes bench/results/admission.md
//   ADMISSION_PROFILE_DIR=/tmp/prof node dist/bench/admission.js   # and a CPU profile of the webhook
//
// A. At the webhook: the real `chaperone webhook` process (self-managed TLS), AdmissionReviews of a
//    realistic pod (two containers, env, the service-account volume the API server adds) posted over
//    one keep-alive TLS connection, as the API server does, then over 8 at once. Client-observed
//    round trip, so TLS framing and JSON (de)serialisation are in it. Also the webhook's CPU per 1000.
// B. Through the API server: server-side dry-run pod creates via the API, in a namespace the webhook
//    is registered for and in one it is not, interleaved; the difference is what injection adds.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { Pool } from 'undici';
import { isConflict, isNotFound } from '../lib/kube.js';
import { PROJECT_ROOT } from '../lib/project.js';
import { down, up } from '../e2e/control-plane/cluster.js';
import { kubectlOk } from '../e2e/harness/kubectl.js';
import { freePort } from '../e2e/harness/ports.js';
import { webhookConfiguration } from '../webhook/configuration.js';
import { percentile as pct } from './model.js';
import { cpuSeconds, setClockTicks } from './procs.js';

const OWN_NS = 'chaperone-system';
const NS_ON = 'chaperone-bench-admit-on';
const NS_OFF = 'chaperone-bench-admit-off';
const CONFIG_NAME = 'chaperone-bench-webhook';
const SECRET = 'chaperone-bench-webhook-tls';
const BENCH_LABEL = 'chaperone.dev/bench-admission';
const WARMUP = 300;
const SEQUENTIAL = 3000;
const PARALLEL = 4000;
const CONCURRENCY = 8;
const API_CREATES = 150;
const AIM_P99_MS = 10;

const say = (s: string): void => void process.stderr.write(`admission: ${s}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const ms = (x: number): string => (x < 10 ? x.toFixed(2) : x.toFixed(1));

function samplePod(namespace: string, inject: boolean): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'agent-', namespace, labels: { app: 'agent' }, annotations: inject ? { 'chaperone.dev/inject': 'true', 'chaperone.dev/agent': 'researcher' } : {} },
    spec: {
      serviceAccountName: 'default',
      containers: ['agent', 'tools'].map((name) => ({
        name,
        image: `registry.example/${name}:1.4.2`,
        env: [
          { name: 'LOG_LEVEL', value: 'info' },
          { name: 'NO_PROXY', value: 'metadata.internal' },
          { name: 'OPENAI_API_KEY', valueFrom: { secretKeyRef: { name: 'openai', key: 'key' } } },
        ],
        resources: { requests: { cpu: '250m', memory: '256Mi' } },
        volumeMounts: [{ name: 'kube-api-access-abcde', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
      })),
      volumes: [
        {
          name: 'kube-api-access-abcde',
          projected: { sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }, { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } }] },
        },
      ],
    },
  };
}

function review(pod: V1Pod, i: number): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `bench-${i}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: pod.metadata!.namespace,
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: pod,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  });
}

/** Posts `count` reviews with `concurrency` in flight; per-request milliseconds. */
async function drive(pool: Pool, bodies: string[], count: number, concurrency: number): Promise<number[]> {
  const samples: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const body = bodies[next++ % bodies.length]!;
      const started = performance.now();
      const res = await pool.request({ path: '/inject', method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const text = await res.body.text();
      if (res.statusCode !== 200 || !text.includes('"allowed":true')) throw new Error(`webhook answered ${res.statusCode}: ${text.slice(0, 200)}`);
      samples.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return samples;
}

async function ensureNamespace(core: CoreV1Api, name: string, labels: Record<string, string>): Promise<void> {
  try {
    await core.createNamespace({ body: { metadata: { name, labels } } });
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
}

async function main(): Promise<void> {
  try {
    setClockTicks(Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()));
  } catch {
    // default 100
  }
  const ownCluster = !process.env.KUBECONFIG;
  let kubeconfig = process.env.KUBECONFIG ?? '';
  let child: ChildProcess | undefined;
  let core: CoreV1Api | undefined;
  try {
    if (ownCluster) {
      say('starting (or joining) the local control plane');
      kubeconfig = await up();
      process.env.KUBECONFIG = kubeconfig; // for kubectlOk
    }
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    await kubectlOk(['apply', '-f', join(PROJECT_ROOT, 'deploy', 'operator', 'rbac.yaml')]);
    await ensureNamespace(core, NS_ON, { [BENCH_LABEL]: 'on' });
    await ensureNamespace(core, NS_OFF, { [BENCH_LABEL]: 'off' });
    await core.deleteNamespacedSecret({ name: SECRET, namespace: OWN_NS }).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });

    const port = await freePort();
    const config = webhookConfiguration({
      name: CONFIG_NAME,
      namespace: OWN_NS,
      url: `https://127.0.0.1:${port}`,
      namespaceSelectorExpressions: [{ key: BENCH_LABEL, operator: 'In', values: ['on'] }],
    });
    await kubectlOk(['apply', '-f', '-'], JSON.stringify(config));
    // ADMISSION_PROFILE_DIR=DIR: the webhook writes a V8 CPU profile there (bench/cpuprofile-top.ts reads it).
    const profile = process.env.ADMISSION_PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', process.env.ADMISSION_PROFILE_DIR] : [];
    child = spawn(
      process.execPath,
      [...profile, join(PROJECT_ROOT, 'dist', 'bin', 'chaperone.js'), 'webhook', '--kubeconfig', kubeconfig, '--listen', `127.0.0.1:${port}`, '--tls-san', '127.0.0.1',
        '--tls-secret', SECRET, '--webhook-config', CONFIG_NAME, '--leader-elect=false', '--tls-refresh-ms', '500'],
      { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, CHAPERONE_LOG_LEVEL: 'warn' } },
    );
    let ca = '';
    for (let i = 0; i < 150 && !ca; i++) {
      await sleep(200);
      const secret = await core.readNamespacedSecret({ name: SECRET, namespace: OWN_NS }).catch(() => undefined);
      ca = secret?.data?.['ca.crt'] ? Buffer.from(secret.data['ca.crt'], 'base64').toString('utf8') : '';
    }
    if (!ca) throw new Error('the webhook did not create its TLS Secret');

    // A. At the webhook.
    const bodies = Array.from({ length: 64 }, (_, i) => review(samplePod(NS_ON, true), i));
    const skipBodies = Array.from({ length: 64 }, (_, i) => review(samplePod(NS_ON, false), i));
    const pool = new Pool(`https://127.0.0.1:${port}`, { connections: CONCURRENCY, connect: { ca }, pipelining: 1 });
    for (let i = 0; i < 100; i++) {
      try {
        await drive(pool, bodies, 1, 1);
        break;
      } catch {
        await sleep(200);
      }
    }
    await drive(pool, bodies, WARMUP, 1);
    const cpu0 = cpuSeconds(child.pid!);
    const sequential = await drive(pool, bodies, SEQUENTIAL, 1);
    const cpu1 = cpuSeconds(child.pid!);
    const parallel = await drive(pool, bodies, PARALLEL, CONCURRENCY);
    const skipped = await drive(pool, skipBodies, SEQUENTIAL, 1);
    await pool.close();
    const cpuPer1000 = ((cpu1 - cpu0) / SEQUENTIAL) * 1000;

    // B. Through the API server (dry run: nothing is stored), interleaved on / off.
    const withWebhook: number[] = [];
    const without: number[] = [];
    const create = async (ns: string): Promise<{ ms: number; injected: boolean }> => {
      const started = performance.now();
      const created = await core!.createNamespacedPod({ namespace: ns, body: samplePod(ns, true), dryRun: 'All' });
      return { ms: performance.now() - started, injected: (created.spec?.initContainers ?? []).some((c) => c.name === 'chaperone-proxy') };
    };
    // The API server picks the configuration up within a moment.
    for (let i = 0; i < 100 && !(await create(NS_ON)).injected; i++) await sleep(200);
    for (let i = 0; i < 20; i++) await create(NS_OFF);
    for (let i = 0; i < API_CREATES; i++) {
      const on = await create(NS_ON);
      if (!on.injected) throw new Error('a dry-run create in the registered namespace was not injected');
      withWebhook.push(on.ms);
      without.push((await create(NS_OFF)).ms);
    }

    const row = (what: string, xs: number[]): string => `| ${what} | ${xs.length} | ${ms(pct(xs, 0.5))} | ${ms(pct(xs, 0.99))} | ${ms(pct(xs, 0.999))} |`;
    const p99 = Math.max(pct(sequential, 0.99), pct(parallel, 0.99));
    const pass = p99 < AIM_P99_MS;
    const md = [
      '# Admission latency',
      '',
      `Run ${new Date().toISOString()} (\`node dist/bench/admission.js\`, part of \`make bench\`).`,
      '',
      '## A. At the webhook (client-observed HTTPS round trip, keep-alive, a two-container pod)',
      '',
      '| case | requests | p50 ms | p99 ms | p99.9 ms |',
      '|---|---|---|---|---|',
      row('inject, 1 in flight', sequential),
      row(`inject, ${CONCURRENCY} in flight`, parallel),
      row('not opted in (skip), 1 in flight', skipped),
      '',
      `Webhook CPU: ${cpuPer1000.toFixed(2)} s per 1000 injections (${((cpuPer1000 / 1000) * 1e3).toFixed(2)} ms each).`,
      '',
      `Aim p99 < ${AIM_P99_MS} ms: **${pass ? 'PASS' : 'MISS'}** (worst p99 ${ms(p99)} ms)`,
      '',
      '## B. Through the API server (server-side dry-run pod create via the API)',
      '',
      '| case | creates | p50 ms | p99 ms | p99.9 ms |',
      '|---|---|---|---|---|',
      row('namespace with the webhook', withWebhook),
      row('namespace without', without),
      '',
      `Added by injection: p50 ${ms(pct(withWebhook, 0.5) - pct(without, 0.5))} ms, p99 ${ms(pct(withWebhook, 0.99) - pct(without, 0.99))} ms.`,
      '',
    ].join('\n');
    const outDir = join(PROJECT_ROOT, 'bench', 'results');
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'admission.md'), md);
    process.stdout.write(md);
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5_000)]);
    }
    if (kubeconfig) {
      try {
        await kubectlOk(['delete', 'mutatingwebhookconfiguration', CONFIG_NAME, '--ignore-not-found']);
      } catch {
        // best effort
      }
    }
    if (ownCluster) await down();
    else if (core) for (const ns of [NS_ON, NS_OFF]) await core.deleteNamespace({ name: ns }).catch(() => undefined);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`admission: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
