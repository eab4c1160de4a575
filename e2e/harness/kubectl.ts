// Real kubectl against the e2e cluster (KUBECONFIG, or the local control plane's kubeconfig).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../lib/project.js';

export const kubeconfig = (): string => process.env.KUBECONFIG ?? join(PROJECT_ROOT, 'e2e', '.cluster', 'kubeconfig');

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function kubectl(args: string[], input?: string): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = execFile('kubectl', ['--kubeconfig', kubeconfig(), ...args], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** kubectl that must succeed. */
export async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** Installs the GovernancePolicy CRD from crds/ and waits until the API server serves it. */
export async function installCrd(): Promise<void> {
  await kubectlOk(['apply', '-f', join(PROJECT_ROOT, 'crds')]);
  await kubectlOk(['wait', '--for', 'condition=Established', '--timeout=60s', 'crd/governancepolicies.chaperone.dev']);
}

/**
 * A kubeconfig file in `dir` that authenticates as ServiceAccount `name` in `namespace` (a token
 * from `kubectl create token`): a component run with it has exactly that account's RBAC.
 */
export async function serviceAccountKubeconfig(name: string, namespace: string, dir: string): Promise<string> {
  const { readFile, writeFile } = await import('node:fs/promises');
  const token = (await kubectlOk(['create', 'token', name, '-n', namespace, '--duration=1h'])).trim();
  const config = JSON.parse(await kubectlOk(['config', 'view', '--raw', '--minify', '-o', 'json'])) as {
    clusters: Array<{ cluster: { server: string; 'certificate-authority-data'?: string; 'certificate-authority'?: string } }>;
  };
  const cluster = config.clusters[0]!.cluster;
  const caData = cluster['certificate-authority-data'] ?? (cluster['certificate-authority'] ? (await readFile(cluster['certificate-authority'])).toString('base64') : undefined);
  const file = join(dir, `${name}.kubeconfig`);
  await writeFile(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'e2e', cluster: { server: cluster.server, ...(caData ? { 'certificate-authority-data': caData } : {}) } }],
      users: [{ name, user: { token } }],
      contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: name } }],
      'current-context': 'e2e',
    }),
    { mode: 0o600 },
  );
  return file;
}
