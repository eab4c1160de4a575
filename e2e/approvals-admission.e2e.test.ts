// Who may create, decide and advance an ApprovalRequest, on the real API server: the CRD's CEL rules
// (crds/approvalrequests.chaperone.dev.yaml), the `chaperone-approvals` ValidatingAdmissionPolicy and
// the `chaperone-approver` ClusterRole (api/approval-admission.ts, the chart's templates/approvals.yaml),
// the sidecar's Role as the operator makes it (operator/sidecar-identity.ts), and the kubectl plugin
// bin/kubectl-chaperone run by real kubectl as a plugin.
//
// Identities are impersonated with --as (the e2e admin may impersonate): the sidecar's and the app's
// ServiceAccounts by their user names, people by plain user names. The operator is a ServiceAccount
// user name in a namespace of its own; nothing runs as it but this test's status writes.
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceAccountUser } from '../api/approval-admission.js';
import {
  APPROVER_CLUSTER_ROLE,
  SIDECAR_SERVICE_ACCOUNT,
  type ApprovalRequestObject,
  type ApprovalRequestSpec,
} from '../api/approval-names.js';
import { PROJECT_ROOT } from '../lib/project.js';
import { desiredSidecarIdentity } from '../operator/sidecar-identity.js';
import { waitFor } from './harness/wait.js';
import { installApprovalAdmission, installCrd, kubeconfig, kubectl, kubectlOk, type KubectlResult } from './harness/kubectl.js';

const ID = randomBytes(3).toString('hex');
const NS = `chaperone-e2e-approvals-${ID}`;
const OPERATOR_NS = `chaperone-e2e-approvals-op-${ID}`;
const OPERATOR = serviceAccountUser(OPERATOR_NS, 'chaperone-operator');
const SIDECAR = serviceAccountUser(NS, SIDECAR_SERVICE_ACCOUNT);
const AGENT_SA = 'agent';
const AGENT = serviceAccountUser(NS, AGENT_SA);
const ALICE = 'alice';
const BOB = 'bob';
const AR = 'approvalrequests.chaperone.dev';
const POLICY_REFUSAL = /ValidatingAdmissionPolicy 'chaperone-approvals' with binding 'chaperone-approvals' denied request/;

let removeAdmission: (() => Promise<void>) | undefined;

