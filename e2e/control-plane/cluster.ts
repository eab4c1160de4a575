// A real Kubernetes control plane on 127.0.0.1 for the end-to-end suite: etcd, kube-apiserver (RBAC,
// service-account tokens, the admission plugins including MutatingAdmissionWebhook) and
// kube-controller-manager (so Deployments and Jobs create Pods). No kubelet: pods are scheduled
// nowhere, which is all the webhook and operator tests need.
//
//   node dist/e2e/control-plane/cluster.js up     # prints the kubeconfig path once the API is ready
//   node dist/e2e/control-plane/cluster.js down   # stops everything it started
//
// State lives in e2e/.cluster/ (git-ignored): pki/, etcd/, logs/, pids.json, kubeconfig.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../lib/project.js';
import { createCa, generateKeyPair, issueLeaf, loadCa } from '../../lib/x509.js';
import { freePort } from '../harness/ports.js';

export const CLUSTER_DIR = join(PROJECT_ROOT, 'e2e', '.cluster');
export const KUBECONFIG = join(CLUSTER_DIR, 'kubeconfig');
const PIDS = join(CLUSTER_DIR, 'pids.json');
/** kube-apiserver's binary and flags, for restartApiServer(). */
const APISERVER_CMD = join(CLUSTER_DIR, 'kube-apiserver.json');
/** Processes using the running cluster: a second suite (or a benchmark) shares it, the last one out stops it. */
const USERS = join(CLUSTER_DIR, 'users.json');

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function readUsers(): Promise<number[]> {
  try {
    return (JSON.parse(await readFile(USERS, 'utf8')) as number[]).filter(alive);
  } catch {
    return [];
  }
}

const say = (s: string): void => void process.stderr.write(`cluster: ${s}\n`);

/** Builds (or finds cached) binaries; returns their directory. */
function binaries(): string {
  const script = join(PROJECT_ROOT, 'e2e', 'control-plane', 'build-binaries.sh');
  return execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop()!;
}

async function writePki(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const caPem = await createCa('chaperone-e2e-cluster-ca', 30);
  const ca = await loadCa(caPem.certPem, caPem.keyPem);
  const day = 86_400_000;
  const serving = await issueLeaf(ca, {
    dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
    ipAddresses: ['127.0.0.1', '10.0.0.1'],
    validityMs: 30 * day,
  });
  const admin = await issueLeaf(ca, { dnsNames: [], subject: 'CN=chaperone-e2e-admin, O=system:masters', clientOnly: true, validityMs: 30 * day });
  // Service-account tokens: ES256 signing key and its public half.
  const sa = await issueLeaf(ca, { dnsNames: ['service-accounts'], validityMs: 30 * day, keys: await generateKeyPair() });
  const { createPublicKey } = await import('node:crypto');
  const files: Record<string, string> = {
    'ca.crt': caPem.certPem,
    'ca.key': caPem.keyPem,
    'apiserver.crt': serving.certPem,
    'apiserver.key': serving.keyPem,
    'admin.crt': admin.certPem,
    'admin.key': admin.keyPem,
    'sa.key': sa.keyPem,
    'sa.pub': createPublicKey(sa.keyPem).export({ type: 'spki', format: 'pem' }).toString(),
  };
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text, { mode: 0o600 });
}

function kubeconfig(server: string, pki: string): string {
  const b64 = (f: string) => execFileSync('base64', ['-w0', join(pki, f)], { encoding: 'utf8' });
  return `apiVersion: v1
kind: Config
clusters:
- name: chaperone-e2e
  cluster: {server: "${server}", certificate-authority-data: ${b64('ca.crt')}}
users:
- name: admin
  user: {client-certificate-data: ${b64('admin.crt')}, client-key-data: ${b64('admin.key')}}
contexts:
- name: chaperone-e2e
  context: {cluster: chaperone-e2e, user: admin}
current-context: chaperone-e2e
`;
}

