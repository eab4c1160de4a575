// Amazon Bedrock runtime (POST /model/{modelId}/{operation}; the model id is URL-encoded and may be
// an ARN): Converse and ConverseStream (bedrock-converse.ts), InvokeModel and
// InvokeModelWithResponseStream, whose bodies are the model's own format (bedrock-invoke.ts).
// Streams of both come in AWS event-stream framing: ConverseStream's events by name, InvokeModel's
// as `chunk` events carrying one of the model's own JSON events in base64.
import { BEDROCK_HOSTS } from '../../api/intercept-hosts.js';
import type { RequestFacts, ResponseFacts, StreamEvent, StreamFrame } from '../call.js';
import { UnreadableStream, type ErrorKind, type ProviderAdapter, type RequestHead, type StreamParser } from './adapter.js';
import { EventStreamDecoder, EventStreamError, encodeMessage, headerString, type DecodedMessage } from './aws-eventstream.js';
import { converseBodyFacts, converseRemoveTools, converseResponseFacts, converseStreamReader, isConverseAnswer } from './bedrock-converse.js';
import { invokeBodyFacts, invokeRemoveTools, invokeResponseFacts, invokeStreamReader } from './bedrock-invoke.js';
import { anyHostGlob } from '../../api/host-glob.js';
import { frameJson, isObject, parseJson, pathOnly, requireObject, str, stringLeaves, UnreadableFrame } from './util.js';

/** Defined in api/ with the other built-in intercept hosts. */
export { BEDROCK_HOSTS };

const OPERATIONS = new Set(['converse', 'converse-stream', 'invoke', 'invoke-with-response-stream']);
const STREAMING = new Set(['converse-stream', 'invoke-with-response-stream']);
// Greedy model part: an ARN sent with unencoded slashes still ends before the operation.
const MODEL_PATH = /^\/model\/(.+)\/([a-z-]+)$/;

/** Model and operation from a /model/{modelId}/{operation} path (any operation). */
function route(path: string): { model: string; operation: string } | undefined {
  const m = MODEL_PATH.exec(pathOnly(path));
  if (!m) return undefined;
  let model = m[1]!;
  try {
    model = decodeURIComponent(model);
  } catch {
    // a stray % — keep the model id as sent
  }
  return { model, operation: m[2]! };
}

function parseRequest(head: RequestHead, body: unknown): RequestFacts {
  const r = route(head.path);
  const facts: RequestFacts = {
    operation: r?.operation ?? 'unknown',
    ...(r !== undefined && { model: r.model }),
    toolsDefined: [],
    toolCalls: [],
    texts: [],
    stream: r !== undefined && STREAMING.has(r.operation),
  };
  if (r?.operation === 'converse' || r?.operation === 'converse-stream') return { ...facts, ...converseBodyFacts(requireObject(body, [])) };
  if (r?.operation === 'invoke' || r?.operation === 'invoke-with-response-stream') return { ...facts, ...invokeBodyFacts(head, r.model, body) };
  // Other model calls (CountTokens, ...): their shape is not read, but every string in them is text.
  return { ...facts, texts: stringLeaves(body, []) };
}

/** Converse's answer shape (Nova's InvokeModel answer too), else an InvokeModel answer by its shape. */
function parseResponse(body: unknown): ResponseFacts {
  if (!isObject(body)) return { toolCalls: [], texts: [] };
  return isConverseAnswer(body) ? converseResponseFacts(body) : invokeResponseFacts(body);
}

