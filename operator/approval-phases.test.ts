import { describe, expect, it } from 'vitest';
import { TIMEOUT_DECIDER, type ApprovalPhase, type ApprovalRequestStatus } from '../api/approval-names.js';
import { effectivePhase } from '../api/approval-phase.js';
import {
  MAX_REQUEUE_MS,
  decisionTime,
  isPendingAt,
  lastTransition,
  notificationBody,
  planApproval,
  type ObservedApproval,
} from './approval-phases.js';

const CREATED = new Date('2030-05-01T12:00:00Z');
const EXPIRES = new Date('2030-05-01T12:10:00Z');
const at = (s: number): Date => new Date(CREATED.getTime() + s * 1000);
const HOUR = 3_600_000;
const RETENTION = 24 * HOUR;

function ar(over: { status?: ApprovalRequestStatus; spec?: Partial<ObservedApproval['spec']>; managedFields?: unknown[] } = {}): ObservedApproval {
  return {
    apiVersion: 'chaperone.dev/v1alpha1',
    kind: 'ApprovalRequest',
    metadata: {
      name: 'send-email-0123abcd-x7k2p',
      namespace: 'agents',
      uid: 'ar-uid',
      resourceVersion: '42',
      creationTimestamp: '2030-05-01T12:00:00Z',
      ...(over.managedFields ? { managedFields: over.managedFields as never } : {}),
    },
    spec: {
      agent: 'researcher',
      pod: 'agent-0',
      podUID: 'pod-uid',
      serviceAccount: 'agent',
      tool: 'send_email',
      digest: 'a'.repeat(64),
      argumentsDigest: 'b'.repeat(64),
      argumentsPreview: '{"to":"ceo@example.com"}',
      argumentsTruncated: false,
      policy: 'agents/default',
      policyGeneration: 3,
      requestId: 'req-1',
      heldAt: 'response',
      provider: 'openai',
      expiresAt: '2030-05-01T12:10:00Z',
      timeoutAction: 'reject',
      ...(over.spec ?? {}),
    },
    ...(over.status ? { status: over.status } : {}),
  };
}

/** A managedFields entry as the API server writes it for the update that set spec.decision. */
const decidedBy = (time: Date, manager = 'kubectl-patch') => ({
  manager,
  operation: 'Update',
  apiVersion: 'chaperone.dev/v1alpha1',
  time: time.toISOString().replace('.000Z', 'Z'),
  fieldsType: 'FieldsV1',
  fieldsV1: { 'f:spec': { 'f:decision': { '.': {}, 'f:action': {}, 'f:by': {} } } },
});
const sidecarCreate = {
  manager: 'chaperone-sidecar',
  operation: 'Update',
  time: '2030-05-01T12:00:00Z',
  fieldsV1: { 'f:spec': { 'f:agent': {}, 'f:tool': {} } },
};
const approve = (by = 'alice@example.com', reason?: string) => ({ decision: { action: 'Approve' as const, by, ...(reason ? { reason } : {}) } });
const deny = (by = 'bob@example.com') => ({ decision: { action: 'Deny' as const, by } });
const reasons = (events: Array<{ on: string; reason: string }>): string[] => events.map((e) => `${e.on}/${e.reason}`);

