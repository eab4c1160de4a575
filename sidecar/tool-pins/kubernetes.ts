// Tool pins in the namespace's ConfigMap `chaperone-tool-pins` (created empty by the operator), one
// data entry per MCP server: {"server","pinnedAt","tools":{name: digest}}. The sidecar may read and
// patch that one ConfigMap and create Events, nothing more (operator/sidecar-identity.ts). Pins are
// added, never replaced, by a sidecar: a patch carries the resourceVersion it read, so of two
// sidecars pinning one server at once, the second finds the first's pins and keeps them.
import { TOOL_PINS_CONFIGMAP, toolPinKey } from '../../api/tool-pins.js';
import { apiFailure, SidecarApi, type PodIdentity, type SidecarApiOptions } from '../kube-api.js';
import type { Drift } from '../policy/tool-pin-drift.js';
import { PinStoreUnavailable, type PinnedServer, type ToolPinStore } from './store.js';

interface ConfigMap {
  metadata?: { resourceVersion?: string };
  data?: Record<string, string>;
}

export interface KubernetesToolPinsOptions extends SidecarApiOptions {
  pod: PodIdentity;
  clock?: () => Date;
}

/** A stored entry, read defensively: a person may have edited it by hand. */
function entryOf(server: string, text: string | undefined): PinnedServer | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as Partial<PinnedServer>;
    const tools = v.tools && typeof v.tools === 'object' ? Object.fromEntries(Object.entries(v.tools).filter(([, d]) => typeof d === 'string')) : {};
    return { server, pinnedAt: typeof v.pinnedAt === 'string' ? v.pinnedAt : '', tools };
  } catch {
    // An entry that is not JSON pins nothing: every tool is "not pinned" until a person re-pins.
    return { server, pinnedAt: '', tools: {} };
  }
}

export class KubernetesToolPins implements ToolPinStore {
  private readonly kube: SidecarApi;
  private readonly clock: () => Date;

  constructor(private readonly options: KubernetesToolPinsOptions) {
    this.kube = new SidecarApi(options, (message) => new PinStoreUnavailable(message));
    this.clock = options.clock ?? (() => new Date());
  }

  private async configMap(): Promise<ConfigMap> {
    const { status, json } = await this.kube.call<ConfigMap>('GET', 'api/v1', `configmaps/${TOOL_PINS_CONFIGMAP}`);
    if (status === 404) throw new PinStoreUnavailable(`no ConfigMap ${TOOL_PINS_CONFIGMAP} in the namespace yet (the operator creates it in governed namespaces)`);
    if (status !== 200) throw new PinStoreUnavailable(apiFailure(`reading ConfigMap ${TOOL_PINS_CONFIGMAP}`, status, json));
    return json;
  }

  async read(server: string): Promise<PinnedServer | undefined> {
    return entryOf(server, (await this.configMap()).data?.[toolPinKey(server)]);
  }

  async pinIfAbsent(pins: PinnedServer): Promise<PinnedServer> {
    const key = toolPinKey(pins.server);
    for (let attempt = 0; attempt < 5; attempt++) {
      const cm = await this.configMap();
      const kept = entryOf(pins.server, cm.data?.[key]);
      if (kept) return kept;
      const patch = { metadata: { resourceVersion: cm.metadata?.resourceVersion }, data: { [key]: JSON.stringify(pins) } };
      const { status, json } = await this.kube.call('PATCH', 'api/v1', `configmaps/${TOOL_PINS_CONFIGMAP}`, patch, 'application/merge-patch+json');
      if (status === 200) return pins;
      if (status !== 409) throw new PinStoreUnavailable(apiFailure(`pinning the tools of ${pins.server}`, status, json));
    }
    throw new PinStoreUnavailable(`pinning the tools of ${pins.server}: the ConfigMap kept changing`);
  }

  howToRepin(server: string): string {
    return `a person re-pins it: kubectl chaperone repin ${toolPinKey(server)} (or remove that key from ConfigMap ${TOOL_PINS_CONFIGMAP})`;
  }

  /** A Warning Event on the pod; one that cannot be written is not worth failing a call over. */
  async announce(server: string, drift: Drift): Promise<void> {
    const { pod } = this.options;
    if (!pod.name) return;
    const now = this.clock().toISOString();
    const what = [drift.changed.length ? `changed: ${drift.changed.join(', ')}` : '', drift.added.length ? `not pinned: ${drift.added.join(', ')}` : ''].filter(Boolean).join('; ');
    const namespace = await this.kube.namespace().catch(() => undefined);
    await this.kube.call('POST', 'api/v1', 'events', {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${pod.name}.tool-pins.` },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name: pod.name, ...(pod.uid ? { uid: pod.uid } : {}), ...(namespace ? { namespace } : {}) },
      reason: 'ToolDefinitionChanged',
      type: 'Warning',
      message: `MCP server ${server} offers tools that differ from their pins (${what}). ${this.howToRepin(server)}`.slice(0, 1024),
      source: { component: 'chaperone-sidecar' },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    }).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.kube.close();
  }
}
