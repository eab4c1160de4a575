// The ApprovalRequest CustomResourceDefinition, generated from the schema below (written in the same
// structural-schema subset as the GovernancePolicy's, see schema.ts) so the sidecar, the operator,
// the admission policy and the kubectl plugin read one shape. `crds/approvalrequests.chaperone.dev.yaml`
// is this module's output (a test keeps it in step; regenerate with `make crds`).
//
// The CEL rules here are the object's own invariants: what was held can never change after the
// fact (an approval binds to a digest; rewriting the digest under a decision would move the approval
// to another call), and a decision, once made, stays made. Who may do what is not the CRD's business:
// that is RBAC plus the `chaperone-approvals` ValidatingAdmissionPolicy (approval-admission.ts).
import { crdYaml } from './crd-yaml.js';
import {
  APPROVAL_ACTIONS,
  APPROVAL_CRD_NAME,
  APPROVAL_HELD_AT,
  APPROVAL_KIND,
  APPROVAL_LIST_KIND,
  APPROVAL_PHASES,
  APPROVAL_PLURAL,
  APPROVAL_PREVIEW_CHARS,
  APPROVAL_SHORT_NAME,
  APPROVAL_SINGULAR,
  TIMEOUT_DECIDER,
} from './approval-names.js';
import { API_GROUP, APPROVAL_TIMEOUT_ACTIONS, type SchemaNode } from './schema.js';

/** sha256 in lowercase hex: what `spec.digest` and `spec.argumentsDigest` hold. */
export const SHA256_HEX_PATTERN = '^[0-9a-f]{64}$';

// Bounds on every string, so the API server's CEL cost estimate for the rules below (and in the
// admission policy) stays finite and small. Kubernetes names are at most 253 characters; user names
// have no bound in Kubernetes, 512 covers long OIDC subjects and e-mail addresses.
export const APPROVAL_BOUNDS = {
  name: 253,
  uid: 64,
  tool: 256,
  /** `<namespace>/<name>`. */
  policy: 317,
  requestId: 128,
  provider: 64,
  timestamp: 64,
  user: 512,
  reason: 1024,
  message: 1024,
} as const;

const immutable = (field: string): SchemaNode['x-kubernetes-validations'] => [
  { rule: 'self == oldSelf', message: `spec.${field} is immutable: it records what was held` },
];

const str = (description: string, maxLength: number, field: string, extra: Partial<SchemaNode> = {}): SchemaNode => ({
  type: 'string',
  description,
  maxLength,
  ...extra,
  'x-kubernetes-validations': immutable(field),
});

/** The spec fields the sidecar may leave out; a CEL rule per field stops them being added or removed later. */
export const APPROVAL_OPTIONAL_SPEC_FIELDS = ['pod', 'podUID', 'serviceAccount'] as const;

export const approvalDecisionSchema: SchemaNode = {
  type: 'object',
  description: 'A person\'s decision (kubectl chaperone approve|deny, or kubectl patch); immutable once set.',
  required: ['action', 'by'],
  'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'spec.decision is immutable once set' }],
  properties: {
    action: { type: 'string', enum: [...APPROVAL_ACTIONS], description: 'Approve or Deny.' },
    by: {
      type: 'string',
      minLength: 1,
      maxLength: APPROVAL_BOUNDS.user,
      description: 'The deciding user\'s name exactly as the API server authenticates it (the admission policy checks it).',
    },
    reason: { type: 'string', maxLength: APPROVAL_BOUNDS.reason, description: 'Why, in the decider\'s words (optional).' },
  },
};

