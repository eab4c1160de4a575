// The operator's approval work against the real API server, running in-process as the
// chaperone-operator ServiceAccount bound only to deploy/operator/rbac.yaml, under the
// chaperone-approvals admission policy (api/approval-admission.ts): each governed namespace
// gets the sidecar's identity (ServiceAccount, Role, RoleBinding, a minted token in a Secret); the
// token can create ApprovalRequests in its own namespace and nothing more; the operator moves the
// requests through Pending, Approved/Denied and Expired with Events on them and on the agent's pod,
// notifies a webhook, reports metrics, never revives a Used request, garbage-collects old ones, and
// removes the identity when the namespace stops being governed.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalRequestObject, ApprovalRequestSpec } from '../api/approval-names.js';
import { apiStatus, isNotFound, loadKubeConfig } from '../lib/kube.js';
import { createLogger } from '../lib/logger.js';
import { PROJECT_ROOT } from '../lib/project.js';
import { startOperator, type Operator, type OperatorOptions } from '../operator/main.js';
import { serviceAccountUser } from '../api/approval-admission.js';
import { installApprovalAdmission, installCrd, kubeconfig, kubectl, kubectlOk, serviceAccountKubeconfig } from './harness/kubectl.js';

const ID = randomBytes(3).toString('hex');
const NS = `chaperone-e2e-appr-${ID}`;
/** A namespace the sidecar token must not reach. */
const OTHER = `chaperone-e2e-appr-other-${ID}`;
const OWN_NS = 'chaperone-system';
const POLL = { timeout: 30_000, interval: 100 };
const GROUP = { group: 'chaperone.dev', version: 'v1alpha1', plural: 'approvalrequests' };
const TOKEN_TTL_MS = 60 * 60_000;

let admin: KubeConfig;
let core: CoreV1Api;
let custom: CustomObjectsApi;
let rbac: RbacAuthorizationV1Api;
let dir: string;
let operatorKubeconfig: string;
let operator: Operator | undefined;
let adminUser = '';
let podUid = '';
let sidecarToken = '';
let sidecarCa = '';
let hookServer: Server;
let hookUrl = '';
let removeAdmission: (() => Promise<void>) | undefined;
const notifications: Array<{ headers: Record<string, unknown>; body: unknown }> = [];

const OPERATOR_BASE: Omit<OperatorOptions, 'kubeconfig' | 'identity' | 'log'> = {
  namespace: OWN_NS,
  // Another run's operator may hold the shared Lease: this one reconciles without waiting its turn.
  leaderElection: false,
  healthAddr: '127.0.0.1:0',
  sidecarTokenTtlMs: TOKEN_TTL_MS,
  approvalRetentionMs: 60 * 60_000,
};

async function start(extra: Partial<OperatorOptions> = {}): Promise<Operator> {
  const kc = new KubeConfig();
  kc.loadFromFile(operatorKubeconfig);
  return startOperator({ ...OPERATOR_BASE, kubeconfig: kc, identity: `e2e-appr-${ID}`, log: createLogger('operator', process.env.E2E_DEBUG ? 'debug' : 'warn'), ...extra });
}

/** A client that authenticates with `token` and trusts `caPem` (as the sidecar does). */
function clientWithToken(token: string, caPem: string): CustomObjectsApi & { core: CoreV1Api } {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'e2e', server: admin.getCurrentCluster()!.server, caData: Buffer.from(caPem).toString('base64') }],
    users: [{ name: 'sidecar', token }],
    contexts: [{ name: 'e2e', cluster: 'e2e', user: 'sidecar' }],
    currentContext: 'e2e',
  });
  return Object.assign(kc.makeApiClient(CustomObjectsApi), { core: kc.makeApiClient(CoreV1Api) });
}

const status = (p: Promise<unknown>): Promise<number> => p.then(() => 200, (err: unknown) => apiStatus(err) ?? -1);

