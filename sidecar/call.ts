// The neutral call: what every provider adapter turns its wire format into, and the only thing the
// policy pipeline sees. Nothing here knows about HTTP framing or about policies.

/** The wire-format family that spoke the call. Bounded: it is a metric label. */
export type Provider = 'openai' | 'anthropic' | 'bedrock' | 'gemini' | 'mcp' | 'unknown';

/** Where a value sits inside the parsed JSON body, e.g. ['messages', 0, 'content']. */
export type JsonPath = ReadonlyArray<string | number>;

/** A piece of free text the caller sent or the model produced, with its place in the JSON. */
export interface TextField {
  path: JsonPath;
  text: string;
}

/** A tool invocation: requested by the caller (forced choice, prior turn, MCP) or proposed by a model. */
export interface ToolCall {
  name: string;
  /** Parsed arguments when they are JSON, else the raw string; undefined when none were given. */
  arguments?: unknown;
  id?: string;
}

/** Everything an adapter reads off a request body. */
export interface RequestFacts {
  /** e.g. 'chat.completions', 'responses', 'messages', 'converse', 'converse-stream', 'tools/call'. */
  operation: string;
  model?: string;
  /** Names of the tools the request offers to the model. */
  toolsDefined: string[];
  /** Tool calls the request carries: a forced tool_choice, calls in the last assistant turn, MCP tools/call. */
  toolCalls: ToolCall[];
  /** Text fields to scan (prompts, system text, tool results), located in the JSON for rewriting. */
  texts: TextField[];
  /** Whether the caller asked for a streamed answer. */
  stream: boolean;
  /** The output cap the caller asked for (max_tokens, max_completion_tokens, maxTokens...), if any. */
  maxOutputTokens?: number;
}

/** One intercepted call, as the policy pipeline sees it. */
export interface Call extends RequestFacts {
  /** X-Chaperone-Request-Id. */
  id: string;
  provider: Provider;
  agent: string;
  session?: string;
  /** Upstream host name (no port), lower case. */
  host: string;
  port: number;
  method: string;
  /** Path and query, as sent upstream. */
  path: string;
  /** The parsed JSON body, when there is one. Adapters read it; only the pipeline's rewrites change it. */
  body?: unknown;
  /**
   * Digests of held tool calls a person approved for this execution (set by the data path after it
   * found the approvals; the agent cannot name them): the approvals check lets these through.
   */
  approvedDigests?: ReadonlySet<string>;
  /** The pins of the MCP server this call goes to (set by the data path when a policy pins tools). */
  toolPins?: ToolPinView;
}

/** A tool a server offers, with a digest of its whole definition (name, description, input schema). */
export interface OfferedTool {
  name: string;
  /** sha256 of the definition's canonical JSON: a changed description or schema changes it. */
  digest: string;
}

/**
 * The tool definitions pinned for one MCP server in this namespace, as the data path found them
 * (set on the call after it looked them up; the agent cannot name them): the toolPinning check
 * compares what a server offers, and what a tools/call names, with them.
 */
export interface ToolPinView {
  /** `host:port/path` of the MCP endpoint. */
  server: string;
  /** Tool name -> pinned definition digest. Empty when the server was never listed. */
  pinned: ReadonlyMap<string, string>;
  /** Tool name -> the digest the server offered last (this sidecar's memory). */
  current: ReadonlyMap<string, string>;
  /** The pin store could not answer: nothing can be compared (fail closed in enforce mode). */
  unavailable?: string;
  /** How a person re-pins this server, in words for the agent and the audit line. */
  howToRepin: string;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

/** What an adapter reads off a response, whole or streamed. */
export interface ResponseFacts {
  model?: string;
  usage?: Usage;
  /** Tool calls the model proposes. For streams, arguments are complete only at the end. */
  toolCalls: ToolCall[];
  /** Text the model produced, located in the JSON (whole responses only; streams report deltas as events). */
  texts: TextField[];
  /** Tools a server offers the agent (an MCP tools/list result): the tools check strips those it may not use. */
  toolsOffered?: OfferedTool[];
}

/** Things a stream parser notices in a frame, in order. */
export type StreamEvent =
  | { type: 'tool_call'; name: string; id?: string }
  | { type: 'text'; text: string }
  /** A server's tool list (an MCP tools/list result in a stream). */
  | { type: 'tools_offered'; tools: OfferedTool[] }
  | { type: 'usage'; usage: Partial<Usage> }
  | { type: 'error'; message: string };

/**
 * A complete frame of a stream (one SSE event, one AWS event-stream message) with what it says.
 * The proxy forwards whole frames only, so it can stop a stream between two of them.
 */
export interface StreamFrame {
  bytes: Buffer;
  events: StreamEvent[];
  /**
   * Set when the frame carries data its adapter could not read (JSON that does not parse, say):
   * what it says is unknown, so where answers are checked it is not passed on.
   */
  unreadable?: string;
  /**
   * Set when the frame carries only what the sidecar itself asked the upstream for (the usage chunk
   * of an OpenAI chat stream whose agent did not ask for usage): read, never relayed to the agent.
   */
  sidecarOnly?: boolean;
}