/** kubectl as someone else. */
const as = (user: string, args: string[], input?: string): Promise<KubectlResult> => kubectl(['--as', user, ...args], input);
async function asOk(user: string, args: string[], input?: string): Promise<string> {
  const r = await as(user, args, input);
  if (r.code !== 0) throw new Error(`kubectl --as ${user} ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/**
 * `kubectl chaperone ARGS` with bin/ first on PATH, so kubectl finds the plugin there. Global flags go
 * after the plugin name (kubectl looks plugins up by the words before the first flag) and the
 * plugin passes them on: --kubeconfig here, -n and --as in the tests.
 */
function plugin(args: string[]): Promise<KubectlResult> {
  return new Promise((resolve) => {
    execFile(
      'kubectl',
      ['chaperone', ...args, '--kubeconfig', kubeconfig()],
      { env: { ...process.env, PATH: `${join(PROJECT_ROOT, 'bin')}${delimiter}${process.env.PATH ?? ''}` }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

const hex = (): string => randomBytes(32).toString('hex');

function request(spec: Partial<ApprovalRequestSpec> = {}): ApprovalRequestObject {
  const digest = spec.digest ?? hex();
  return {
    apiVersion: 'chaperone.dev/v1alpha1',
    kind: 'ApprovalRequest',
    metadata: { generateName: `send-email-${digest.slice(0, 8)}-`, namespace: NS },
    spec: {
      agent: 'mailer',
      pod: 'mailer-7d9f-abcde',
      podUID: randomUUID(),
      serviceAccount: AGENT_SA,
      tool: 'send_email',
      digest,
      argumentsDigest: hex(),
      argumentsPreview: '{"body":"wire 1M","to":"cfo@example.com"}',
      argumentsTruncated: false,
      policy: `${NS}/mail`,
      policyGeneration: 3,
      requestId: randomUUID(),
      heldAt: 'response',
      provider: 'openai',
      // Milliseconds and all, as Date#toISOString writes it.
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      timeoutAction: 'reject',
      ...spec,
    },
  };
}

/** What the sidecar does when it holds a call: create the record as its own ServiceAccount. */
async function held(spec: Partial<ApprovalRequestSpec> = {}): Promise<{ name: string; digest: string }> {
  const obj = request(spec);
  const name = await asOk(SIDECAR, ['create', '-f', '-', '-o', 'jsonpath={.metadata.name}'], JSON.stringify(obj));
  return { name, digest: obj.spec.digest };
}

async function get(name: string): Promise<ApprovalRequestObject> {
  return JSON.parse(await kubectlOk(['get', AR, name, '-n', NS, '-o', 'json'])) as ApprovalRequestObject;
}

const mergePatch = (user: string, name: string, patch: object, status = false): Promise<KubectlResult> =>
  as(user, ['patch', AR, name, '-n', NS, '--type=merge', '-p', JSON.stringify(patch), ...(status ? ['--subresource=status'] : [])]);

/** RBAC answers come from an informer cache: wait until a fresh binding is seen. */
async function untilCan(user: string, verb: string, resource: string, subresource?: string): Promise<void> {
  const args = ['auth', 'can-i', verb, resource, '-n', NS, '--as', user, ...(subresource ? [`--subresource=${subresource}`] : [])];
  await waitFor(`${user} may ${verb} ${resource}`, async () => (await kubectl(args)).stdout.trim() === 'yes', 30_000);
}

beforeAll(async () => {
  await installCrd();
  removeAdmission = await installApprovalAdmission(OPERATOR);
  await kubectlOk(['create', 'namespace', NS]);
  const identity = desiredSidecarIdentity(NS);
  const items: object[] = [
    identity.serviceAccount,
    identity.role,
    identity.roleBinding,
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: AGENT_SA, namespace: NS } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'approvers', namespace: NS },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: APPROVER_CLUSTER_ROLE },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: ALICE }],
    },
    // The operator's status writes (its real ClusterRole is the chart's; here only what this test plays).
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'operator-status', namespace: NS },
      rules: [{ apiGroups: ['chaperone.dev'], resources: ['approvalrequests/status'], verbs: ['get', 'patch', 'update'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'operator-status', namespace: NS },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'operator-status' },
      subjects: [{ kind: 'ServiceAccount', name: 'chaperone-operator', namespace: OPERATOR_NS }],
    },
  ];
  await kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  await untilCan(SIDECAR, 'create', AR);
  await untilCan(ALICE, 'patch', AR);
  await untilCan(OPERATOR, 'patch', AR, 'status');
});

afterAll(async () => {
  // The policy is cluster-wide: never leave it behind for the suites that follow.
  await removeAdmission?.();
  await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=false']);
});

describe('ApprovalRequest admission on the real API server', () => {
  it('the policy type-checks against the CRD: the API server reports no warnings', async () => {
    await expect
      .poll(async () => {
        const vap = JSON.parse(await kubectlOk(['get', 'validatingadmissionpolicy', 'chaperone-approvals', '-o', 'json'])) as {
          metadata: { generation: number };
          status?: { observedGeneration?: number; typeChecking?: { expressionWarnings?: unknown[] } };
        };
        return vap.status?.observedGeneration === vap.metadata.generation ? (vap.status.typeChecking?.expressionWarnings ?? []) : 'pending';
      }, { timeout: 30_000, interval: 250 })
      .toEqual([]);
  });

  let first: { name: string; digest: string };

  it('the sidecar creates a request; the app, a person and even the cluster admin cannot', async () => {
    first = await held();
    expect(first.name).toMatch(new RegExp(`^send-email-${first.digest.slice(0, 8)}-\\w+$`));
    const obj = JSON.stringify(request());

    const agent = await as(AGENT, ['create', '-f', '-'], obj);
    expect(agent.code).not.toBe(0);
    expect(agent.stderr).toMatch(/forbidden: User "system:serviceaccount:[^"]+:agent" cannot create resource "approvalrequests"/);

    const alice = await as(ALICE, ['create', '-f', '-'], obj);
    expect(alice.stderr).toMatch(/forbidden: User "alice" cannot create resource "approvalrequests"/);

    // RBAC lets the admin; the policy does not.
    const admin = await kubectl(['create', '-f', '-'], obj);
    expect(admin.code).not.toBe(0);
    expect(admin.stderr).toMatch(POLICY_REFUSAL);
    expect(admin.stderr).toContain(`only the chaperone sidecar (${SIDECAR}) or the operator (${OPERATOR}) creates an ApprovalRequest; you are `);
  });

  it('a request is created undecided: one that carries a decision is refused, even from the sidecar', async () => {
    const r = await as(SIDECAR, ['create', '-f', '-'], JSON.stringify(request({ decision: { action: 'Approve', by: SIDECAR } })));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(POLICY_REFUSAL);
    expect(r.stderr).toContain('an ApprovalRequest is created undecided');
  });

  it('the sidecar cannot set spec.decision (no update rights on the request itself)', async () => {
    const r = await mergePatch(SIDECAR, first.name, { spec: { decision: { action: 'Approve', by: SIDECAR } } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/forbidden: User "system:serviceaccount:[^"]+:chaperone-sidecar" cannot patch resource "approvalrequests"/);
    expect((await get(first.name)).spec.decision).toBeUndefined();
  });

  it('the sidecar writes status, but never an approval: it may not set a phase other than Used after Approved', async () => {
    for (const phase of ['Approved', 'Pending', 'Used']) {
      const r = await mergePatch(SIDECAR, first.name, { status: { phase } }, true);
      expect(r.code, phase).not.toBe(0);
      expect(r.stderr).toContain(`the chaperone sidecar only marks a request a person approved Used; it may not set the phase from none to ${phase}`);
    }
    // A status write that leaves the phase alone is fine.
    await asOk(SIDECAR, ['patch', AR, first.name, '-n', NS, '--subresource=status', '--type=merge', '-p', '{"status":{"message":"held by the sidecar"}}']);
    expect((await get(first.name)).status).toEqual({ message: 'held by the sidecar' });
  });

  it('only the sidecar and the operator write status: a person is refused by RBAC, the admin by the policy', async () => {
    const alice = await mergePatch(ALICE, first.name, { status: { phase: 'Approved' } }, true);
    // (kubectl patch reads before it writes: RBAC refuses the read already.)
    expect(alice.stderr).toMatch(/forbidden: User "alice" cannot (get|patch) resource "approvalrequests\/status"/);
    const agent = await mergePatch(AGENT, first.name, { status: { phase: 'Approved' } }, true);
    expect(agent.stderr).toMatch(/cannot (get|patch) resource "approvalrequests\/status"/);
    const admin = await kubectl(['patch', AR, first.name, '-n', NS, '--subresource=status', '--type=merge', '-p', '{"status":{"phase":"Approved"}}']);
    expect(admin.code).not.toBe(0);
    expect(admin.stderr).toMatch(POLICY_REFUSAL);
    expect(admin.stderr).toContain('writes the status of an ApprovalRequest; you are ');
    // The operator may: the request is now Pending, as the operator sets it on first sight.
    await asOk(OPERATOR, ['patch', AR, first.name, '-n', NS, '--subresource=status', '--type=merge', '-p', '{"status":{"phase":"Pending"}}']);
    expect((await get(first.name)).status?.phase).toBe('Pending');
  });

  it('bob, not bound to chaperone-approver, is Forbidden, with the plugin and with kubectl patch', async () => {
    const r = await plugin(['approve', first.name, '-n', NS, '--as', BOB]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/forbidden: User "bob" cannot get resource "approvalrequests"/);
    const patch = await mergePatch(BOB, first.name, { spec: { decision: { action: 'Approve', by: BOB } } });
    expect(patch.stderr).toMatch(/forbidden: User "bob" cannot (get|patch) resource "approvalrequests"/);
    const list = await plugin(['list', '-n', NS, '--as', BOB]);
    expect(list.code).not.toBe(0);
    expect(list.stderr).toMatch(/forbidden: User "bob" cannot list resource "approvalrequests"/);
  });

  it('deciding in someone else\'s name is refused, and the message tells the caller their own user name', async () => {
    const r = await mergePatch(ALICE, first.name, { spec: { decision: { action: 'Approve', by: 'carol' } } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(POLICY_REFUSAL);
    expect(r.stderr).toContain('spec.decision.by must be your own user name as the API server knows it, alice (the request says carol)');
    expect((await get(first.name)).spec.decision).toBeUndefined();
  });

  const reason = 'checked with "finance"\nticket FIN-1\\2 \u00e9';

  it('alice approves with `kubectl chaperone approve`; the decision records alice, as the API server knows her, and the reason verbatim', async () => {
    const r = await plugin(['approve', first.name, '-n', NS, '--as', ALICE, '--reason', reason]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`approvalrequest.chaperone.dev/${first.name} approved by alice\n`);
    expect((await get(first.name)).spec.decision).toEqual({ action: 'Approve', by: ALICE, reason });
  });

  it('a decision is final: not changed (plugin or patch), not repeated, not removed', async () => {
    const again = await plugin(['deny', first.name, '-n', NS, '--as', ALICE]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain(`approvalrequest ${first.name} is already decided: Approve by alice`);

    const change = await mergePatch(ALICE, first.name, { spec: { decision: { action: 'Deny', by: ALICE } } });
    expect(change.code).not.toBe(0);
    expect(change.stderr).toContain('spec.decision is immutable once set');

    const remove = await as(ALICE, ['patch', AR, first.name, '-n', NS, '--type=json', '-p', '[{"op":"remove","path":"/spec/decision"}]']);
    expect(remove.code).not.toBe(0);
    expect(remove.stderr).toContain('spec.decision cannot be removed once set');

    // Even for the cluster admin: these are the CRD's own rules.
    const admin = await kubectl(['patch', AR, first.name, '-n', NS, '--type=merge', '-p', '{"spec":{"decision":{"reason":"changed"}}}']);
    expect(admin.stderr).toContain('spec.decision is immutable once set');
    expect((await get(first.name)).spec.decision).toEqual({ action: 'Approve', by: ALICE, reason });
  });

  it('what was held is immutable: every spec field, for everyone', async () => {
    const changes: Array<[string, object]> = [
      ['tool', { tool: 'delete_everything' }],
      ['digest', { digest: hex() }],
      ['argumentsPreview', { argumentsPreview: '{}' }],
      ['argumentsTruncated', { argumentsTruncated: true }],
      ['policyGeneration', { policyGeneration: 4 }],
      ['expiresAt', { expiresAt: '2099-01-01T00:00:00Z' }],
      ['timeoutAction', { timeoutAction: 'approve' }],
      ['serviceAccount', { serviceAccount: 'someone-else' }],
    ];
    for (const [field, spec] of changes) {
      const r = await kubectl(['patch', AR, first.name, '-n', NS, '--type=merge', '-p', JSON.stringify({ spec })]);
      expect(r.code, field).not.toBe(0);
      expect(r.stderr, field).toContain(`spec.${field} is immutable`);
    }
    // Optional fields can be neither removed nor added afterwards.
    const removed = await kubectl(['patch', AR, first.name, '-n', NS, '--type=merge', '-p', '{"spec":{"serviceAccount":null}}']);
    expect(removed.stderr).toContain('spec.serviceAccount is immutable: it cannot be added or removed');
    const bare = await held({ pod: undefined, podUID: undefined });
    const added = await kubectl(['patch', AR, bare.name, '-n', NS, '--type=merge', '-p', '{"spec":{"pod":"other"}}']);
    expect(added.stderr).toContain('spec.pod is immutable: it cannot be added or removed');
    // Bounds and formats hold on create as well.
    const bad = await as(SIDECAR, ['create', '-f', '-'], JSON.stringify(request({ digest: 'A'.repeat(64), argumentsPreview: 'x'.repeat(1025) })));
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/spec\.digest/);
    expect(bad.stderr).toMatch(/spec\.argumentsPreview/);
  });

  it('the app ServiceAccount is refused by RBAC, and still by the policy when someone wrongly binds chaperone-approver to it', async () => {
    const target = await held(); // spec.serviceAccount: agent
    const rbac = await plugin(['approve', target.name, '-n', NS, '--as', AGENT]);
    expect(rbac.code).not.toBe(0);
    expect(rbac.stderr).toMatch(/forbidden: User "system:serviceaccount:[^"]+:agent" cannot get resource "approvalrequests"/);

    // The mistake: chaperone-approver bound to the agent's (and the sidecar's) ServiceAccount.
    await kubectlOk(['create', 'rolebinding', 'wrongly-bound', '-n', NS, `--clusterrole=${APPROVER_CLUSTER_ROLE}`, `--serviceaccount=${NS}:${AGENT_SA}`, `--serviceaccount=${NS}:${SIDECAR_SERVICE_ACCOUNT}`]);
    await untilCan(AGENT, 'patch', AR);
    await untilCan(SIDECAR, 'patch', AR);

    const agent = await plugin(['approve', target.name, '-n', NS, '--as', AGENT]);
    expect(agent.code).not.toBe(0);
    expect(agent.stderr).toMatch(POLICY_REFUSAL);
    expect(agent.stderr).toContain(`${AGENT} may not decide an ApprovalRequest`);
    expect(agent.stderr).toContain(`could not approve ${target.name}`);

    const sidecar = await mergePatch(SIDECAR, target.name, { spec: { decision: { action: 'Approve', by: SIDECAR } } });
    expect(sidecar.stderr).toContain(`${SIDECAR} may not decide an ApprovalRequest`);
    expect((await get(target.name)).spec.decision).toBeUndefined();

    await kubectlOk(['delete', 'rolebinding', 'wrongly-bound', '-n', NS]);
  });

  it('only a Pending request can be decided: an Expired one is refused', async () => {
    const late = await held();
    // Expiry is the operator's to record, not the sidecar's.
    const bySidecar = await mergePatch(SIDECAR, late.name, { status: { phase: 'Expired' } }, true);
    expect(bySidecar.stderr).toContain('it may not set the phase from none to Expired');
    await asOk(OPERATOR, ['patch', AR, late.name, '-n', NS, '--subresource=status', '--type=merge', '-p', '{"status":{"phase":"Expired","decidedBy":"chaperone:timeoutAction"}}']);

    const r = await plugin(['approve', late.name, '-n', NS, '--as', ALICE]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(POLICY_REFUSAL);
    expect(r.stderr).toContain('only a Pending request can be decided; this one is Expired');
    expect((await get(late.name)).spec.decision).toBeUndefined();

    // And Expired stays Expired, whoever writes.
    const back = await mergePatch(OPERATOR, late.name, { status: { phase: 'Pending' } }, true);
    expect(back.stderr).toContain('a Denied, Expired or Used request stays so');
  });

  it('a denial works the same way, with the plugin', async () => {
    const d = await held({ tool: 'drop_table' });
    const r = await plugin(['deny', d.name, '-n', NS, '--as', ALICE]);
    expect([r.code, r.stdout]).toEqual([0, `approvalrequest.chaperone.dev/${d.name} denied by alice\n`]);
    expect((await get(d.name)).spec.decision).toEqual({ action: 'Deny', by: ALICE });
  });

  it('the approved request: the operator records Approved, the sidecar marks it Used once, and Used stays Used', async () => {
    await asOk(OPERATOR, ['patch', AR, first.name, '-n', NS, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { phase: 'Approved', decidedBy: ALICE, decidedAt: new Date().toISOString() } })]);
    await asOk(SIDECAR, ['patch', AR, first.name, '-n', NS, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { phase: 'Used', usedAt: new Date().toISOString(), usedBy: randomUUID() } })]);
    expect((await get(first.name)).status?.phase).toBe('Used');
    for (const user of [SIDECAR, OPERATOR]) {
      const r = await mergePatch(user, first.name, { status: { phase: 'Approved' } }, true);
      expect(r.code, user).not.toBe(0);
      expect(r.stderr, user).toMatch(/a Denied, Expired or Used request stays so|only marks a request a person approved Used/);
    }
  });

  it('kubectl chaperone list shows the requests, pending ones first', async () => {
    const r = await plugin(['list', '-n', NS, '--as', ALICE]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+PHASE\s+AGENT\s+TOOL\s+DECIDED-BY\s+EXPIRES\s+AGE$/);
    const rows = lines.slice(1);
    expect(rows.some((l) => l.startsWith(`${first.name} `))).toBe(true);
    const firstSettled = rows.findIndex((l) => /\s(Used|Expired|Denied|Approved)\s/.test(l));
    const lastPending = rows.map((l) => !/\s(Used|Expired|Denied|Approved)\s/.test(l)).lastIndexOf(true);
    expect(firstSettled).toBeGreaterThan(-1);
    expect(lastPending).toBeGreaterThan(-1);
    expect(lastPending).toBeLessThan(firstSettled);

    const all = await plugin(['list', '-A']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout.split('\n')[0]).toMatch(/^NAMESPACE\s+NAME\s+PHASE/);
    expect(all.stdout).toContain(first.name);
  });

  it('kubectl get ar: Phase, Agent, Tool, Decided-By and Expires columns; Args with -o wide; field selectors on digest, agent, phase', async () => {
    const out = await kubectlOk(['get', 'ar', first.name, '-n', NS]);
    expect(out.split('\n')[0]).toMatch(/^NAME\s+PHASE\s+AGENT\s+TOOL\s+DECIDED-BY\s+EXPIRES\s+AGE$/);
    const expires = (await get(first.name)).spec.expiresAt;
    expect(out).toMatch(new RegExp(`^${first.name}\\s+Used\\s+mailer\\s+send_email\\s+alice\\s+${expires.replaceAll('.', '\\.')}\\s+\\S+$`, 'm'));
    const wide = await kubectlOk(['get', 'ar', first.name, '-n', NS, '-o', 'wide']);
    expect(wide.split('\n')[0]).toMatch(/\sARGS\s/);
    expect(wide).toContain('{"body":"wire 1M","to":"cfo@example.com"}');

    const byDigest = await kubectlOk(['get', 'ar', '-n', NS, '--field-selector', `spec.digest=${first.digest}`, '-o', 'name']);
    expect(byDigest.trim()).toBe(`approvalrequest.chaperone.dev/${first.name}`);
    const expired = await kubectlOk(['get', 'ar', '-n', NS, '--field-selector', 'status.phase=Expired,spec.agent=mailer', '-o', 'name']);
    expect(expired.trim().split('\n')).toHaveLength(1);
    // The category: kubectl get chaperone lists them with the policies.
    expect(await kubectlOk(['get', 'chaperone', '-n', NS, '-o', 'name'])).toContain(`approvalrequest.chaperone.dev/${first.name}`);
  });

  it('the plugin says what is wrong: no name, an unknown command, a missing request', async () => {
    const noName = await plugin(['approve', '-n', NS]);
    expect([noName.code, noName.stderr]).toEqual([2, 'kubectl-chaperone: approve needs the NAME of an ApprovalRequest (kubectl chaperone list shows them)\n']);
    const unknown = await plugin(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    const missing = await plugin(['deny', 'no-such-request', '-n', NS, '--as', ALICE]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/NotFound|not found/);
    const help = await plugin(['help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('kubectl chaperone approve NAME');
  });

  it('kubectl explain documents the fields', async () => {
    const out = await kubectlOk(['explain', 'ar.spec.decision']);
    expect(out).toMatch(/immutable once set/);
    expect(out).toMatch(/by\s+<string> -required-/);
  });
});
