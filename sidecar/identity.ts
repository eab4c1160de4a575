// Who is calling. An identity the agent could choose would let it escape its tool list, rate limits
// and budget by naming itself something else, so in a pod the pod says who it is: its
// chaperone.dev/agent annotation (set by whoever deploys it, read through the downward API), else
// "unknown". X-Chaperone-Agent there only names a sub-agent, recorded beside the pod's identity and
// never given rights of its own. Standalone (no pod), the header names the agent, as documented.
import type { ConfigSnapshot } from './config.js';

export interface Identity {
  /** What the policies, limits, budgets, metrics and audit key on. */
  agent: string;
  /** In a pod: the X-Chaperone-Agent the caller sent, when it differs from the pod's identity. */
  subAgent?: string;
}

export const UNKNOWN_AGENT = 'unknown';
/** A sub-agent name is audit text from the agent: bounded and printable. */
const MAX_SUB_AGENT = 128;

export function identify(claimed: string | undefined, snapshot: ConfigSnapshot): Identity {
  const header = claimed?.trim() ?? '';
  if (!snapshot.inPod) return { agent: header || UNKNOWN_AGENT };
  const agent = snapshot.podAgent || UNKNOWN_AGENT;
  const subAgent = header.replace(/[^\x21-\x7e]/g, '').slice(0, MAX_SUB_AGENT);
  return subAgent && subAgent !== agent ? { agent, subAgent } : { agent };
}
