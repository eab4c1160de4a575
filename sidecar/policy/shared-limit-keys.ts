// Names of the shared buckets: chaperone:rl:<namespace>/<policy>:<scope>:<agent>:requests|tokens,
// where scope is `rateLimits` or `egress:<rule index>:<rule match>` (as rate-limit.ts keys its
// local buckets: per policy, section or egress rule, and agent). Every key has a TTL
// (shared-limits/scripts.ts).
export const KEY_PREFIX = 'chaperone:rl:';

export interface SharedKeys {
  requests: string;
  tokens: string;
}

export function sharedKeys(policy: string, scope: string, agent: string, prefix = KEY_PREFIX): SharedKeys {
  const base = `${prefix}${policy}:${scope}:${agent}`;
  return { requests: `${base}:requests`, tokens: `${base}:tokens` };
}
