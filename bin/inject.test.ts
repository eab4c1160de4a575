import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { UsageError } from '../lib/cli.js';
import { INJECT_HELP, injectCommand } from './inject.js';

async function run(argv: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await injectCommand(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    stdin: Readable.from([stdin]),
  });
  return { code, stdout, stderr };
}

async function file(text: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'chaperone-inject-')), 'in.yaml');
  await writeFile(path, text);
  return path;
}

type Doc = { kind: string; metadata?: { name?: string }; spec?: Record<string, unknown>; items?: Doc[] };
const docs = (yaml: string): Doc[] => parseAllDocuments(yaml).map((d) => d.toJS() as Doc);
const podAt = (value: unknown, path: string[]): V1Pod =>
  path.reduce<unknown>((v, key) => (v as Record<string, unknown> | undefined)?.[key], value) as V1Pod;
const proxyOf = (pod: V1Pod) => [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((c) => c.name === 'chaperone-proxy');

const CRONJOB = `apiVersion: batch/v1
kind: CronJob
metadata: {name: digest, namespace: agents}
spec:
  schedule: "0 6 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: digest, image: digest:1}]
`;
const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web:1}]}
`;
const OPTED_OUT_POD = `apiVersion: v1
kind: Pod
metadata: {name: private, annotations: {chaperone.dev/inject: "false"}}
spec: {containers: [{name: app, image: app:1}]}
`;

describe('chaperone inject', () => {
  it('prints its help', async () => {
    const r = await run(['--help']);
    expect(r).toEqual({ code: 0, stdout: INJECT_HELP, stderr: '' });
    expect(INJECT_HELP).toMatch(/^Usage: chaperone inject -f FILE/);
    expect(INJECT_HELP).toContain('--native-sidecars MODE');
  });

  it('injects a CronJob\'s pod template, as a regular sidecar when told the cluster has no native ones', async () => {
    const r = await run(['-f', await file(CRONJOB), '--cluster-supports-native-sidecars', 'false', '--image', 'chaperone:dev']);
    expect(r.code).toBe(0);
    const [cronjob] = docs(r.stdout);
    const pod = podAt(cronjob, ['spec', 'jobTemplate', 'spec', 'template']);
    expect(pod.spec?.containers.map((c) => c.name)).toEqual(['chaperone-proxy', 'digest']);
    expect(proxyOf(pod)?.image).toBe('chaperone:dev');
    expect(pod.spec?.containers[1]?.env).toContainEqual({ name: 'CHAPERONE_QUIT_URL', value: 'https://127.0.0.1:14090/quitquitquit' });
    expect(r.stderr).toBe('CronJob/digest: warning: restartPolicy OnFailure without native sidecars: the pod completes only after the app POSTs to $CHAPERONE_QUIT_URL\n');
  });

  it('handles multi-document input from stdin: injected, skipped and other kinds, in order', async () => {
    const service = 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n';
    const r = await run(['-f', '-'], [DEPLOYMENT, OPTED_OUT_POD, service].join('---\n'));
    expect(r.code).toBe(0);
    const out = docs(r.stdout);
    expect(out.map((d) => `${d.kind}/${d.metadata?.name}`)).toEqual(['Deployment/web', 'Pod/private', 'Service/web']);
    expect(proxyOf(podAt(out[0], ['spec', 'template']))?.restartPolicy).toBe('Always');
    expect(out[1]).toEqual(docs(OPTED_OUT_POD)[0]);
    expect(out[2]).toEqual(docs(service)[0]);
    expect(r.stderr).toBe('Pod/private: skipped: opted out with chaperone.dev/inject: "false"\n');
  });

  it('injects the items of a v1 List', async () => {
    const list = { apiVersion: 'v1', kind: 'List', items: docs(DEPLOYMENT + '---\n' + CRONJOB) };
    const r = await run(['-f', await file(JSON.stringify(list)), '--native-sidecars', 'off']);
    const [out] = docs(r.stdout);
    expect(out?.items?.map((i) => i.kind)).toEqual(['Deployment', 'CronJob']);
    expect(podAt(out?.items?.[0], ['spec', 'template']).spec?.containers[0]?.name).toBe('chaperone-proxy');
    expect(podAt(out?.items?.[1], ['spec', 'jobTemplate', 'spec', 'template']).spec?.containers[0]?.name).toBe('chaperone-proxy');
  });

  it('uses --namespace for objects that name none, and --chaperone-namespace', async () => {
    const path = await file(DEPLOYMENT);
    expect((await run(['-f', path, '-n', 'kube-system'])).stderr).toBe('Deployment/web: skipped: namespace kube-system is never injected\n');
    expect((await run(['-f', path, '--namespace', 'gov', '--chaperone-namespace', 'gov'])).stderr).toBe("Deployment/web: skipped: namespace gov is Chaperone's own\n");
    expect((await run(['-f', await file(CRONJOB), '-n', 'kube-system'])).stderr).not.toContain('skipped');
  });

  it.each<[string[], RegExp]>([
    [[], /^-f FILE is required/],
    [['-f', '-', '--native-sidecars', 'sometimes'], /^--native-sidecars sometimes: expected one of auto, on, off$/],
    [['-f', '-', '--cluster-supports-native-sidecars', 'maybe'], /^--cluster-supports-native-sidecars maybe: expected true or false$/],
    [['-f', '-', '--proxy-cpu-limit', 'lots'], /^--proxy-cpu-limit lots: expected a Kubernetes quantity/],
    [['-f', '-', '--frobnicate'], /Unknown option '--frobnicate'/],
  ])('%j is a usage error', async (argv, message) => {
    await expect(run(argv)).rejects.toThrow(UsageError);
    await expect(run(argv)).rejects.toThrow(message);
  });

  it('names the document that is not YAML', async () => {
    await expect(run(['-f', '-'], `${DEPLOYMENT}---\nkind: [\n`)).rejects.toThrow(/^<stdin>: document 2: /);
  });

  it('names a file that does not exist', async () => {
    await expect(run(['-f', '/nonexistent/in.yaml'])).rejects.toThrow('/nonexistent/in.yaml: no such file');
  });
});
