// What the data path does with held tool calls, given what the store says about each: pass them
// (using one approval each), refuse them (denied or expired), or hold them (waiting on existing
// records, creating the missing ones). Pure; gate() below adds the store's I/O around it.
import type { HeldTool } from '../policy/verdict.js';
import type { ApprovalRecord, ApprovalStore, HoldContext } from './store.js';

export type Resolution =
  | { kind: 'pass'; use: ApprovalRecord[]; digests: string[] }
  | { kind: 'deny'; record: ApprovalRecord; reason: string }
  | { kind: 'hold'; waiting: ApprovalRecord[]; create: HeldTool[] };

function refusal(hold: HeldTool, r: ApprovalRecord): string {
  if (r.phase === 'Expired') return `approval ${r.name} for tool ${hold.tool} expired at ${r.expiresAt.toISOString()} without a decision`;
  const why = r.reason ? `: ${r.reason}` : '';
  return `approval ${r.name} for tool ${hold.tool} was denied${r.decidedBy ? ` by ${r.decidedBy}` : ''}${why}`;
}

/**
 * Per held call: an Approved record passes it; a Pending one keeps it waiting; a Denied or Expired
 * one (the newest record) refuses it; none, or only Used ones (that approval passed its one
 * execution), asks for a new approval. Any refusal refuses the call; any wait holds it.
 *
 * `reportsPastCalls`: the request carries calls the model proposed earlier, with their results (the
 * last assistant turn of a chat): a call whose approval was used when the sidecar released the
 * model's answer already ran with that approval, and passes without another.
 */
export function resolveHolds(holds: readonly HeldTool[], records: ReadonlyMap<string, readonly ApprovalRecord[]>, reportsPastCalls = false): Resolution {
  const use: ApprovalRecord[] = [];
  const digests: string[] = [];
  const waiting: ApprovalRecord[] = [];
  const create: HeldTool[] = [];
  for (const hold of holds) {
    const found = records.get(hold.digest) ?? [];
    if (reportsPastCalls && found.some((r) => r.phase === 'Used' && r.heldAt === 'response')) {
      digests.push(hold.digest);
      continue;
    }
    const approved = found.find((r) => r.phase === 'Approved');
    if (approved) {
      use.push(approved);
      digests.push(hold.digest);
      continue;
    }
    const pending = found.find((r) => r.phase === 'Pending');
    if (pending) {
      waiting.push(pending);
      continue;
    }
    const newest = found[0];
    if (newest && (newest.phase === 'Denied' || newest.phase === 'Expired')) return { kind: 'deny', record: newest, reason: refusal(hold, newest) };
    create.push(hold);
  }
  if (waiting.length > 0 || create.length > 0) return { kind: 'hold', waiting, create };
  return { kind: 'pass', use, digests };
}

export type Gate = { kind: 'pass'; use: ApprovalRecord[]; digests: string[] } | { kind: 'deny'; reason: string; records: ApprovalRecord[] } | { kind: 'hold'; records: ApprovalRecord[] };

/** Looks the held calls up and creates the records a hold needs. Throws ApprovalStoreUnavailable. */
export async function gate(store: ApprovalStore, holds: readonly HeldTool[], context: HoldContext): Promise<Gate> {
  const found = await Promise.all(holds.map(async (h) => [h.digest, await store.find(h.digest)] as const));
  // MCP tools/call is the execution itself; elsewhere a request's tool calls report past ones.
  const r = resolveHolds(holds, new Map(found), context.heldAt === 'request' && context.provider !== 'mcp');
  if (r.kind === 'pass') return r;
  if (r.kind === 'deny') return { kind: 'deny', reason: r.reason, records: [r.record] };
  const created = await Promise.all(r.create.map((h) => store.create(h, context)));
  return { kind: 'hold', records: [...r.waiting, ...created] };
}

/**
 * Uses every approval up, one execution each. The first that another execution used first is
 * returned: the call must not pass on it. (Approvals used before that one stay used: each of
 * them was meant for this one execution, which does not happen; the person is asked again.)
 */
export async function useAll(store: ApprovalStore, records: readonly ApprovalRecord[], requestId: string): Promise<ApprovalRecord | undefined> {
  for (const r of records) if (!(await store.use(r, requestId))) return r;
  return undefined;
}
