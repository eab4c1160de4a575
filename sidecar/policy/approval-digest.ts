// What an approval binds to. A person approves one tool call: this agent, this tool, these exact
// arguments, under this policy at this generation. Equal calls give equal digests, so a resend (or
// the same call from another replica of the agent) finds the approval; any other arguments do not.
import { createHash } from 'node:crypto';
import { APPROVAL_PREVIEW_CHARS } from '../../api/approval-names.js';
import { canonicalJson } from '../../lib/canonical-json.js';
import type { HeldTool } from './verdict.js';

/**
 * A string that holds its own characters. V8 makes a slice of a long string a view that keeps the
 * whole parent alive: a 1 KiB preview would pin megabytes of arguments for as long as it is kept.
 */
const ownCopy = (text: string): string => Buffer.from(text, 'utf8').toString('utf8');

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

function approvalDigest(agent: string, tool: string, argumentsDigest: string, policy: string, generation: number): string {
  return sha256(JSON.stringify([agent, tool, argumentsDigest, policy, generation]));
}

interface HoldTerms {
  agent: string;
  tool: string;
  arguments: unknown;
  /** `<namespace>/<name>` of the policy. */
  policy: string;
  generation: number;
  timeoutSeconds: number;
  timeoutAction: HeldTool['timeoutAction'];
}

/** The held tool call: digests and a bounded preview; the arguments themselves are not kept. */
export function heldTool(terms: HoldTerms): HeldTool {
  const canonical = canonicalJson(terms.arguments ?? null);
  const argumentsDigest = sha256(canonical);
  const truncated = canonical.length > APPROVAL_PREVIEW_CHARS;
  return {
    digest: approvalDigest(terms.agent, terms.tool, argumentsDigest, terms.policy, terms.generation),
    argumentsDigest,
    preview: truncated ? ownCopy(canonical.slice(0, APPROVAL_PREVIEW_CHARS)) : canonical,
    truncated,
    agent: terms.agent,
    tool: terms.tool,
    policy: terms.policy,
    policyGeneration: terms.generation,
    timeoutSeconds: terms.timeoutSeconds,
    timeoutAction: terms.timeoutAction,
  };
}