describe('planApproval: first sight', () => {
  it('an object without status becomes Pending: Held on the request and the pod, notify, look again at expiresAt', () => {
    const plan = planApproval(ar(), at(60), RETENTION);
    expect(plan.status).toMatchObject({ phase: 'Pending' });
    expect(plan.status!.message).toContain('kubectl chaperone approve|deny send-email-0123abcd-x7k2p -n agents');
    expect(reasons(plan.events)).toEqual(['ApprovalRequest/Held', 'Pod/Held']);
    expect(plan.events.every((e) => e.type === 'Normal')).toBe(true);
    expect(plan.events[0]!.message).toMatch(/send_email call by agent researcher held .* policy agents\/default/);
    expect(plan.events[0]!.message).toContain('expires 2030-05-01T12:10:00Z, then timeoutAction reject');
    expect(plan.notify).toBe(true);
    expect(plan.delete).toBe(false);
    expect(plan.observe).toBeUndefined();
    expect(plan.requeueAfterMs).toBe(540_000); // exactly at expiresAt
  });

  it('no Event on the pod when the request does not name the pod and its UID', () => {
    expect(reasons(planApproval(ar({ spec: { podUID: undefined } }), at(60), RETENTION).events)).toEqual(['ApprovalRequest/Held']);
    expect(reasons(planApproval(ar({ spec: { pod: undefined } }), at(60), RETENTION).events)).toEqual(['ApprovalRequest/Held']);
  });

  it('decided before the operator first saw it: Held then Approved in one write, no notification', () => {
    const plan = planApproval(ar({ spec: approve(), managedFields: [sidecarCreate, decidedBy(at(30))] }), at(60), RETENTION);
    expect(plan.status).toMatchObject({ phase: 'Approved', decidedBy: 'alice@example.com', decidedAt: '2030-05-01T12:00:30Z' });
    expect(reasons(plan.events)).toEqual(['ApprovalRequest/Held', 'Pod/Held', 'ApprovalRequest/Approved', 'Pod/Approved']);
    expect(plan.notify).toBe(false);
  });

  it('already expired when first seen: Held then Expired, no notification', () => {
    const plan = planApproval(ar(), at(601), RETENTION);
    expect(plan.status?.phase).toBe('Expired');
    expect(reasons(plan.events)).toEqual(['ApprovalRequest/Held', 'Pod/Held', 'ApprovalRequest/Expired', 'Pod/Expired']);
    expect(plan.notify).toBe(false);
  });
});