export const approvalRequestSpecSchema: SchemaNode = {
  type: 'object',
  description: 'What is held: one tool call, identified by its digest. Written once by the sidecar; only decision may be added.',
  required: [
    'agent', 'tool', 'digest', 'argumentsDigest', 'argumentsPreview', 'argumentsTruncated', 'policy',
    'policyGeneration', 'requestId', 'heldAt', 'provider', 'expiresAt', 'timeoutAction',
  ],
  'x-kubernetes-validations': [
    ...APPROVAL_OPTIONAL_SPEC_FIELDS.map((f) => ({
      rule: `has(self.${f}) == has(oldSelf.${f})`,
      message: `spec.${f} is immutable: it cannot be added or removed after creation`,
    })),
    { rule: '!has(oldSelf.decision) || has(self.decision)', message: 'spec.decision cannot be removed once set' },
  ],
  properties: {
    agent: str('The agent identity the call was made under.', APPROVAL_BOUNDS.name, 'agent', { minLength: 1 }),
    pod: str('The pod whose sidecar held the call.', APPROVAL_BOUNDS.name, 'pod'),
    podUID: str('The UID of that pod (Events on the pod name it).', APPROVAL_BOUNDS.uid, 'podUID'),
    serviceAccount: str('The pod\'s ServiceAccount (in this namespace); it may never decide this request.', APPROVAL_BOUNDS.name, 'serviceAccount'),
    tool: str('The tool the call runs, e.g. send_email.', APPROVAL_BOUNDS.tool, 'tool', { minLength: 1 }),
    digest: str(
      'sha256 (hex) of agent, tool, canonical arguments, policy and its generation: what an approval binds to.',
      64, 'digest', { minLength: 64, pattern: SHA256_HEX_PATTERN },
    ),
    argumentsDigest: str('sha256 (hex) of the canonical JSON of the arguments.', 64, 'argumentsDigest', { minLength: 64, pattern: SHA256_HEX_PATTERN }),
    argumentsPreview: str(
      `The canonical JSON of the arguments, cut to ${APPROVAL_PREVIEW_CHARS} characters (the whole arguments are never stored).`,
      APPROVAL_PREVIEW_CHARS, 'argumentsPreview',
    ),
    argumentsTruncated: {
      type: 'boolean',
      description: 'True when argumentsPreview is cut short of the whole arguments.',
      'x-kubernetes-validations': immutable('argumentsTruncated'),
    },
    policy: str('<namespace>/<name> of the GovernancePolicy that holds the call.', APPROVAL_BOUNDS.policy, 'policy', { minLength: 1 }),
    policyGeneration: {
      type: 'integer',
      minimum: 0,
      description: 'metadata.generation of that policy when the call was held.',
      'x-kubernetes-validations': immutable('policyGeneration'),
    },
    requestId: str('X-Chaperone-Request-Id of the held call (audit records carry it).', APPROVAL_BOUNDS.requestId, 'requestId', { minLength: 1 }),
    heldAt: str(
      'Where the call was held: request (the agent\'s own request, e.g. MCP tools/call) or response (the model\'s answer).',
      16, 'heldAt', { enum: [...APPROVAL_HELD_AT] },
    ),
    provider: str('The provider or protocol the call went to, e.g. openai, anthropic, mcp.', APPROVAL_BOUNDS.provider, 'provider'),
    expiresAt: str('When the policy\'s timeoutAction applies if nobody decided (RFC 3339).', APPROVAL_BOUNDS.timestamp, 'expiresAt', { format: 'date-time' }),
    timeoutAction: str('What expiry does: reject (phase Expired) or approve.', 16, 'timeoutAction', { enum: [...APPROVAL_TIMEOUT_ACTIONS] }),
    decision: approvalDecisionSchema,
  },
};

/** The status phases after which nothing changes any more. */
export const APPROVAL_FINAL_PHASES = ['Denied', 'Expired', 'Used'] as const;

