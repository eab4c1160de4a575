// Who may create, decide and advance an ApprovalRequest, as Kubernetes objects: the
// `chaperone-approvals` ValidatingAdmissionPolicy (and its binding) and the `chaperone-approver`
// ClusterRole. RBAC says who may touch the objects at all; the policy holds what RBAC cannot say:
//
//   1. only the namespace's sidecar ServiceAccount or the operator creates one;
//   2. it is created undecided;
//   3. only those two write its status (the phase machine), and the sidecar only moves Approved
//      to Used (its token lives in the pod, so nothing it may write amounts to an approval);
//   4. a decision names its decider exactly as the API server authenticated them
//      (`request.userInfo.username`, never a self-declared header), the agent pod's own
//      ServiceAccount, the sidecar and the operator never decide, and only a Pending request is decided.
//
// The CRD's CEL rules (approval-crd.ts) keep what was held and a decision once made immutable.
//
// The operator's user name differs per install, so this is a generator: the chart
// (charts/chaperone/templates/approvals.yaml) renders the same objects from the release, and
// e2e/helm.e2e.test.ts keeps the two equal; tests without helm apply this module's output.
import { APPROVAL_PLURAL, SIDECAR_SERVICE_ACCOUNT } from './approval-names.js';
import { API_GROUP } from './schema.js';

export interface ApprovalAdmissionOptions {
  /** The operator's user name, e.g. `system:serviceaccount:chaperone-system:chaperone-operator`. */
  operatorUser: string;
  /**
   * The chart's fullname, the prefix of the cluster-scoped names (`<fullname>-approvals`,
   * `<fullname>-approver`). The default release's, `chaperone`, gives `chaperone-approvals` and
   * `chaperone-approver`.
   */
  fullname?: string;
  /** Labels for every object's metadata (the chart adds its own). */
  labels?: Record<string, string>;
}

/** The user name Kubernetes gives a ServiceAccount's tokens. */
export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

export const approvalPolicyName = (fullname = 'chaperone'): string => `${fullname}-approvals`;
export const approverClusterRoleName = (fullname = 'chaperone'): string => `${fullname}-approver`;

// The operator's user name goes into a CEL string literal in single quotes.
function celString(value: string): string {
  if (!/^[A-Za-z0-9:._@-]+$/.test(value)) throw new Error(`operator user name ${JSON.stringify(value)}: only letters, digits and :._@- are allowed`);
  return `'${value}'`;
}

const metadata = (name: string, labels?: Record<string, string>): Record<string, unknown> => ({ name, ...(labels ? { labels } : {}) });

/**
 * The policy. Expressions use single-quoted CEL strings only, so the chart can carry each one in a
 * double-quoted YAML scalar unchanged.
 */
