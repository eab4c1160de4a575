// A real Kubernetes cluster on this machine for the end-to-end suite: etcd, kube-apiserver (Node and
// RBAC authorization, service-account tokens, the admission plugins including MutatingAdmissionWebhook),
// kube-controller-manager, kube-scheduler, and one node (./node.ts): a kubelet on containerd, with
// kube-proxy and CoreDNS, running the images built here (e2e/images/build-images.sh) as real pods.
// The kubelet, scheduler and kube-proxy authenticate as their own identities (client certificates
// from the cluster CA); the controller manager and CoreDNS use the admin's.
//
//   node dist/e2e/control-plane/cluster.js up     # prints the kubeconfig path once the API is ready
//   node dist/e2e/control-plane/cluster.js down   # stops everything it started
//
// State lives in e2e/.cluster/ (git-ignored): pki/, etcd/, logs/, pids.json, kubeconfig.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PROJECT_ROOT } from '../../lib/project.js';
import { createCa, generateKeyPair, issueLeaf, loadCa } from '../../lib/x509.js';
import { freePort } from '../harness/ports.js';
import {
  cleanNode, containerdArgs, corednsArgs, createBridge, importImages, KUBERNETES_SERVICE_IP, kubeletArgs, kubeProxyArgs,
  NODE_IP, NODE_NAME, nodePaths, nodeSupported, removeContainers, STATE_DIR, succeeds, ctrSucceeds, SERVICE_CIDR, writeNodeConfig, CONTAINERD_SOCKET,
} from './node.js';

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

/** Builds (or finds cached) the images the node runs: NAME -> OCI archive. */
export function imageArchives(): Map<string, string> {
  const script = join(PROJECT_ROOT, 'e2e', 'images', 'build-images.sh');
  const out = execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
  return new Map(out.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]));
}

/** The identities the components authenticate as (client certificates from the cluster CA). */
const IDENTITIES = {
  admin: 'CN=chaperone-e2e-admin, O=system:masters',
  'apiserver-kubelet-client': 'CN=kube-apiserver-kubelet-client, O=system:masters',
  kubelet: `CN=system:node:${NODE_NAME}, O=system:nodes`,
  scheduler: 'CN=system:kube-scheduler',
  'kube-proxy': 'CN=system:kube-proxy',
} as const;

async function writePki(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const caPem = await createCa('chaperone-e2e-cluster-ca', 30);
  const ca = await loadCa(caPem.certPem, caPem.keyPem);
  const day = 86_400_000;
  const serving = await issueLeaf(ca, {
    dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
    ipAddresses: ['127.0.0.1', NODE_IP, KUBERNETES_SERVICE_IP],
    validityMs: 30 * day,
  });
  const kubelet = await issueLeaf(ca, { dnsNames: [NODE_NAME], ipAddresses: [NODE_IP], validityMs: 30 * day });
  // Service-account tokens: ES256 signing key and its public half.
  const sa = await issueLeaf(ca, { dnsNames: ['service-accounts'], validityMs: 30 * day, keys: await generateKeyPair() });
  const { createPublicKey } = await import('node:crypto');
  const files: Record<string, string> = {
    'ca.crt': caPem.certPem,
    'ca.key': caPem.keyPem,
    'apiserver.crt': serving.certPem,
    'apiserver.key': serving.keyPem,
    'kubelet-serving.crt': kubelet.certPem,
    'kubelet-serving.key': kubelet.keyPem,
    'sa.key': sa.keyPem,
    'sa.pub': createPublicKey(sa.keyPem).export({ type: 'spki', format: 'pem' }).toString(),
  };
  for (const [name, subject] of Object.entries(IDENTITIES)) {
    const leaf = await issueLeaf(ca, { dnsNames: [], subject, clientOnly: true, validityMs: 30 * day });
    files[`${name}.crt`] = leaf.certPem;
    files[`${name}.key`] = leaf.keyPem;
  }
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text, { mode: 0o600 });
}

