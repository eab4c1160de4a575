// Approvals: a call to a listed tool waits for a person. The check is pure: it answers `hold` with
// what needs approving (the data path registers it and answers 202), or lets through a resend that
// carries a matching, approved, unused approval id (X-Chaperone-Approval), which admit() then uses up.
import { policyKey, type GovernancePolicy } from '../../api/index.js';
import { approvalDigest, canonicalJson, type ApprovalStore } from '../approvals.js';
import type { Call, ToolCall } from '../call.js';
import { anyNameGlob } from './glob.js';
import type { Check } from './pipeline.js';
import type { Verdict } from './verdict.js';

function heldTools(call: Call, policy: GovernancePolicy): ToolCall[] {
  const tools = policy.spec.approvals?.tools;
  return call.toolCalls.filter((t) => anyNameGlob(tools, t.name));
}

const digestOf = (call: Call, tool: ToolCall, policy: GovernancePolicy): string =>
  approvalDigest(call.agent, tool.name, tool.arguments, policyKey(policy), policy.metadata.generation);

export function createApprovalCheck(store: ApprovalStore): Check {
  return {
    section: 'approvals',

    request(call, policy): Verdict | undefined {
      const spec = policy.spec.approvals!;
      const key = policyKey(policy);
      const claimed = call.approvalId ? store.get(call.approvalId) : undefined;
      for (const tool of heldTools(call, policy)) {
        const digest = digestOf(call, tool, policy);
        if (claimed && claimed.digest === digest) {
          if (claimed.status === 'approved') continue;
          const expired = store.expired(claimed);
          if (expired && claimed.timeoutAction === 'approve') continue;
          if (claimed.status === 'denied' || claimed.status === 'used' || expired) {
            const why = expired ? `expired at ${claimed.expiresAt.toISOString()}` : claimed.status === 'used' ? 'was already used' : 'was denied';
            return { decision: 'deny', rule: 'approval', policy: key, reason: `approval ${claimed.id} for tool ${tool.name} ${why}` };
          }
          // Still pending: hold again (the store hands back the same id).
        }
        return {
          decision: 'hold',
          rule: 'approval',
          policy: key,
          reason: `tool ${tool.name} needs a person's approval`,
          approval: {
            digest,
            agent: call.agent,
            tool: tool.name,
            arguments: canonicalJson(tool.arguments ?? null),
            timeoutSeconds: spec.timeoutSeconds ?? 1800,
            timeoutAction: spec.timeoutAction ?? 'reject',
          },
        };
      }
      return undefined;
    },

    admit(call, policy): void {
      if (!call.approvalId) return;
      const claimed = store.get(call.approvalId);
      if (claimed && heldTools(call, policy).some((t) => digestOf(call, t, policy) === claimed.digest)) store.consume(claimed.id);
    },
  };
}
