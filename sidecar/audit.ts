// One JSON line per decision (docs/design.md §6). Built from the neutral call and the outcome only:
// it never sees a body or a header value, so it cannot leak a prompt, a secret or a credential.
import type { Logger } from '../lib/logger.js';
import type { Provider, Usage } from './call.js';
import type { Decision, RuleName } from './policy/verdict.js';

export interface AuditRecord {
  requestId: string;
  agent: string;
  /** In a pod: the X-Chaperone-Agent the caller named, beside the pod's identity (no rights of its own). */
  subAgent?: string;
  session?: string;
  provider: Provider;
  operation?: string;
  host: string;
  method: string;
  /** Path without the query string (queries can carry keys, e.g. `?key=`). */
  path: string;
  model?: string;
  tools?: string[];
  toolCalls?: string[];
  /** Tools taken out of what went on: a request's tool list (tools.stripForbidden), a server's tools/list answer. */
  toolsRemoved?: string[];
  decision: Decision;
  rules: RuleName[];
  policy?: string;
  dlp?: Record<string, number>;
  /** Threat categories found in tool-call arguments (spec.threats). */
  threats?: string[];
  status: number;
  latencyMs: number;
  overheadMs: number;
  tokens?: Usage;
  costUsd?: number;
  error?: string;
  /** An answer too large to hold (largeAnswers: checkPrefix): how many of its first bytes the checks read. */
  checkedBytes?: number;
  /** A refused tunnel's reason: its client sees only a closed connection (after CONNECT's 200). */
  reason?: string;
  /** A WebSocket session (recorded when it ends), or one of its messages the checks acted on. */
  websocket?: WebSocketFacts;
}

/** What an audit line says of a WebSocket (sidecar/websocket/). */
export interface WebSocketFacts {
  /** A message's line: the requestId of its session (the upgrade). */
  session?: string;
  /** A message's line: who sent it, and its event type (Realtime). */
  from?: 'client' | 'server';
  event?: string;
  /** A session's line: whole messages each way (sockets whose frames are read), bytes each way. */
  messages?: { fromClient: number; fromServer: number };
  bytes?: { fromClient: number; fromServer: number };
  /** A session's line: the tool calls the model proposed that were judged. */
  toolCallsJudged?: number;
  /** The close code that ended the session (sent by either side, or by the sidecar). */
  closeCode?: number;
}

export class Audit {
  /** `log` should come from createAuditLogger (it adds `audit: true`). */
  constructor(private readonly log: Logger) {}

  record(entry: AuditRecord): void {
    this.log.info(entry, 'decision');
  }
}

/** Per-agent decision counts for the admin /status page. */
export class AgentStats {
  private readonly counts = new Map<string, Partial<Record<Decision, number>>>();

  constructor(private readonly cap: number) {}

  count(agent: string, decision: Decision): void {
    const key = this.counts.has(agent) || this.counts.size < this.cap ? agent : 'other';
    const entry = this.counts.get(key) ?? {};
    entry[decision] = (entry[decision] ?? 0) + 1;
    this.counts.set(key, entry);
  }

  snapshot(): Record<string, Partial<Record<Decision, number>>> {
    return Object.fromEntries(this.counts);
  }
}

export function pathWithoutQuery(path: string): string {
  const q = path.indexOf('?');
  return q === -1 ? path : path.slice(0, q);
}
