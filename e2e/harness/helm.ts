// Real helm, built from its Go module by e2e/control-plane/build-helm.sh (cached in ~/.cache/chaperone),
// against the e2e cluster (KUBECONFIG, or the local control plane's kubeconfig). Helm's own cache,
// config and data directories live in a temporary directory per process, so tests never read or
// change the user's repositories and plugins.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { PROJECT_ROOT } from '../../lib/project.js';
import { kubeconfig } from './kubectl.js';

export const CHART_DIR = join(PROJECT_ROOT, 'charts', 'chaperone');
const BUILD_SCRIPT = join(PROJECT_ROOT, 'e2e', 'control-plane', 'build-helm.sh');

let binary: string | undefined;
let home: string | undefined;

/** The helm binary: built on first use (cold: a minute or two), then cached. Prints progress to stderr. */
export function helmBinary(): string {
  binary ??= execFileSync('bash', [BUILD_SCRIPT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 20 * 60_000 })
    .trim()
    .split('\n')
    .pop()!;
  return binary;
}

function helmHome(): string {
  if (!home) {
    const dir = mkdtempSync(join(tmpdir(), 'chaperone-helm-'));
    home = dir;
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return home;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function helm(args: string[]): Promise<HelmResult> {
  const h = helmHome();
  const env = {
    ...process.env,
    KUBECONFIG: kubeconfig(),
    HELM_CACHE_HOME: join(h, 'cache'),
    HELM_CONFIG_HOME: join(h, 'config'),
    HELM_DATA_HOME: join(h, 'data'),
  };
  return new Promise((resolve) => {
    execFile(helmBinary(), args, { env, timeout: 180_000, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** helm that must succeed. */
export async function helmOk(args: string[]): Promise<string> {
  const r = await helm(args);
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

let valuesFiles = 0;
/** A values file (JSON is YAML) for `-f`, in the per-process helm directory. */
export function valuesFile(values: object): string {
  const file = join(helmHome(), `values-${++valuesFiles}.json`);
  writeFileSync(file, JSON.stringify(values));
  return file;
}

/** A rendered Kubernetes object, loosely typed: tests cast to the @kubernetes/client-node type they check. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/**
 * Every object of a multi-document YAML stream (empty documents dropped), read as YAML 1.1 like
 * helm and kubectl read it: a bare `off` is a boolean there, and a test should see what the API
 * server will get.
 */
export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text, { version: '1.1' })
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`unparsable manifest: ${doc.errors[0]!.message}`);
      return doc.toJS() as Manifest | null;
    })
    .filter((o): o is Manifest => o !== null && typeof o === 'object');
}

/** `helm template` of the chart; returns the YAML stream. */
export function renderChart(release: string, namespace: string, values: object = {}, extraArgs: string[] = []): Promise<string> {
  return helmOk(['template', release, CHART_DIR, '--namespace', namespace, '-f', valuesFile(values), ...extraArgs]);
}
