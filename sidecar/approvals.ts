// Human approval holds. A call to a listed tool is held: the sidecar answers 202 with an approval
// id, a person approves or denies it on the admin port, and the agent resends the same call with
// `X-Chaperone-Approval: <id>`. An approval binds to a digest of agent, tool, canonical arguments and
// policy generation, so it cannot be reused for a different call; it is single-use and expires.
import { createHash, randomUUID } from 'node:crypto';
import type { ApprovalRequest } from './policy/verdict.js';

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'used';

export interface Approval extends ApprovalRequest {
  id: string;
  policy: string;
  status: ApprovalStatus;
  createdAt: Date;
  expiresAt: Date;
  decidedAt?: Date;
  decidedBy?: string;
}

/** How long decided or expired records are kept for a resend to find them. */
const RETAIN_MS = 3_600_000;

/** JSON with object keys sorted at every level: equal arguments give equal digests. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function approvalDigest(agent: string, tool: string, args: unknown, policy: string, generation: number | undefined): string {
  return createHash('sha256')
    .update(JSON.stringify([agent, tool, canonicalJson(args), policy, generation ?? 0]))
    .digest('hex');
}

export class ApprovalStore {
  private readonly records = new Map<string, Approval>();

  constructor(private readonly clock: () => Date = () => new Date()) {}

  /** Registers a hold, or returns the pending one for the same digest (an agent retrying). */
  hold(request: ApprovalRequest, policy: string): Approval {
    this.prune();
    for (const r of this.records.values()) {
      if (r.digest === request.digest && r.status === 'pending' && !this.expired(r)) return r;
    }
    const now = this.clock();
    const approval: Approval = {
      ...request,
      id: randomUUID(),
      policy,
      status: 'pending',
      createdAt: now,
      expiresAt: new Date(now.getTime() + request.timeoutSeconds * 1000),
    };
    this.records.set(approval.id, approval);
    return approval;
  }

  get(id: string): Approval | undefined {
    return this.records.get(id);
  }

  expired(a: Approval): boolean {
    return a.status === 'pending' && this.clock().getTime() >= a.expiresAt.getTime();
  }

  /** A person's answer. Only a pending, unexpired approval can be decided. */
  decide(id: string, approve: boolean, by: string): Approval | { error: string; status: number } {
    const a = this.records.get(id);
    if (!a) return { error: `no approval ${id}`, status: 404 };
    if (a.status !== 'pending') return { error: `approval ${id} is already ${a.status}`, status: 409 };
    if (this.expired(a)) return { error: `approval ${id} expired at ${a.expiresAt.toISOString()}`, status: 409 };
    a.status = approve ? 'approved' : 'denied';
    a.decidedAt = this.clock();
    a.decidedBy = by;
    return a;
  }

  /** Marks an approval used: single use. */
  consume(id: string): void {
    const a = this.records.get(id);
    if (a && (a.status === 'approved' || a.status === 'pending')) a.status = 'used';
  }

  pendingCount(): number {
    let n = 0;
    for (const a of this.records.values()) if (a.status === 'pending' && !this.expired(a)) n++;
    return n;
  }

  list(): Approval[] {
    this.prune();
    return [...this.records.values()].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  }

  private prune(): void {
    const cutoff = this.clock().getTime() - RETAIN_MS;
    for (const [id, a] of this.records) {
      if ((a.decidedAt ?? a.expiresAt).getTime() < cutoff) this.records.delete(id);
    }
  }
}

/** The public view of an approval (admin API and the 202 body). */
export function describeApproval(a: Approval, store: ApprovalStore) {
  return {
    id: a.id,
    status: store.expired(a) ? 'expired' : a.status,
    agent: a.agent,
    tool: a.tool,
    arguments: a.arguments,
    policy: a.policy,
    created_at: a.createdAt.toISOString(),
    expires_at: a.expiresAt.toISOString(),
    timeout_action: a.timeoutAction,
    ...(a.decidedBy ? { decided_by: a.decidedBy, decided_at: a.decidedAt?.toISOString() } : {}),
  };
}
