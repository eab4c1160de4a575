import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CoreV1Api, CustomObjectsApi, ObjectCache } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApprovalRequestStatus } from '../api/approval-names.js';
import { createLogger } from '../lib/logger.js';
import { approvalEventName, approvalKey, startApprovalController } from './approval-controller.js';
import type { ObservedApproval } from './approval-phases.js';
import type { WorkQueue } from './manager/work-queue.js';

const NOW = new Date('2030-05-01T12:01:00Z');

function ar(name: string, over: { status?: ApprovalRequestStatus; rv?: string; decision?: boolean } = {}): ObservedApproval {
  return {
    apiVersion: 'chaperone.dev/v1alpha1',
    kind: 'ApprovalRequest',
    metadata: { name, namespace: 'agents', uid: `uid-${name}`, resourceVersion: over.rv ?? '10', creationTimestamp: '2030-05-01T12:00:00Z', managedFields: [{ manager: 'x' }] as never },
    spec: {
      agent: 'researcher', pod: 'agent-0', podUID: 'pod-uid', tool: 'send_email', digest: 'a'.repeat(64), argumentsDigest: 'b'.repeat(64),
      argumentsPreview: '{}', argumentsTruncated: false, policy: 'agents/p', policyGeneration: 1, requestId: 'r', heldAt: 'request',
      provider: 'mcp', expiresAt: '2030-05-01T12:10:00Z', timeoutAction: 'reject',
      ...(over.decision ? { decision: { action: 'Approve' as const, by: 'alice' } } : {}),
    },
    ...(over.status ? { status: over.status } : {}),
  };
}

const conflict = Object.assign(new Error('conflict'), { code: 409 });
const notFound = Object.assign(new Error('not found'), { code: 404 });

interface World {
  objects: Map<string, ObservedApproval>;
  /** What the API server has now (re-reads return it). */
  server: Map<string, ObservedApproval>;
  writes: Array<{ name: string; resourceVersion?: string; status: ApprovalRequestStatus }>;
  deletes: Array<{ name: string; preconditions: unknown }>;
  events: Array<{ name: string; reason: string; kind: string; uid?: string }>;
  requeues: Array<[string, number]>;
  /** Answers for the next status writes / deletes / events, in order (undefined: succeed). */
  writeErrors: unknown[];
  deleteErrors: unknown[];
  eventErrors: unknown[];
  leading: boolean;
}

function setup(opts: { notifyUrl?: string } = {}) {
  const w: World = { objects: new Map(), server: new Map(), writes: [], deletes: [], events: [], requeues: [], writeErrors: [], deleteErrors: [], eventErrors: [], leading: true };
  const cache = {
    get: (name: string, namespace?: string) => w.objects.get(`${namespace}/${name}`),
    list: () => [...w.objects.values()],
  } as unknown as ObjectCache<ObservedApproval>;
  const custom = {
    async replaceNamespacedCustomObjectStatus(p: { name: string; body: ObservedApproval }) {
      const err = w.writeErrors.shift();
      if (err) throw err;
      expect(p.body.metadata).not.toHaveProperty('managedFields');
      w.writes.push({ name: p.name, resourceVersion: p.body.metadata.resourceVersion, status: p.body.status! });
    },
    async getNamespacedCustomObject(p: { name: string; namespace: string }) {
      const obj = w.server.get(`${p.namespace}/${p.name}`);
      if (!obj) throw notFound;
      return obj;
    },
    async deleteNamespacedCustomObject(p: { name: string; body: { preconditions: unknown } }) {
      const err = w.deleteErrors.shift();
      if (err) throw err;
      w.deletes.push({ name: p.name, preconditions: p.body.preconditions });
    },
  } as unknown as CustomObjectsApi;
  const core = {
    async createNamespacedEvent(p: { body: { metadata: { name: string }; reason: string; involvedObject: { kind: string; uid?: string } } }) {
      const err = w.eventErrors.shift();
      if (err) throw err;
      w.events.push({ name: p.body.metadata.name, reason: p.body.reason, kind: p.body.involvedObject.kind, ...(p.body.involvedObject.uid ? { uid: p.body.involvedObject.uid } : {}) });
    },
  } as unknown as CoreV1Api;
  const queue = { add: () => undefined, addAfter: (key: string, ms: number) => void w.requeues.push([key, ms]) } as unknown as WorkQueue<string>;
  const registry = new Registry();
  const controller = startApprovalController({
    core, custom, cache, queue, registry,
    log: createLogger('test', 'silent'),
    identity: 'op-0', component: 'chaperone-operator',
    isLeading: () => w.leading,
    retentionMs: 60_000,
    ...(opts.notifyUrl ? { notifyUrl: opts.notifyUrl, notifyTimeoutMs: 500 } : {}),
    clock: () => NOW,
  });
  const put = (obj: ObservedApproval): void => {
    w.objects.set(`agents/${obj.metadata.name}`, obj);
    w.server.set(`agents/${obj.metadata.name}`, obj);
  };
  return { w, controller, registry, put };
}

