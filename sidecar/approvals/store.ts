// Where approvals live, as the data path sees them. In a pod they are ApprovalRequest objects in
// the pod's namespace (kubernetes.ts), decided with kubectl under Kubernetes RBAC; a standalone
// sidecar keeps them in memory (memory.ts), decided on its admin port with the admin token.
import type { ApprovalAction, ApprovalHeldAt, ApprovalPhase } from '../../api/approval-names.js';
import type { HeldTool } from '../policy/verdict.js';

/** One held tool call's approval, with its phase as it stands now. */
export interface ApprovalRecord {
  /** The ApprovalRequest's name (or the in-memory id). */
  name: string;
  namespace?: string;
  digest: string;
  tool: string;
  phase: ApprovalPhase;
  createdAt: Date;
  expiresAt: Date;
  decidedBy?: string;
  reason?: string;
}

/** What the held call was, besides the tool call itself: written on the record for the approver. */
export interface HoldContext {
  requestId: string;
  heldAt: ApprovalHeldAt;
  provider: string;
}

export interface ApprovalStore {
  readonly kind: 'kubernetes' | 'memory';
  /** The records for one held call, newest first. */
  find(digest: string): Promise<ApprovalRecord[]>;
  /** Records a new held call, Pending. */
  create(hold: HeldTool, context: HoldContext): Promise<ApprovalRecord>;
  /** Uses an Approved record up for this request; false when it is no longer Approved (used by another). */
  use(record: ApprovalRecord, requestId: string): Promise<boolean>;
  /** How a person decides this record, in words for the agent's error message. */
  howToDecide(record: ApprovalRecord): string;
}

/** The store cannot answer (no credentials yet, API server unreachable, full): the call is not forwarded. */
export class ApprovalStoreUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApprovalStoreUnavailable';
  }
}

export interface PhaseInputs {
  /** status.phase as written by the operator or a sidecar. */
  recorded?: ApprovalPhase;
  decision?: { action: ApprovalAction; at?: Date };
  expiresAt: Date;
  timeoutAction: 'reject' | 'approve';
  now: Date;
}

/**
 * The phase a record stands in now. Terminal phases stay. A person's decision counts only if it was
 * made before the expiry (when the time it was made is unknown, only until the expiry): the sidecar
 * does not wait for the operator to notice a decision, and never honours one made too late.
 */
export function effectivePhase(p: PhaseInputs): ApprovalPhase {
  if (p.recorded === 'Used' || p.recorded === 'Denied' || p.recorded === 'Expired') return p.recorded;
  const expired = p.now.getTime() >= p.expiresAt.getTime();
  if (p.decision) {
    const late = p.decision.at ? p.decision.at.getTime() > p.expiresAt.getTime() : expired;
    if (late) return 'Expired';
    return p.decision.action === 'Approve' ? 'Approved' : 'Denied';
  }
  if (p.recorded === 'Approved') return 'Approved';
  if (expired) return p.timeoutAction === 'approve' ? 'Approved' : 'Expired';
  return 'Pending';
}
