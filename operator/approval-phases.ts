// The operator's ApprovalRequest phase machine, pure: one observed object and the time in, what to
// do out (the status to write, the Events to emit on the request and on the agent's pod, whether to
// notify, delete or look again later, and what to observe in the decision-latency histogram). The
// I/O (approval-controller.ts) writes the status with the resourceVersion it read and emits, notifies
// and observes only once that write succeeded, so a plan made from a stale view is never acted on.
//
//   (none) ──first sight──> Pending ──spec.decision Approve──> Approved ──sidecar──> Used
//                              │  └────spec.decision Deny────> Denied
//                              └──expiresAt, no decision──> Expired (timeoutAction reject)
//                                                         > Approved, by chaperone:timeoutAction (approve)
//   A decision made after expiresAt does not count: Expired (as the sidecar judges it, see
//   sidecar/approvals/store.ts effectivePhase). Approved, Denied, Expired and Used are never left
//   by the operator's hand (only the sidecar moves Approved to Used); once their last transition is
//   older than the retention, the object is deleted.

import { APPROVAL_PHASES, TIMEOUT_DECIDER, type ApprovalPhase, type ApprovalRequestStatus } from '../api/approval-names.js';
import { decisionTime, type ObservedApproval } from '../api/approval-phase.js';
import { kubeTime } from '../lib/kube-time.js';

export { decisionTime, type ObservedApproval } from '../api/approval-phase.js';

/** Longest wait before a request is looked at again (timers that long are pointless; resyncs are cheaper). */
export const MAX_REQUEUE_MS = 60 * 60_000;
/** The CRD's bound on status.message. */
const MESSAGE_MAX = 1024;

export type ApprovalEventReason = 'Held' | 'Approved' | 'Denied' | 'Expired';
export type DecisionOutcome = 'approved' | 'denied' | 'expired';

export interface PlannedEvent {
  /** The ApprovalRequest itself, or the pod that held the call (only when spec.pod and spec.podUID are set). */
  on: 'ApprovalRequest' | 'Pod';
  reason: ApprovalEventReason;
  type: 'Normal' | 'Warning';
  message: string;
}

export interface ApprovalPlan {
  /** The whole status to write (replace, with the observed resourceVersion); undefined: leave it. */
  status?: ApprovalRequestStatus;
  /** Emitted once the status write succeeded. */
  events: PlannedEvent[];
  /** Garbage: delete the object (with the observed resourceVersion as precondition). */
  delete: boolean;
  /** Look at the object again after this long (at expiresAt, or when it becomes garbage). */
  requeueAfterMs?: number;
  /** A new pending request: POST the notification (when a URL is configured). */
  notify: boolean;
  /** chaperone_approval_decision_seconds{decision}: from creation to the decision or the expiry. */
  observe?: { decision: DecisionOutcome; seconds: number };
}

const time = (v: string | Date | undefined): Date | undefined => {
  if (v === undefined || v === '') return undefined;
  const d = v instanceof Date ? v : new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d;
};

const clip = (s: string): string => (s.length <= MESSAGE_MAX ? s : `${s.slice(0, MESSAGE_MAX - 1)}…`);

/**
 * When the object's last transition happened, the start of its retention: usedAt, else decidedAt,
 * else expiresAt, else its creation. Undefined when none of them parses.
 */
export function lastTransition(ar: ObservedApproval): Date | undefined {
  return time(ar.status?.usedAt) ?? time(ar.status?.decidedAt) ?? time(ar.spec?.expiresAt) ?? time(ar.metadata.creationTimestamp);
}

const isPhase = (p: unknown): p is ApprovalPhase => (APPROVAL_PHASES as readonly unknown[]).includes(p);

function decideCommand(ar: ObservedApproval): string {
  return `kubectl chaperone approve|deny ${ar.metadata.name ?? ''} -n ${ar.metadata.namespace ?? ''}`;
}

