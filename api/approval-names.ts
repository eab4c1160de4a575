// The ApprovalRequest contract the sidecar, the operator, the admission policy and the kubectl plugin
// share: names, phases and the object's shape. A held tool call becomes one ApprovalRequest in the
// agent's namespace; a person decides it with Kubernetes RBAC (`chaperone-approver`), never through
// anything the agent's container can reach.
import type { ApprovalTimeoutAction } from './types.js';

export const APPROVAL_KIND = 'ApprovalRequest';
export const APPROVAL_LIST_KIND = 'ApprovalRequestList';
export const APPROVAL_PLURAL = 'approvalrequests';
export const APPROVAL_SINGULAR = 'approvalrequest';
export const APPROVAL_SHORT_NAME = 'ar';
export const APPROVAL_CRD_NAME = `${APPROVAL_PLURAL}.chaperone.dev`;

/**
 * Pending: waiting for a person. Approved: may pass one execution. Denied: refused by a person.
 * Expired: nobody decided in time (timeoutAction reject). Used: the approved execution happened.
 */
export const APPROVAL_PHASES = ['Pending', 'Approved', 'Denied', 'Expired', 'Used'] as const;
export type ApprovalPhase = (typeof APPROVAL_PHASES)[number];
export const APPROVAL_ACTIONS = ['Approve', 'Deny'] as const;
export type ApprovalAction = (typeof APPROVAL_ACTIONS)[number];
/** Where the call was held: the agent's own request (MCP tools/call, a forced tool) or the model's answer. */
export const APPROVAL_HELD_AT = ['request', 'response'] as const;
export type ApprovalHeldAt = (typeof APPROVAL_HELD_AT)[number];

/** status.decidedBy when the timeoutAction approved a request nobody decided. */
export const TIMEOUT_DECIDER = 'chaperone:timeoutAction';

/** The bound on spec.argumentsPreview: the whole arguments are never stored, only their digest. */
export const APPROVAL_PREVIEW_CHARS = 1024;

/**
 * Per governed namespace (made by the operator): the sidecar's own identity. Only the sidecar
 * container mounts the token Secret; the app's ServiceAccount never gets these rights.
 */
export const SIDECAR_SERVICE_ACCOUNT = 'chaperone-sidecar';
export const SIDECAR_ROLE = 'chaperone-sidecar';
export const SIDECAR_TOKEN_SECRET = 'chaperone-sidecar-token';
/** Keys of the token Secret (the layout of a service-account token mount). */
export const SIDECAR_TOKEN_KEYS = { token: 'token', ca: 'ca.crt', namespace: 'namespace' } as const;
/** Annotation on the token Secret: when the token in it expires (RFC 3339). */
export const SIDECAR_TOKEN_EXPIRES_ANNOTATION = 'chaperone.dev/token-expires';
/** Where the injected sidecar finds the token Secret. */
export const SIDECAR_TOKEN_DIR = '/var/run/secrets/chaperone.dev/sidecar';
/** The ClusterRole, shipped in the chart, that users bind per namespace to let people decide. */
export const APPROVER_CLUSTER_ROLE = 'chaperone-approver';

export interface ApprovalDecision {
  action: ApprovalAction;
  /** The deciding user's name as the API server authenticated it (the admission policy checks). */
  by: string;
  reason?: string;
}

export interface ApprovalRequestSpec {
  /** The agent identity the call was made under. */
  agent: string;
  /** The pod that held the call, its UID and its ServiceAccount (which may never decide). */
  pod?: string;
  podUID?: string;
  serviceAccount?: string;
  tool: string;
  /** sha256 (hex) of agent, tool, canonical arguments, policy and its generation: what an approval binds to. */
  digest: string;
  /** sha256 (hex) of the canonical JSON of the arguments. */
  argumentsDigest: string;
  /** The canonical JSON of the arguments, cut to APPROVAL_PREVIEW_CHARS. */
  argumentsPreview: string;
  argumentsTruncated: boolean;
  /** `<namespace>/<name>` of the policy that holds the call, and its generation. */
  policy: string;
  policyGeneration: number;
  /** X-Chaperone-Request-Id of the held call. */
  requestId: string;
  heldAt: ApprovalHeldAt;
  provider: string;
  /** RFC 3339: when timeoutAction applies if nobody decided. */
  expiresAt: string;
  timeoutAction: ApprovalTimeoutAction;
  /** Set by a person (kubectl chaperone approve|deny, or kubectl patch); immutable once set. */
  decision?: ApprovalDecision;
}

export interface ApprovalRequestStatus {
  phase?: ApprovalPhase;
  decidedBy?: string;
  /** RFC 3339. */
  decidedAt?: string;
  usedAt?: string;
  /** The request id of the execution that used the approval. */
  usedBy?: string;
  message?: string;
}

export interface ApprovalRequestObject {
  apiVersion: 'chaperone.dev/v1alpha1';
  kind: 'ApprovalRequest';
  metadata: {
    name?: string;
    generateName?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string | Date;
    labels?: Record<string, string>;
  };
  spec: ApprovalRequestSpec;
  status?: ApprovalRequestStatus;
}
