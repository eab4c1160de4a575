// Where the sidecar's policies come from, and how it notices they changed.
//
// In a pod: the operator's ConfigMap is mounted at /etc/chaperone/config and the pod's labels and
// annotations (downward API) at /etc/chaperone/podinfo. Kubernetes updates both by swapping a
// `..data` symlink, so we watch the directories, re-read, and swap in a new immutable snapshot.
// Calls in flight keep the snapshot they started with. A config that fails to load keeps the old one.
// Standalone: `--policy FILE` (repeatable); every policy in them applies (there are no pod labels).
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  AGENT_ANNOTATION,
  INTERCEPT_HOSTS_ANNOTATION,
  loadPolicies,
  parseDownwardApiLabels,
  parseInterceptHosts,
  policyKey,
  selectorMatches,
  type GovernancePolicy,
} from '../api/index.js';

/** An immutable view of the active configuration. */
export interface ConfigSnapshot {
  /** Policies that select this pod, in a stable order. */
  policies: readonly GovernancePolicy[];
  /** Extra hosts to intercept: the policies' spec.intercept.hosts and the pod's chaperone.dev/intercept-hosts. */
  interceptHosts: readonly string[];
  /** Running in a pod (identity from the pod), not standalone with --policy files. */
  inPod: boolean;
  /** The pod's agent identity (chaperone.dev/agent), if any. */
  podAgent?: string;
  /** The pod's labels, when running in a pod. */
  podLabels?: Readonly<Record<string, string>>;
  /** The interception CA, when one is configured. */
  ca?: { certPem: string; keyPem: string };
  /** sha256 of the inputs, to tell a real change from a touch. */
  hash: string;
  loadedAt: Date;
}

export interface ConfigSourceOptions {
  /** Standalone policy files. When empty, pod mode with configFile/podinfoDir. */
  policyFiles: string[];
  configFile: string;
  podinfoDir?: string;
  /** Directory with the interception CA (tls.crt, tls.key). Without it, TLS interception is off. */
  caDir?: string;
}

/** The raw inputs of a snapshot, read in one go, with their hash. */
interface Inputs {
  inPod: boolean;
  files: { name: string; text: string }[];
  labels?: string;
  annotations?: string;
  ca?: { certPem: string; keyPem: string };
  hash: string;
}

async function readInputs(options: ConfigSourceOptions): Promise<Inputs> {
  const names = options.policyFiles.length > 0 ? options.policyFiles : [options.configFile];
  const files = await Promise.all(names.map(async (name) => ({ name, text: await readFile(name, 'utf8') })));
  const podMode = options.policyFiles.length === 0 && options.podinfoDir !== undefined;
  const labels = podMode ? await readOptional(join(options.podinfoDir!, 'labels')) : undefined;
  const annotations = podMode ? await readOptional(join(options.podinfoDir!, 'annotations')) : undefined;
  const ca = options.caDir
    ? { certPem: await readFile(join(options.caDir, 'tls.crt'), 'utf8'), keyPem: await readFile(join(options.caDir, 'tls.key'), 'utf8') }
    : undefined;
  const hash = createHash('sha256');
  for (const f of files) hash.update(f.name).update('\0').update(f.text).update('\0');
  hash.update(labels ?? '').update('\0').update(annotations ?? '').update('\0');
  hash.update(ca?.certPem ?? '').update('\0').update(ca?.keyPem ?? '');
  return { inPod: podMode, files, labels, annotations, ca, hash: hash.digest('hex') };
}