/** The Event on the request, and the same on the pod when the request names one (with its UID). */
function both(ar: ObservedApproval, reason: ApprovalEventReason, type: PlannedEvent['type'], message: string): PlannedEvent[] {
  const text = clip(message);
  const out: PlannedEvent[] = [{ on: 'ApprovalRequest', reason, type, message: text }];
  if (ar.spec.pod && ar.spec.podUID) out.push({ on: 'Pod', reason, type, message: clip(`${ar.metadata.name ?? ''}: ${message}`) });
  return out;
}

const seconds = (from: Date | undefined, to: Date): number => (from ? Math.max(0, (to.getTime() - from.getTime()) / 1000) : 0);
const clampRequeue = (ms: number): number => Math.max(1, Math.min(Math.ceil(ms), MAX_REQUEUE_MS));

/** After a transition: written first, looked at again when it becomes garbage (never deleted unseen). */
function afterTransition(ar: ObservedApproval, status: ApprovalRequestStatus, now: Date, retentionMs: number): Pick<ApprovalPlan, 'delete' | 'requeueAfterMs'> {
  const { requeueAfterMs } = collect(ar, status, now, retentionMs);
  return { delete: false, requeueAfterMs: requeueAfterMs ?? 1 };
}

/** Garbage collection of a request in a final (or Approved) phase. */
function collect(ar: ObservedApproval, status: ApprovalRequestStatus | undefined, now: Date, retentionMs: number): Pick<ApprovalPlan, 'delete' | 'requeueAfterMs'> {
  const since = lastTransition({ ...ar, status: status ?? {} });
  if (!since) return { delete: false };
  const due = since.getTime() + retentionMs - now.getTime();
  return due <= 0 ? { delete: true } : { delete: false, requeueAfterMs: clampRequeue(due) };
}

/**
 * What the operator does with `ar` at `now`, given `retentionMs` (how long decided, expired and used
 * requests are kept). Never revives a Denied, Expired or Used request, never touches an Approved one
 * (only the sidecar moves it to Used), and never writes a decision of its own besides the timeoutAction.
 */
