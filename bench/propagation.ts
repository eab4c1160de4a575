// Operator propagation latency: from a GovernancePolicy update to the updated `chaperone-config`
// ConfigMap (issue 5's bench). Against $KUBECONFIG when set, else the local control plane (brought
// up and torn down here). The operator runs as a child process, so its CPU is its own.
//
//   make build && node dist/bench/propagation.js      # about 1-2 minutes; writes bench/results/propagation.md
//
// Scenario A: one namespace, one policy, 50 sequential updates via the API (JSON patch of
// spec.rateLimits.requestsPerMinute), then 50 via `kubectl apply` of a second policy.
// Scenario B: 20 namespaces x 10 policies created in a burst, time until every ConfigMap holds all
// its policies; then 50 sequential API updates spread over the 20 namespaces.
// Latency: from the moment the update call returns (API: the PATCH response; kubectl: the process
// exit) to the watch event of `chaperone-config` whose policies.yaml holds the new generation.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CoreV1Api, CustomObjectsApi, KubeConfig, Watch } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { CONFIG_KEY } from '../api/pod-contract.js';
import { PROJECT_ROOT } from '../lib/project.js';
import { isConflict } from '../lib/kube.js';
import { down, up } from '../e2e/control-plane/cluster.js';
import { kubectlOk } from '../e2e/harness/kubectl.js';
import { freePort } from '../e2e/harness/ports.js';
import { percentile as pct } from './model.js';
import { cpuSeconds, setClockTicks } from './procs.js';

const GROUP = 'chaperone.dev';
const VERSION = 'v1alpha1';
const PLURAL = 'governancepolicies';
const CONFIG_MAP = 'chaperone-config';
const OP_NS = 'chaperone-bench-system';
const NS_A = 'chaperone-bench-a';
const B_NAMESPACES = 20;
const B_POLICIES = 10;
const UPDATES = 50;
/** Pause after each observed update before the next one (the operator's status write settles). */
const SETTLE_MS = 100;
const WAIT_MS = 15_000;
/** The whole run (control plane start excluded) must end by then. */
const RUN_BUDGET_MS = 150_000;
const AIM_MS = 1000;

