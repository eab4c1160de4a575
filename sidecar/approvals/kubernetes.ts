// Approvals as ApprovalRequest objects in the pod's namespace. The sidecar talks to the API server
// as the namespace's `chaperone-sidecar` ServiceAccount, whose token the operator writes into a
// Secret that only the sidecar container mounts: the app container can neither read that token nor
// decide a request (deciding is a person's, under the `chaperone-approver` ClusterRole; an admission
// policy checks who). Nothing is kept in memory: a restarted sidecar, or any replica of the same
// agent, finds the same approvals by digest.
import {
  APPROVAL_PLURAL,
  type ApprovalPhase,
  type ApprovalRequestObject,
} from '../../api/approval-names.js';
import { API_VERSION } from '../../api/index.js';
import { kubeTime } from '../../lib/kube-time.js';
import type { HeldTool } from '../policy/verdict.js';
import { decisionTime, effectivePhase, type ObservedApproval } from '../../api/approval-phase.js';
import { apiFailure, SidecarApi, type ApiAnswer, type PodIdentity, type SidecarApiOptions } from '../kube-api.js';
import { ApprovalStoreUnavailable, type ApprovalRecord, type ApprovalStore, type HoldContext } from './store.js';

export interface KubernetesApprovalsOptions extends SidecarApiOptions {
  pod: PodIdentity;
  clock?: () => Date;
}

type Stored = ObservedApproval;

/** Kubernetes names: lower-case alphanumerics and '-', starting and ending alphanumeric. */
function slug(tool: string): string {
  const s = tool.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 30).replace(/-+$/, '');
  return s || 'tool';
}

export class KubernetesApprovals implements ApprovalStore {
  private readonly clock: () => Date;
  private readonly kube: SidecarApi;

  constructor(private readonly options: KubernetesApprovalsOptions) {
    this.clock = options.clock ?? (() => new Date());
    this.kube = new SidecarApi(options, (message) => new ApprovalStoreUnavailable(message));
  }

  private api<T>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<ApiAnswer<T>> {
    return this.kube.call<T>(method, `apis/${API_VERSION}`, `${APPROVAL_PLURAL}${path}`, body);
  }

  private toRecord(obj: Stored): ApprovalRecord {
    const expiresAt = new Date(obj.spec.expiresAt);
    const at = decisionTime(obj);
    const phase = effectivePhase({
      ...(obj.status?.phase ? { recorded: obj.status.phase } : {}),
      ...(obj.spec.decision ? { decision: { action: obj.spec.decision.action, ...(at ? { at } : {}) } } : {}),
      expiresAt,
      timeoutAction: obj.spec.timeoutAction,
      now: this.clock(),
    });
    return {
      name: obj.metadata.name!,
      namespace: obj.metadata.namespace!,
      digest: obj.spec.digest,
      tool: obj.spec.tool,
      heldAt: obj.spec.heldAt,
      phase,
      createdAt: new Date(obj.metadata.creationTimestamp ?? 0),
      expiresAt,
      ...(obj.spec.decision?.by ? { decidedBy: obj.spec.decision.by } : {}),
      ...(obj.spec.decision?.reason ? { reason: obj.spec.decision.reason } : {}),
    };
  }

  private failed(what: string, status: number, json: unknown): never {
    throw new ApprovalStoreUnavailable(apiFailure(what, status, json));
  }

  async find(digest: string): Promise<ApprovalRecord[]> {
    const { status, json } = await this.api<{ items?: Stored[] }>('GET', `?fieldSelector=${encodeURIComponent(`spec.digest=${digest}`)}`);
    if (status !== 200) this.failed('listing approval requests', status, json);
    return (json.items ?? []).map((o) => this.toRecord(o)).sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  }

  async create(hold: HeldTool, context: HoldContext): Promise<ApprovalRecord> {
    const now = this.clock();
    const { pod } = this.options;
    const body: ApprovalRequestObject = {
      apiVersion: API_VERSION,
      kind: 'ApprovalRequest',
      metadata: { generateName: `${slug(hold.tool)}-${hold.digest.slice(0, 8)}-` },
      spec: {
        agent: hold.agent,
        ...(pod.name ? { pod: pod.name } : {}),
        ...(pod.uid ? { podUID: pod.uid } : {}),
        ...(pod.serviceAccount ? { serviceAccount: pod.serviceAccount } : {}),
        tool: hold.tool,
        digest: hold.digest,
        argumentsDigest: hold.argumentsDigest,
        argumentsPreview: hold.preview,
        argumentsTruncated: hold.truncated,
        policy: hold.policy,
        policyGeneration: hold.policyGeneration,
        requestId: context.requestId,
        heldAt: context.heldAt,
        provider: context.provider,
        // Whole seconds: what the API server stores, so what the agent is told is what is kept.
        expiresAt: kubeTime(new Date(Math.ceil((now.getTime() + hold.timeoutSeconds * 1000) / 1000) * 1000)),
        timeoutAction: hold.timeoutAction,
      },
    };
    const { status, json } = await this.api<Stored>('POST', '', body);
    if (status !== 201 && status !== 200) this.failed('creating an approval request', status, json);
    return this.toRecord(json);
  }

  async use(record: ApprovalRecord, requestId: string): Promise<boolean> {
    const path = `/${encodeURIComponent(record.name)}`;
    // Optimistic concurrency: the update names the resourceVersion it read, so of two executions
    // racing for one approval, one gets 409, reads again and finds it Used.
    for (let attempt = 0; attempt < 5; attempt++) {
      const read = await this.api<Stored>('GET', path);
      if (read.status === 404) return false;
      if (read.status !== 200) this.failed(`reading ${record.name}`, read.status, read.json);
      if (this.toRecord(read.json).phase !== 'Approved') return false;
      const now = this.clock().toISOString();
      const status = { ...read.json.status, phase: 'Used' as ApprovalPhase, usedAt: now, usedBy: requestId };
      const { managedFields: _kept, ...metadata } = read.json.metadata; // left out: the server keeps them
      const wrote = await this.api<Stored>('PUT', `${path}/status`, { ...read.json, metadata, status });
      if (wrote.status === 200) return true;
      // Approved by its timeoutAction a moment ago: admission lets the sidecar mark it Used once the
      // operator has recorded it Approved (it does so at expiresAt). Wait for that, briefly.
      const waiting = read.json.status?.phase !== 'Approved' && !read.json.spec.decision && (wrote.status === 403 || wrote.status === 422);
      if (waiting && attempt < 4) {
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      if (wrote.status !== 409) this.failed(`marking ${record.name} used`, wrote.status, wrote.json);
    }
    return false;
  }

  howToDecide(record: ApprovalRecord): string {
    return `a person with the chaperone-approver role approves it: kubectl chaperone approve ${record.name} -n ${record.namespace}`;
  }

  async close(): Promise<void> {
    await this.kube.close();
  }
}