describe('planApproval: Pending', () => {
  const pending = { phase: 'Pending' as const, message: 'waiting' };

  it('undecided and not expired: nothing to write, look again exactly at expiresAt', () => {
    expect(planApproval(ar({ status: pending }), at(300), RETENTION)).toEqual({ events: [], delete: false, notify: false, requeueAfterMs: 300_000 });
  });

  it('waits at most MAX_REQUEUE_MS before looking again', () => {
    const plan = planApproval(ar({ status: pending, spec: { expiresAt: '2030-05-03T00:00:00Z' } }), at(1), RETENTION);
    expect(plan.requeueAfterMs).toBe(MAX_REQUEUE_MS);
  });

  it('Approve: Approved, decidedBy/decidedAt from the decision, Approved Events, the latency observed', () => {
    const plan = planApproval(ar({ status: pending, spec: approve('alice@example.com', 'looks fine'), managedFields: [sidecarCreate, decidedBy(at(90))] }), at(95), RETENTION);
    expect(plan.status).toEqual({ phase: 'Approved', decidedBy: 'alice@example.com', decidedAt: '2030-05-01T12:01:30Z', message: 'approved by alice@example.com: looks fine' });
    expect(reasons(plan.events)).toEqual(['ApprovalRequest/Approved', 'Pod/Approved']);
    expect(plan.events[0]).toMatchObject({ type: 'Normal' });
    expect(plan.events[0]!.message).toContain('approved by alice@example.com (looks fine)');
    expect(plan.events[1]!.message).toMatch(/^send-email-0123abcd-x7k2p: approved/);
    expect(plan.observe).toEqual({ decision: 'approved', seconds: 90 });
    expect(plan.notify).toBe(false);
    expect(plan.delete).toBe(false);
    expect(plan.requeueAfterMs).toBe(MAX_REQUEUE_MS); // GC in 24 h; looked at again before then
  });

  it('Deny: Denied, Warning Events, observed as denied', () => {
    const plan = planApproval(ar({ status: pending, spec: deny(), managedFields: [decidedBy(at(20))] }), at(25), RETENTION);
    expect(plan.status).toMatchObject({ phase: 'Denied', decidedBy: 'bob@example.com', decidedAt: '2030-05-01T12:00:20Z' });
    expect(reasons(plan.events)).toEqual(['ApprovalRequest/Denied', 'Pod/Denied']);
    expect(plan.events.every((e) => e.type === 'Warning')).toBe(true);
    expect(plan.observe).toEqual({ decision: 'denied', seconds: 20 });
  });

  it('a decision without a recorded time counts as made now (before the expiry)', () => {
    const plan = planApproval(ar({ status: pending, spec: approve() }), at(120), RETENTION);
    expect(plan.status).toMatchObject({ phase: 'Approved', decidedAt: '2030-05-01T12:02:00Z' });
    expect(plan.observe).toEqual({ decision: 'approved', seconds: 120 });
  });

  it('a decision made in time is honoured even when the operator sees it after the expiry', () => {
    const plan = planApproval(ar({ status: pending, spec: approve(), managedFields: [decidedBy(at(599))] }), at(900), RETENTION);
    expect(plan.status).toMatchObject({ phase: 'Approved', decidedAt: '2030-05-01T12:09:59Z' });
  });

  it('a decision made after expiresAt does not count: Expired, whatever the timeoutAction', () => {
    for (const timeoutAction of ['reject', 'approve'] as const) {
      for (const spec of [approve(), deny()]) {
        const plan = planApproval(ar({ status: pending, spec: { ...spec, timeoutAction }, managedFields: [decidedBy(at(601))] }), at(602), RETENTION);
        expect(plan.status?.phase, `${timeoutAction} ${spec.decision.action}`).toBe('Expired');
        expect(plan.status?.decidedBy).toBeUndefined();
        expect(plan.status?.message).toMatch(/came after expiresAt .* does not count/);
        expect(plan.observe).toEqual({ decision: 'expired', seconds: 600 });
      }
    }
    // without a recorded time: too late once the expiry has passed
    expect(planApproval(ar({ status: pending, spec: approve() }), at(600), RETENTION).status?.phase).toBe('Expired');
  });

  it('expiry with timeoutAction reject: Expired, Warning Expired Events, observed as expired', () => {
    const plan = planApproval(ar({ status: pending }), EXPIRES, RETENTION);
    expect(plan.status).toEqual({ phase: 'Expired', decidedAt: '2030-05-01T12:10:00Z', message: 'nobody decided before 2030-05-01T12:10:00Z: timeoutAction reject' });
    expect(reasons(plan.events)).toEqual(['ApprovalRequest/Expired', 'Pod/Expired']);
    expect(plan.events.every((e) => e.type === 'Warning')).toBe(true);
    expect(plan.observe).toEqual({ decision: 'expired', seconds: 600 });
    expect(plan.notify).toBe(false);
  });

  it('expiry with timeoutAction approve: Approved by chaperone:timeoutAction at expiresAt, Expired Events', () => {
    const plan = planApproval(ar({ status: pending, spec: { timeoutAction: 'approve' } }), at(700), RETENTION);
    expect(plan.status).toEqual({
      phase: 'Approved',
      decidedBy: TIMEOUT_DECIDER,
      decidedAt: '2030-05-01T12:10:00Z',
      message: 'nobody decided before 2030-05-01T12:10:00Z: timeoutAction approve',
    });
    expect(TIMEOUT_DECIDER).toBe('chaperone:timeoutAction');
    expect(reasons(plan.events)).toEqual(['ApprovalRequest/Expired', 'Pod/Expired']);
    expect(plan.events[0]).toMatchObject({ type: 'Normal' });
    expect(plan.observe).toEqual({ decision: 'expired', seconds: 600 });
  });

  it('an unreadable expiresAt expires at once and never approves by timeout', () => {
    const plan = planApproval(ar({ status: pending, spec: { expiresAt: 'soon', timeoutAction: 'approve' } }), at(1), RETENTION);
    expect(plan.status?.phase).toBe('Expired');
    expect(plan.status?.message).toMatch(/not a time/);
  });

  it('keeps status fields it does not own', () => {
    const plan = planApproval(ar({ status: { ...pending, extra: 'kept' } as ApprovalRequestStatus, spec: approve() }), at(5), RETENTION);
    expect(plan.status).toMatchObject({ extra: 'kept', phase: 'Approved' });
  });

  it('cuts long messages to the CRD bound', () => {
    const plan = planApproval(ar({ status: pending, spec: approve('alice', 'x'.repeat(5000)) }), at(5), RETENTION);
    expect(plan.status!.message!.length).toBeLessThanOrEqual(1024);
    for (const e of plan.events) expect(e.message.length).toBeLessThanOrEqual(1024);
  });
});

