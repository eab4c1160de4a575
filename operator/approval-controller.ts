// The operator's ApprovalRequest controller, the I/O around planApproval (approvals.ts): one key
// (`namespace/name`) per request in its own work queue, fed by an informer on approvalrequests in
// every namespace (main.ts wires the informer into the manager). Only the leader writes. A status is written by
// replace with the resourceVersion the plan was made from, so a sidecar's concurrent Used (or a
// person's decision) is never overwritten: on 409 the object is read again and planned again. Events,
// the notification and the latency observation follow only a write that succeeded, so each happens
// once per transition, whichever replica leads.

import { createHash } from 'node:crypto';
import type { CoreV1Api, CustomObjectsApi, ObjectCache } from '@kubernetes/client-node';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { APPROVAL_KIND, APPROVAL_PLURAL, type ApprovalRequestStatus } from '../api/approval-names.js';
import { API_GROUP, API_VERSION } from '../api/schema.js';
import { isConflict, isNotFound } from '../lib/kube.js';
import type { Logger } from '../lib/logger.js';
import { isPendingAt, notificationBody, planApproval, type ApprovalPlan, type ObservedApproval, type PlannedEvent } from './approval-phases.js';
import { MANAGED_LABELS } from './namespace-config.js';
import type { WorkQueue } from './manager/work-queue.js';

const VERSION = API_VERSION.split('/')[1]!;
/** Re-plans after conflicts before the key goes back to the queue with backoff. */
const MAX_ATTEMPTS = 5;

export interface ApprovalControllerOptions {
  core: CoreV1Api;
  custom: CustomObjectsApi;
  /** The approvalrequests informer's cache. */
  cache: ObjectCache<ObservedApproval>;
  /** The queue the informer feeds (keys `namespace/name`). */
  queue: WorkQueue<string>;
  registry: Registry;
  log: Logger;
  /** reportingInstance of the Events (the pod name). */
  identity: string;
  /** The field manager / Event source. */
  component: string;
  isLeading: () => boolean;
  /** How long Approved, Denied, Expired and Used requests are kept after their last transition. */
  retentionMs: number;
  /** POST a JSON message here for every new pending request. */
  notifyUrl?: string;
  notifyTimeoutMs?: number;
  clock?: () => Date;
}

export interface ApprovalController {
  /**
   * Plans and acts on one key; resolves when done, throws to be retried with backoff. `signal` is
   * the leader's: once aborted (leadership lost), no further write is made.
   */
  worker(key: string, signal?: AbortSignal): Promise<void>;
  /** Queues every request in the cache (on leadership and resyncs). */
  enqueueAll(): void;
  /** Waits for notifications still in flight. */
  drain(): Promise<void>;
}

export const approvalKey = (obj: { metadata?: { namespace?: string; name?: string } }): string | undefined =>
  obj.metadata?.namespace && obj.metadata.name ? `${obj.metadata.namespace}/${obj.metadata.name}` : undefined;

/** An Event name derived from the request, the reason and the target: a second attempt gets AlreadyExists. */
export function approvalEventName(arName: string, reason: string, on: PlannedEvent['on']): string {
  const name = `${arName}.${reason.toLowerCase()}${on === 'Pod' ? '.pod' : ''}`;
  if (name.length <= 253) return name;
  return `${arName.slice(0, 200)}.${createHash('sha256').update(name).digest('hex').slice(0, 16)}`;
}

