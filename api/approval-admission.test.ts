// The generator's shape. What the rules do is proven against the real API server in
// e2e/approvals-admission.e2e.test.ts; that the chart renders the same objects, in e2e/helm.e2e.test.ts.
import { describe, expect, it } from 'vitest';
import {
  approvalAdmissionBinding,
  approvalAdmissionObjects,
  approvalAdmissionPolicy,
  approvalPolicyName,
  approverClusterRole,
  approverClusterRoleName,
  serviceAccountUser,
} from './approval-admission.js';
import { APPROVAL_PLURAL, APPROVER_CLUSTER_ROLE, SIDECAR_SERVICE_ACCOUNT } from './approval-names.js';

const OPERATOR = 'system:serviceaccount:chaperone-system:chaperone-operator';

interface Policy {
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    failurePolicy: string;
    matchConstraints: { resourceRules: Array<{ apiGroups: string[]; apiVersions: string[]; operations: string[]; resources: string[] }> };
    variables: Array<{ name: string; expression: string }>;
    validations: Array<{ expression: string; message?: string; messageExpression?: string; reason: string }>;
  };
}
const policy = (opts = { operatorUser: OPERATOR }): Policy => approvalAdmissionPolicy(opts) as unknown as Policy;
const variable = (p: Policy, name: string): string => p.spec.variables.find((v) => v.name === name)!.expression;

describe('the approvals admission objects', () => {
  it('have the contract names for the default release and the fullname prefix otherwise', () => {
    expect(approverClusterRoleName()).toBe(APPROVER_CLUSTER_ROLE);
    expect(approvalPolicyName()).toBe('chaperone-approvals');
    const objs = approvalAdmissionObjects({ operatorUser: OPERATOR, fullname: 'team-a-chaperone' }) as Array<{ kind: string; metadata: { name: string } }>;
    expect(objs.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'ValidatingAdmissionPolicy/team-a-chaperone-approvals',
      'ValidatingAdmissionPolicyBinding/team-a-chaperone-approvals',
      'ClusterRole/team-a-chaperone-approver',
    ]);
    expect((approvalAdmissionBinding({ operatorUser: OPERATOR, fullname: 'x' }) as { spec: unknown }).spec).toEqual({ policyName: 'x-approvals', validationActions: ['Deny'] });
  });

  it('watch creates and updates of ApprovalRequests and their status, failing closed', () => {
    const p = policy();
    expect(p.spec.failurePolicy).toBe('Fail');
    expect(p.spec.matchConstraints.resourceRules).toEqual([
      { apiGroups: ['chaperone.dev'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: [APPROVAL_PLURAL, `${APPROVAL_PLURAL}/status`] },
    ]);
  });

  it('name the sidecar by namespace and the operator by the user name given', () => {
    const p = policy({ operatorUser: 'system:serviceaccount:ops:my-operator' });
    expect(variable(p, 'operator')).toBe("'system:serviceaccount:ops:my-operator'");
    expect(variable(p, 'sidecar')).toBe(`'system:serviceaccount:' + request.namespace + ':${SIDECAR_SERVICE_ACCOUNT}'`);
    expect(variable(p, 'user')).toBe('request.userInfo.username');
    expect(serviceAccountUser('ops', 'my-operator')).toBe('system:serviceaccount:ops:my-operator');
  });

  it('refuse an operator user name that could break out of its CEL string', () => {
    for (const bad of ["x' || true || '", 'a\\b', 'a"b', '', 'a b']) expect(() => approvalAdmissionPolicy({ operatorUser: bad }), bad).toThrow(/operator user name/);
  });

  it('use only single-quoted CEL strings, so the chart carries every expression in a double-quoted YAML scalar', () => {
    const p = policy();
    const texts = [...p.spec.variables.map((v) => v.expression), ...p.spec.validations.flatMap((v) => [v.expression, v.messageExpression ?? ''])];
    for (const t of texts) expect(t, t).not.toMatch(/["\\]/);
  });

  it('reference only variables they define, before use, and give every rule a message and a reason', () => {
    const p = policy();
    const defined: string[] = [];
    for (const v of p.spec.variables) {
      for (const [, used] of v.expression.matchAll(/variables\.(\w+)/g)) expect(defined, `${v.name} uses ${used}`).toContain(used);
      defined.push(v.name);
    }
    for (const rule of p.spec.validations) {
      for (const [, used] of `${rule.expression} ${rule.messageExpression ?? ''}`.matchAll(/variables\.(\w+)/g)) expect(defined).toContain(used);
      expect(rule.message ?? rule.messageExpression, rule.expression).toBeTruthy();
      expect(['Forbidden', 'Invalid']).toContain(rule.reason);
    }
  });

  it('carry the four rules of the design (create, undecided, status, deciding) and tell a decider their own name', () => {
    const rules = policy().spec.validations;
    const about = (re: RegExp): typeof rules => rules.filter((r) => re.test(r.expression));
    expect(about(/operation != 'CREATE' \|\| variables\.chaperone$/)).toHaveLength(1);
    expect(about(/operation != 'CREATE' \|\| !has\(object\.spec\.decision\)/)).toHaveLength(1);
    expect(about(/^!variables\.statusWrite \|\| variables\.chaperone$/)).toHaveLength(1);
    const deciding = about(/^!variables\.deciding/);
    expect(deciding).toHaveLength(3);
    const by = deciding.find((r) => r.expression.includes('decision.by == variables.user'))!;
    expect(by.messageExpression).toContain('variables.user');
    expect(deciding.some((r) => r.expression.includes('variables.agentUser') && r.expression.includes('variables.chaperone'))).toBe(true);
    expect(deciding.some((r) => r.expression.includes("variables.oldPhase == 'Pending'"))).toBe(true);
    // The agent's ServiceAccount is read from the OLD object: a decision cannot rewrite whom it excludes.
    expect(variable(policy(), 'agentUser')).toContain('oldObject.spec.serviceAccount');
  });

  it('gives approvers decide-only rights: no status, no create, no delete, not aggregated anywhere', () => {
    const role = approverClusterRole() as { metadata: { name: string; labels?: Record<string, string> }; rules: unknown };
    expect(role.metadata.name).toBe(APPROVER_CLUSTER_ROLE);
    expect(role.rules).toEqual([{ apiGroups: ['chaperone.dev'], resources: [APPROVAL_PLURAL], verbs: ['get', 'list', 'watch', 'patch', 'update'] }]);
    const labelled = approverClusterRole({ labels: { a: 'b' } }) as { metadata: { labels: Record<string, string> }; aggregationRule?: unknown };
    expect(labelled.metadata.labels).toEqual({ a: 'b' });
    expect(labelled.aggregationRule).toBeUndefined();
  });
});
