import { describe, expect, it } from 'vitest';
import type { Condition } from '../api/index.js';
import type { PolicyResult } from './namespace-config.js';
import { desiredStatus, MAX_CONDITION_MESSAGE, statusChanged } from './policy-status.js';

const T0 = new Date('2025-03-01T10:00:00.123Z');
const T1 = new Date('2025-03-01T11:30:00.999Z');

const ok: PolicyResult = { name: 'p', generation: 4, ready: true, reason: 'Compiled', message: 'compiled into ConfigMap chaperone-config' };
const bad: PolicyResult = { name: 'p', generation: 4, ready: false, reason: 'Invalid', message: 'spec.schedule.timezone: unknown time zone "Mars/Olympus"' };
const policy = (generation = 4, status?: unknown) => ({
  apiVersion: 'chaperone.dev/v1alpha1', kind: 'GovernancePolicy', metadata: { name: 'p', namespace: 'agents', generation }, spec: {},
  ...(status === undefined ? {} : { status }),
});
const ready = (status: 'True' | 'False', at: string, extra: Partial<Condition> = {}): Condition => ({
  type: 'Ready', status, reason: status === 'True' ? 'Compiled' : 'Invalid', message: 'old', observedGeneration: 3, lastTransitionTime: at, ...extra,
});

describe('desiredStatus', () => {
  it('sets observedGeneration, selectedPods and a Ready condition', () => {
    expect(desiredStatus(policy(), ok, 2, T1)).toEqual({
      observedGeneration: 4,
      selectedPods: 2,
      conditions: [{
        type: 'Ready', status: 'True', reason: 'Compiled', message: 'compiled into ConfigMap chaperone-config',
        observedGeneration: 4, lastTransitionTime: '2025-03-01T11:30:00Z',
      }],
    });
    const s = desiredStatus(policy(), bad, 0, T1);
    expect(s.conditions[0]).toMatchObject({ status: 'False', reason: 'Invalid', message: bad.message });
  });

  // [case, result, previous Ready condition, expected lastTransitionTime]
  it.each<[string, PolicyResult, Condition | undefined, string]>([
    ['no previous condition: now', ok, undefined, '2025-03-01T11:30:00Z'],
    ['True stays True: kept', ok, ready('True', '2025-01-01T00:00:00Z'), '2025-01-01T00:00:00Z'],
    ['False stays False with a new message: kept', bad, ready('False', '2025-01-01T00:00:00Z', { message: 'spec.mode: bad' }), '2025-01-01T00:00:00Z'],
    ['True -> False: now', bad, ready('True', '2025-01-01T00:00:00Z'), '2025-03-01T11:30:00Z'],
    ['False -> True: now', ok, ready('False', '2025-01-01T00:00:00Z'), '2025-03-01T11:30:00Z'],
    ['Unknown -> True: now', ok, ready('True', '2025-01-01T00:00:00Z', { status: 'Unknown' }), '2025-03-01T11:30:00Z'],
    ['same status but no time recorded: now', ok, ready('True', '', {}), '2025-03-01T11:30:00Z'],
  ])('lastTransitionTime, %s', (_label, result, prev, expected) => {
    const s = desiredStatus(policy(), result, 1, T1, prev ? [prev] : []);
    expect(s.conditions).toHaveLength(1);
    expect(s.conditions[0]?.lastTransitionTime).toBe(expected);
    // reason, message and observedGeneration always follow the result
    expect(s.conditions[0]).toMatchObject({ reason: result.reason, message: result.message, observedGeneration: 4 });
  });

  it('reads the previous conditions from policy.status when none are passed', () => {
    const p = policy(5, { observedGeneration: 4, conditions: [ready('True', '2025-01-01T00:00:00Z')] });
    const s = desiredStatus(p, { ...ok, generation: 5 }, 1, T1);
    expect(s.observedGeneration).toBe(5);
    expect(s.conditions[0]).toMatchObject({ observedGeneration: 5, lastTransitionTime: '2025-01-01T00:00:00Z' });
    // an explicit (empty) list wins over the object's status
    expect(desiredStatus(p, ok, 1, T1, []).conditions[0]?.lastTransitionTime).toBe('2025-03-01T11:30:00Z');
  });

  it('keeps conditions of other types, in place', () => {
    const other: Condition = { type: 'Progressing', status: 'True', reason: 'X', lastTransitionTime: '2024-01-01T00:00:00Z' };
    const s = desiredStatus(policy(), bad, 0, T1, [other, ready('True', '2025-01-01T00:00:00Z')]);
    expect(s.conditions.map((c) => [c.type, c.status])).toEqual([['Progressing', 'True'], ['Ready', 'False']]);
    expect(s.conditions[0]).toEqual(other);
    const appended = desiredStatus(policy(), ok, 0, T1, [other]);
    expect(appended.conditions.map((c) => c.type)).toEqual(['Progressing', 'Ready']);
  });

  it('is idempotent: applying it twice at different times is a no-op', () => {
    const first = desiredStatus(policy(), ok, 3, T0);
    const second = desiredStatus(policy(4, first), ok, 3, T1);
    expect(second).toEqual(first);
    expect(statusChanged(first, second)).toBe(false);
  });

  it('truncates an overlong message to the metav1.Condition limit', () => {
    const s = desiredStatus(policy(), { ...bad, message: 'x'.repeat(MAX_CONDITION_MESSAGE + 10) }, 0, T1);
    const msg = s.conditions[0]?.message ?? '';
    expect(msg).toHaveLength(MAX_CONDITION_MESSAGE);
    expect(msg.endsWith('... (truncated)')).toBe(true);
  });

  it('does not modify the previous conditions', () => {
    const prev = [ready('True', '2025-01-01T00:00:00Z')];
    const copy = structuredClone(prev);
    desiredStatus(policy(), bad, 0, T1, prev);
    expect(prev).toEqual(copy);
  });
});

describe('statusChanged', () => {
  const base = desiredStatus(policy(), ok, 2, T0);
  it.each<[string, unknown, unknown, boolean]>([
    ['identical', base, structuredClone(base), false],
    ['keys in another order', base, JSON.parse(JSON.stringify({ selectedPods: 2, conditions: [{ ...base.conditions[0] }].map((c) => Object.fromEntries(Object.entries(c).reverse())), observedGeneration: 4 })), false],
    ['null field versus absent', { ...base, extra: null }, base, false],
    ['both empty', undefined, {}, false],
    ['selectedPods differs', base, { ...base, selectedPods: 3 }, true],
    ['observedGeneration differs', base, { ...base, observedGeneration: 5 }, true],
    ['condition message differs', base, { ...base, conditions: [{ ...base.conditions[0], message: 'other' }] }, true],
    ['transition time differs', base, { ...base, conditions: [{ ...base.conditions[0], lastTransitionTime: '2025-01-01T00:00:00Z' }] }, true],
    ['condition added', base, { ...base, conditions: [...base.conditions, { type: 'Other', status: 'True' }] }, true],
    ['no status yet', undefined, base, true],
  ])('%s -> %s', (_label, a, b, changed) => {
    expect(statusChanged(a, b)).toBe(changed);
    expect(statusChanged(b, a)).toBe(changed);
  });
});
