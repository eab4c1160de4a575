// One real node for the local control plane: a kubelet that talks CRI to containerd (runc, the CNI
// bridge plugin), kube-proxy for Services and CoreDNS for cluster DNS, all as processes on this
// machine, with pods on a bridge of the suite's own. Facts behind the settings: ../shared/REAL-NODE.md.
//
// Addresses: the bridge `chaperone0` holds NODE_IP (the node's InternalIP, the pods' gateway, where
// kube-apiserver, the kubelet and CoreDNS listen), pods get addresses from POD_CIDR, Services from
// SERVICE_CIDR. Nothing is routed off this machine (no masquerade).
//
// Everything it starts it stops, and stopNode() checks that no container, mount, shim or network
// namespace of the node is left behind.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const BRIDGE = 'chaperone0';
export const NODE_IP = '10.244.0.1';
export const POD_CIDR = '10.244.0.0/24';
export const SERVICE_CIDR = '10.0.0.0/24';
/** The `kubernetes` Service's ClusterIP (the first of SERVICE_CIDR): in the API server's certificate. */
export const KUBERNETES_SERVICE_IP = '10.0.0.1';
export const NODE_NAME = 'chaperone-e2e-node';
/** containerd's sandbox image: built here (e2e/images/pause.c), since none can be pulled. */
export const PAUSE_IMAGE = 'chaperone.dev/pause:3.10';
/** Sockets and runtime state: a short path (unix socket paths are limited to 108 bytes). */
export const RUN_DIR = '/run/chaperone-e2e';
export const CONTAINERD_SOCKET = join(RUN_DIR, 'containerd.sock');
/**
 * containerd's images and snapshots, the kubelet's pod folders and the pods' IP leases: outside the
 * repository, so that no tool that walks it (tsc, vitest, git) ever meets a container's files.
 */
export const STATE_DIR = '/var/lib/chaperone-e2e';
/** Registries the node's containerd is pointed away from (see writeNodeConfig); _default is every other. */
const NO_PULL_REGISTRIES = ['_default', 'docker.io', 'ghcr.io', 'registry.k8s.io', 'registry.example', 'registry.example.com', 'registry.invalid', 'chaperone.dev'];

export interface NodePaths {
  /** Root of the node's state (under the cluster directory). */
  dir: string;
  containerdConfig: string;
  containerdRoot: string;
  kubeletRoot: string;
  kubeletConfig: string;
  cniConf: string;
  kubeProxyConfig: string;
  corefile: string;
}

export function nodePaths(clusterDir: string): NodePaths {
  const dir = join(clusterDir, 'node');
  return {
    dir,
    containerdConfig: join(dir, 'containerd.toml'),
    containerdRoot: join(STATE_DIR, 'containerd'),
    kubeletRoot: join(STATE_DIR, 'kubelet'),
    kubeletConfig: join(dir, 'kubelet.yaml'),
    cniConf: join(dir, 'cni'),
    kubeProxyConfig: join(dir, 'kube-proxy.yaml'),
    corefile: join(dir, 'Corefile'),
  };
}

const run = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
/** Whether the command exits 0 (its output is dropped); bounded, so a hung tool cannot hang the suite. */
export const succeeds = (cmd: string, args: string[], timeoutMs = 30_000): boolean => {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: timeoutMs });
    return true;
  } catch {
    return false;
  }
};

/** The node needs root (namespaces, mounts, iptables) and Linux; say so plainly otherwise. */
export function nodeSupported(): string | undefined {
  if (process.platform !== 'linux') return 'the local node needs Linux';
  if (process.getuid?.() !== 0) return 'the local node needs root (network namespaces, mounts, iptables)';
  for (const tool of ['containerd', 'runc', 'ctr', 'iptables', 'ip']) {
    if (!succeeds('sh', ['-c', `command -v ${tool}`])) return `${tool} is missing (make test installs it: scripts/ensure-tools.sh)`;
  }
  if (!existsSync('/usr/lib/cni/bridge')) return 'the CNI plugins are missing (/usr/lib/cni/bridge; Debian: containernetworking-plugins)';
  return undefined;
}

/**
 * The bridge with the node's address, before anything listens on it. Pods' traffic is bridged
 * through iptables (br_netfilter) so that Service replies are un-NATed, and forwarded between pods.
 */
