// Names of the shared counters, one definition for the rate-limit and budget checks.
//
// Rate limits: chaperone:rl:<namespace>/<policy>:<scope>:<agent>:requests|tokens, where scope is
// `rateLimits` or `egress:<rule index>:<rule match>` (as rate-limit.ts keys its local buckets: per
// policy, section or egress rule, and agent). Every key has a TTL (shared-limits/scripts.ts).
//
// Budgets: chaperone:budget:<namespace>/<policy>:agent:<agent>:<UTC day> and
// chaperone:budget:<namespace>/<policy>:session:<session> (shared-limits/budget-scripts.ts). The session id is
// the agent's own header: one that is long or not plain printable ASCII is replaced by its SHA-256,
// so an agent cannot make huge keys or keys that read as another party's.
import { createHash } from 'node:crypto';

export const KEY_PREFIX = 'chaperone:rl:';
export const BUDGET_PREFIX = 'chaperone:budget:';

export interface SharedKeys {
  requests: string;
  tokens: string;
}

export function sharedKeys(policy: string, scope: string, agent: string, prefix = KEY_PREFIX): SharedKeys {
  const base = `${prefix}${policy}:${scope}:${agent}`;
  return { requests: `${base}:requests`, tokens: `${base}:tokens` };
}

export function agentDayKey(policy: string, agent: string, day: string, prefix = BUDGET_PREFIX): string {
  return `${prefix}${policy}:agent:${agent}:${day}`;
}

const PLAIN_SESSION = /^[\x21-\x7e]{1,128}$/;

export function sessionKey(policy: string, session: string, prefix = BUDGET_PREFIX): string {
  const id = PLAIN_SESSION.test(session) ? session : `sha256:${createHash('sha256').update(session).digest('hex')}`;
  return `${prefix}${policy}:session:${id}`;
}

/** The pattern of every agent-day total of a namespace on a day (SCAN MATCH), and how to read one back. */
export function agentDayPattern(namespace: string, day: string, prefix = BUDGET_PREFIX): string {
  const escape = (s: string): string => s.replace(/[*?[\]\\]/g, '\\$&');
  return `${escape(prefix)}${escape(namespace)}/*:agent:*:${escape(day)}`;
}

export function parseAgentDayKey(key: string, prefix = BUDGET_PREFIX): { policy: string; agent: string; day: string } | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const m = /^(.+?):agent:(.+):(\d{4}-\d{2}-\d{2})$/.exec(key.slice(prefix.length));
  return m ? { policy: m[1]!, agent: m[2]!, day: m[3]! } : undefined;
}
