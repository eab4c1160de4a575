// Small helpers every component needs once it holds a validated policy.

import type { DlpMode, GovernancePolicy, GovernancePolicySpec, Mode, PolicySection } from './types.js';

const keys = new WeakMap<object, { namespace: string | undefined; name: string; key: string }>();

/**
 * "<namespace>/<name>": how policies are named in headers, metrics and logs. Asked for by every
 * check on every call, so the string is built once per metadata object (and rebuilt if it changed).
 */
export function policyKey(p: Pick<GovernancePolicy, 'metadata'>): string {
  const { namespace, name } = p.metadata;
  const known = keys.get(p.metadata);
  if (known && known.namespace === namespace && known.name === name) return known.key;
  const key = `${namespace ?? 'default'}/${name}`;
  keys.set(p.metadata, { namespace, name, key });
  return key;
}

/**
 * The mode a section runs in: its own if it sets one, else spec.mode, else enforce. dlp's own
 * vocabulary adds `redact`, an enforcing mode (it rewrites where another section would deny).
 */
export function effectiveMode(spec: GovernancePolicySpec, section: PolicySection): Mode {
  const own = spec[section]?.mode;
  if (own === 'redact') return 'enforce';
  return own ?? spec.mode ?? 'enforce';
}

/** dlp.mode if set, else spec.mode (enforce -> enforce, audit -> audit, off -> off). */
export function effectiveDlpMode(spec: GovernancePolicySpec): DlpMode {
  return spec.dlp?.mode ?? spec.mode ?? 'enforce';
}