export function createBridge(): void {
  if (!succeeds('ip', ['link', 'show', BRIDGE])) run('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  if (!run('ip', ['-4', 'addr', 'show', 'dev', BRIDGE]).includes(`${NODE_IP}/`)) run('ip', ['addr', 'add', `${NODE_IP}/24`, 'dev', BRIDGE]);
  run('ip', ['link', 'set', BRIDGE, 'up']);
  for (const [key, value] of [['net/bridge/bridge-nf-call-iptables', '1'], ['net/ipv4/ip_forward', '1']] as const) {
    const file = `/proc/sys/${key}`;
    if (existsSync(file) && readFileSync(file, 'utf8').trim() !== value) run('sh', ['-c', `echo ${value} > ${file}`]);
  }
}

export function deleteBridge(): void {
  if (succeeds('ip', ['link', 'show', BRIDGE])) run('ip', ['link', 'delete', BRIDGE]);
}

export interface NodeConfigInput {
  paths: NodePaths;
  pki: string;
  /** kubeconfig files per identity (the kubelet's is a flag: kubeletArgs). */
  kubeProxyKubeconfig: string;
  corednsKubeconfig: string;
  kubeletPort: number;
  kubeletHealthzPort: number;
  kubeProxyHealthzPort: number;
  kubeProxyMetricsPort: number;
}

/** Writes the configuration of containerd, CNI, the kubelet, kube-proxy and CoreDNS. */
export async function writeNodeConfig(c: NodeConfigInput): Promise<void> {
  const p = c.paths;
  await mkdir(p.cniConf, { recursive: true });
  await mkdir(RUN_DIR, { recursive: true });
  // restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, so a sandbox's negative oom_score_adj
  // would fail ("can't get final child's PID from pipe: EOF"). runc, not crun: crun refuses hybrid
  // cgroups. cgroupfs, not systemd: no systemd runs here.
  await writeFile(p.containerdConfig, `version = 2
root = "${p.containerdRoot}"
state = "${join(RUN_DIR, 'containerd')}"
[grpc]
  address = "${CONTAINERD_SOCKET}"
[ttrpc]
  address = "${join(RUN_DIR, 'containerd.sock.ttrpc')}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${p.cniConf}"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${join(p.dir, 'registries')}"
`);
  // The node never pulls: every image it runs is imported (build-images.sh). A pod that names any
  // other image (the suites' deliberately fake ones) fails at once against 127.0.0.1:9, instead of
  // the node looking up and calling registries off this machine.
  for (const registry of NO_PULL_REGISTRIES) {
    await mkdir(join(p.dir, 'registries', registry), { recursive: true });
    await writeFile(join(p.dir, 'registries', registry, 'hosts.toml'), `server = "http://127.0.0.1:9"
[host."http://127.0.0.1:9"]
  capabilities = ["pull", "resolve"]
`);
  }
  await writeFile(join(p.cniConf, '10-chaperone.conflist'), JSON.stringify({
    cniVersion: '1.0.0',
    name: 'chaperone-e2e',
    plugins: [
      {
        type: 'bridge',
        bridge: BRIDGE,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: { type: 'host-local', dataDir: join(STATE_DIR, 'cni-ipam'), ranges: [[{ subnet: POD_CIDR, gateway: NODE_IP }]], routes: [{ dst: '0.0.0.0/0' }] },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  }, null, 2));
  // failCgroupV1: this machine has cgroup v1 controllers. The disk's stats cannot be read here, so
  // eviction and image GC thresholds are set where they never trigger.
  await writeFile(p.kubeletConfig, `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
failSwapOn: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://${CONTAINERD_SOCKET}
address: ${NODE_IP}
port: ${c.kubeletPort}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${c.kubeletHealthzPort}
tlsCertFile: ${join(c.pki, 'kubelet-serving.crt')}
tlsPrivateKeyFile: ${join(c.pki, 'kubelet-serving.key')}
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${join(c.pki, 'ca.crt')}}
authorization: {mode: Webhook}
clusterDNS: [${NODE_IP}]
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
evictionHard: {memory.available: "1Mi", nodefs.available: "0%", nodefs.inodesFree: "0%", imagefs.available: "0%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
localStorageCapacityIsolation: false
serializeImagePulls: false
`);
  // kube-proxy in iptables mode; NodePorts only on the node's own address; conntrack sysctls untouched.
  await writeFile(p.kubeProxyConfig, `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: ${c.kubeProxyKubeconfig}}
mode: iptables
clusterCIDR: ${POD_CIDR}
hostnameOverride: ${NODE_NAME}
healthzBindAddress: 127.0.0.1:${c.kubeProxyHealthzPort}
metricsBindAddress: 127.0.0.1:${c.kubeProxyMetricsPort}
nodePortAddresses: ["${NODE_IP}/32"]
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
`);
  // Cluster DNS for cluster.local only: there is nothing upstream to forward to.
  await writeFile(p.corefile, `.:53 {
    bind ${NODE_IP}
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig ${c.corednsKubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
}
`);
}

export const containerdArgs = (p: NodePaths): string[] => ['--config', p.containerdConfig, '--log-level', 'warn'];

export const kubeletArgs = (p: NodePaths, kubeconfig: string): string[] => [
  '--config', p.kubeletConfig,
  '--kubeconfig', kubeconfig,
  '--root-dir', p.kubeletRoot,
  '--cert-dir', join(p.dir, 'kubelet-pki'),
  '--hostname-override', NODE_NAME,
  '--node-ip', NODE_IP,
  '--v=1',
];

export const kubeProxyArgs = (p: NodePaths): string[] => ['--config', p.kubeProxyConfig, '--v=1'];

export const corednsArgs = (p: NodePaths): string[] => ['-conf', p.corefile];

/** `ctr`'s arguments for the node's containerd, in the CRI namespace. */
const CTR = ['--address', CONTAINERD_SOCKET, '--namespace', 'k8s.io'];

/** `ctr` against the node's containerd: its output. */
export function ctr(args: string[]): string {
  return run('ctr', [...CTR, ...args]);
}

/** Whether `ctr` against the node's containerd succeeds. */
export const ctrSucceeds = (args: string[], timeoutMs?: number): boolean => succeeds('ctr', [...CTR, ...args], timeoutMs);

/** Imports OCI image archives into the node's containerd (pods use them with imagePullPolicy Never/IfNotPresent). */
export function importImages(archives: string[]): void {
  for (const archive of archives) ctr(['images', 'import', archive]);
}

/** Mount points under any of `roots`, deepest first (the order to unmount them). */
export function mountsUnder(roots: string[]): string[] {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1]?.replace(/\\040/g, ' ') ?? '')
    .filter((m) => roots.some((r) => m === r || m.startsWith(`${r}/`)));
  return [...new Set(mounts)].sort((a, b) => b.length - a.length);
}

/** Processes whose command line mentions any of `needles` (shims carry the containerd address). */
export function processesMentioning(needles: string[]): Array<{ pid: number; cmd: string }> {
  const found: Array<{ pid: number; cmd: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    } catch {
      continue;
    }
    if (needles.some((n) => cmd.includes(n))) found.push({ pid: Number(entry), cmd });
  }
  return found;
}

