// Every GovernancePolicy's status in a governed namespace: whether it compiled (namespace-config.ts
// judged it) and how many injected pods it selects. Written only when it changed.

import type { V1Pod } from '@kubernetes/client-node';
import { INJECTED_LABEL, isPlainObject, selectorMatches, type LabelSelector } from '../../api/index.js';
import type { ClusterClient, GovernancePolicyObject } from '../cluster-client.js';
import type { PolicyResult } from '../namespace-config.js';
import { desiredStatus, statusChanged } from '../policy-status.js';

/** How many of `pods` the policy's podSelector selects (an unusable selector selects none; the validator reports it). */
export function selectedPods(policy: GovernancePolicyObject, pods: V1Pod[]): number {
  const spec = isPlainObject(policy.spec) ? policy.spec : {};
  const selector = isPlainObject(spec.podSelector) ? (spec.podSelector as LabelSelector) : undefined;
  let selected = 0;
  for (const pod of pods) {
    try {
      if (selectorMatches(selector, pod.metadata?.labels ?? {})) selected++;
    } catch {
      // selects nothing
    }
  }
  return selected;
}

/** `results[i]` is the result for `policies[i]` (desiredConfigMap's order). */
export async function writePolicyStatuses(client: ClusterClient, namespace: string, policies: GovernancePolicyObject[], results: PolicyResult[], pods: V1Pod[], now: Date): Promise<void> {
  const injected = pods.filter((p) => p.metadata?.labels?.[INJECTED_LABEL] === 'true');
  for (const [i, policy] of policies.entries()) {
    const status = desiredStatus(policy, results[i]!, selectedPods(policy, injected), now);
    if (statusChanged(policy.status, status)) await client.writePolicyStatus(namespace, policy.metadata!.name!, status);
  }
}