describe('planApproval: final phases and garbage collection', () => {
  it('Denied, Expired and Used are never revived, whatever the spec says', () => {
    for (const phase of ['Denied', 'Expired', 'Used'] as const) {
      for (const spec of [approve(), deny(), { timeoutAction: 'approve' as const }, {}]) {
        const plan = planApproval(ar({ status: { phase, decidedAt: '2030-05-01T12:01:00Z' }, spec, managedFields: [decidedBy(at(10))] }), at(700), RETENTION);
        expect(plan.status, `${phase} ${JSON.stringify(spec)}`).toBeUndefined();
        expect(plan.events).toEqual([]);
        expect(plan.notify).toBe(false);
        expect(plan.observe).toBeUndefined();
      }
    }
  });

  it('Approved is left to the sidecar (no write, even past the expiry or with a Deny in the spec)', () => {
    const plan = planApproval(ar({ status: { phase: 'Approved', decidedBy: 'alice', decidedAt: '2030-05-01T12:01:00Z' }, spec: deny() }), at(3600), RETENTION);
    expect(plan).toEqual({ events: [], delete: false, notify: false, requeueAfterMs: MAX_REQUEUE_MS });
  });

  it('deletes once the last transition (usedAt, else decidedAt, else expiresAt) is older than the retention', () => {
    const retention = 60_000;
    const used = ar({ status: { phase: 'Used', decidedAt: '2030-05-01T12:01:00Z', usedAt: '2030-05-01T12:05:00Z', usedBy: 'req-2' } });
    expect(planApproval(used, at(5 * 60 + 59), retention)).toEqual({ events: [], delete: false, notify: false, requeueAfterMs: 1_000 });
    expect(planApproval(used, at(6 * 60), retention).delete).toBe(true);
    const denied = ar({ status: { phase: 'Denied', decidedAt: '2030-05-01T12:01:00Z' } });
    expect(planApproval(denied, at(119), retention).delete).toBe(false);
    expect(planApproval(denied, at(120), retention).delete).toBe(true);
    const expired = ar({ status: { phase: 'Expired' } }); // no decidedAt: expiresAt
    expect(planApproval(expired, at(659), retention).delete).toBe(false);
    expect(planApproval(expired, at(660), retention).delete).toBe(true);
    const approved = ar({ status: { phase: 'Approved', decidedAt: '2030-05-01T12:01:00Z' } });
    expect(planApproval(approved, at(120), retention).delete).toBe(true);
  });

  it('never deletes a Pending (or new) request, however old', () => {
    const old = ar({ status: { phase: 'Pending' }, spec: { expiresAt: '2031-01-01T00:00:00Z' } });
    expect(planApproval(old, new Date('2030-12-31T00:00:00Z'), 1).delete).toBe(false);
    expect(planApproval(ar({ spec: { expiresAt: '2031-01-01T00:00:00Z' } }), new Date('2030-12-31T00:00:00Z'), 1).delete).toBe(false);
  });

  it('an unknown phase is left alone', () => {
    expect(planApproval(ar({ status: { phase: 'Weird' as ApprovalPhase } }), at(99_999), 1)).toEqual({ events: [], delete: false, notify: false });
  });

  it('a transition to a final phase with retention 0 is written first (deleted on the next look)', () => {
    const plan = planApproval(ar({ status: { phase: 'Pending' }, spec: deny() }), at(5), 0);
    expect(plan.status?.phase).toBe('Denied');
    expect(plan.delete).toBe(false);
    expect(plan.requeueAfterMs).toBe(1);
  });
});

