import { describe, expect, it } from 'vitest';
import type { ApprovalPhase } from '../../api/approval-names.js';
import type { HeldTool } from '../policy/verdict.js';
import { MemoryApprovals } from './memory.js';
import { gate, resolveHolds, useAll } from './resolve.js';
import { effectivePhase } from '../../api/approval-phase.js';
import type { ApprovalRecord } from './store.js';

const hold = (digest: string, tool = 'send_email'): HeldTool => ({
  digest, argumentsDigest: 'a', preview: '{}', truncated: false, agent: 'bot', tool, policy: 'ns/p', policyGeneration: 1, timeoutSeconds: 60, timeoutAction: 'reject',
});
const rec = (name: string, digest: string, phase: ApprovalPhase, ageMs = 0, heldAt: 'request' | 'response' = 'request'): ApprovalRecord => ({
  name, digest, tool: 'send_email', heldAt, phase, createdAt: new Date(1_000_000 - ageMs), expiresAt: new Date(2_000_000), ...(phase === 'Denied' ? { decidedBy: 'alice', reason: 'no' } : {}),
});
const found = (...rs: ApprovalRecord[]) => new Map([[rs[0]!.digest, rs]]);

describe('resolveHolds', () => {
  it('passes on an Approved record, waits on a Pending one, creates for none or only Used ones', () => {
    expect(resolveHolds([hold('d')], found(rec('a', 'd', 'Approved')))).toEqual({ kind: 'pass', use: [rec('a', 'd', 'Approved')], digests: ['d'] });
    expect(resolveHolds([hold('d')], found(rec('a', 'd', 'Pending')))).toMatchObject({ kind: 'hold', waiting: [{ name: 'a' }], create: [] });
    expect(resolveHolds([hold('d')], new Map())).toMatchObject({ kind: 'hold', waiting: [], create: [{ digest: 'd' }] });
    expect(resolveHolds([hold('d')], found(rec('a', 'd', 'Approved')))).toMatchObject({ kind: 'pass', digests: ['d'] });
    expect(resolveHolds([hold('d')], found(rec('a', 'd', 'Used')))).toMatchObject({ kind: 'hold', create: [{ digest: 'd' }] });
  });

  it('refuses on the newest record when it is Denied or Expired, naming who and why', () => {
    expect(resolveHolds([hold('d')], found(rec('b', 'd', 'Denied'), rec('a', 'd', 'Used', 5)))).toMatchObject({ kind: 'deny', reason: 'approval b for tool send_email was denied by alice: no' });
    expect(resolveHolds([hold('d')], found(rec('b', 'd', 'Expired')))).toMatchObject({ kind: 'deny', reason: expect.stringMatching(/^approval b for tool send_email expired at/) });
    // An approval waiting to be used wins over an older refusal.
    expect(resolveHolds([hold('d')], found(rec('b', 'd', 'Approved'), rec('a', 'd', 'Denied', 5)))).toMatchObject({ kind: 'pass' });
  });

  it('passes, without another approval, a request reporting a call whose approval was used when the model proposed it', () => {
    const usedAtAnswer = found(rec('a', 'd', 'Used', 0, 'response'));
    expect(resolveHolds([hold('d')], usedAtAnswer, true)).toEqual({ kind: 'pass', use: [], digests: ['d'] });
    // Not a report (an MCP tools/call is the execution itself), or used by an execution at a request: held anew.
    expect(resolveHolds([hold('d')], usedAtAnswer, false)).toMatchObject({ kind: 'hold', create: [{ digest: 'd' }] });
    expect(resolveHolds([hold('d')], found(rec('a', 'd', 'Used', 0, 'request')), true)).toMatchObject({ kind: 'hold' });
  });

  it('needs every held call approved: one missing holds the call, one refused refuses it', () => {
    const records = new Map([['d1', [rec('a', 'd1', 'Approved')]], ['d2', [rec('b', 'd2', 'Pending')]], ['d3', [rec('c', 'd3', 'Denied')]]]);
    expect(resolveHolds([hold('d1'), hold('d2')], records)).toMatchObject({ kind: 'hold', waiting: [{ name: 'b' }] });
    expect(resolveHolds([hold('d1'), hold('d2'), hold('d3')], records).kind).toBe('deny');
  });
});