export function planApproval(ar: ObservedApproval, now: Date, retentionMs: number): ApprovalPlan {
  const nothing: ApprovalPlan = { events: [], delete: false, notify: false };
  if (!ar?.spec || !ar.metadata?.name) return nothing;
  const recorded = ar.status?.phase;

  if (recorded !== undefined && recorded !== 'Pending') {
    // Approved, Denied, Expired, Used: only the clock acts on them now. (Unknown phases: hands off.)
    return isPhase(recorded) ? { ...nothing, ...collect(ar, ar.status, now, retentionMs) } : nothing;
  }

  const events: PlannedEvent[] = [];
  const created = time(ar.metadata.creationTimestamp);
  const expiresAt = time(ar.spec.expiresAt);
  const base: ApprovalRequestStatus = { ...(ar.status ?? {}) };

  if (recorded === undefined) {
    // First sight: the sidecar created it without a status.
    const expires = expiresAt ? kubeTime(expiresAt) : 'an unreadable expiresAt';
    events.push(
      ...both(
        ar,
        'Held',
        'Normal',
        `${ar.spec.tool} call by agent ${ar.spec.agent} held for approval by policy ${ar.spec.policy}; decide with: ${decideCommand(ar)} (expires ${expires}, then timeoutAction ${ar.spec.timeoutAction})`,
      ),
    );
  }

  const decision = ar.spec.decision;
  const decidedAt = decision ? decisionTime(ar) : undefined;
  const expired = !expiresAt || now.getTime() >= expiresAt.getTime();
  const expiryAt = expiresAt ?? now;

  // A person's decision, made in time.
  if (decision && !(decidedAt ? expiresAt === undefined || decidedAt.getTime() > expiresAt.getTime() : expired)) {
    const approved = decision.action === 'Approve';
    const at = decidedAt ?? now;
    const status: ApprovalRequestStatus = {
      ...base,
      phase: approved ? 'Approved' : 'Denied',
      decidedBy: decision.by,
      decidedAt: kubeTime(at),
      message: clip(`${approved ? 'approved' : 'denied'} by ${decision.by}${decision.reason ? `: ${decision.reason}` : ''}`),
    };
    events.push(
      ...both(
        ar,
        approved ? 'Approved' : 'Denied',
        approved ? 'Normal' : 'Warning',
        approved
          ? `approved by ${decision.by}${decision.reason ? ` (${decision.reason})` : ''}: the held ${ar.spec.tool} call may run once`
          : `denied by ${decision.by}${decision.reason ? ` (${decision.reason})` : ''}: the held ${ar.spec.tool} call will not run`,
      ),
    );
    return {
      status,
      events,
      notify: false,
      observe: { decision: approved ? 'approved' : 'denied', seconds: seconds(created, at) },
      ...afterTransition(ar, status, now, retentionMs),
    };
  }

  // Expired: nobody decided in time (or the decision came too late).
  if (expired) {
    const late = decision !== undefined;
    const approve = !late && !!expiresAt && ar.spec.timeoutAction === 'approve';
    const why = !expiresAt
      ? `spec.expiresAt ${JSON.stringify(ar.spec.expiresAt)} is not a time`
      : late
        ? `the decision by ${decision.by} came after expiresAt ${kubeTime(expiresAt)} and does not count`
        : `nobody decided before ${kubeTime(expiresAt)}`;
    const status: ApprovalRequestStatus = approve
      ? { ...base, phase: 'Approved', decidedBy: TIMEOUT_DECIDER, decidedAt: kubeTime(expiryAt), message: clip(`${why}: timeoutAction approve`) }
      : { ...base, phase: 'Expired', decidedAt: kubeTime(expiryAt), message: clip(`${why}${late || !expiresAt ? '' : ': timeoutAction reject'}`) };
    events.push(
      ...both(
        ar,
        'Expired',
        approve ? 'Normal' : 'Warning',
        approve ? `${why}; timeoutAction approve: the held ${ar.spec.tool} call may run once` : `${why}; the held ${ar.spec.tool} call will not run`,
      ),
    );
    return { status, events, notify: false, observe: { decision: 'expired', seconds: seconds(created, expiryAt) }, ...afterTransition(ar, status, now, retentionMs) };
  }

  // Still waiting for a person: look again exactly at expiresAt.
  const requeueAfterMs = clampRequeue(expiresAt.getTime() - now.getTime());
  if (recorded === 'Pending') return { ...nothing, requeueAfterMs };
  return {
    status: { ...base, phase: 'Pending', message: clip(`waiting for a person bound to chaperone-approver: ${decideCommand(ar)}`) },
    events,
    delete: false,
    notify: true,
    requeueAfterMs,
  };
}

/** Whether `ar` counts in chaperone_approvals_pending at `now`: undecided and not yet expired. */
export function isPendingAt(ar: ObservedApproval, now: Date): boolean {
  if (!ar?.spec) return false;
  const phase = ar.status?.phase;
  if (phase !== undefined && phase !== 'Pending') return false;
  if (ar.spec.decision) return false;
  const expiresAt = time(ar.spec.expiresAt);
  return !!expiresAt && now.getTime() < expiresAt.getTime();
}

/** The notification for a new pending request: Slack-compatible (`text`), with the request's details. */
export function notificationBody(ar: ObservedApproval): {
  text: string;
  approvalRequest: { namespace: string; name: string; agent: string; tool: string; argumentsPreview: string; expiresAt: string; policy: string };
} {
  const namespace = ar.metadata.namespace ?? '';
  const name = ar.metadata.name ?? '';
  return {
    text:
      `Approval needed: agent ${ar.spec.agent} wants to call ${ar.spec.tool} (policy ${ar.spec.policy}) in namespace ${namespace}. ` +
      `Arguments: ${ar.spec.argumentsPreview}${ar.spec.argumentsTruncated ? ' (truncated)' : ''}. ` +
      `Decide before ${ar.spec.expiresAt} (then timeoutAction ${ar.spec.timeoutAction}): kubectl chaperone approve ${name} -n ${namespace} (or deny).`,
    approvalRequest: {
      namespace,
      name,
      agent: ar.spec.agent,
      tool: ar.spec.tool,
      argumentsPreview: ar.spec.argumentsPreview,
      expiresAt: ar.spec.expiresAt,
      policy: ar.spec.policy,
    },
  };
}