export function startApprovalController(opts: ApprovalControllerOptions): ApprovalController {
  const { core, custom, cache, queue, log } = opts;
  const clock = opts.clock ?? (() => new Date());

  // --- metrics ---
  new Gauge({
    name: 'chaperone_approvals_pending',
    help: 'ApprovalRequests waiting for a person (undecided, not expired), per namespace. Computed from the cache at scrape time.',
    labelNames: ['namespace'],
    registers: [opts.registry],
    collect() {
      this.reset();
      const now = clock();
      const counts = new Map<string, number>();
      for (const ar of cache.list()) {
        const ns = ar.metadata?.namespace;
        if (ns && isPendingAt(ar, now)) counts.set(ns, (counts.get(ns) ?? 0) + 1);
      }
      for (const [namespace, n] of counts) this.set({ namespace }, n);
    },
  });
  const decisionSeconds = new Histogram({
    name: 'chaperone_approval_decision_seconds',
    help: 'Time from an ApprovalRequest\'s creation to its decision (approved, denied) or expiry (expired).',
    labelNames: ['decision'],
    buckets: [5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400],
    registers: [opts.registry],
  });
  for (const decision of ['approved', 'denied', 'expired']) decisionSeconds.zero({ decision });
  const notifications = new Counter({
    name: 'chaperone_approval_notifications_total',
    help: 'Notifications of new pending ApprovalRequests POSTed to --approval-notify-url, by result (success, error).',
    labelNames: ['result'],
    registers: [opts.registry],
  });
  notifications.inc({ result: 'success' }, 0);
  notifications.inc({ result: 'error' }, 0);

  const coordinates = (namespace: string, name: string) => ({ group: API_GROUP, version: VERSION, plural: APPROVAL_PLURAL, namespace, name });

  async function read(namespace: string, name: string): Promise<ObservedApproval | undefined> {
    try {
      return (await custom.getNamespacedCustomObject(coordinates(namespace, name))) as ObservedApproval;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async function writeStatus(ar: ObservedApproval, status: ApprovalRequestStatus, signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    // The status subresource ignores everything but status; resourceVersion makes the write
    // conditional on the object being what the plan saw.
    const { managedFields: _mf, ...metadata } = ar.metadata;
    await custom.replaceNamespacedCustomObjectStatus({
      ...coordinates(ar.metadata.namespace!, ar.metadata.name!),
      body: { ...ar, metadata, status },
      fieldManager: opts.component,
    });
  }

  async function remove(ar: ObservedApproval, signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    await custom.deleteNamespacedCustomObject({
      ...coordinates(ar.metadata.namespace!, ar.metadata.name!),
      // Not if a sidecar marked it Used (or anything else changed) since the plan was made.
      body: { preconditions: { uid: ar.metadata.uid!, resourceVersion: ar.metadata.resourceVersion! } },
    });
    log.info({ namespace: ar.metadata.namespace, approvalRequest: ar.metadata.name, phase: ar.status?.phase }, 'deleted approval request (retention passed)');
  }

  async function emit(ar: ObservedApproval, event: PlannedEvent, now: Date, signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    const namespace = ar.metadata.namespace!;
    const involvedObject =
      event.on === 'Pod'
        ? { apiVersion: 'v1', kind: 'Pod', name: ar.spec.pod!, namespace, uid: ar.spec.podUID! }
        : { apiVersion: API_VERSION, kind: APPROVAL_KIND, name: ar.metadata.name!, namespace, ...(ar.metadata.uid ? { uid: ar.metadata.uid } : {}) };
    try {
      await core.createNamespacedEvent({
        namespace,
        body: {
          metadata: { name: approvalEventName(ar.metadata.name!, event.reason, event.on), namespace, labels: { ...MANAGED_LABELS } },
          involvedObject,
          reason: event.reason,
          type: event.type,
          message: event.message,
          source: { component: opts.component },
          reportingComponent: opts.component,
          reportingInstance: opts.identity,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (err) {
      // 409: already emitted (by this replica before a restart, or by another leader). Anything
      // else is logged: the transition itself is written and will not be replayed.
      if (!isConflict(err)) log.warn({ namespace, approvalRequest: ar.metadata.name, reason: event.reason, on: event.on, err: String(err) }, 'could not emit approval Event');
    }
  }

  const inFlight = new Set<Promise<void>>();
  function notify(ar: ObservedApproval): void {
    const url = opts.notifyUrl;
    if (!url) return;
    // Never the URL itself in a log line: chat webhooks carry their secret in the path.
    const target = (() => {
      try {
        return new URL(url).host;
      } catch {
        return 'invalid URL';
      }
    })();
    const sent = (async () => {
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(notificationBody(ar)),
          signal: AbortSignal.timeout(opts.notifyTimeoutMs ?? 5_000),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (!res.ok) throw new Error(`answered ${res.status}`);
        notifications.inc({ result: 'success' });
      } catch (err) {
        notifications.inc({ result: 'error' });
        log.warn({ namespace: ar.metadata.namespace, approvalRequest: ar.metadata.name, target, err: err instanceof Error ? err.message : String(err) }, 'approval notification failed (not retried)');
      }
    })();
    inFlight.add(sent);
    void sent.finally(() => inFlight.delete(sent));
  }

  async function act(ar: ObservedApproval, plan: ApprovalPlan, key: string, now: Date, signal: AbortSignal | undefined): Promise<void> {
    if (plan.status) {
      log.info({ namespace: ar.metadata.namespace, approvalRequest: ar.metadata.name, from: ar.status?.phase ?? null, to: plan.status.phase }, 'approval request transition');
    }
    for (const event of plan.events) await emit(ar, event, now, signal);
    if (plan.observe) decisionSeconds.observe({ decision: plan.observe.decision }, plan.observe.seconds);
    if (plan.notify) notify(ar);
    if (plan.requeueAfterMs !== undefined) queue.addAfter(key, plan.requeueAfterMs);
  }

  async function worker(key: string, signal?: AbortSignal): Promise<void> {
    if (!opts.isLeading()) return;
    const slash = key.indexOf('/');
    const namespace = key.slice(0, slash);
    const name = key.slice(slash + 1);
    let ar = cache.get(name, namespace);
    for (let attempt = 0; ar && attempt < MAX_ATTEMPTS; attempt++) {
      const now = clock();
      const plan = planApproval(ar, now, opts.retentionMs);
      try {
        if (plan.status) await writeStatus(ar, plan.status, signal);
        else if (plan.delete) await remove(ar, signal);
      } catch (err) {
        if (isNotFound(err)) return; // deleted meanwhile
        if (!isConflict(err)) throw err;
        ar = await read(namespace, name); // changed meanwhile: plan again from what is there now
        continue;
      }
      if (!plan.delete) await act(ar, plan, key, now, signal);
      return;
    }
    if (ar) throw new Error(`approval request ${key}: still conflicting after ${MAX_ATTEMPTS} attempts`);
  }

  return {
    worker,
    enqueueAll(): void {
      for (const ar of cache.list()) {
        const key = approvalKey(ar);
        if (key) queue.add(key);
      }
    },
    async drain(): Promise<void> {
      await Promise.all([...inFlight]);
    },
  };
}
