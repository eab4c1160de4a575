// Which namespaces the operator governs (DESIGN §2): those opted in with the label
// `chaperone.dev/injection: enabled`, those holding a GovernancePolicy and those with a pod annotated
// `chaperone.dev/inject: "true"`; never the system namespaces or Chaperone's own.

export const INJECTION_LABEL = 'chaperone.dev/injection';
export const INJECTION_ENABLED = 'enabled';
/** Namespaces that are never governed, whatever they hold. */
export const NEVER_GOVERNED: ReadonlySet<string> = new Set(['kube-system', 'kube-public', 'kube-node-lease']);

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
  if (NEVER_GOVERNED.has(name) || name === ownNamespace) return false;
  return namespace.metadata.labels?.[INJECTION_LABEL] === INJECTION_ENABLED || hasPolicies || hasInjectPods;
}