function streamParser(): StreamParser {
  const decoder = new EventStreamDecoder();
  const converse = converseStreamReader();
  const invoke = invokeStreamReader();

  const read = (msg: DecodedMessage): StreamEvent[] => {
    const messageType = headerString(msg.headers, ':message-type');
    if (messageType === 'exception') {
      const type = headerString(msg.headers, ':exception-type') ?? 'exception';
      const payload = parseJson(msg.payload.toString('utf8'));
      const message = isObject(payload) ? str(payload.message) ?? str(payload.Message) : undefined;
      return [{ type: 'error', message: `${type}: ${message ?? msg.payload.toString('utf8')}` }];
    }
    if (messageType === 'error') {
      const code = headerString(msg.headers, ':error-code') ?? 'error';
      return [{ type: 'error', message: `${code}: ${headerString(msg.headers, ':error-message') ?? ''}` }];
    }
    const type = headerString(msg.headers, ':event-type');
    // InvokeModelWithResponseStream: {"bytes": "<base64 of one JSON event of the model's stream>"}.
    if (type === 'chunk') return invoke.read(msg.payload);
    return converse.read(type, frameJson(msg.payload.toString('utf8')));
  };

  const toFrame = (msg: DecodedMessage): StreamFrame => {
    try {
      return { bytes: msg.bytes, events: read(msg) };
    } catch (err) {
      return { bytes: msg.bytes, events: [], unreadable: err instanceof UnreadableFrame ? err.message : 'the sidecar could not read it' };
    }
  };

  return {
    push(chunk) {
      try {
        return decoder.push(chunk).map(toFrame);
      } catch (err) {
        // A CRC or length check failed: the framing is lost, and nothing after it can be read.
        if (err instanceof EventStreamError) throw new UnreadableStream(`the AWS event-stream framing is broken (${err.message})`);
        throw err;
      }
    },
    end() {
      // A stream that ends inside a message: the agent's SDK would fail on it, and so do we.
      if (decoder.pending().length > 0) throw new UnreadableStream('the AWS event-stream ends inside a message');
      return [];
    },
    facts: () => {
      const fromChunks = invoke.facts();
      const usage = fromChunks.usage ?? converse.usage();
      return {
        ...(fromChunks.model !== undefined && { model: fromChunks.model }),
        ...(usage !== undefined && { usage }),
        toolCalls: [...converse.toolCalls(), ...fromChunks.toolCalls],
        texts: [],
      };
    },
  };
}

/** Tools leave a Converse-shaped body's toolConfig (Converse, Nova) or an InvokeModel body's tools list. */
function removeTools(body: unknown, names: ReadonlySet<string>): number {
  return converseRemoveTools(body, names) + invokeRemoveTools(body, names);
}

/** restJson1 error names for the x-amzn-ErrorType header of a whole answer. */
const ERROR_TYPES: Record<ErrorKind, string> = {
  invalid_request: 'ValidationException',
  too_large: 'ValidationException',
  forbidden: 'AccessDeniedException',
  approval_required: 'AccessDeniedException',
  rate_limited: 'ThrottlingException',
  upstream_unavailable: 'ServiceUnavailableException',
  upstream_timeout: 'ModelTimeoutException',
  internal: 'InternalServerException',
};

/**
 * Stream exceptions are named by the stream union's member (camelCase), which is what the AWS SDKs
 * look up: ConverseStream's output and InvokeModelWithResponseStream's ResponseStream both have
 * these (the Anthropic Bedrock SDK turns them into an Anthropic `error` event, which it raises).
 * Neither union has an access-denied member, so a denial travels as a validationException: SDKs
 * then raise a proper ValidationException carrying our message.
 */
const STREAM_EXCEPTIONS: Record<ErrorKind, string> = {
  invalid_request: 'validationException',
  too_large: 'validationException',
  forbidden: 'validationException',
  approval_required: 'validationException',
  rate_limited: 'throttlingException',
  upstream_unavailable: 'serviceUnavailableException',
  upstream_timeout: 'modelTimeoutException',
  internal: 'internalServerException',
};

export const bedrockAdapter: ProviderAdapter = {
  provider: 'bedrock',
  // On a Bedrock host any /model/ path; elsewhere (a gateway, a test server) only the known operations.
  matches: (head) =>
    (anyHostGlob(BEDROCK_HOSTS, head.host) && pathOnly(head.path).startsWith('/model/')) ||
    OPERATIONS.has(route(head.path)?.operation ?? ''),
  parseRequest,
  parseResponse,
  isStream: (contentType) => contentType?.toLowerCase().includes('application/vnd.amazon.eventstream') ?? false,
  streamParser,
  errorAnswer: (kind, message) => ({
    contentType: 'application/json',
    body: JSON.stringify({ message }),
    headers: { 'x-amzn-ErrorType': ERROR_TYPES[kind] },
  }),
  streamError: (kind, message) =>
    encodeMessage(
      { ':message-type': 'exception', ':exception-type': STREAM_EXCEPTIONS[kind], ':content-type': 'application/json' },
      JSON.stringify({ message }),
    ),
  removeTools,
};
