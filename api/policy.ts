// Small helpers every component needs once it holds a validated policy.

import type { DlpMode, GovernancePolicy, GovernancePolicySpec, Mode, ModedSection } from './types.js';

/** "<namespace>/<name>": how policies are named in headers, metrics and logs. */
export function policyKey(p: Pick<GovernancePolicy, 'metadata'>): string {
  return `${p.metadata.namespace ?? 'default'}/${p.metadata.name}`;
}

/** A section's own mode if it sets one, else spec.mode (itself defaulting to enforce). */
export function effectiveMode(spec: GovernancePolicySpec, section: ModedSection): Mode {
  return spec[section]?.mode ?? spec.mode ?? 'enforce';
}

/** dlp.mode if set, else spec.mode (enforce -> enforce, audit -> audit, off -> off). */
export function effectiveDlpMode(spec: GovernancePolicySpec): DlpMode {
  return spec.dlp?.mode ?? spec.mode ?? 'enforce';
}