/** Builds a snapshot from inputs; throws with a readable reason when they are invalid. */
function buildSnapshot(inputs: Inputs): ConfigSnapshot {
  const policies: GovernancePolicy[] = [];
  const errors: string[] = [];
  for (const file of inputs.files) {
    const loaded = loadPolicies(file.text, file.name);
    policies.push(...loaded.policies);
    errors.push(...loaded.errors);
  }
  if (errors.length > 0) throw new Error(errors.join('; '));
  if (inputs.ca && !/BEGIN CERTIFICATE/.test(inputs.ca.certPem)) throw new Error('CA: tls.crt holds no PEM certificate');

  const podLabels = inputs.labels === undefined ? undefined : parseDownwardApiLabels(inputs.labels);
  const podAnnotations = inputs.annotations === undefined ? {} : parseDownwardApiLabels(inputs.annotations);
  const podAgent = podAnnotations[AGENT_ANNOTATION];
  const selected = policies
    .filter((p) => podLabels === undefined || selectorMatches(p.spec.podSelector, podLabels))
    .sort((a, b) => policyKey(a).localeCompare(policyKey(b)));
  const interceptHosts = [
    ...new Set([
      ...selected.flatMap((p) => p.spec.intercept?.hosts ?? []).map((h) => h.toLowerCase()),
      ...parseInterceptHosts(podAnnotations[INTERCEPT_HOSTS_ANNOTATION]).hosts,
    ]),
  ];
  return {
    policies: selected,
    interceptHosts,
    inPod: inputs.inPod,
    ...(podAgent ? { podAgent } : {}),
    ...(podLabels ? { podLabels } : {}),
    ...(inputs.ca ? { ca: inputs.ca } : {}),
    hash: inputs.hash,
    loadedAt: new Date(),
  };
}

/** Reads and builds a snapshot in one step (tests, `policy validate`-style checks). */
export async function loadSnapshot(options: ConfigSourceOptions): Promise<ConfigSnapshot> {
  return buildSnapshot(await readInputs(options));
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export type ReloadResult = { result: 'success' | 'unchanged' } | { result: 'error'; error: string };

/**
 * Holds the current snapshot and reloads it when the watched directories change.
 * Directory watches catch Kubernetes' symlink swap; a slow poll backs them up on file systems
 * where inotify is unreliable.
 */
export class ConfigSource {
  private snapshot: ConfigSnapshot | undefined;
  private watchers: FSWatcher[] = [];
  private poll: NodeJS.Timeout | undefined;
  private pending: NodeJS.Timeout | undefined;
  private reloading: Promise<ReloadResult> | undefined;
  private lastInputHash: string | undefined;
  private lastError: string | undefined;

  constructor(
    private readonly options: ConfigSourceOptions,
    private readonly onReload: (result: ReloadResult, snapshot: ConfigSnapshot | undefined) => void = () => {},
  ) {}

  current(): ConfigSnapshot | undefined {
    return this.snapshot;
  }

  /** Re-reads the inputs; keeps the old snapshot when the new one is invalid. */
  reload(): Promise<ReloadResult> {
    // Serialise reloads: a burst of file events must not interleave two reads.
    this.reloading ??= this.doReload().finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  private async doReload(): Promise<ReloadResult> {
    let result: ReloadResult;
    try {
      const inputs = await readInputs(this.options);
      // Same bytes as last time (a poll, or a touch): nothing to do, and an invalid config is
      // reported once, not on every poll.
      if (inputs.hash === this.lastInputHash) return { result: 'unchanged' };
      this.lastInputHash = inputs.hash;
      this.snapshot = buildSnapshot(inputs);
      result = { result: 'success' };
    } catch (err) {
      const error = (err as Error).message;
      if (error === this.lastError) return { result: 'unchanged' };
      this.lastError = error;
      result = { result: 'error', error };
    }
    if (result.result === 'success') this.lastError = undefined;
    this.onReload(result, this.snapshot);
    return result;
  }

  /** Starts watching; reloads are debounced so one symlink swap gives one reload. */
  watch(pollMs = 5_000): void {
    const dirs = new Set(
      (this.options.policyFiles.length > 0 ? this.options.policyFiles : [this.options.configFile]).map((f) => dirname(f)),
    );
    if (this.options.policyFiles.length === 0 && this.options.podinfoDir) dirs.add(this.options.podinfoDir);
    if (this.options.caDir) dirs.add(this.options.caDir);
    for (const dir of dirs) {
      try {
        const watcher = watch(dir, () => this.schedule());
        watcher.on('error', () => {}); // the directory may vanish and return; the poll covers it
        this.watchers.push(watcher);
      } catch {
        // Not there yet: the poll picks it up once it appears.
      }
    }
    this.poll = setInterval(() => this.schedule(), pollMs);
    this.poll.unref();
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.reload();
    }, 100);
    this.pending.unref();
  }

  close(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    if (this.poll) clearInterval(this.poll);
    if (this.pending) clearTimeout(this.pending);
  }
}
