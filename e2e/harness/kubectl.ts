// Real kubectl against the e2e cluster (KUBECONFIG, or the local control plane's kubeconfig).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { approvalAdmissionObjects, approvalPolicyName } from '../../api/approval-admission.js';
import { APPROVAL_CRD_NAME } from '../../api/approval-names.js';
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

/** Installs the CRDs from crds/ (GovernancePolicy, ApprovalRequest) and waits until the API server serves them. */
export async function installCrd(): Promise<void> {
  await kubectlOk(['apply', '-f', join(PROJECT_ROOT, 'crds')]);
  // A CRD created a moment ago may have no status yet, and `kubectl wait` then fails at once
  // ("status.conditions accessor error") instead of waiting: ask again until it waits.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await kubectl(['wait', '--for', 'condition=Established', '--timeout=60s', 'crd/governancepolicies.chaperone.dev', `crd/${APPROVAL_CRD_NAME}`]);
    if (r.code === 0) return;
    if (!/accessor error/.test(r.stderr) || Date.now() > deadline) throw new Error(`kubectl wait for the CRDs failed (${r.code}): ${r.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Applies what the chart's templates/approvals.yaml holds (the `chaperone-approvals`
 * ValidatingAdmissionPolicy and binding, the `chaperone-approver` ClusterRole), generated for
 * `operatorUser`, for tests that run without helm; waits until the API server enforces the policy.
 * The policy is cluster-wide and refuses ApprovalRequests from everyone but the sidecar and that
 * operator: call the returned function (afterAll) to remove it again.
 */
export async function installApprovalAdmission(operatorUser: string, fullname = 'chaperone'): Promise<() => Promise<void>> {
  const objects = approvalAdmissionObjects({ operatorUser, fullname, labels: { 'app.kubernetes.io/part-of': 'chaperone', 'chaperone.dev/e2e': 'true' } });
  await kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
  const policy = approvalPolicyName(fullname);
  await waitForApprovalAdmission(policy, true);
  return async () => {
    await kubectlOk(['delete', '--ignore-not-found', '--wait=true', ...objects.map((o) => `${String(o.kind).toLowerCase()}/${(o.metadata as { name: string }).name}`)]);
    await waitForApprovalAdmission(policy, false);
  };
}

/**
 * Policies take effect (and stop) a moment after the API server stores them: a server-side dry-run
 * create by the admin, who is neither sidecar nor operator, is refused exactly while one is enforced.
 */
async function waitForApprovalAdmission(policy: string, enforced: boolean): Promise<void> {
  const probe = JSON.stringify({
    apiVersion: 'chaperone.dev/v1alpha1',
    kind: 'ApprovalRequest',
    metadata: { name: 'admission-probe', namespace: 'default' },
    spec: {
      agent: 'probe', tool: 'probe', digest: '0'.repeat(64), argumentsDigest: '0'.repeat(64), argumentsPreview: '{}',
      argumentsTruncated: false, policy: 'default/probe', policyGeneration: 1, requestId: 'probe', heldAt: 'request',
      provider: 'probe', expiresAt: '2030-01-01T00:00:00Z', timeoutAction: 'reject',
    },
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await kubectl(['create', '--dry-run=server', '-f', '-'], probe);
    const refused = r.code !== 0 && r.stderr.includes(`ValidatingAdmissionPolicy '${policy}'`);
    if (refused === enforced) return;
    if (r.code !== 0 && !/ValidatingAdmissionPolicy/.test(r.stderr)) throw new Error(`admission probe failed: ${r.stderr}`);
    if (Date.now() > deadline) throw new Error(`ValidatingAdmissionPolicy ${policy} is ${enforced ? 'still not' : 'still'} enforced after 60 s`);
    await new Promise((res) => setTimeout(res, 250));
  }
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
