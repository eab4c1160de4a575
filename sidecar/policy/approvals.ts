// Approvals: a call to a listed tool waits for a person. The check is pure and knows nothing of
// where approvals live: it names the tool calls to hold, and the data path looks them up
// (sidecar/approvals/), creates what is missing, answers the hold, or uses an approval up.
//
// Where it holds:
// - request: the tool calls the request carries (MCP tools/call, a forced tool, the last assistant
//   turn), unless the data path found them approved (call.approvedDigests).
// - response: a tool call the model proposes, before the agent sees it (so before it can run it).
// - streamEvent: a tool_call event. Its arguments are not complete yet, so the verdict names no
//   tool; the data path holds back the rest of the stream and asks `response` again at its end.
// One approval passes one execution: a call that carries the same held call twice is refused.
import { APPROVAL_DEFAULT_TIMEOUT_ACTION, APPROVAL_DEFAULT_TIMEOUT_SECONDS, policyKey, type GovernancePolicy } from '../../api/index.js';
import { heldTool } from './approval-digest.js';
import type { ToolCall } from '../call.js';
import { anyNameGlob } from '../../api/glob.js';
import type { Check } from './pipeline.js';
import type { HeldTool, Verdict } from './verdict.js';

function holdsOf(agent: string, toolCalls: readonly ToolCall[], policy: GovernancePolicy): HeldTool[] {
  const spec = policy.spec.approvals!;
  return toolCalls
    .filter((t) => anyNameGlob(spec.tools, t.name))
    .map((t) =>
      heldTool({
        agent,
        tool: t.name,
        arguments: t.arguments,
        policy: policyKey(policy),
        generation: policy.metadata.generation ?? 0,
        timeoutSeconds: spec.timeoutSeconds ?? APPROVAL_DEFAULT_TIMEOUT_SECONDS,
        timeoutAction: spec.timeoutAction ?? APPROVAL_DEFAULT_TIMEOUT_ACTION,
      }),
    );
}

function holdVerdict(holds: HeldTool[], policy: GovernancePolicy): Verdict | undefined {
  if (holds.length === 0) return undefined;
  const key = policyKey(policy);
  const seen = new Set<string>();
  for (const h of holds) {
    if (seen.has(h.digest)) {
      const times = holds.filter((o) => o.digest === h.digest).length;
      return {
        decision: 'deny',
        rule: 'approval',
        policy: key,
        reason: `the call carries tool ${h.tool} with the same arguments ${times} times; one approval passes one execution, so send them one at a time`,
      };
    }
    seen.add(h.digest);
  }
  const names = [...new Set(holds.map((h) => h.tool))].join(', ');
  return { decision: 'hold', rule: 'approval', policy: key, reason: `tool ${names} needs a person's approval`, holds };
}

export const approvalsCheck: Check = {
  section: 'approvals',

  request(call, policy) {
    const holds = holdsOf(call.agent, call.toolCalls, policy);
    return holdVerdict(holds.filter((h) => !call.approvedDigests?.has(h.digest)), policy) ?? duplicateOnly(holds, policy);
  },

  response(call, facts, policy) {
    return holdVerdict(holdsOf(call.agent, facts.toolCalls, policy), policy);
  },

  streamEvent(_call, event, policy) {
    if (event.type !== 'tool_call' || !anyNameGlob(policy.spec.approvals!.tools, event.name)) return undefined;
    return { decision: 'hold', rule: 'approval', policy: policyKey(policy), reason: `tool ${event.name} needs a person's approval` };
  },
};

/** An approved call that still carries a held call twice: the duplicate is refused all the same. */
function duplicateOnly(holds: HeldTool[], policy: GovernancePolicy): Verdict | undefined {
  const verdict = holdVerdict(holds, policy);
  return verdict?.decision === 'deny' ? verdict : undefined;
}