/** A kubeconfig for `identity` (a key of IDENTITIES) with its client certificate. */
function kubeconfig(server: string, pki: string, identity: keyof typeof IDENTITIES = 'admin'): string {
  const b64 = (f: string) => readFileSync(join(pki, f)).toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
- name: chaperone-e2e
  cluster: {server: "${server}", certificate-authority-data: ${b64('ca.crt')}}
users:
- name: ${identity}
  user: {client-certificate-data: ${b64(`${identity}.crt`)}, client-key-data: ${b64(`${identity}.key`)}}
contexts:
- name: chaperone-e2e
  context: {cluster: chaperone-e2e, user: ${identity}}
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

const kubectl = (args: string[]): boolean => succeeds('kubectl', ['--kubeconfig', KUBECONFIG, ...args], 5_000);

/** Node processes first, etcd last: the order in which down() stops them. */
const STOP_ORDER = ['coredns', 'kube-proxy', 'kubelet', 'containerd', 'kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd'];

async function record(pids: Record<string, number>): Promise<void> {
  await writeFile(PIDS, JSON.stringify(pids));
}

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
  const unsupported = nodeSupported();
  if (unsupported) throw new Error(`cannot start the local cluster: ${unsupported}`);
  const bin = binaries();
  const images = imageArchives();
  const node = nodePaths(CLUSTER_DIR);
  // A run that died may have left pods' mounts under the cluster folder: never rm -rf through them.
  const left = cleanNode(node, join(bin, 'kube-proxy'));
  if (left.length > 0) throw new Error(`another local cluster is running, or an earlier one left these behind (make cluster-down where it runs, or remove them):\n  ${left.join('\n  ')}`);
  await rm(CLUSTER_DIR, { recursive: true, force: true });
  await rm(STATE_DIR, { recursive: true, force: true });
  const pki = join(CLUSTER_DIR, 'pki');
  const logs = join(CLUSTER_DIR, 'logs');
  await mkdir(logs, { recursive: true });
  await writePki(pki);
  createBridge();
  const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const pids: Record<string, number> = {};
  const started = Date.now();

  pids.etcd = start('etcd', join(bin, 'etcd'), [
    '--name', 'e2e', '--data-dir', join(CLUSTER_DIR, 'etcd'),
    '--listen-client-urls', `http://127.0.0.1:${etcdClient}`, '--advertise-client-urls', `http://127.0.0.1:${etcdClient}`,
    '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`,
    '--initial-cluster', `e2e=http://127.0.0.1:${etcdPeer}`, '--unsafe-no-fsync', '--log-level', 'warn',
  ], logs);
  await record(pids);

  // The API server listens on the node's address: pods reach it there, through the `kubernetes`
  // Service (kube-proxy), and this machine's clients too. It calls webhooks and other Services at
  // their endpoints (aggregator routing), so no Service routing is needed on its side.
  const server = `https://${NODE_IP}:${apiPort}`;
  const apiserverArgs = [
    '--etcd-servers', `http://127.0.0.1:${etcdClient}`,
    '--bind-address', NODE_IP, '--advertise-address', NODE_IP, '--secure-port', String(apiPort),
    '--tls-cert-file', join(pki, 'apiserver.crt'), '--tls-private-key-file', join(pki, 'apiserver.key'),
    '--client-ca-file', join(pki, 'ca.crt'),
    '--kubelet-client-certificate', join(pki, 'apiserver-kubelet-client.crt'), '--kubelet-client-key', join(pki, 'apiserver-kubelet-client.key'),
    '--kubelet-certificate-authority', join(pki, 'ca.crt'), '--kubelet-preferred-address-types', 'InternalIP',
    '--service-account-issuer', 'https://kubernetes.default.svc.cluster.local',
    '--service-account-key-file', join(pki, 'sa.pub'), '--service-account-signing-key-file', join(pki, 'sa.key'),
    '--service-cluster-ip-range', SERVICE_CIDR,
    '--authorization-mode', 'Node,RBAC',
    '--enable-admission-plugins', 'NamespaceLifecycle,LimitRanger,ServiceAccount,NodeRestriction,DefaultStorageClass,ResourceQuota,MutatingAdmissionWebhook,ValidatingAdmissionWebhook',
    '--enable-aggregator-routing=true',
    '--allow-privileged=true', '--cert-dir', join(CLUSTER_DIR, 'apiserver-certs'),
    '--profiling=false', '--v=1',
  ];
  await writeFile(APISERVER_CMD, JSON.stringify({ bin: join(bin, 'kube-apiserver'), args: apiserverArgs }));
  pids['kube-apiserver'] = start('kube-apiserver', join(bin, 'kube-apiserver'), apiserverArgs, logs);
  await record(pids);
  await writeFile(KUBECONFIG, kubeconfig(server, pki), { mode: 0o600 });
  const kubeconfigOf = async (identity: keyof typeof IDENTITIES): Promise<string> => {
    const file = join(CLUSTER_DIR, `${identity}.kubeconfig`);
    await writeFile(file, kubeconfig(server, pki, identity), { mode: 0o600 });
    return file;
  };
  await waitFor('kube-apiserver', () => kubectl(['get', '--raw', '/readyz']), 120_000, join(logs, 'kube-apiserver.log'));

  // nodelifecycle removes the node's not-ready taint once the kubelet reports Ready.
  pids['kube-controller-manager'] = start('kube-controller-manager', join(bin, 'kube-controller-manager'), [
    '--kubeconfig', KUBECONFIG, '--authentication-kubeconfig', KUBECONFIG, '--authorization-kubeconfig', KUBECONFIG,
    '--bind-address', '127.0.0.1', '--secure-port', String(kcmPort),
    '--service-account-private-key-file', join(pki, 'sa.key'), '--root-ca-file', join(pki, 'ca.crt'),
    '--use-service-account-credentials=false', '--leader-elect=false',
    '--controllers', '*,-nodeipam,-service,-route,-cloud-node-lifecycle,-persistentvolume-binder,-attachdetach',
    '--v=1',
  ], logs);
  const schedulerKubeconfig = await kubeconfigOf('scheduler');
  pids['kube-scheduler'] = start('kube-scheduler', join(bin, 'kube-scheduler'), [
    '--kubeconfig', schedulerKubeconfig, '--authentication-kubeconfig', schedulerKubeconfig, '--authorization-kubeconfig', schedulerKubeconfig,
    '--bind-address', '127.0.0.1', '--secure-port', String(schedPort), '--leader-elect=false', '--v=1',
  ], logs);
  await record(pids);

  // The node.
  const [kubeletPort, kubeletHealthz, proxyHealthz, proxyMetrics] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const kubeletKubeconfig = await kubeconfigOf('kubelet');
  await writeNodeConfig({
    paths: node,
    pki,
    kubeProxyKubeconfig: await kubeconfigOf('kube-proxy'),
    corednsKubeconfig: KUBECONFIG,
    kubeletPort,
    kubeletHealthzPort: kubeletHealthz,
    kubeProxyHealthzPort: proxyHealthz,
    kubeProxyMetricsPort: proxyMetrics,
  });
  pids.containerd = start('containerd', 'containerd', containerdArgs(node), logs);
  await record(pids);
  await waitFor('containerd', () => existsSync(CONTAINERD_SOCKET) && ctrSucceeds(['version'], 5_000), 30_000, join(logs, 'containerd.log'));
  // The base the Dockerfile starts from is built too, but no pod runs it.
  importImages([...images].filter(([name]) => !name.startsWith('docker.io/library/node:')).map(([, archive]) => archive));
  pids.kubelet = start('kubelet', join(bin, 'kubelet'), kubeletArgs(node, kubeletKubeconfig), logs);
  pids['kube-proxy'] = start('kube-proxy', join(bin, 'kube-proxy'), kubeProxyArgs(node), logs);
  pids.coredns = start('coredns', join(bin, 'coredns'), corednsArgs(node), logs);
  await record(pids);
  await waitFor('the default service account', () => kubectl(['get', 'serviceaccount', 'default', '-n', 'default']), 60_000, join(logs, 'kube-controller-manager.log'));
  await waitFor(`node ${NODE_NAME} Ready and schedulable`, () => nodeSchedulable(), 90_000, join(logs, 'kubelet.log'));
  say(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s (API ${server}, node ${NODE_NAME} at ${NODE_IP}, images: ${[...images.keys()].join(', ')})`);
  // `make cluster-up` (this script's own CLI) exits at once: the cluster is nobody's in particular.
  if (!cliRun) await writeFile(USERS, JSON.stringify([process.pid]));
  return KUBECONFIG;
}

/** The node is Ready and carries no NoSchedule/NoExecute taint (not-ready, unreachable). */
function nodeSchedulable(): boolean {
  try {
    const node = JSON.parse(execFileSync('kubectl', ['--kubeconfig', KUBECONFIG, 'get', 'node', NODE_NAME, '-o', 'json'], { encoding: 'utf8', timeout: 5_000 })) as {
      spec?: { taints?: Array<{ effect: string }> };
      status?: { conditions?: Array<{ type: string; status: string }> };
    };
    const ready = node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    return ready && !(node.spec?.taints ?? []).some((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute');
  } catch {
    return false;
  }
}

/**
 * Removes every workload and pod through the API while the kubelet still runs, so that it stops
 * the containers, tears down their networks and unmounts their volumes the regular way.
 */
function drainNode(): void {
  // Best effort: what is left is removed after the kubelet has stopped.
  const k = (args: string[], timeout = 30_000): boolean => succeeds('kubectl', ['--kubeconfig', KUBECONFIG, ...args], timeout);
  k(['delete', 'deployments,replicasets,statefulsets,daemonsets,jobs', '--all', '--all-namespaces', '--wait=false']);
  k(['delete', 'pods', '--all', '--all-namespaces', '--grace-period=5', '--wait=true', '--timeout=60s'], 90_000);
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
  const { bin } = existsSync(APISERVER_CMD) ? (JSON.parse(await readFile(APISERVER_CMD, 'utf8')) as { bin: string }) : { bin: '' };
  if (pids.kubelet && alive(pids.kubelet) && pids['kube-apiserver'] && alive(pids['kube-apiserver'])) drainNode();
  for (const name of STOP_ORDER) {
    const pid = pids[name];
    if (!pid) continue;
    // Once the kubelet is gone, whatever containers are left are stopped through containerd itself.
    if (name === 'containerd') removeContainers();
    await stopPid(pid);
  }
  await rm(PIDS, { force: true });
  const node = nodePaths(CLUSTER_DIR);
  const left = cleanNode(node, bin ? join(dirname(bin), 'kube-proxy') : undefined);
  if (left.length > 0) throw new Error(`the cluster left these behind:\n  ${left.join('\n  ')}`);
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
