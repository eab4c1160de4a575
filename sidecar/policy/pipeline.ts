// The policy pipeline: every check of every selected policy looks at the call; the strictest answer
// wins (policy/verdict.ts). Checks are small pure functions registered in CHECKS; each belongs to a
// spec section whose mode (enforce | audit | off, else spec.mode) the pipeline applies for it, so no
// check needs to know about modes.
import type { GovernancePolicy, GovernancePolicySpec } from '../../api/index.js';
import type { Call, ResponseFacts, StreamEvent } from '../call.js';
import { blocks, combine, type Outcome, type Verdict } from './verdict.js';

export type Section = Exclude<keyof GovernancePolicySpec, 'podSelector' | 'mode' | 'intercept'>;

/** Mutable per-sidecar state the checks read and update (rate windows, spend, breakers...). */
export interface PipelineState {
  now(): Date;
}

export interface RequestCheck {
  section: Section;
  /** Returns a verdict as if the section were enforced, or undefined for nothing to say. */
  request(call: Call, policy: GovernancePolicy, state: PipelineState): Verdict | undefined;
}

export interface ResponseCheck {
  section: Section;
  /** A whole response (JSON). */
  response?(call: Call, facts: ResponseFacts, policy: GovernancePolicy, state: PipelineState): Verdict | undefined;
  /** One event of a stream, as it passes. */
  streamEvent?(call: Call, event: StreamEvent, policy: GovernancePolicy, state: PipelineState): Verdict | undefined;
}

export type Mode = 'enforce' | 'audit' | 'off';

/** The mode a section runs in: its own, else the policy's, else enforce. */
export function sectionMode(policy: GovernancePolicy, section: Section): Mode {
  const own = (policy.spec[section] as { mode?: string } | undefined)?.mode;
  // dlp.mode has its own vocabulary; `redact` is an enforcing mode there.
  if (own === 'redact') return 'enforce';
  return ((own as Mode | undefined) ?? (policy.spec.mode as Mode | undefined) ?? 'enforce');
}

/** Applies the section's mode: off drops the verdict, audit turns a stop into a note. */
function applyMode(verdict: Verdict | undefined, mode: Mode): Verdict | undefined {
  if (!verdict || verdict.decision === 'allow' || mode === 'off') return undefined;
  if (mode === 'audit' && (blocks(verdict.decision) || verdict.decision === 'redact')) {
    return { ...verdict, decision: 'audit', rewrites: undefined, stripTools: undefined } as Verdict;
  }
  return verdict;
}

export class Pipeline {
  constructor(
    private readonly requestChecks: readonly RequestCheck[],
    private readonly responseChecks: readonly ResponseCheck[],
    readonly state: PipelineState,
  ) {}

  evaluateRequest(call: Call, policies: readonly GovernancePolicy[]): Outcome {
    const verdicts: Verdict[] = [];
    for (const policy of policies) {
      for (const check of this.requestChecks) {
        const mode = sectionMode(policy, check.section);
        if (mode === 'off' || policy.spec[check.section] === undefined) continue;
        const v = applyMode(check.request(call, policy, this.state), mode);
        if (v) verdicts.push(v);
      }
    }
    return combine(verdicts);
  }

  evaluateResponse(call: Call, facts: ResponseFacts, policies: readonly GovernancePolicy[]): Outcome {
    return this.evaluateEach(policies, (check, policy) => check.response?.(call, facts, policy, this.state));
  }

  evaluateStreamEvent(call: Call, event: StreamEvent, policies: readonly GovernancePolicy[]): Outcome {
    return this.evaluateEach(policies, (check, policy) => check.streamEvent?.(call, event, policy, this.state));
  }

  /** True when some response check could act, so the proxy knows whether to inspect at all. */
  get inspectsResponses(): boolean {
    return this.responseChecks.length > 0;
  }

  private evaluateEach(
    policies: readonly GovernancePolicy[],
    run: (check: ResponseCheck, policy: GovernancePolicy) => Verdict | undefined,
  ): Outcome {
    const verdicts: Verdict[] = [];
    for (const policy of policies) {
      for (const check of this.responseChecks) {
        const mode = sectionMode(policy, check.section);
        if (mode === 'off' || policy.spec[check.section] === undefined) continue;
        const v = applyMode(run(check, policy), mode);
        if (v) verdicts.push(v);
      }
    }
    return combine(verdicts);
  }
}

export const systemState: PipelineState = { now: () => new Date() };