const say = (s: string): void => void process.stderr.write(`propagation: ${s}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let runDeadline = Number.POSITIVE_INFINITY;
function checkBudget(): void {
  if (performance.now() > runDeadline) throw new Error(`run exceeded its ${RUN_BUDGET_MS / 1000} s budget`);
}

// ------------------------------------------------------------------------------ ConfigMap watch

/** What the watch saw: per namespace, policy name -> generation, and when each (name, generation) first appeared. */
class ConfigWatch {
  private readonly generations = new Map<string, Map<string, number>>();
  private readonly firstSeen = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  private abort: AbortController | undefined;
  private stopped = false;
  private resourceVersion: string | undefined;
  events = 0;

  constructor(private readonly kc: KubeConfig) {}

  async start(): Promise<void> {
    const watch = new Watch(this.kc);
    const params: Record<string, string | boolean> = { fieldSelector: `metadata.name=${CONFIG_MAP}`, allowWatchBookmarks: true };
    if (this.resourceVersion) params.resourceVersion = this.resourceVersion;
    this.abort = await watch.watch(
      '/api/v1/configmaps',
      params,
      (phase, obj: { metadata?: { namespace?: string; resourceVersion?: string }; data?: Record<string, string> }) => {
        const now = performance.now();
        if (obj?.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
        if (phase === 'BOOKMARK') return;
        const ns = obj?.metadata?.namespace;
        if (!ns) return;
        this.events++;
        const gens = new Map<string, number>();
        if (phase !== 'DELETED') {
          for (const doc of parseAllDocuments(obj.data?.[CONFIG_KEY] ?? '')) {
            const p = doc.toJS() as { metadata?: { name?: string; generation?: number } } | null;
            const name = p?.metadata?.name;
            if (!name) continue;
            const gen = p.metadata?.generation ?? 0;
            gens.set(name, gen);
            const key = `${ns}/${name}@${gen}`;
            if (!this.firstSeen.has(key)) this.firstSeen.set(key, now);
          }
        }
        this.generations.set(ns, gens);
        for (const w of [...this.waiters]) w();
      },
      (err: unknown) => {
        if (this.stopped) return;
        say(`watch ended (${err ? String(err) : 'closed'}); reopening`);
        setTimeout(() => void this.start().catch((e: unknown) => say(`watch restart failed: ${String(e)}`)), 100);
      },
    );
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  /** When ns/name at generation >= gen first appeared in the ConfigMap. */
  seenAt(ns: string, name: string, gen: number): number | undefined {
    return this.firstSeen.get(`${ns}/${name}@${gen}`);
  }

  holds(ns: string, names: readonly string[], gen = 1): boolean {
    const gens = this.generations.get(ns);
    return !!gens && names.every((n) => (gens.get(n) ?? -1) >= gen);
  }

  /** Resolves with the time of the event after which `ready()` holds. */
  until(ready: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<number> {
    if (ready()) return Promise.resolve(performance.now());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, Math.min(timeoutMs, Math.max(0, runDeadline - performance.now())));
      const check = (): void => {
        if (!ready()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(performance.now());
      };
      this.waiters.add(check);
    });
  }
}

// ------------------------------------------------------------------------------ helpers

function policy(ns: string, name: string, rpm: number): Record<string, unknown> {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'GovernancePolicy',
    metadata: { name, namespace: ns },
    spec: { mode: 'audit', rateLimits: { requestsPerMinute: rpm } },
  };
}

async function ensureNamespace(core: CoreV1Api, name: string): Promise<void> {
  try {
    await core.createNamespace({ body: { metadata: { name, labels: { 'chaperone.dev/bench': 'propagation' } } } });
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
}

interface Row {
  scenario: string;
  what: string;
  samples: number[];
  /** Whether this row is held to the aim. */
  aim: boolean;
}

const ms = (x: number): string => (Number.isFinite(x) ? (x < 10 ? x.toFixed(1) : x.toFixed(0)) : '-');

interface Update {
  /** From the call's return to the ConfigMap event (ms). */
  latency: number;
  /** The update call itself (ms): API round trip, or kubectl process start to exit. */
  call: number;
}

/** One API update (JSON patch of requestsPerMinute), then wait for its generation in the ConfigMap. */
async function apiUpdate(custom: CustomObjectsApi, watch: ConfigWatch, ns: string, name: string, rpm: number): Promise<Update> {
  checkBudget();
  const sent = performance.now();
  const obj = (await custom.patchNamespacedCustomObject({
    group: GROUP, version: VERSION, plural: PLURAL, namespace: ns, name,
    body: [{ op: 'replace', path: '/spec/rateLimits/requestsPerMinute', value: rpm }],
  })) as { metadata?: { generation?: number } };
  const returned = performance.now();
  const gen = obj.metadata?.generation ?? 0;
  await watch.until(() => watch.seenAt(ns, name, gen) !== undefined, `${ns}/${name} generation ${gen}`);
  const seen = watch.seenAt(ns, name, gen)!;
  await sleep(SETTLE_MS);
  return { latency: Math.max(0, seen - returned), call: returned - sent };
}

async function kubectlUpdate(watch: ConfigWatch, ns: string, name: string, rpm: number, gen: number): Promise<Update> {
  checkBudget();
  const started = performance.now();
  await kubectlOk(['apply', '-f', '-'], JSON.stringify(policy(ns, name, rpm)));
  const returned = performance.now();
  await watch.until(() => watch.seenAt(ns, name, gen) !== undefined, `${ns}/${name} generation ${gen}`);
  const seen = watch.seenAt(ns, name, gen)!;
  await sleep(SETTLE_MS);
  return { latency: Math.max(0, seen - returned), call: returned - started };
}

function machine(): string {
  let model = cpus()[0]?.model ?? 'unknown';
  try {
    model = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? model;
  } catch {
    // not Linux
  }
  return `${cpus().length} CPU (${model}), ${Math.round((totalmem() / 2 ** 30) * 10) / 10} GiB, Linux ${release()}, Node ${process.version}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`;
}

// ------------------------------------------------------------------------------ the run

async function startOperatorProcess(kubeconfig: string, logFile: string): Promise<ChildProcess> {
  const port = await freePort();
  const out = openSync(logFile, 'w');
  const child = spawn(
    process.execPath,
    [join(PROJECT_ROOT, 'dist', 'bin', 'chaperone.js'), 'operator', '--kubeconfig', kubeconfig, '--namespace', OP_NS,
      '--health-addr', `127.0.0.1:${port}`, '--health-tls=false', '--leader-elect=false'],
    { stdio: ['ignore', out, out] },
  );
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`operator exited (${child.exitCode}); log: ${logFile}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (res.ok) return child;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`operator not ready after 30 s; log: ${logFile}`);
}