describe('the operator and the sidecar agree on the phase', () => {
  // The sidecar judges a request itself (it does not wait for the operator); what the operator then
  // writes must be what the sidecar already acted on.
  it('for every combination of recorded phase, decision, decision time and clock', () => {
    const decisions = [undefined, approve(), deny()];
    const decisionTimes = [undefined, at(300), at(601)];
    const clocks = [at(100), at(400), at(600), at(700)];
    const phases: Array<ApprovalPhase | undefined> = [undefined, 'Pending'];
    let checked = 0;
    for (const timeoutAction of ['reject', 'approve'] as const) {
      for (const d of decisions) {
        for (const dt of d ? decisionTimes : [undefined]) {
          for (const now of clocks) {
            for (const recorded of phases) {
              if (dt && dt > now) continue; // not decided yet at that time
              const obj = ar({ spec: { ...(d ?? {}), timeoutAction }, ...(recorded ? { status: { phase: recorded } } : {}), ...(dt ? { managedFields: [decidedBy(dt)] } : {}) });
              const plan = planApproval(obj, now, RETENTION);
              const operator = plan.status?.phase ?? recorded ?? 'Pending';
              const sidecar = effectivePhase({
                ...(recorded ? { recorded } : {}),
                ...(d ? { decision: { action: d.decision.action, ...(dt ? { at: dt } : {}) } } : {}),
                expiresAt: EXPIRES,
                timeoutAction,
                now,
              });
              expect(operator, JSON.stringify({ timeoutAction, d, dt, now, recorded })).toBe(sidecar);
              checked++;
            }
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(50);
  });
});

describe('helpers', () => {
  it('decisionTime: the latest main-resource managedFields entry that owns spec.decision', () => {
    expect(decisionTime(ar())).toBeUndefined();
    expect(decisionTime(ar({ managedFields: [sidecarCreate] }))).toBeUndefined();
    expect(decisionTime(ar({ managedFields: [sidecarCreate, decidedBy(at(10)), decidedBy(at(20), 'kubectl-edit')] }))).toEqual(at(20));
    const statusEntry = { ...decidedBy(at(50)), subresource: 'status' };
    expect(decisionTime(ar({ managedFields: [decidedBy(at(10)), statusEntry] }))).toEqual(at(10));
  });

  it('lastTransition: usedAt, decidedAt, expiresAt, creation', () => {
    expect(lastTransition(ar({ status: { usedAt: '2030-05-01T13:00:00Z', decidedAt: '2030-05-01T12:05:00Z' } }))).toEqual(new Date('2030-05-01T13:00:00Z'));
    expect(lastTransition(ar({ status: { decidedAt: '2030-05-01T12:05:00Z' } }))).toEqual(new Date('2030-05-01T12:05:00Z'));
    expect(lastTransition(ar())).toEqual(EXPIRES);
    expect(lastTransition(ar({ spec: { expiresAt: 'x' } }))).toEqual(CREATED);
  });

  it('isPendingAt: undecided, not expired, not final', () => {
    expect(isPendingAt(ar(), at(1))).toBe(true);
    expect(isPendingAt(ar({ status: { phase: 'Pending' } }), at(1))).toBe(true);
    expect(isPendingAt(ar({ status: { phase: 'Pending' } }), at(600))).toBe(false);
    expect(isPendingAt(ar({ status: { phase: 'Pending' }, spec: approve() }), at(1))).toBe(false);
    for (const phase of ['Approved', 'Denied', 'Expired', 'Used'] as const) expect(isPendingAt(ar({ status: { phase } }), at(1))).toBe(false);
  });

  it('notificationBody: Slack-compatible text and the request\'s details', () => {
    const body = notificationBody(ar());
    expect(body.text).toContain('researcher');
    expect(body.text).toContain('send_email');
    expect(body.text).toContain('kubectl chaperone approve send-email-0123abcd-x7k2p -n agents');
    expect(body.approvalRequest).toEqual({
      namespace: 'agents',
      name: 'send-email-0123abcd-x7k2p',
      agent: 'researcher',
      tool: 'send_email',
      argumentsPreview: '{"to":"ceo@example.com"}',
      expiresAt: '2030-05-01T12:10:00Z',
      policy: 'agents/default',
    });
  });
});