export const approvalRequestStatusSchema: SchemaNode = {
  type: 'object',
  description: 'Observed state: written by the operator (Pending, Approved, Denied, Expired) and the sidecar (Used).',
  'x-kubernetes-validations': [
    {
      // A used approval set back to Approved would pass a second execution.
      rule: `!has(oldSelf.phase) || !(oldSelf.phase in ${JSON.stringify(APPROVAL_FINAL_PHASES)}) || (has(self.phase) && self.phase == oldSelf.phase)`,
      message: 'a Denied, Expired or Used request stays so',
      fieldPath: '.phase',
    },
  ],
  properties: {
    phase: { type: 'string', enum: [...APPROVAL_PHASES], description: 'Pending, Approved, Denied, Expired or Used.' },
    decidedBy: { type: 'string', maxLength: APPROVAL_BOUNDS.user, description: `Who decided (spec.decision.by), or ${TIMEOUT_DECIDER}.` },
    decidedAt: { type: 'string', format: 'date-time', maxLength: APPROVAL_BOUNDS.timestamp, description: 'When the decision (or expiry) took effect.' },
    usedAt: { type: 'string', format: 'date-time', maxLength: APPROVAL_BOUNDS.timestamp, description: 'When the approved execution passed.' },
    usedBy: { type: 'string', maxLength: APPROVAL_BOUNDS.requestId, description: 'The request id of the execution that used the approval.' },
    message: { type: 'string', maxLength: APPROVAL_BOUNDS.message, description: 'Human-readable details of the last transition.' },
  },
};

export const approvalRequestSchema: SchemaNode = {
  type: 'object',
  description: 'ApprovalRequest: one tool call held until a person bound to chaperone-approver decides it.',
  required: ['spec'],
  properties: {
    apiVersion: { type: 'string', description: 'API version, chaperone.dev/v1alpha1.' },
    kind: { type: 'string', description: `Kind, ${APPROVAL_KIND}.` },
    metadata: { type: 'object', description: 'Standard Kubernetes object metadata.' },
    spec: approvalRequestSpecSchema,
    status: approvalRequestStatusSchema,
  },
};

/** Field selectors the API server answers (the sidecar lists `spec.digest=<hex>`). */
export const APPROVAL_SELECTABLE_FIELDS = ['.spec.digest', '.spec.agent', '.status.phase'] as const;

export function approvalRequestCrd(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: APPROVAL_CRD_NAME,
      labels: { 'app.kubernetes.io/name': 'chaperone', 'app.kubernetes.io/part-of': 'chaperone' },
    },
    spec: {
      group: API_GROUP,
      scope: 'Namespaced',
      names: {
        kind: APPROVAL_KIND,
        listKind: APPROVAL_LIST_KIND,
        plural: APPROVAL_PLURAL,
        singular: APPROVAL_SINGULAR,
        shortNames: [APPROVAL_SHORT_NAME],
        categories: ['chaperone'],
      },
      versions: [
        {
          name: 'v1alpha1',
          served: true,
          storage: true,
          subresources: { status: {} },
          selectableFields: APPROVAL_SELECTABLE_FIELDS.map((jsonPath) => ({ jsonPath })),
          additionalPrinterColumns: [
            { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Pending, Approved, Denied, Expired or Used.' },
            { name: 'Agent', type: 'string', jsonPath: '.spec.agent', description: 'The agent that made the call.' },
            { name: 'Tool', type: 'string', jsonPath: '.spec.tool', description: 'The tool the call runs.' },
            { name: 'Args', type: 'string', jsonPath: '.spec.argumentsPreview', priority: 1, description: 'The arguments (a bounded preview).' },
            { name: 'Decided-By', type: 'string', jsonPath: '.status.decidedBy', description: 'Who decided.' },
            // A string, not a date: kubectl renders a date column as an age, and a time still to come as <invalid>.
            { name: 'Expires', type: 'string', jsonPath: '.spec.expiresAt', description: 'When timeoutAction applies (RFC 3339).' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: { openAPIV3Schema: { ...approvalRequestSchema, properties: { ...approvalRequestSchema.properties, metadata: { type: 'object' } } } },
        },
      ],
    },
  };
}

export function approvalRequestCrdYaml(): string {
  return crdYaml(approvalRequestCrd(), 'api/approval-crd.ts');
}