describe('effectivePhase', () => {
  const t = (s: number) => new Date(s * 1000);
  const base = { expiresAt: t(100), timeoutAction: 'reject' as const, now: t(50) };
  it('follows a decision made in time, even before the operator noticed it', () => {
    expect(effectivePhase({ ...base, decision: { action: 'Approve', at: t(40) } })).toBe('Approved');
    expect(effectivePhase({ ...base, recorded: 'Pending', decision: { action: 'Deny', at: t(40) } })).toBe('Denied');
  });
  it('never honours a decision made after the expiry, or one of unknown time once expired', () => {
    expect(effectivePhase({ ...base, now: t(200), decision: { action: 'Approve', at: t(101) } })).toBe('Expired');
    expect(effectivePhase({ ...base, now: t(200), decision: { action: 'Approve' } })).toBe('Expired');
    expect(effectivePhase({ ...base, decision: { action: 'Approve' } })).toBe('Approved');
  });
  it('applies timeoutAction to an undecided request, and keeps terminal phases', () => {
    expect(effectivePhase({ ...base, now: t(100) })).toBe('Expired');
    expect(effectivePhase({ ...base, now: t(100), timeoutAction: 'approve' })).toBe('Approved');
    expect(effectivePhase(base)).toBe('Pending');
    expect(effectivePhase({ ...base, recorded: 'Used', decision: { action: 'Approve', at: t(40) } })).toBe('Used');
    expect(effectivePhase({ ...base, recorded: 'Expired', timeoutAction: 'approve', now: t(200) })).toBe('Expired');
  });
});

describe('gate and useAll with the in-memory store', () => {
  it('creates once, waits, passes once approved, and one approval passes one execution', async () => {
    const store = new MemoryApprovals();
    const ctx = { requestId: 'r1', heldAt: 'request' as const, provider: 'mcp' };
    const first = await gate(store, [hold('d')], ctx);
    expect(first).toMatchObject({ kind: 'hold', records: [{ phase: 'Pending' }] });
    const name = first.kind === 'hold' ? first.records[0]!.name : '';
    expect(await gate(store, [hold('d')], ctx)).toMatchObject({ kind: 'hold', records: [{ name }] });
    expect(store.decide(name, true, 'admin-token').ok).toBe(true);
    const approved = await gate(store, [hold('d')], ctx);
    expect(approved.kind).toBe('pass');
    const use = approved.kind === 'pass' ? approved.use : [];
    // Two executions race for the one approval: exactly one wins.
    const results = await Promise.all([useAll(store, use, 'r2'), useAll(store, use, 'r3')]);
    expect(results.filter((r) => r === undefined)).toHaveLength(1);
    const after = await gate(store, [hold('d')], ctx);
    expect(after).toMatchObject({ kind: 'hold' });
    expect(after.kind === 'hold' && after.records[0]!.name).not.toBe(name);
  });

  it('bounds what it keeps: a full store refuses new holds instead of growing', async () => {
    const store = new MemoryApprovals();
    const ctx = { requestId: 'r', heldAt: 'request' as const, provider: 'mcp' };
    for (let i = 0; i < 1000; i++) await store.create(hold(`d${i}`), ctx);
    await expect(store.create(hold('one-more'), ctx)).rejects.toThrow(/already waiting/);
  });

  it('cannot decide what is no longer Pending', async () => {
    let now = new Date('2026-12-02T10:00:00Z');
    const store = new MemoryApprovals(() => now);
    const r = await store.create(hold('d'), { requestId: 'r', heldAt: 'response', provider: 'openai' });
    now = new Date(now.getTime() + 61_000);
    expect(store.decide(r.name, true, 'late')).toMatchObject({ ok: false, status: 409, error: expect.stringMatching(/Expired/) });
  });
});
