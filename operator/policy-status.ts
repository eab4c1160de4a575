// The status the operator writes on a GovernancePolicy: a Ready condition with metav1.Condition
// semantics (lastTransitionTime moves only when the status flips), observedGeneration and the number
// of injected pods the policy selects. Pure: the controller passes in the time and what it observed.

import { isPlainObject, type Condition, type GovernancePolicyStatus } from '../api/index.js';
import { kubeTime } from '../lib/kube-time.js';
import type { PolicyResult } from './namespace-config.js';

export const READY = 'Ready';
/** metav1.Condition limits message to 32768 characters. */
export const MAX_CONDITION_MESSAGE = 32_768;

/** The status written by the operator: every field present. */
export interface PolicyStatus extends GovernancePolicyStatus {
  observedGeneration: number;
  conditions: Condition[];
  selectedPods: number;
}


function truncate(message: string): string {
  if (message.length <= MAX_CONDITION_MESSAGE) return message;
  const suffix = '... (truncated)';
  return message.slice(0, MAX_CONDITION_MESSAGE - suffix.length) + suffix;
}

function generationOf(policy: unknown, result: PolicyResult): number {
  const md = isPlainObject(policy) && isPlainObject(policy.metadata) ? policy.metadata : undefined;
  const g = md?.generation;
  return typeof g === 'number' && Number.isInteger(g) && g >= 0 ? g : result.generation;
}

/**
 * The desired status of `policy` after compiling it into `result`. `previous` is the policy's
 * current status.conditions (defaults to what `policy.status` holds): the Ready condition keeps its
 * lastTransitionTime unless its status changes, and conditions of other types are kept as they are.
 */
export function desiredStatus(
  policy: unknown,
  result: PolicyResult,
  selectedPods: number,
  now: Date,
  previous?: Condition[],
): PolicyStatus {
  const observedGeneration = generationOf(policy, result);
  const prior = previous ?? previousConditions(policy);
  const status: Condition['status'] = result.ready ? 'True' : 'False';
  const old = prior.find((c) => c.type === READY);
  const lastTransitionTime = old && old.status === status && typeof old.lastTransitionTime === 'string' && old.lastTransitionTime !== ''
    ? old.lastTransitionTime
    : kubeTime(now);
  const ready: Condition = {
    type: READY,
    status,
    reason: result.reason,
    message: truncate(result.message),
    observedGeneration,
    lastTransitionTime,
  };
  // Replace Ready in place (list order is what the API server shows); append it when new.
  const conditions = old ? prior.map((c) => (c.type === READY ? ready : structuredClone(c))) : [...prior.map((c) => structuredClone(c)), ready];
  return {
    observedGeneration,
    conditions,
    selectedPods: Math.max(0, Math.trunc(selectedPods)),
  };
}

function previousConditions(policy: unknown): Condition[] {
  const status = isPlainObject(policy) && isPlainObject(policy.status) ? policy.status : undefined;
  const conditions = status?.conditions;
  if (!Array.isArray(conditions)) return [];
  return conditions.filter((c): c is Condition => isPlainObject(c) && typeof c.type === 'string' && typeof c.status === 'string');
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (!isPlainObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) {
    if (v[k] !== undefined && v[k] !== null) out[k] = canonical(v[k]); // the API server prunes nulls
  }
  return out;
}

/**
 * Whether writing status `b` over status `a` would change anything: a deep comparison that ignores
 * key order and absent-versus-null fields, so the controller can skip no-op writes.
 */
export function statusChanged(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a ?? {})) !== JSON.stringify(canonical(b ?? {}));
}