/**
 * After the kubelet has stopped: stops whatever containers containerd still runs (a pod the kubelet
 * did not get to), so that containerd's shims exit. Best effort: containerd may already be gone.
 */
export function removeContainers(): void {
  if (!existsSync(CONTAINERD_SOCKET)) return;
  try {
    for (const id of ctr(['tasks', 'list', '-q']).split('\n').filter(Boolean)) {
      ctrSucceeds(['tasks', 'kill', '-s', 'SIGKILL', id]);
    }
    for (let i = 0; i < 50 && ctr(['tasks', 'list', '-q']).trim() !== ''; i++) execFileSync('sleep', ['0.1']);
    for (const id of ctr(['tasks', 'list', '-q']).split('\n').filter(Boolean)) ctrSucceeds(['tasks', 'delete', '-f', id]);
    for (const id of ctr(['containers', 'list', '-q']).split('\n').filter(Boolean)) ctrSucceeds(['containers', 'delete', id]);
  } catch {
    // containerd is not answering: the shim and mount checks below still run
  }
}

/**
 * The last step of stopping the node, once every process is gone: unmounts what is left under the
 * node's folders, removes the pods' network namespaces and the bridge, and kube-proxy's rules.
 * Returns what could not be cleaned (empty when the node left nothing behind).
 */
