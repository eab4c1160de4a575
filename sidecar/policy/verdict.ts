// What a check answers, and how answers from many checks and many policies combine.
import type { ApprovalTimeoutAction } from '../../api/index.js';
import type { JsonPath } from '../call.js';

/** Outcomes, from the mildest to the strictest. A call gets the strictest answer of all checks. */
export const DECISIONS = ['allow', 'audit', 'redact', 'hold', 'rate_limited', 'circuit_open', 'deny'] as const;
/**
 * A policy decision, or `error`: the sidecar answered itself because the request was malformed or
 * too large, or the upstream failed (400, 413, 502, 504). No check ever returns `error`.
 */
export type Decision = (typeof DECISIONS)[number] | 'error';

/** The rule families named in X-Chaperone-Rule and in metrics. */
export type RuleName = 'egress' | 'schedule' | 'tools' | 'rate_limit' | 'dlp' | 'approval' | 'budget' | 'circuit' | 'tool_pinning' | 'threats';

/** A text field to replace in the request (or response) JSON body: DLP redaction. */
export interface TextRewrite {
  path: JsonPath;
  text: string;
}

/**
 * One tool call a person must approve before it runs: what an approval binds to and what the
 * approver is shown. The arguments themselves are never kept, only their digest and a bounded preview.
 */
export interface HeldTool {
  /** sha256 of agent, tool, canonical arguments, policy and its generation (approval-digest.ts). */
  digest: string;
  /** sha256 of the canonical JSON of the arguments. */
  argumentsDigest: string;
  /** The canonical JSON of the arguments, cut to APPROVAL_PREVIEW_CHARS. */
  preview: string;
  truncated: boolean;
  agent: string;
  tool: string;
  /** `<namespace>/<name>` of the policy that holds it, and its generation. */
  policy: string;
  policyGeneration: number;
  timeoutSeconds: number;
  timeoutAction: ApprovalTimeoutAction;
}

export interface Verdict {
  decision: Decision;
  rule?: RuleName;
  /** `<namespace>/<name>` of the policy that gave it. */
  policy?: string;
  /** Human-readable, safe to show the agent: never the matched secret. */
  reason?: string;
  retryAfterSeconds?: number;
  /** DLP: replacements for text fields (decision `redact`). */
  rewrites?: TextRewrite[];
  /** Tools: names to remove from the request's tool list (tools.stripForbidden; decision `redact`). */
  stripTools?: string[];
  /** DLP: findings by detector (counts only, never values). */
  dlp?: Record<string, number>;
  /** Threats: the categories found in tool-call arguments (sql_injection, ssrf, ...; never values). */
  threats?: string[];
  /**
   * Approvals (decision `hold`): the tool calls to hold. Absent on a stream's tool_call event, whose
   * arguments are not complete yet: the data path holds the rest of the stream and asks again at its end.
   */
  holds?: HeldTool[];
}

export const ALLOW: Verdict = Object.freeze({ decision: 'allow' }) as Verdict;

const rank = (d: Decision): number => (d === 'error' ? -1 : DECISIONS.indexOf(d));

/** The combined outcome of a request's checks. */
export interface Outcome {
  /** The strictest verdict; its rule and policy are the ones reported. */
  final: Verdict;
  /** Every non-allow verdict, for audit and metrics. */
  findings: Verdict[];
  /** All rewrites to apply (when the final decision lets the call through). */
  rewrites: TextRewrite[];
  stripTools: string[];
}

/** Combines verdicts: the strictest wins; rewrites from every redacting verdict are kept. */
export function combine(verdicts: Iterable<Verdict>): Outcome {
  let final: Verdict = ALLOW;
  const findings: Verdict[] = [];
  const rewrites: TextRewrite[] = [];
  const stripTools: string[] = [];
  for (const v of verdicts) {
    if (v.decision === 'allow') continue;
    findings.push(v);
    if (v.rewrites) rewrites.push(...v.rewrites);
    if (v.stripTools) stripTools.push(...v.stripTools);
    if (rank(v.decision) > rank(final.decision)) final = v;
  }
  return { final, findings, rewrites, stripTools };
}

/** Does this decision stop the call before it reaches upstream? */
export function blocks(decision: Decision): boolean {
  return rank(decision) >= rank('hold');
}