async function stopOperator(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(5_000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

async function main(): Promise<void> {
  try {
    setClockTicks(Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()));
  } catch {
    // default 100
  }
  const ownCluster = !process.env.KUBECONFIG;
  let startedCluster = false;
  let kubeconfig = process.env.KUBECONFIG ?? '';
  let operator: ChildProcess | undefined;
  let watch: ConfigWatch | undefined;
  let core: CoreV1Api | undefined;
  const bNamespaces = Array.from({ length: B_NAMESPACES }, (_, i) => `chaperone-bench-b-${String(i).padStart(2, '0')}`);
  const logFile = join(tmpdir(), `chaperone-bench-operator-${process.pid}.log`);
  try {
    if (ownCluster) {
      // up() shares a control plane another live process runs (a test suite), and down() leaves it up.
      say('starting (or joining) the local control plane');
      startedCluster = true;
      kubeconfig = await up();
      process.env.KUBECONFIG = kubeconfig; // for kubectlOk
    }
    runDeadline = performance.now() + RUN_BUDGET_MS;
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);

    await kubectlOk(['apply', '-f', join(PROJECT_ROOT, 'crds')]);
    await kubectlOk(['wait', '--for=condition=Established', '--timeout=30s', `crd/${PLURAL}.${GROUP}`]);
    for (const ns of [OP_NS, NS_A, ...bNamespaces]) await ensureNamespace(core, ns);

    watch = new ConfigWatch(kc);
    await watch.start();
    operator = await startOperatorProcess(kubeconfig, logFile);
    say(`operator pid ${operator.pid} ready (log ${logFile})`);
    const opPid = operator.pid!;
    const rows: Row[] = [];
    const cpu: Array<[string, number]> = [];

    // --- A: one namespace, one policy ---
    await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace: NS_A, body: policy(NS_A, 'bench', 1000) });
    await kubectlOk(['apply', '-f', '-'], JSON.stringify(policy(NS_A, 'bench-kubectl', 1000)));
    await watch.until(() => watch!.holds(NS_A, ['bench', 'bench-kubectl']), `${NS_A} initial policies`, 30_000);
    await sleep(500); // CA, trust bundle and status writes of the first reconcile settle
    let cpu0 = cpuSeconds(opPid);
    const aApi: Update[] = [];
    for (let i = 0; i < UPDATES; i++) aApi.push(await apiUpdate(custom, watch, NS_A, 'bench', 1001 + i));
    const aKubectl: Update[] = [];
    for (let i = 0; i < UPDATES; i++) aKubectl.push(await kubectlUpdate(watch, NS_A, 'bench-kubectl', 1001 + i, 2 + i));
    cpu.push(['A (100 updates)', cpuSeconds(opPid) - cpu0]);
    say(`A done: API p50 ${ms(pct(aApi.map((u) => u.latency), 0.5))} ms`);
    rows.push({ scenario: 'A: 1 ns, 1 policy', what: `API update (JSON patch) → ConfigMap, ${UPDATES} sequential`, samples: aApi.map((u) => u.latency), aim: true });
    rows.push({ scenario: 'A', what: '… the PATCH call itself (not in the row above)', samples: aApi.map((u) => u.call), aim: false });
    rows.push({ scenario: 'A', what: `\`kubectl apply\` exit → ConfigMap, ${UPDATES} sequential`, samples: aKubectl.map((u) => u.latency), aim: true });
    rows.push({ scenario: 'A', what: '`kubectl apply` start → ConfigMap (incl. kubectl process)', samples: aKubectl.map((u) => u.call + u.latency), aim: false });

    // --- B: 20 namespaces x 10 policies in a burst ---
    cpu0 = cpuSeconds(opPid);
    const names = Array.from({ length: B_POLICIES }, (_, j) => `p${j}`);
    const lastCreate = new Map<string, number>();
    const jobs = bNamespaces.flatMap((ns) => names.map((name) => ({ ns, name })));
    const burstStart = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < jobs.length) {
          const { ns, name } = jobs[next++]!;
          await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace: ns, body: policy(ns, name, 1000) });
          lastCreate.set(ns, performance.now());
        }
      }),
    );
    const burstCreated = performance.now();
    const converged = await Promise.all(bNamespaces.map((ns) => watch!.until(() => watch!.holds(ns, names), `${ns} all ${B_POLICIES} policies`, 60_000)));
    const bTotal = Math.max(...converged) - burstStart;
    const bAfterLast = Math.max(...converged) - burstCreated;
    const perNs = bNamespaces.map((ns, i) => Math.max(0, converged[i]! - lastCreate.get(ns)!));
    cpu.push(['B burst (200 creates)', cpuSeconds(opPid) - cpu0]);
    say(`B burst: all converged ${ms(bTotal)} ms after the first create`);
    await sleep(1_000); // first reconciles' CA and status writes settle
    cpu0 = cpuSeconds(opPid);
    const bUpd: Update[] = [];
    for (let i = 0; i < UPDATES; i++) {
      bUpd.push(await apiUpdate(custom, watch, bNamespaces[i % B_NAMESPACES]!, names[(i * 7) % B_POLICIES]!, 2000 + i));
    }
    cpu.push(['B updates (50)', cpuSeconds(opPid) - cpu0]);
    rows.push({ scenario: 'B: 20 ns × 10 policies', what: 'burst of 200 creates: per namespace, its last create → its ConfigMap complete', samples: perNs, aim: true });
    rows.push({ scenario: 'B', what: `API update → ConfigMap, ${UPDATES} sequential spread over the 20 namespaces`, samples: bUpd.map((u) => u.latency), aim: true });

    // --- report ---
    const allPass = rows.filter((r) => r.aim).every((r) => pct(r.samples, 0.99) < AIM_MS);
    const lines = [
      '# Operator propagation latency',
      '',
      `- date: ${new Date().toISOString()}`,
      `- machine: ${machine()}`,
      `- cluster: ${ownCluster ? 'local control plane (etcd, kube-apiserver, kube-controller-manager on 127.0.0.1)' : `KUBECONFIG ${kubeconfig}`}; operator in its own process, leader election off`,
      `- latency: from the return of the update call to the watch event on ConfigMap \`${CONFIG_MAP}\` whose \`${CONFIG_KEY}\` holds the new generation`,
      `  (the apiserver's write, the operator's watch, its reconcile and server-side apply, and our watch). Sequential updates, ${SETTLE_MS} ms apart after each is observed.`,
      '',
      '| scenario | what | n | p50 ms | p99 ms | max ms | aim p99 < 1 s |',
      '|---|---|---:|---:|---:|---:|---|',
      ...rows.map((r) => `| ${r.scenario} | ${r.what} | ${r.samples.length} | ${ms(pct(r.samples, 0.5))} | ${ms(pct(r.samples, 0.99))} | ${ms(Math.max(...r.samples))} | ${r.aim ? (pct(r.samples, 0.99) < AIM_MS ? 'PASS' : '**MISS**') : '–'} |`),
      '',
      `B burst: 200 creates (16 in flight) took ${ms(burstCreated - burstStart)} ms; all 20 ConfigMaps complete ${ms(bTotal)} ms after the first create (${ms(bAfterLast)} ms after the last). The first reconcile of a namespace also creates its CA.`,
      '',
      `Operator CPU (utime+stime): ${cpu.map(([k, v]) => `${k} ${v.toFixed(2)} s`).join('; ')}. ConfigMap watch events seen: ${watch.events}.`,
      '',
      `Aim p99 < 1 s: **${allPass ? 'PASS' : 'MISS'}**`,
      '',
    ];
    const md = lines.join('\n');
    const outDir = join(PROJECT_ROOT, 'bench', 'results');
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'propagation.md'), md);
    process.stdout.write(md);
  } finally {
    watch?.stop();
    await stopOperator(operator);
    if (startedCluster) {
      say('stopping the local control plane');
      await down();
    } else if (core) {
      for (const ns of [NS_A, ...bNamespaces, OP_NS]) await core.deleteNamespace({ name: ns }).catch(() => undefined);
    }
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`propagation: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
