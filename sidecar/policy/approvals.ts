// Approvals: a call to a listed tool waits for a person. The check is pure: it answers `hold` with
// what needs approving (the data path registers it and answers 202), or lets through a resend that
// carries a matching, approved, unused approval id (X-Chaperone-Approval), which admit() then uses up.
import { policyKey, type GovernancePolicy } from '../../api/index.js';
import { approvalDigest, canonicalJson, type Approval, type ApprovalStore } from '../approvals.js';
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

/**
 * The approvals a resend claims. X-Chaperone-Approval may list several ids, comma-separated: a call
 * held by two policies (or for two tools) needs one approval from each.
 */
function claimedApprovals(call: Call, store: ApprovalStore): Approval[] {
  if (!call.approvalId) return [];
  return call.approvalId
    .split(',')
    .map((id) => store.get(id.trim()))
    .filter((a): a is Approval => a !== undefined);
}

export function createApprovalCheck(store: ApprovalStore): Check {
  return {
    section: 'approvals',

    request(call, policy): Verdict | undefined {
      const spec = policy.spec.approvals!;
      const key = policyKey(policy);
      const claims = claimedApprovals(call, store);
      for (const tool of heldTools(call, policy)) {
        const digest = digestOf(call, tool, policy);
        const claimed = claims.find((a) => a.digest === digest);
        if (claimed) {
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
      const claims = claimedApprovals(call, store);
      if (claims.length === 0) return;
      const digests = new Set(heldTools(call, policy).map((t) => digestOf(call, t, policy)));
      for (const a of claims) if (digests.has(a.digest)) store.consume(a.id);
    },
  };
}