let hook: Server | undefined;
afterEach(() => {
  hook?.close();
  hook = undefined;
});

describe('approval controller', () => {
  it('writes nothing once the leader\'s signal is aborted (leadership lost)', async () => {
    const { w, controller, put } = setup();
    put(ar('a0'));
    const leadership = new AbortController();
    leadership.abort();
    await expect(controller.worker('agents/a0', leadership.signal)).rejects.toThrow();
    expect(w.writes).toEqual([]);
    expect(w.events).toEqual([]);
  });

  it('first sight: writes Pending with the resourceVersion it read, then Held Events on the request and the pod, then looks again at expiresAt', async () => {
    const { w, controller, put } = setup();
    put(ar('a1'));
    await controller.worker('agents/a1');
    expect(w.writes).toEqual([{ name: 'a1', resourceVersion: '10', status: expect.objectContaining({ phase: 'Pending' }) }]);
    expect(w.events).toEqual([
      { name: 'a1.held', reason: 'Held', kind: 'ApprovalRequest', uid: 'uid-a1' },
      { name: 'a1.held.pod', reason: 'Held', kind: 'Pod', uid: 'pod-uid' },
    ]);
    expect(w.requeues).toEqual([['agents/a1', 540_000]]);
  });

  it('on a conflict it reads the object again and acts on what is there now, never on the stale plan', async () => {
    const { w, controller, put } = setup();
    put(ar('a2', { status: { phase: 'Pending' }, decision: true }));
    // Meanwhile the operator of another replica decided it and a sidecar used it.
    w.server.set('agents/a2', ar('a2', { rv: '12', status: { phase: 'Used', decidedAt: '2030-05-01T12:00:30Z', usedAt: '2030-05-01T12:00:40Z' }, decision: true }));
    w.writeErrors.push(conflict);
    await controller.worker('agents/a2');
    expect(w.writes).toEqual([]); // the Approved write was refused, and Used is not overwritten
    expect(w.events).toEqual([]); // no Approved Events from the refused plan
    expect(w.requeues).toEqual([['agents/a2', 40_000]]); // GC of the Used object 60 s after usedAt
  });

  it('a conflict followed by a still-pending object: the write is retried with the new resourceVersion', async () => {
    const { w, controller, put } = setup();
    put(ar('a3'));
    w.server.set('agents/a3', ar('a3', { rv: '11' }));
    w.writeErrors.push(conflict);
    await controller.worker('agents/a3');
    expect(w.writes.map((x) => x.resourceVersion)).toEqual(['11']);
    expect(w.events.map((e) => e.name)).toEqual(['a3.held', 'a3.held.pod']);
  });

  it('gives up (to be retried with backoff) after repeated conflicts', async () => {
    const { w, controller, put } = setup();
    put(ar('a4'));
    w.writeErrors.push(conflict, conflict, conflict, conflict, conflict);
    await expect(controller.worker('agents/a4')).rejects.toThrow(/still conflicting/);
    expect(w.events).toEqual([]);
  });

  it('does nothing when not leading, or when the object is gone', async () => {
    const { w, controller, put } = setup();
    put(ar('a5'));
    w.leading = false;
    await controller.worker('agents/a5');
    w.leading = true;
    await controller.worker('agents/missing');
    w.server.delete('agents/a5');
    w.writeErrors.push(notFound);
    await controller.worker('agents/a5');
    expect([w.writes, w.events, w.requeues]).toEqual([[], [], []]);
  });

  it('garbage: deletes with the uid and resourceVersion it read as preconditions', async () => {
    const { w, controller, put } = setup();
    put(ar('a6', { rv: '20', status: { phase: 'Denied', decidedAt: '2030-05-01T11:00:00Z' } }));
    await controller.worker('agents/a6');
    expect(w.deletes).toEqual([{ name: 'a6', preconditions: { uid: 'uid-a6', resourceVersion: '20' } }]);
    expect(w.events).toEqual([]);
  });

  it('an Event that already exists (another leader emitted it) is not an error', async () => {
    const { w, controller, put } = setup();
    put(ar('a7'));
    w.eventErrors.push(conflict);
    await controller.worker('agents/a7');
    expect(w.events.map((e) => e.name)).toEqual(['a7.held.pod']);
    expect(w.writes).toHaveLength(1);
  });

  it('metrics: pending per namespace from the cache, decision latency after a decision', async () => {
    const { w, controller, registry, put } = setup();
    put(ar('p1'));
    put(ar('p2', { status: { phase: 'Pending' } }));
    put(ar('d1', { status: { phase: 'Pending' }, decision: true }));
    put(ar('u1', { status: { phase: 'Used' } }));
    const text = async (): Promise<string> => registry.metrics();
    expect(await text()).toMatch(/^chaperone_approvals_pending\{namespace="agents"\} 2$/m);
    await controller.worker('agents/d1');
    expect(w.writes[0]!.status.phase).toBe('Approved');
    expect(await text()).toMatch(/^chaperone_approval_decision_seconds_count\{decision="approved"\} 1$/m);
    expect(await text()).toMatch(/^chaperone_approval_decision_seconds_sum\{decision="approved"\} 60$/m);
    expect(await text()).toMatch(/^chaperone_approval_decision_seconds_count\{decision="denied"\} 0$/m);
  });

  it('notifies once per new pending request; a failing URL is counted, not retried', async () => {
    const bodies: unknown[] = [];
    let status = 200;
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        bodies.push(JSON.parse(body));
        res.writeHead(status).end();
      });
    }).listen(0, '127.0.0.1');
    await once(hook, 'listening');
    const { controller, registry, put } = setup({ notifyUrl: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` });
    put(ar('n1'));
    await controller.worker('agents/n1');
    await controller.drain();
    expect(bodies).toEqual([expect.objectContaining({ text: expect.stringContaining('send_email'), approvalRequest: expect.objectContaining({ name: 'n1', namespace: 'agents' }) })]);
    put(ar('n2', { status: { phase: 'Pending' } })); // already pending: no second notification
    await controller.worker('agents/n2');
    status = 500;
    put(ar('n3'));
    await controller.worker('agents/n3');
    await controller.drain();
    expect(bodies).toHaveLength(2);
    const text = await registry.metrics();
    expect(text).toMatch(/^chaperone_approval_notifications_total\{result="success"\} 1$/m);
    expect(text).toMatch(/^chaperone_approval_notifications_total\{result="error"\} 1$/m);
  });

  it('names: keys are namespace/name; Event names are derived and bounded', () => {
    expect(approvalKey({ metadata: { namespace: 'a', name: 'b' } })).toBe('a/b');
    expect(approvalKey({ metadata: { name: 'b' } })).toBeUndefined();
    expect(approvalEventName('x', 'Approved', 'ApprovalRequest')).toBe('x.approved');
    expect(approvalEventName('x', 'Approved', 'Pod')).toBe('x.approved.pod');
    const long = approvalEventName('n'.repeat(253), 'Held', 'Pod');
    expect(long.length).toBeLessThanOrEqual(253);
    expect(long).not.toBe(approvalEventName('n'.repeat(253), 'Held', 'ApprovalRequest'));
  });
});
