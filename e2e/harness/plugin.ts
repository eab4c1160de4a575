// The `kubectl chaperone` plugin as a person runs it: kubectl finds bin/kubectl-chaperone on PATH.
import { execFile } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { PROJECT_ROOT } from '../../lib/project.js';
import { kubeconfig, type KubectlResult } from './kubectl.js';

export function kubectlChaperone(args: string[]): Promise<KubectlResult> {
  const PATH = `${join(PROJECT_ROOT, 'bin')}${delimiter}${process.env.PATH ?? ''}`;
  return new Promise((resolve) => {
    execFile('kubectl', ['chaperone', ...args], { env: { ...process.env, PATH, KUBECONFIG: kubeconfig() }, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}
