// What the dashboard test runs besides the sidecar and the operator: a real Prometheus (Debian's)
// scraping every Chaperone component each second, and the webhook (`chaperone webhook`, when the
// build has it) with its serving certificate from files, fed AdmissionReviews over HTTPS.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, issueLeaf, loadCa } from '../lib/x509.js';
import { curl, type CurlResult } from './harness/curl.js';
import { freePort } from './harness/ports.js';
import { CHAPERONE_BIN } from './harness/sidecar-process.js';

export interface ScrapeTarget {
  job: string;
  /** host:port */
  address: string;
  /** Target labels, as a PodMonitor or ServiceMonitor would add them (namespace, pod). */
  labels?: Record<string, string>;
  /** HTTPS with this CA file. */
  caFile?: string;
}

export interface PromSample { metric: Record<string, string>; value: [number, string] }
export interface PromAnswer {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data?: { resultType: 'vector' | 'scalar' | 'matrix' | 'string'; result: PromSample[] | [number, string] };
}

export interface Prometheus {
  url: string;
  /** An instant query, as the HTTP API answers it. */
  query(expr: string): Promise<PromAnswer>;
  /** The vector result of an instant query (throws on a PromQL error). */
  series(expr: string): Promise<PromSample[]>;
  stop(): Promise<void>;
  stderr(): string;
}

export async function startPrometheus(targets: ScrapeTarget[]): Promise<Prometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'chaperone-dashboard-prom-'));
  const jobs = targets.map((t) => [
    `  - job_name: ${JSON.stringify(t.job)}`,
    ...(t.caFile ? ['    scheme: https', `    tls_config: {ca_file: ${JSON.stringify(t.caFile)}}`] : []),
    `    static_configs: [{targets: [${JSON.stringify(t.address)}], labels: ${JSON.stringify(t.labels ?? {})}}]`,
  ].join('\n'));
  await writeFile(join(dir, 'prometheus.yml'), `global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n${jobs.join('\n')}\n`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc: ChildProcess = spawn('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));

  const query = async (expr: string): Promise<PromAnswer> => {
    const res = await fetch(`${url}/api/v1/query`, { method: 'POST', body: new URLSearchParams({ query: expr }) });
    return (await res.json()) as PromAnswer;
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await fetch(`${url}/-/ready`).then((r) => r.status === 200, () => false);
    if (ready) break;
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`prometheus did not become ready: ${stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    query,
    async series(expr) {
      const answer = await query(expr);
      if (answer.status !== 'success') throw new Error(`${expr}: ${answer.errorType}: ${answer.error}`);
      return answer.data?.resultType === 'vector' ? (answer.data.result as PromSample[]) : [];
    },
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
    stderr: () => stderr,
  };
}

export interface WebhookProcess {
  proc: ChildProcess;
  /** https://127.0.0.1:PORT */
  url: string;
  address: string;
  /** The CA of its serving certificate. */
  caFile: string;
  /** POSTs an AdmissionReview (or any body) to a path; curl verifies the serving certificate. */
  review(path: string, body: string): Promise<CurlResult>;
  stop(): Promise<void>;
  stderr(): string;
}

/**
 * `chaperone webhook` with its certificate from files (cert-manager mode: no Secret, no caBundle
 * patching) and no leader election, so it changes nothing in the shared cluster.
 */
export async function startWebhook(opts: { dir: string; namespace: string; kubeconfig: string; webhookConfig: string }): Promise<WebhookProcess> {
  const service = 'chaperone-webhook';
  const ca = await createCa('Chaperone dashboard e2e webhook CA', 1);
  const leaf = await issueLeaf(await loadCa(ca.certPem, ca.keyPem), {
    dnsNames: [service, `${service}.${opts.namespace}`, `${service}.${opts.namespace}.svc`, `${service}.${opts.namespace}.svc.cluster.local`],
    ipAddresses: ['127.0.0.1'],
    validityMs: 86_400_000,
  });
  const caFile = join(opts.dir, 'webhook-ca.crt');
  const certFile = join(opts.dir, 'webhook-tls.crt');
  const keyFile = join(opts.dir, 'webhook-tls.key');
  await writeFile(caFile, ca.certPem);
  await writeFile(certFile, leaf.certPem);
  await writeFile(keyFile, leaf.keyPem, { mode: 0o600 });
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const proc = spawn(process.execPath, [
    CHAPERONE_BIN, 'webhook',
    '--listen', address,
    '--namespace', opts.namespace,
    '--service', service,
    '--webhook-config', opts.webhookConfig,
    '--tls-cert-file', certFile,
    '--tls-key-file', keyFile,
    '--leader-elect', 'false',
    '--native-sidecars', 'on',
    '--kubeconfig', opts.kubeconfig,
    '--identity', `dashboard-e2e-${randomUUID().slice(0, 8)}`,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const url = `https://${address}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await curl(['--cacert', caFile, `${url}/readyz`], 5_000);
    if (r.status === 200) break;
    if (proc.exitCode !== null || Date.now() > deadline) {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      throw new Error(`chaperone webhook did not become ready on ${url}/readyz (last: HTTP ${r.status} ${r.stderr.trim()}); its output:\n${output}`);
    }
    await new Promise((r2) => setTimeout(r2, 200));
  }
  return {
    proc,
    url,
    address,
    caFile,
    review: (path, body) => curl(['--cacert', caFile, '-H', 'content-type: application/json', '--data-binary', body, `${url}${path}`]),
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    },
    stderr: () => output,
  };
}

/** An AdmissionReview v1 for creating `pod` in `namespace`. */
export function admissionReview(namespace: string, pod: object): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: randomUUID(),
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace,
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  });
}
