// The contract every provider adapter fulfils. An adapter parses one wire format; it never decides.
import type { JsonPath, Provider, RequestFacts, ResponseFacts, StreamFrame } from '../call.js';

/** The request as an adapter sees it before parsing the body. */
export interface RequestHead {
  host: string;
  method: string;
  /** Path and query. */
  path: string;
  contentType?: string;
  /** The Accept header: a bodiless GET for an event stream (MCP's server stream) is known by it. */
  accept?: string;
}

/** An error answer in the provider's own shape, so SDKs show it well. */
export interface ErrorAnswer {
  contentType: string;
  body: string;
  headers?: Record<string, string>;
  /**
   * The HTTP status to answer with, when the format carries the outcome in its body instead (MCP:
   * 200 with a JSON-RPC answer to each request, which the SDKs hand to the agent; a 4xx they raise
   * as a transport error). Otherwise the data path's status for the decision.
   */
  status?: number;
}

/** Kinds of error the proxy produces; each adapter maps them onto its own type/code vocabulary. */
export type ErrorKind =
  | 'invalid_request' // 400: malformed JSON or shape
  | 'too_large' // 413
  | 'forbidden' // 403: a policy denied it
  | 'approval_required' // 428: held until a person approves it
  | 'rate_limited' // 429
  | 'upstream_unavailable' // 502/503
  | 'upstream_timeout' // 504
  | 'internal';

/** Raised by parseRequest when the body is not what the wire format allows; becomes a 400. */
export class MalformedRequest extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedRequest';
  }
}

/**
 * An upstream stream the sidecar cannot read on (its framing is lost, or one frame is too large to
 * hold): it is cut with a stream error, never passed on unread.
 */
export class UnreadableStream extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnreadableStream';
  }
}

/** Turns a stream's raw bytes into whole frames, keeping a partial frame until the rest arrives. */
export interface StreamParser {
  push(chunk: Buffer): StreamFrame[];
  /** Whatever is left at the end of the stream (a trailing partial frame is returned as is). */
  end(): StreamFrame[];
  /** What the stream said overall: usage, model, proposed tool calls with their full arguments. */
  facts(): ResponseFacts;
}

/** How one stream is to be read. */
export interface StreamParserOptions {
  /**
   * The sidecar asked for usage the agent did not ask for (askForUsage changed the request): frames
   * that carry only that usage are marked sidecarOnly.
   */
  usageAskedBySidecar?: boolean;
}

export interface ProviderAdapter {
  readonly provider: Provider;
  /** Does this adapter speak the request at this host and path? Checked in a fixed order; first wins. */
  matches(head: RequestHead, body: unknown): boolean;
  /** Reads the facts off a parsed JSON body. Throws MalformedRequest for a body the format does not allow. */
  parseRequest(head: RequestHead, body: unknown): RequestFacts;
  /** Reads the facts off a whole (non-streamed) JSON response body. Never throws. */
  parseResponse(body: unknown): ResponseFacts;
  /** Is this response a stream this adapter frames (by content type)? */
  isStream(contentType: string | undefined): boolean;
  /**
   * Does this request's answer come as bytes that are not text (OpenAI audio.speech)? Such an answer
   * has nothing for the checks to read and is relayed as it comes; any other 2xx answer of an
   * inspected call is read as JSON whatever its content type says, since SDKs parse it by what they asked for.
   */
  binaryAnswer?(facts: RequestFacts): boolean;
  /** A fresh incremental parser for one streamed response. */
  streamParser(options?: StreamParserOptions): StreamParser;
  /**
   * For a streamed request whose answer reports token usage only when asked (OpenAI Chat
   * Completions' stream_options.include_usage): asks for it, in place, in the parsed request body,
   * where the service at `head` is known to take the field. Returns whether it changed the body
   * (false when the agent asked already, the request does not stream, or the service may refuse it).
   */
  askForUsage?(head: RequestHead, body: unknown): boolean;
  /** An error body in the provider's own shape; `request` is the parsed request body, when there is one (JSON-RPC answers name its ids). */
  errorAnswer(kind: ErrorKind, message: string, request?: unknown): ErrorAnswer;
  /** A stream frame that ends a stream with an error, in the provider's stream format. */
  streamError(kind: ErrorKind, message: string, request?: unknown): Buffer;
  /**
   * Removes the named tools, in place, from a request's tool list (tools.stripForbidden; a forced
   * tool_choice that named one of them is dropped too), or from the list of tools an answer offers
   * (an MCP tools/list result). Returns how many tool definitions it removed.
   */
  removeTools(body: unknown, names: ReadonlySet<string>): number;
  /**
   * A stream frame with the named tools removed from the tool list it offers (a `tools_offered`
   * event's frame), in the stream's format; only adapters whose streams offer tools have it.
   */
  removeFrameTools?(frame: Buffer, names: ReadonlySet<string>): Buffer;
}

/** Reads a value at a path in parsed JSON (undefined when any step is missing). */
export function getAt(root: unknown, path: JsonPath): unknown {
  let node: unknown = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[key];
  }
  return node;
}

/** Writes a value at a path in parsed JSON that getAt can read; returns false when the path is gone. */
export function setAt(root: unknown, path: JsonPath, value: unknown): boolean {
  if (path.length === 0) return false;
  const parent = getAt(root, path.slice(0, -1));
  if (parent === null || typeof parent !== 'object') return false;
  (parent as Record<string | number, unknown>)[path[path.length - 1]!] = value;
  return true;
}
