// What every listener of the data path shares: built once by the sidecar (main.ts), read by the
// exchange (calls) and the tunnels, which never import each other.
import type { Logger } from '../lib/logger.js';
import type { ApprovalStore } from './approvals/store.js';
import type { AgentStats, Audit } from './audit.js';
import type { ConfigSnapshot } from './config.js';
import type { SidecarMetrics } from './metrics.js';
import type { Pipeline } from './policy/pipeline.js';
import type { ToolPins } from './tool-pins/book.js';
import type { Upstream } from './upstream.js';

/** Everything the data path needs, built once by the sidecar. */
export interface DataPath {
  maxBodyBytes: number;
  /** The largest whole (non-streamed) JSON answer read for its checks; a larger one is refused. */
  maxResponseBytes: number;
  snapshot(): ConfigSnapshot | undefined;
  upstream: Upstream;
  pipeline: Pipeline;
  approvals: ApprovalStore;
  /** MCP tool pins of the namespace (looked up only where a policy has a toolPinning section). */
  toolPins: ToolPins;
  metrics: SidecarMetrics;
  audit: Audit;
  stats: AgentStats;
  log: Logger;
  /** Set on SIGTERM: answers close their connections so clients reconnect elsewhere. */
  draining: boolean;
}

/** Where a request goes. `inspect` = parse and apply the body-level checks. */
export interface Target {
  scheme: 'http' | 'https';
  host: string;
  port: number;
  /**
   * Path and query in canonical form (canonical-path.ts): adapter routing, the egress rules, the
   * audit line and the upstream request all read this one string. Built only by the listeners.
   */
  path: string;
  inspect: boolean;
  /**
   * Set when the request target could not be made canonical (or named another host than its
   * connection's): the exchange answers 400 in the provider's shape and forwards nothing. `path`
   * is then the target as received, for the audit line only.
   */
  refused?: string;
}
