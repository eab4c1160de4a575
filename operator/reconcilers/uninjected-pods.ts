// Pods annotated for injection that have no sidecar (created while the webhook was down or failing
// open): each gets one Warning Event `NotInjected`, and they are counted in chaperone_uninjected_pods.

import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { Gauge, type Registry } from 'prom-client';
import { INJECT_ANNOTATION, NEVER_INJECTED_NAMESPACES, PROXY_CONTAINER } from '../../api/index.js';
import type { Logger } from '../../lib/logger.js';
import type { ClusterClient } from '../cluster-client.js';
import { MANAGED_LABELS } from '../namespace-config.js';

/** Event reason on a pod annotated for injection that has no sidecar. */
const NOT_INJECTED_REASON = 'NotInjected';

/**
 * A pod annotated `chaperone.dev/inject: "true"` without the `chaperone-proxy` container. Pods the
 * webhook never injects (hostNetwork, system and Chaperone's own namespaces) and pods being deleted
 * are not counted.
 */
export function isUninjected(pod: V1Pod, ownNamespace: string): boolean {
  const ns = pod.metadata?.namespace ?? '';
  if (NEVER_INJECTED_NAMESPACES.includes(ns) || ns === ownNamespace) return false;
  if (pod.metadata?.annotations?.[INJECT_ANNOTATION] !== 'true' || pod.metadata.deletionTimestamp) return false;
  if (pod.spec?.hostNetwork) return false;
  const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  return !containers.some((c) => c.name === PROXY_CONTAINER);
}

/**
 * The Event for an uninjected pod. Its name is derived from the pod's uid, so a second attempt
 * (this replica after a restart, or another leader) gets AlreadyExists: one Event per pod.
 */
function notInjectedEvent(pod: V1Pod, component: string, instance: string, now: Date): CoreV1Event {
  const { uid = '', name = '', namespace = '' } = pod.metadata ?? {};
  return {
    metadata: { name: `${name}.not-injected.${uid.slice(0, 8)}`, namespace, labels: { ...MANAGED_LABELS } },
    involvedObject: { apiVersion: 'v1', kind: 'Pod', name, namespace, uid },
    reason: NOT_INJECTED_REASON,
    type: 'Warning',
    message: `pod is annotated ${INJECT_ANNOTATION}="true" but has no ${PROXY_CONTAINER} container (created while the webhook was unavailable?); recreate it to get the sidecar`,
    source: { component },
    reportingComponent: component,
    reportingInstance: instance,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
}

/** Reports each uninjected pod once; pods already reported (by uid) cost nothing. */
export class UninjectedPodReporter {
  private readonly reported = new Set<string>();

  constructor(private readonly opts: { ownNamespace: string; component: string; instance: string; log: Logger }) {}

  async report(client: ClusterClient, pods: V1Pod[], now: Date): Promise<void> {
    for (const pod of pods) {
      const uid = pod.metadata?.uid;
      if (!uid || !pod.metadata?.name || this.reported.has(uid) || !isUninjected(pod, this.opts.ownNamespace)) continue;
      if (await client.createEvent(notInjectedEvent(pod, this.opts.component, this.opts.instance, now))) {
        this.opts.log.warn({ namespace: pod.metadata.namespace, pod: pod.metadata.name }, 'pod annotated for injection has no sidecar');
      }
      this.reported.add(uid);
    }
  }
}

/** chaperone_uninjected_pods, counted from the pod cache at scrape time (every replica reports it, leader or not). */
export function registerUninjectedGauge(registry: Registry, pods: () => V1Pod[], ownNamespace: string): void {
  new Gauge({
    name: 'chaperone_uninjected_pods',
    help: 'Pods annotated chaperone.dev/inject="true" that have no chaperone-proxy container, per namespace.',
    labelNames: ['namespace'],
    registers: [registry],
    collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const pod of pods()) {
        const namespace = pod.metadata?.namespace;
        if (namespace && isUninjected(pod, ownNamespace)) counts.set(namespace, (counts.get(namespace) ?? 0) + 1);
      }
      for (const [namespace, n] of counts) this.set({ namespace }, n);
    },
  });
}
