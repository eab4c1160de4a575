// Which namespaces the operator governs (docs/design.md §2): those opted in with the label
// `chaperone.dev/injection: enabled`, those holding a GovernancePolicy and those with a pod annotated
// `chaperone.dev/inject: "true"`; never the system namespaces or Chaperone's own.

import { INJECTION_ENABLED, INJECTION_LABEL, NEVER_INJECTED_NAMESPACES } from '../api/index.js';

export interface NamespaceLike {
  metadata: { name: string; labels?: Record<string, string> | null };
}

/**
 * Whether `namespace` gets a CA, trust bundle and config. `hasPolicies`: it holds at least one
 * GovernancePolicy (valid or not); `hasInjectPods`: it holds a pod annotated `chaperone.dev/inject: "true"`;
 * `ownNamespace`: where Chaperone itself runs.
 */
export function isGoverned(namespace: NamespaceLike, hasPolicies: boolean, hasInjectPods: boolean, ownNamespace: string): boolean {
  const name = namespace.metadata.name;
  if (NEVER_INJECTED_NAMESPACES.includes(name) || name === ownNamespace) return false;
  return namespace.metadata.labels?.[INJECTION_LABEL] === INJECTION_ENABLED || hasPolicies || hasInjectPods;
}