async function exists(read: () => Promise<unknown>): Promise<boolean> {
  try {
    await read();
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

const identityObjects = (): Promise<boolean[]> =>
  Promise.all([
    exists(() => core.readNamespacedServiceAccount({ name: 'chaperone-sidecar', namespace: NS })),
    exists(() => rbac.readNamespacedRole({ name: 'chaperone-sidecar', namespace: NS })),
    exists(() => rbac.readNamespacedRoleBinding({ name: 'chaperone-sidecar', namespace: NS })),
    exists(() => core.readNamespacedSecret({ name: 'chaperone-sidecar-token', namespace: NS })),
  ]);

function spec(tool: string, over: Partial<ApprovalRequestSpec> = {}): ApprovalRequestSpec {
  const digest = randomBytes(32).toString('hex');
  return {
    agent: 'researcher',
    pod: 'agent-0',
    podUID: podUid,
    serviceAccount: 'default',
    tool,
    digest,
    argumentsDigest: randomBytes(32).toString('hex'),
    argumentsPreview: JSON.stringify({ to: 'ceo@example.com', subject: tool }),
    argumentsTruncated: false,
    policy: `${NS}/default`,
    policyGeneration: 1,
    requestId: `req-${randomBytes(4).toString('hex')}`,
    heldAt: 'response',
    provider: 'openai',
    expiresAt: new Date(Date.now() + 10 * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    timeoutAction: 'reject',
    ...over,
  };
}

/** Creates an ApprovalRequest as the sidecar would (with the sidecar's token, in `namespace`). */
async function createAsSidecar(s: ApprovalRequestSpec, namespace = NS): Promise<string> {
  const client = clientWithToken(sidecarToken, sidecarCa);
  const body: ApprovalRequestObject = { apiVersion: 'chaperone.dev/v1alpha1', kind: 'ApprovalRequest', metadata: { generateName: `${s.tool.replace(/_/g, '-')}-${s.digest.slice(0, 8)}-` }, spec: s };
  const created = (await client.createNamespacedCustomObject({ ...GROUP, namespace, body })) as ApprovalRequestObject;
  return created.metadata.name!;
}

async function getAr(name: string): Promise<(ApprovalRequestObject & { metadata: { resourceVersion: string } }) | undefined> {
  try {
    return (await custom.getNamespacedCustomObject({ ...GROUP, namespace: NS, name })) as ApprovalRequestObject & { metadata: { resourceVersion: string } };
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
const phase = async (name: string): Promise<string> => {
  const ar = await getAr(name);
  return ar ? (ar.status?.phase ?? '(none)') : 'gone';
};

interface EventLike { reason: string; type: string; message: string; involvedObject: { kind: string; name: string; uid?: string }; source?: { component?: string } }
async function events(involvedName: string): Promise<EventLike[]> {
  const out = JSON.parse(await kubectlOk(['get', 'events', '-n', NS, '--field-selector', `involvedObject.name=${involvedName}`, '-o', 'json'])) as { items: EventLike[] };
  return out.items.filter((e) => e.source?.component === 'chaperone-operator');
}
const reasonsOn = async (involvedName: string, kind: string, forAr?: string): Promise<string[]> =>
  (await events(involvedName))
    .filter((e) => e.involvedObject.kind === kind && (!forAr || e.message.startsWith(`${forAr}:`)))
    .map((e) => `${e.type}/${e.reason}`)
    .sort();

async function decide(name: string, action: 'Approve' | 'Deny', reason?: string): Promise<void> {
  await kubectlOk(['patch', 'approvalrequest', name, '-n', NS, '--type=merge', '-p', JSON.stringify({ spec: { decision: { action, by: adminUser, ...(reason ? { reason } : {}) } } })]);
}

async function metrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${operator!.healthAddress.port}/metrics`)).text();
}
const metric = async (re: RegExp): Promise<string | undefined> => (await metrics()).match(re)?.[1];

beforeAll(async () => {
  process.env.KUBECONFIG ??= kubeconfig();
  admin = loadKubeConfig();
  core = admin.makeApiClient(CoreV1Api);
  custom = admin.makeApiClient(CustomObjectsApi);
  rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  await installCrd();
  await kubectlOk(['wait', '--for', 'condition=Established', '--timeout=60s', 'crd/approvalrequests.chaperone.dev']);
  await kubectlOk(['apply', '-f', join(PROJECT_ROOT, 'deploy', 'operator', 'rbac.yaml')]);
  // The admission policy as the chart installs it, trusting this operator's ServiceAccount: every
  // write below passes the checks a real install makes (who creates, who writes status, who decides).
  removeAdmission = await installApprovalAdmission(serviceAccountUser(OWN_NS, 'chaperone-operator'));
  await kubectlOk(['create', 'namespace', NS]);
  await kubectlOk(['label', 'namespace', NS, 'chaperone.dev/injection=enabled']);
  await kubectlOk(['create', 'namespace', OTHER]);
  adminUser = (await kubectlOk(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'])).trim();
  dir = await mkdtemp(join(tmpdir(), 'chaperone-approvals-'));
  operatorKubeconfig = await serviceAccountKubeconfig('chaperone-operator', OWN_NS, dir);

  // The agent's pod (no node needs to run it: the Events only name it).
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'agent-0', namespace: NS }, spec: { containers: [{ name: 'app', image: 'registry.invalid/agent:1' }] } };
  for (let i = 0; i < 100 && !podUid; i++) {
    // The namespace's default ServiceAccount may not exist yet (ServiceAccount admission).
    if ((await kubectl(['create', '-f', '-'], JSON.stringify(pod))).code !== 0) await new Promise((r) => setTimeout(r, 200));
    else podUid = (await core.readNamespacedPod({ name: 'agent-0', namespace: NS })).metadata!.uid!;
  }
  expect(podUid).not.toBe('');

  hookServer = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      notifications.push({ headers: req.headers, body: JSON.parse(body) as unknown });
      res.writeHead(200).end('ok');
    });
  });
  hookServer.listen(0, '127.0.0.1');
  await once(hookServer, 'listening');
  hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hooks/T000/B000/secret`;

  operator = await start({ approvalNotifyUrl: hookUrl });
});

afterAll(async () => {
  await operator?.stop();
  hookServer?.close();
  await removeAdmission?.();
  await kubectl(['delete', 'namespace', NS, OTHER, '--wait=false']);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the sidecar identity in a governed namespace', () => {
  it('ServiceAccount, Role and RoleBinding chaperone-sidecar, and Secret chaperone-sidecar-token, all labelled as the operator\'s', async () => {
    await expect.poll(identityObjects, POLL).toEqual([true, true, true, true]);
    const sa = await core.readNamespacedServiceAccount({ name: 'chaperone-sidecar', namespace: NS });
    expect(sa.automountServiceAccountToken).toBe(false);
    const role = await rbac.readNamespacedRole({ name: 'chaperone-sidecar', namespace: NS });
    expect(role.rules).toEqual([
      { apiGroups: ['chaperone.dev'], resources: ['approvalrequests'], verbs: ['create', 'get', 'list'] },
      { apiGroups: ['chaperone.dev'], resources: ['approvalrequests/status'], verbs: ['get', 'update', 'patch'] },
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['chaperone-tool-pins'], verbs: ['get', 'patch'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create'] },
    ]);
    const binding = await rbac.readNamespacedRoleBinding({ name: 'chaperone-sidecar', namespace: NS });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'chaperone-sidecar', namespace: NS }]);
    const secret = await core.readNamespacedSecret({ name: 'chaperone-sidecar-token', namespace: NS });
    for (const obj of [sa, role, binding, secret]) expect(obj.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('chaperone-operator');
    expect(Object.keys(secret.data ?? {}).sort()).toEqual(['ca.crt', 'namespace', 'token']);
    const unb64 = (k: string): string => Buffer.from(secret.data![k]!, 'base64').toString('utf8');
    expect(unb64('namespace')).toBe(NS);
    // ca.crt: the cluster CA the operator trusts (from its kubeconfig)
    const caData = (JSON.parse(await readFile(operatorKubeconfig, 'utf8')) as { clusters: Array<{ cluster: { 'certificate-authority-data': string } }> }).clusters[0]!.cluster['certificate-authority-data'];
    expect(unb64('ca.crt')).toBe(Buffer.from(caData, 'base64').toString('utf8'));
    expect(unb64('ca.crt')).toMatch(/BEGIN CERTIFICATE/);
    const expires = new Date(secret.metadata!.annotations!['chaperone.dev/token-expires']!).getTime();
    expect(Math.abs(expires - (Date.now() + TOKEN_TTL_MS))).toBeLessThan(5 * 60_000);
    sidecarToken = unb64('token');
    sidecarCa = unb64('ca.crt');
    // the token is a ServiceAccount token for chaperone-sidecar in this namespace
    const claims = JSON.parse(Buffer.from(sidecarToken.split('.')[1]!, 'base64url').toString('utf8')) as { sub: string };
    expect(claims.sub).toBe(`system:serviceaccount:${NS}:chaperone-sidecar`);
  });

  it('the minted token works: it creates and reads ApprovalRequests in its namespace, and nothing more', async () => {
    const sidecar = clientWithToken(sidecarToken, sidecarCa);
    const name = await createAsSidecar(spec('probe_tool'));
    expect(await status(sidecar.getNamespacedCustomObject({ ...GROUP, namespace: NS, name }))).toBe(200);
    expect(await status(sidecar.listNamespacedCustomObject({ ...GROUP, namespace: NS, fieldSelector: `spec.digest=${'0'.repeat(64)}` }))).toBe(200);
    // not in another namespace
    expect(await status(createAsSidecar(spec('probe_tool'), OTHER))).toBe(403);
    expect(await status(sidecar.listNamespacedCustomObject({ ...GROUP, namespace: OTHER }))).toBe(403);
    // not secrets, not pods
    expect(await status(sidecar.core.listNamespacedSecret({ namespace: NS }))).toBe(403);
    expect(await status(sidecar.core.readNamespacedSecret({ namespace: NS, name: 'chaperone-sidecar-token' }))).toBe(403);
    expect(await status(sidecar.core.listNamespacedPod({ namespace: NS }))).toBe(403);
    // never decide (the main resource is not writable) and never delete
    expect(await status(sidecar.patchNamespacedCustomObject({ ...GROUP, namespace: NS, name, body: [{ op: 'add', path: '/spec/decision', value: { action: 'Approve', by: `system:serviceaccount:${NS}:chaperone-sidecar` } }] }))).toBe(403);
    expect(await status(sidecar.deleteNamespacedCustomObject({ ...GROUP, namespace: NS, name }))).toBe(403);
    await custom.deleteNamespacedCustomObject({ ...GROUP, namespace: NS, name });
  });
});

describe('the ApprovalRequest lifecycle', () => {
  let approved = '';
  let denied = '';

  it('a new request goes Pending with a Held Event on it and on the pod, and the notification URL gets the JSON message', async () => {
    approved = await createAsSidecar(spec('send_email'));
    await expect.poll(() => phase(approved), POLL).toBe('Pending');
    const ar = (await getAr(approved))!;
    expect(ar.status?.message).toContain(`kubectl chaperone approve|deny ${approved} -n ${NS}`);
    await expect.poll(() => reasonsOn(approved, 'ApprovalRequest'), POLL).toEqual(['Normal/Held']);
    await expect.poll(() => reasonsOn('agent-0', 'Pod', approved), POLL).toEqual(['Normal/Held']);
    const onPod = (await events('agent-0')).find((e) => e.message.startsWith(`${approved}:`))!;
    expect(onPod.involvedObject.uid).toBe(podUid);
    expect(onPod.message).toContain('send_email call by agent researcher held for approval');

    const about = (name: string) => notifications.filter((x) => (x.body as { approvalRequest?: { name?: string } }).approvalRequest?.name === name);
    await expect.poll(() => about(approved).length, POLL).toBe(1);
    const n = about(approved)[0]!;
    expect(n.headers['content-type']).toBe('application/json');
    const body = n.body as { text: string; approvalRequest: Record<string, unknown> };
    expect(body.text).toContain('send_email');
    expect(body.text).toContain(`kubectl chaperone approve ${approved} -n ${NS}`);
    expect(body.approvalRequest).toEqual({
      namespace: NS,
      name: approved,
      agent: 'researcher',
      tool: 'send_email',
      argumentsPreview: ar.spec.argumentsPreview,
      expiresAt: ar.spec.expiresAt,
      policy: `${NS}/default`,
    });
    expect(Number(await metric(/^chaperone_approval_notifications_total\{result="success"\} (\d+)$/m))).toBeGreaterThanOrEqual(1);
    expect(await metric(/^chaperone_approval_notifications_total\{result="error"\} (\d+)$/m)).toBe('0');
  });

  it('the metrics count pending requests per namespace', async () => {
    denied = await createAsSidecar(spec('delete_repo'));
    await expect.poll(() => phase(denied), POLL).toBe('Pending');
    await expect.poll(() => metric(new RegExp(`^chaperone_approvals_pending\\{namespace="${NS}"\\} (\\d+)$`, 'm')), POLL).toBe('2');
  });

  it('a decision patched into spec.decision (as a person) makes it Approved, with decidedBy and an Approved Event on the pod', async () => {
    await decide(approved, 'Approve', 'expected mail');
    await expect.poll(() => phase(approved), POLL).toBe('Approved');
    const ar = (await getAr(approved))!;
    expect(ar.status?.decidedBy).toBe(adminUser);
    expect(Math.abs(new Date(ar.status!.decidedAt!).getTime() - Date.now())).toBeLessThan(60_000);
    expect(ar.status?.message).toBe(`approved by ${adminUser}: expected mail`);
    await expect.poll(() => reasonsOn('agent-0', 'Pod', approved), POLL).toEqual(['Normal/Approved', 'Normal/Held']);
    await expect.poll(() => reasonsOn(approved, 'ApprovalRequest'), POLL).toEqual(['Normal/Approved', 'Normal/Held']);
    await expect.poll(() => metric(/^chaperone_approval_decision_seconds_count\{decision="approved"\} (\d+)$/m), POLL).toBe('1');

    await decide(denied, 'Deny');
    await expect.poll(() => phase(denied), POLL).toBe('Denied');
    expect((await getAr(denied))!.status?.decidedBy).toBe(adminUser);
    await expect.poll(() => reasonsOn('agent-0', 'Pod', denied), POLL).toEqual(['Normal/Held', 'Warning/Denied']);
    await expect.poll(() => metric(new RegExp(`^chaperone_approvals_pending\\{namespace="${NS}"\\} (\\d+)$`, 'm')), POLL).toBeUndefined();
  });

  it('an undecided request expires: Expired for timeoutAction reject, Approved by chaperone:timeoutAction for approve', async () => {
    const soon = new Date(Date.now() + 4_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const rejected = await createAsSidecar(spec('wire_money', { expiresAt: soon, timeoutAction: 'reject' }));
    const allowed = await createAsSidecar(spec('post_status', { expiresAt: soon, timeoutAction: 'approve' }));
    await expect.poll(() => phase(rejected), POLL).toBe('Pending');
    await expect.poll(() => phase(rejected), POLL).toBe('Expired');
    await expect.poll(() => phase(allowed), POLL).toBe('Approved');
    expect((await getAr(allowed))!.status).toMatchObject({ decidedBy: 'chaperone:timeoutAction', decidedAt: soon });
    expect((await getAr(rejected))!.status?.decidedBy).toBeUndefined();
    await expect.poll(() => reasonsOn(rejected, 'ApprovalRequest'), POLL).toEqual(['Normal/Held', 'Warning/Expired']);
    await expect.poll(() => reasonsOn(allowed, 'ApprovalRequest'), POLL).toEqual(['Normal/Expired', 'Normal/Held']);
    await expect.poll(() => reasonsOn('agent-0', 'Pod', rejected), POLL).toEqual(['Normal/Held', 'Warning/Expired']);
    await expect.poll(() => metric(/^chaperone_approval_decision_seconds_count\{decision="expired"\} (\d+)$/m), POLL).toBe('2');
  });

  it('a Used request is never revived, and is garbage-collected once the retention has passed', async () => {
    // The sidecar marks the approved request Used (status update with the resourceVersion it read).
    const sidecar = clientWithToken(sidecarToken, sidecarCa);
    const read = (await getAr(approved))!;
    const { managedFields: _mf, ...metadata } = read.metadata as typeof read.metadata & { managedFields?: unknown };
    await sidecar.replaceNamespacedCustomObjectStatus({
      ...GROUP,
      namespace: NS,
      name: approved,
      body: { ...read, metadata, status: { ...read.status, phase: 'Used', usedAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'), usedBy: 'req-used' } },
    });
    // A second use with the same (now stale) resourceVersion is refused: one approval, one execution.
    expect(await status(sidecar.replaceNamespacedCustomObjectStatus({ ...GROUP, namespace: NS, name: approved, body: { ...read, metadata, status: { ...read.status, phase: 'Used', usedBy: 'req-again' } } }))).toBe(409);
    // A resync and more time do not move it.
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await getAr(approved))!.status).toMatchObject({ phase: 'Used', usedBy: 'req-used', decidedBy: adminUser });

    // The same operator with a short retention deletes the Used, Denied and Expired requests.
    await operator!.stop();
    operator = await start({ approvalRetentionMs: 2_000, approvalNotifyUrl: hookUrl });
    await expect.poll(() => phase(approved), POLL).toBe('gone');
    await expect.poll(() => phase(denied), POLL).toBe('gone');
    // the expired ones too (Expired, and Approved by the timeoutAction)
    const names = async (): Promise<string[]> => ((await custom.listNamespacedCustomObject({ ...GROUP, namespace: NS })) as { items: ApprovalRequestObject[] }).items.map((a) => a.metadata.name!);
    await expect.poll(names, POLL).toEqual([]);
    // a new pending request is not collected, however short the retention
    const pending = await createAsSidecar(spec('send_email'));
    await expect.poll(() => phase(pending), POLL).toBe('Pending');
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await phase(pending)).toBe('Pending');
  });
});

describe('leaving governance', () => {
  it('removes the ServiceAccount, Role, RoleBinding and token Secret; the token stops working', async () => {
    await kubectlOk(['label', 'namespace', NS, 'chaperone.dev/injection-']);
    await expect.poll(identityObjects, POLL).toEqual([false, false, false, false]);
    // The token died with its ServiceAccount.
    await expect.poll(() => status(createAsSidecar(spec('send_email'))), POLL).toBe(401);
    const sa = await core.readNamespacedServiceAccount({ name: 'default', namespace: NS });
    expect(sa.metadata?.name).toBe('default'); // only ours went
  });

  it("the operator's RBAC for the sidecar identity keeps to the name chaperone-sidecar, without escalate or bind", async () => {
    const asOperator = (args: string[]): Promise<string> =>
      new Promise((resolve) => execFile('kubectl', ['--kubeconfig', operatorKubeconfig, 'auth', 'can-i', ...args], (_err, stdout) => resolve(stdout.trim())));
    expect(await asOperator(['create', 'serviceaccounts/chaperone-sidecar', '--subresource=token', '-n', NS])).toBe('yes');
    expect(await asOperator(['create', 'serviceaccounts/default', '--subresource=token', '-n', NS])).toBe('no');
    expect(await asOperator(['patch', 'serviceaccounts/default', '-n', NS])).toBe('no');
    expect(await asOperator(['patch', 'roles/admin-ish', '-n', NS])).toBe('no');
    expect(await asOperator(['patch', 'rolebindings/chaperone-sidecar', '-n', NS])).toBe('yes');
    expect(await asOperator(['escalate', 'roles', '-n', NS])).toBe('no');
    expect(await asOperator(['bind', 'roles', '-n', NS])).toBe('no');
    expect(await asOperator(['patch', 'approvalrequests.chaperone.dev', '-n', NS])).toBe('no');
  });
});
