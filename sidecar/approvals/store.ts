// Where approvals live, as the data path sees them. In a pod they are ApprovalRequest objects in
// the pod's namespace (kubernetes.ts), decided with kubectl under Kubernetes RBAC; a standalone
// sidecar keeps them in memory (memory.ts), decided on its admin port with the admin token.
import type { ApprovalHeldAt, ApprovalPhase } from '../../api/approval-names.js';
import type { HeldTool } from '../policy/verdict.js';

/** One held tool call's approval, with its phase as it stands now. */
export interface ApprovalRecord {
  /** The ApprovalRequest's name (or the in-memory id). */
  name: string;
  namespace?: string;
  digest: string;
  tool: string;
  /** Where the call was held: the agent's request, or the model's answer. */
  heldAt: ApprovalHeldAt;
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