export function cleanNode(p: NodePaths, kubeProxyBin: string | undefined): string[] {
  const roots = [p.dir, RUN_DIR, STATE_DIR];
  // A node that still runs (this checkout's, or another's: the bridge, the sockets and the state
  // folder are per machine) is never cleaned under its feet.
  // Shims may take a moment to exit after their containers: wait up to 10 s for them.
  const needles = [CONTAINERD_SOCKET, RUN_DIR, STATE_DIR, p.containerdConfig, p.kubeletConfig, p.kubeProxyConfig, p.corefile];
  let running = processesMentioning(needles);
  for (let i = 0; i < 50 && running.length > 0; i++) {
    execFileSync('sleep', ['0.2']);
    running = processesMentioning(needles);
  }
  if (running.length > 0) return running.map((proc) => `process ${proc.pid}: ${proc.cmd.slice(0, 200)}`);
  for (const mount of mountsUnder(roots)) succeeds('umount', [mount]) || succeeds('umount', ['-l', mount]);
  // containerd's CRI names the pods' network namespaces cni-<uuid> under /var/run/netns.
  for (const ns of existsSync('/var/run/netns') ? readdirSync('/var/run/netns') : []) {
    if (ns.startsWith('cni-')) succeeds('ip', ['netns', 'delete', ns]);
  }
  if (kubeProxyBin && existsSync(kubeProxyBin)) succeeds(kubeProxyBin, ['--cleanup']);
  removeKubeRules();
  deleteBridge();
  const left: string[] = [];
  for (const m of mountsUnder(roots)) left.push(`mount ${m}`);
  for (const proc of processesMentioning(needles)) left.push(`process ${proc.pid}: ${proc.cmd.slice(0, 200)}`);
  if (succeeds('ip', ['link', 'show', BRIDGE])) left.push(`bridge ${BRIDGE}`);
  for (const rule of kubeRules()) left.push(`iptables rule ${rule}`);
  return left;
}

const IPTABLES = ['iptables', 'ip6tables'] as const;
const TABLES = ['filter', 'nat', 'mangle'] as const;

/** Every tool and table's rules (`-S` lines); a table this kernel lacks is left out. */
function ruleListings(): Array<{ tool: string; table: string; rules: string[] }> {
  const listings: Array<{ tool: string; table: string; rules: string[] }> = [];
  for (const tool of IPTABLES) {
    for (const table of TABLES) {
      try {
        listings.push({ tool, table, rules: run(tool, ['-t', table, '-S']).split('\n') });
      } catch {
        // no such table here
      }
    }
  }
  return listings;
}

/** The KUBE-* chains and the rules jumping to them. */
function kubeRules(): string[] {
  return ruleListings().flatMap(({ tool, table, rules }) => rules.filter((r) => /KUBE-/.test(r)).map((r) => `${tool} -t ${table} ${r}`));
}

/**
 * What kube-proxy --cleanup leaves: the kubelet's own chains (KUBE-FIREWALL, KUBE-KUBELET-CANARY,
 * KUBE-IPTABLES-HINT) and the rules that jump to them, in iptables and ip6tables.
 */
function removeKubeRules(): void {
  for (const { tool, table, rules } of ruleListings()) {
    // Rules in the built-in chains first, then the KUBE-* chains' own rules and the chains.
    for (const r of rules.filter((l) => l.startsWith('-A ') && !l.startsWith('-A KUBE-') && /-j KUBE-/.test(l))) {
      succeeds(tool, ['-t', table, '-D', ...splitRule(r.slice(3))]);
    }
    const chains = rules.filter((l) => l.startsWith('-N KUBE-')).map((l) => l.slice(3).trim());
    for (const chain of chains) succeeds(tool, ['-t', table, '-F', chain]);
    for (const chain of chains) succeeds(tool, ['-t', table, '-X', chain]);
  }
}

/** An `iptables -S` rule as arguments (quoted comments stay one argument). */
function splitRule(rule: string): string[] {
  return [...rule.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}
