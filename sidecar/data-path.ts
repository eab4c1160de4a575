// What every listener of the data path shares: built once by the sidecar (main.ts), read by the
// exchange (calls) and the tunnels, which never import each other.
import type { Logger } from '../lib/logger.js';
import type { ApprovalStore } from './approvals/store.js';
import type { AgentStats, Audit } from './audit.js';
import type { ConfigSnapshot } from './config.js';
import type { SidecarMetrics } from './metrics.js';
import type { Pipeline } from './policy/pipeline.js';
import type { Upstream } from './upstream.js';

/** Everything the data path needs, built once by the sidecar. */
export interface DataPath {
  maxBodyBytes: number;
  snapshot(): ConfigSnapshot | undefined;
  upstream: Upstream;
  pipeline: Pipeline;
  approvals: ApprovalStore;
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
  path: string;
  inspect: boolean;
}
