// What an agent is told when its call is held: an error its SDK raises (428, in the provider's error
// shape), naming each ApprovalRequest, how a person decides it, when it expires and how to resend.
// A client that asks for it (`Prefer: respond-async`, RFC 7240) gets the same as a 202 JSON body.
import type { ApprovalRecord, ApprovalStore } from './store.js';

/** The status of a held call: the request is fine, a precondition (a person's approval) is missing. */
export const HOLD_STATUS = 428;

const qualified = (r: ApprovalRecord): string => (r.namespace ? `${r.namespace}/${r.name}` : r.name);

export function holdMessage(store: ApprovalStore, records: readonly ApprovalRecord[], reason: string | undefined): string {
  const each = records.map((r) => `${r.tool}: ApprovalRequest ${qualified(r)}, ${r.phase.toLowerCase()} until ${r.expiresAt.toISOString()}; ${store.howToDecide(r)}`);
  return `chaperone: ${reason ?? 'held for approval'}. ${each.join('. ')}. Once approved, send the same request again: each approval passes it once.`;
}

/** Wants the hold as a 202 with a JSON body rather than as an error. */
export function wantsAsync(prefer: string | undefined): boolean {
  return /(^|[\s,;])respond-async($|[\s,;])/i.test(prefer ?? '');
}

export function holdBody(records: readonly ApprovalRecord[], message: string): string {
  return JSON.stringify({
    status: 'pending',
    approval_id: records[0]?.name,
    approvals: records.map((r) => ({
      name: r.name,
      ...(r.namespace ? { namespace: r.namespace } : {}),
      tool: r.tool,
      phase: r.phase,
      expires_at: r.expiresAt.toISOString(),
    })),
    message,
  });
}

/** X-Chaperone-Approval on a held answer: the records' names, comma-separated. */
export const approvalHeader = (records: readonly ApprovalRecord[]): string => records.map((r) => r.name).join(',');
