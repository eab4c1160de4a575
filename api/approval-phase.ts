// How an ApprovalRequest stands, read the same way by the sidecar (which passes a call on it) and
// the operator (which records its phase): one definition, so the two can never disagree.
import type { ApprovalAction, ApprovalPhase, ApprovalRequestObject } from './approval-names.js';
import type { ApprovalTimeoutAction } from './types.js';

/** A managedFields entry, as the API server writes it. */
export interface ManagedField {
  time?: string | Date;
  subresource?: string;
  fieldsV1?: unknown;
}

/** An ApprovalRequest as read from the API server (managedFields included). */
export type ObservedApproval = ApprovalRequestObject & { metadata: ApprovalRequestObject['metadata'] & { managedFields?: ManagedField[] } };

const time = (v: string | Date | undefined): Date | undefined => {
  if (v === undefined || v === '') return undefined;
  const d = v instanceof Date ? v : new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d;
};

/**
 * When spec.decision was written: the API server's own time on the managedFields entry that owns
 * it (the latest, should several managers hold a part of it). Undefined when no entry says.
 */
export function decisionTime(ar: ObservedApproval): Date | undefined {
  let latest: Date | undefined;
  for (const f of ar.metadata.managedFields ?? []) {
    if (f.subresource) continue;
    const spec = (f.fieldsV1 as Record<string, unknown> | undefined)?.['f:spec'] as Record<string, unknown> | undefined;
    if (!spec || !('f:decision' in spec)) continue;
    const t = time(f.time);
    if (t && (!latest || t > latest)) latest = t;
  }
  return latest;
}

export interface PhaseInputs {
  /** status.phase as written by the operator or a sidecar. */
  recorded?: ApprovalPhase;
  decision?: { action: ApprovalAction; at?: Date };
  expiresAt: Date;
  timeoutAction: ApprovalTimeoutAction;
  now: Date;
}

/**
 * The phase a request stands in now. Terminal phases stay. A person's decision counts only if it was
 * made before the expiry (when the time it was made is unknown, only until the expiry): the sidecar
 * does not wait for the operator to notice a decision, and neither honours one made too late.
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
