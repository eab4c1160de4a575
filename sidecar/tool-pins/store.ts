// Where tool pins live. In a pod: one ConfigMap per namespace (kubernetes.ts), shared by every
// sidecar there, so the first tools/list any agent of the namespace sees pins a server for all of
// them, and a person re-pins with kubectl. A standalone sidecar keeps them in memory (memory.ts).
import type { Drift } from '../policy/tool-pin-drift.js';

/** One MCP server's pinned tool definitions. */
export interface PinnedServer {
  /** `host:port/path` of the MCP endpoint. */
  server: string;
  /** RFC 3339, when they were pinned. */
  pinnedAt: string;
  /** Tool name -> definition digest (sha256 hex of its canonical JSON). */
  tools: Record<string, string>;
}

export interface ToolPinStore {
  /** A server's pins; undefined when it was never pinned (or a person removed its pins to re-pin it). */
  read(server: string): Promise<PinnedServer | undefined>;
  /** Pins a server unless it is pinned already; returns what is pinned now (the first writer wins). */
  pinIfAbsent(pins: PinnedServer): Promise<PinnedServer>;
  /** How a person re-pins a server, in words for the agent, the audit line and the Event. */
  howToRepin(server: string): string;
  /** Tells the people who run the namespace that a server's tools changed (a Kubernetes Event). */
  announce(server: string, drift: Drift): Promise<void>;
}

/** The pin store cannot answer (no credentials yet, API server unreachable, no ConfigMap). */
export class PinStoreUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PinStoreUnavailable';
  }
}