export function approvalAdmissionPolicy(opts: ApprovalAdmissionOptions): Record<string, unknown> {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: metadata(approvalPolicyName(opts.fullname), opts.labels),
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [
          {
            apiGroups: [API_GROUP],
            apiVersions: ['*'],
            operations: ['CREATE', 'UPDATE'],
            resources: [APPROVAL_PLURAL, `${APPROVAL_PLURAL}/status`],
          },
        ],
      },
      variables: [
        { name: 'user', expression: 'request.userInfo.username' },
        { name: 'sidecar', expression: `'system:serviceaccount:' + request.namespace + ':${SIDECAR_SERVICE_ACCOUNT}'` },
        { name: 'operator', expression: celString(opts.operatorUser) },
        { name: 'chaperone', expression: 'variables.user == variables.sidecar || variables.user == variables.operator' },
        { name: 'statusWrite', expression: "has(request.subResource) && request.subResource == 'status'" },
        // An UPDATE of the main resource that adds spec.decision: someone deciding. (Changing or removing
        // a decision is refused by the CRD's own rules.)
        {
          name: 'deciding',
          expression: "request.operation == 'UPDATE' && !variables.statusWrite && has(object.spec.decision) && !has(oldObject.spec.decision)",
        },
        // Phases before and after ('' for none): the status subresource's phase machine.
        {
          name: 'oldPhase',
          expression: "request.operation == 'UPDATE' && has(oldObject.status) && has(oldObject.status.phase) ? oldObject.status.phase : ''",
        },
        { name: 'newPhase', expression: "has(object.status) && has(object.status.phase) ? object.status.phase : ''" },
        // The agent pod's own ServiceAccount, as a user name ('' when the request does not name one).
        {
          name: 'agentUser',
          expression: "request.operation == 'UPDATE' && has(oldObject.spec.serviceAccount) ? 'system:serviceaccount:' + request.namespace + ':' + oldObject.spec.serviceAccount : ''",
        },
      ],
      validations: [
        {
          expression: "request.operation != 'CREATE' || variables.chaperone",
          messageExpression:
            "'only the chaperone sidecar (' + variables.sidecar + ') or the operator (' + variables.operator + ') creates an ApprovalRequest; you are ' + variables.user",
          reason: 'Forbidden',
        },
        {
          expression: "request.operation != 'CREATE' || !has(object.spec.decision)",
          message: 'an ApprovalRequest is created undecided: spec.decision is added afterwards by the person deciding (kubectl chaperone approve|deny)',
          reason: 'Invalid',
        },
        {
          expression: '!variables.statusWrite || variables.chaperone',
          messageExpression:
            "'only the chaperone sidecar (' + variables.sidecar + ') or the operator (' + variables.operator + ') writes the status of an ApprovalRequest; you are ' + variables.user",
          reason: 'Forbidden',
        },
        {
          // The sidecar's token sits in the pod: whatever it may write must not amount to an approval. It
          // marks Used what a person approved, even before the operator recorded the phase Approved.
          expression: "!variables.statusWrite || variables.user != variables.sidecar || variables.newPhase == variables.oldPhase || (variables.newPhase == 'Used' && (variables.oldPhase == 'Approved' || (variables.oldPhase in ['', 'Pending'] && has(object.spec.decision) && object.spec.decision.action == 'Approve')))",
          messageExpression:
            "'the chaperone sidecar only marks a request a person approved Used; it may not set the phase from ' + (variables.oldPhase == '' ? 'none' : variables.oldPhase) + ' to ' + (variables.newPhase == '' ? 'none' : variables.newPhase)",
          reason: 'Forbidden',
        },
        {
          expression: '!variables.deciding || !(variables.chaperone || variables.user == variables.agentUser)',
          messageExpression:
            "variables.user + ' may not decide an ApprovalRequest: neither the agent pod ServiceAccount nor the chaperone sidecar or operator ever decides'",
          reason: 'Forbidden',
        },
        {
          expression: '!variables.deciding || object.spec.decision.by == variables.user',
          messageExpression:
            "'spec.decision.by must be your own user name as the API server knows it, ' + variables.user + ' (the request says ' + object.spec.decision.by + ')'",
          reason: 'Forbidden',
        },
        {
          expression: "!variables.deciding || variables.oldPhase == '' || variables.oldPhase == 'Pending'",
          messageExpression: "'only a Pending request can be decided; this one is ' + variables.oldPhase",
          reason: 'Invalid',
        },
      ],
    },
  };
}

export function approvalAdmissionBinding(opts: ApprovalAdmissionOptions): Record<string, unknown> {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: metadata(approvalPolicyName(opts.fullname), opts.labels),
    spec: { policyName: approvalPolicyName(opts.fullname), validationActions: ['Deny'] },
  };
}

/**
 * What a person needs to see and decide ApprovalRequests, bound per namespace with a RoleBinding.
 * No status, no create, no delete; deliberately not aggregated into admin, edit or view, so nobody
 * (and no ServiceAccount) gets it without someone binding it on purpose.
 */
export function approverClusterRole(opts: Pick<ApprovalAdmissionOptions, 'fullname' | 'labels'> = {}): Record<string, unknown> {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: metadata(approverClusterRoleName(opts.fullname), opts.labels),
    rules: [{ apiGroups: [API_GROUP], resources: [APPROVAL_PLURAL], verbs: ['get', 'list', 'watch', 'patch', 'update'] }],
  };
}

/** Everything the chart's templates/approvals.yaml holds, in its order. */
export function approvalAdmissionObjects(opts: ApprovalAdmissionOptions): Array<Record<string, unknown>> {
  return [approvalAdmissionPolicy(opts), approvalAdmissionBinding(opts), approverClusterRole(opts)];
}