function start(name: string, bin: string, args: string[], logs: string): number {
  const out = openSync(join(logs, `${name}.log`), 'a');
  const child = spawn(bin, args, { detached: true, stdio: ['ignore', out, out] });
  child.unref();
  return child.pid!;
}

async function waitFor(what: string, check: () => boolean, timeoutMs: number, logFile?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  const tail = logFile && existsSync(logFile) ? (await readFile(logFile, 'utf8')).split('\n').slice(-20).join('\n') : '';
  throw new Error(`${what} not ready after ${timeoutMs} ms\n${tail}`);
}

const kubectl = (args: string[]): boolean => {
  try {
    execFileSync('kubectl', ['--kubeconfig', KUBECONFIG, ...args], { stdio: 'ignore', timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
};

export async function up(): Promise<string> {
  // A healthy cluster that another live process started: share it.
  if (existsSync(PIDS)) {
    const pids = JSON.parse(await readFile(PIDS, 'utf8')) as Record<string, number>;
    const users = await readUsers();
    if (users.length > 0 && Object.values(pids).every(alive) && kubectl(['get', '--raw', '/readyz'])) {
      await writeFile(USERS, JSON.stringify([...users, process.pid]));
      say('sharing the running cluster');
      return KUBECONFIG;
    }
    await down({ force: true });
  }
  const bin = binaries();
  await rm(CLUSTER_DIR, { recursive: true, force: true });
  const pki = join(CLUSTER_DIR, 'pki');
  const logs = join(CLUSTER_DIR, 'logs');
  await mkdir(logs, { recursive: true });
  await writePki(pki);
  const [etcdClient, etcdPeer, apiPort, kcmPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const pids: Record<string, number> = {};
  const started = Date.now();

  pids.etcd = start('etcd', join(bin, 'etcd'), [
    '--name', 'e2e', '--data-dir', join(CLUSTER_DIR, 'etcd'),
    '--listen-client-urls', `http://127.0.0.1:${etcdClient}`, '--advertise-client-urls', `http://127.0.0.1:${etcdClient}`,
    '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`,
    '--initial-cluster', `e2e=http://127.0.0.1:${etcdPeer}`, '--unsafe-no-fsync', '--log-level', 'warn',
  ], logs);
  await writeFile(PIDS, JSON.stringify(pids));

  const server = `https://127.0.0.1:${apiPort}`;
  const apiserverArgs = [
    '--etcd-servers', `http://127.0.0.1:${etcdClient}`,
    '--bind-address', '127.0.0.1', '--advertise-address', '127.0.0.1', '--secure-port', String(apiPort),
    '--tls-cert-file', join(pki, 'apiserver.crt'), '--tls-private-key-file', join(pki, 'apiserver.key'),
    '--client-ca-file', join(pki, 'ca.crt'),
    '--service-account-issuer', 'https://kubernetes.default.svc.cluster.local',
    '--service-account-key-file', join(pki, 'sa.pub'), '--service-account-signing-key-file', join(pki, 'sa.key'),
    '--service-cluster-ip-range', '10.0.0.0/24',
    '--authorization-mode', 'RBAC',
    '--enable-admission-plugins', 'NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass,ResourceQuota,MutatingAdmissionWebhook,ValidatingAdmissionWebhook',
    '--allow-privileged=true', '--cert-dir', join(CLUSTER_DIR, 'apiserver-certs'),
    '--profiling=false', '--v=1',
  ];
  await writeFile(APISERVER_CMD, JSON.stringify({ bin: join(bin, 'kube-apiserver'), args: apiserverArgs }));
  pids['kube-apiserver'] = start('kube-apiserver', join(bin, 'kube-apiserver'), apiserverArgs, logs);
  await writeFile(PIDS, JSON.stringify(pids));
  await writeFile(KUBECONFIG, kubeconfig(server, pki), { mode: 0o600 });
  await waitFor('kube-apiserver', () => kubectl(['get', '--raw', '/readyz']), 120_000, join(logs, 'kube-apiserver.log'));

  pids['kube-controller-manager'] = start('kube-controller-manager', join(bin, 'kube-controller-manager'), [
    '--kubeconfig', KUBECONFIG, '--authentication-kubeconfig', KUBECONFIG, '--authorization-kubeconfig', KUBECONFIG,
    '--bind-address', '127.0.0.1', '--secure-port', String(kcmPort),
    '--service-account-private-key-file', join(pki, 'sa.key'), '--root-ca-file', join(pki, 'ca.crt'),
    '--use-service-account-credentials=false', '--leader-elect=false',
    '--controllers', '*,-nodeipam,-nodelifecycle,-service,-route,-cloud-node-lifecycle,-persistentvolume-binder,-attachdetach',
    '--v=1',
  ], logs);
  await writeFile(PIDS, JSON.stringify(pids));
  await waitFor('the default service account', () => kubectl(['get', 'serviceaccount', 'default', '-n', 'default']), 60_000, join(logs, 'kube-controller-manager.log'));
  say(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s (API ${server})`);
  // `make cluster-up` (this script's own CLI) exits at once: the cluster is nobody's in particular.
  if (!cliRun) await writeFile(USERS, JSON.stringify([process.pid]));
  return KUBECONFIG;
}

/** Stops the cluster, unless other live processes still use it (force: stop regardless). */
export async function down(options: { force?: boolean } = {}): Promise<void> {
  if (!existsSync(PIDS)) return;
  const others = (await readUsers()).filter((pid) => pid !== process.pid);
  if (!options.force && others.length > 0) {
    await writeFile(USERS, JSON.stringify(others));
    return;
  }
  await rm(USERS, { force: true });
  const pids = JSON.parse(await readFile(PIDS, 'utf8')) as Record<string, number>;
  // Controller manager first, etcd last.
  for (const name of ['kube-controller-manager', 'kube-apiserver', 'etcd']) {
    const pid = pids[name];
    if (!pid) continue;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      continue; // already gone
    }
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // stopped in time
    }
  }
  await rm(PIDS, { force: true });
}

/** SIGTERM `pid`, wait up to 10 s for it to exit, then SIGKILL. */
async function stopPid(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return; // already gone
  }
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // stopped in time
  }
}

/** Whether restartApiServer() can work here (the local control plane is running). */
export function canRestartApiServer(): boolean {
  return existsSync(PIDS) && existsSync(APISERVER_CMD);
}

/**
 * Stops kube-apiserver (by its pid in pids.json) and starts it again with the same flags and port;
 * resolves once /readyz answers. Etcd and the controller manager keep running. Returns how long the
 * API was away, in ms.
 */
export async function restartApiServer(): Promise<number> {
  if (!canRestartApiServer()) throw new Error('restartApiServer: no local control plane is running');
  const pids = JSON.parse(await readFile(PIDS, 'utf8')) as Record<string, number>;
  const { bin, args } = JSON.parse(await readFile(APISERVER_CMD, 'utf8')) as { bin: string; args: string[] };
  const logs = join(CLUSTER_DIR, 'logs');
  const stoppedAt = Date.now();
  if (pids['kube-apiserver']) await stopPid(pids['kube-apiserver']);
  pids['kube-apiserver'] = start('kube-apiserver', bin, args, logs);
  await writeFile(PIDS, JSON.stringify(pids));
  await waitFor('kube-apiserver (restarted)', () => kubectl(['get', '--raw', '/readyz']), 120_000, join(logs, 'kube-apiserver.log'));
  return Date.now() - stoppedAt;
}

const command = process.argv[2];
const cliRun = process.argv[1]?.endsWith('cluster.js') === true && command !== undefined;
if (cliRun) {
  const run = command === 'up' ? up().then((k) => void process.stdout.write(`${k}\n`)) : command === 'down' ? down({ force: true }) : Promise.reject(new Error(`usage: cluster.js up|down`));
  run.catch((err: Error) => {
    process.stderr.write(`cluster: ${err.message}\n`);
    process.exit(1);
  });
}
