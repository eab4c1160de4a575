// Approvals of a standalone sidecar (no cluster): kept in memory, bounded, decided on the admin port
// with the admin token (sidecar/admin.ts). They do not survive a restart; in a pod, approvals are
// ApprovalRequest objects instead (kubernetes.ts).
import { randomUUID } from 'node:crypto';
import type { ApprovalPhase } from '../../api/approval-names.js';
import type { HeldTool } from '../policy/verdict.js';
import { effectivePhase } from '../../api/approval-phase.js';
import { ApprovalStoreUnavailable, type ApprovalRecord, type ApprovalStore, type HoldContext } from './store.js';

/** At most this many records; decided and expired ones go first when it is full. */
export const MAX_MEMORY_APPROVALS = 1000;
/** Decided, used and expired records are kept this long for a resend to find them. */
const RETAIN_MS = 3_600_000;

interface Entry {
  id: string;
  hold: HeldTool;
  context: HoldContext;
  createdAt: Date;
  expiresAt: Date;
  recorded?: ApprovalPhase;
  decision?: { action: 'Approve' | 'Deny'; at: Date; by: string };
  usedBy?: string;
}

export class MemoryApprovals implements ApprovalStore {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly clock: () => Date = () => new Date()) {}

  private phase(e: Entry): ApprovalPhase {
    return effectivePhase({
      ...(e.recorded ? { recorded: e.recorded } : {}),
      ...(e.decision ? { decision: e.decision } : {}),
      expiresAt: e.expiresAt,
      timeoutAction: e.hold.timeoutAction,
      now: this.clock(),
    });
  }

  private record(e: Entry): ApprovalRecord {
    return {
      name: e.id,
      digest: e.hold.digest,
      tool: e.hold.tool,
      heldAt: e.context.heldAt,
      phase: this.phase(e),
      createdAt: e.createdAt,
      expiresAt: e.expiresAt,
      ...(e.decision ? { decidedBy: e.decision.by } : {}),
    };
  }

  async find(digest: string): Promise<ApprovalRecord[]> {
    return [...this.entries.values()]
      .filter((e) => e.hold.digest === digest)
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
      .map((e) => this.record(e));
  }

  async create(hold: HeldTool, context: HoldContext): Promise<ApprovalRecord> {
    this.prune();
    if (this.entries.size >= MAX_MEMORY_APPROVALS) throw new ApprovalStoreUnavailable(`${MAX_MEMORY_APPROVALS} approvals are already waiting`);
    const now = this.clock();
    const e: Entry = { id: randomUUID(), hold, context, createdAt: now, expiresAt: new Date(now.getTime() + hold.timeoutSeconds * 1000) };
    this.entries.set(e.id, e);
    return this.record(e);
  }

  async use(record: ApprovalRecord, requestId: string): Promise<boolean> {
    const e = this.entries.get(record.name);
    if (!e || this.phase(e) !== 'Approved') return false;
    e.recorded = 'Used';
    e.usedBy = requestId;
    return true;
  }

  howToDecide(record: ApprovalRecord): string {
    return `approve it on the sidecar's admin port (POST /approvals/${record.name}/approve with the admin token)`;
  }

  /** A person's answer (admin API). Only a Pending record can be decided. */
  decide(id: string, approve: boolean, by: string): { ok: true; view: ApprovalView } | { ok: false; status: number; error: string } {
    const e = this.entries.get(id);
    if (!e) return { ok: false, status: 404, error: `no approval ${id}` };
    const phase = this.phase(e);
    if (phase !== 'Pending') return { ok: false, status: 409, error: `approval ${id} is ${phase}, only a Pending one can be decided` };
    e.decision = { action: approve ? 'Approve' : 'Deny', at: this.clock(), by };
    return { ok: true, view: this.view(e) };
  }

  get(id: string): ApprovalView | undefined {
    const e = this.entries.get(id);
    return e && this.view(e);
  }

  list(): ApprovalView[] {
    this.prune();
    return [...this.entries.values()].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime()).map((e) => this.view(e));
  }

  pendingCount(): number {
    let n = 0;
    for (const e of this.entries.values()) if (this.phase(e) === 'Pending') n++;
    return n;
  }

  private view(e: Entry): ApprovalView {
    return {
      id: e.id,
      phase: this.phase(e),
      agent: e.hold.agent,
      tool: e.hold.tool,
      arguments_preview: e.hold.preview,
      arguments_truncated: e.hold.truncated,
      arguments_digest: e.hold.argumentsDigest,
      policy: e.hold.policy,
      held_at: e.context.heldAt,
      request_id: e.context.requestId,
      created_at: e.createdAt.toISOString(),
      expires_at: e.expiresAt.toISOString(),
      timeout_action: e.hold.timeoutAction,
      ...(e.decision ? { decided_by: e.decision.by, decided_at: e.decision.at.toISOString() } : {}),
      ...(e.usedBy ? { used_by: e.usedBy } : {}),
    };
  }

  /** Drops records that ended more than RETAIN_MS ago. */
  private prune(): void {
    const cutoff = this.clock().getTime() - RETAIN_MS;
    for (const [id, e] of this.entries) {
      const ended = e.decision?.at ?? e.expiresAt;
      if (this.phase(e) !== 'Pending' && ended.getTime() < cutoff) this.entries.delete(id);
    }
  }
}

/** The admin API's view of one in-memory approval (bounded: a preview, never the whole arguments). */
export interface ApprovalView {
  id: string;
  phase: ApprovalPhase;
  agent: string;
  tool: string;
  arguments_preview: string;
  arguments_truncated: boolean;
  arguments_digest: string;
  policy: string;
  held_at: string;
  request_id: string;
  created_at: string;
  expires_at: string;
  timeout_action: string;
  decided_by?: string;
  decided_at?: string;
  used_by?: string;
}
