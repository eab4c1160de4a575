// Amazon Bedrock runtime: Converse and ConverseStream (POST /model/{modelId}/converse[-stream]).
// The model is named in the path (URL-encoded; may be an ARN). InvokeModel paths are recognised
// too, but their bodies are model-specific, so only the model and the stream flag are read.
import { BEDROCK_HOSTS } from '../../api/intercept-hosts.js';
import type { RequestFacts, ResponseFacts, StreamEvent, StreamFrame, TextField, ToolCall, Usage } from '../call.js';
import { UnreadableStream, type ErrorKind, type ProviderAdapter, type RequestHead, type StreamParser } from './adapter.js';
import { EventStreamDecoder, EventStreamError, encodeMessage, headerString, type DecodedMessage } from './aws-eventstream.js';
import { hostMatches } from './hosts.js';
import {
  arr, frameJson, isObject, malformed, num, objectTexts, optionalArray, parseJson, pathOnly, requireObject, schemaTexts, str, stringLeaves, toolDefinitionTexts,
  toolCall, ToolCallCollector, UnreadableFrame, type Obj,
  usageFrom,
} from './util.js';

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

/** Text-bearing content blocks: text, guardContent, text documents, and tool results. */
function blockTexts(block: Obj, path: (string | number)[], out: TextField[]): void {
  if (typeof block.text === 'string') out.push({ path: [...path, 'text'], text: block.text });
  if (isObject(block.guardContent) && isObject(block.guardContent.text) && typeof block.guardContent.text.text === 'string') {
    out.push({ path: [...path, 'guardContent', 'text', 'text'], text: block.guardContent.text.text });
  }
  if (isObject(block.document) && isObject(block.document.source) && typeof block.document.source.text === 'string') {
    out.push({ path: [...path, 'document', 'source', 'text'], text: block.document.source.text });
  }
  if (isObject(block.toolUse) && block.toolUse.input !== undefined) {
    stringLeaves(block.toolUse.input, [...path, 'toolUse', 'input'], out); // every turn's tool inputs
  }
  if (isObject(block.toolResult)) {
    arr(block.toolResult.content).forEach((c, k) => {
      if (!isObject(c)) return;
      const at = [...path, 'toolResult', 'content', k];
      if (typeof c.text === 'string') out.push({ path: [...at, 'text'], text: c.text });
      if (c.json !== undefined) stringLeaves(c.json, [...at, 'json'], out);
    });
  }
}

function parseConverse(b: Obj): Pick<RequestFacts, 'toolsDefined' | 'toolCalls' | 'texts' | 'maxOutputTokens'> {
  const texts: TextField[] = [];
  optionalArray(b.system, ['system']).forEach((s, i) => blockTexts(requireObject(s, ['system', i]), ['system', i], texts));

  let lastAssistant: unknown[] = [];
  optionalArray(b.messages, ['messages']).forEach((m, i) => {
    const msg = requireObject(m, ['messages', i]);
    if (!Array.isArray(msg.content)) throw malformed(['messages', i, 'content'], 'must be an array');
    msg.content.forEach((c, j) => blockTexts(requireObject(c, ['messages', i, 'content', j]), ['messages', i, 'content', j], texts));
    if (msg.role === 'assistant') lastAssistant = msg.content;
  });

  const toolsDefined: string[] = [];
  const toolCalls: ToolCall[] = [];
  if (b.toolConfig !== undefined && b.toolConfig !== null) {
    const config = requireObject(b.toolConfig, ['toolConfig']);
    optionalArray(config.tools, ['toolConfig', 'tools']).forEach((t, i) => {
      const tool = requireObject(t, ['toolConfig', 'tools', i]);
      if (isObject(tool.toolSpec) && typeof tool.toolSpec.name === 'string') toolsDefined.push(tool.toolSpec.name);
      if (isObject(tool.toolSpec)) {
        const at = ['toolConfig', 'tools', i, 'toolSpec'];
        toolDefinitionTexts(tool.toolSpec.description, undefined, at, 'description', '', texts);
        if (isObject(tool.toolSpec.inputSchema)) schemaTexts(tool.toolSpec.inputSchema.json, [...at, 'inputSchema', 'json'], texts);
      }
    });
    const choice = config.toolChoice;
    if (isObject(choice) && isObject(choice.tool) && typeof choice.tool.name === 'string') toolCalls.push({ name: choice.tool.name });
  }
  // toolUse blocks of the last assistant turn: the calls whose results this request carries.
  for (const c of lastAssistant) {
    if (isObject(c) && isObject(c.toolUse) && typeof c.toolUse.name === 'string') {
      toolCalls.push(toolCall(c.toolUse.name, c.toolUse.input, c.toolUse.toolUseId));
    }
  }
  objectTexts(b.requestMetadata, ['requestMetadata'], texts);
  const maxOutputTokens = isObject(b.inferenceConfig) ? num(b.inferenceConfig.maxTokens) : undefined;
  return { toolsDefined, toolCalls, texts, ...(maxOutputTokens !== undefined && { maxOutputTokens }) };
}

/**
 * Removes tools (toolConfig.tools[].toolSpec) by name; cachePoint entries stay. A forced
 * toolChoice ({tool:{name}}) naming a removed tool becomes {auto:{}}. Bedrock requires at least
 * one tool in a toolConfig, so when no toolSpec is left the whole toolConfig goes. (Bedrock then
 * refuses a conversation that already holds toolUse blocks; such a call fails upstream rather
 * than offering the model a forbidden tool.)
 */
function removeTools(body: unknown, names: ReadonlySet<string>): number {
  if (!isObject(body) || !isObject(body.toolConfig) || !Array.isArray(body.toolConfig.tools)) return 0;
  const config = body.toolConfig;
  const tools = config.tools as unknown[];
  const named = (t: unknown): string | undefined => (isObject(t) && isObject(t.toolSpec) ? str(t.toolSpec.name) : undefined);
  const kept = tools.filter((t) => !names.has(named(t) ?? ''));
  const removed = tools.length - kept.length;
  if (removed === 0) return 0;
  config.tools = kept;
  const choice = config.toolChoice;
  if (isObject(choice) && isObject(choice.tool) && names.has(str(choice.tool.name) ?? '')) config.toolChoice = { auto: {} };
  if (!kept.some((t) => named(t) !== undefined)) delete body.toolConfig;
  return removed;
}

function parseRequest(head: RequestHead, body: unknown): RequestFacts {
  const r = route(head.path);
  // Other Bedrock runtime calls (InvokeModel, CountTokens, ...) have model-specific or no bodies.
  const facts: RequestFacts = {
    operation: r?.operation ?? 'unknown',
    ...(r !== undefined && { model: r.model }),
    toolsDefined: [],
    toolCalls: [],
    texts: [],
    stream: r !== undefined && STREAMING.has(r.operation),
  };
  if (r?.operation !== 'converse' && r?.operation !== 'converse-stream') return facts;
  return { ...facts, ...parseConverse(requireObject(body, [])) };
}

const usageOf = (u: unknown): Usage | undefined => usageFrom(u, ['inputTokens', 'cacheReadInputTokens', 'cacheWriteInputTokens'], 'outputTokens');

function parseResponse(body: unknown): ResponseFacts {
  const facts: ResponseFacts = { toolCalls: [], texts: [] };
  if (!isObject(body)) return facts;
  const usage = usageOf(body.usage);
  if (usage) facts.usage = usage;
  const message = isObject(body.output) && isObject(body.output.message) ? body.output.message : {};
  arr(message.content).forEach((c, i) => {
    if (!isObject(c)) return;
    if (typeof c.text === 'string') facts.texts.push({ path: ['output', 'message', 'content', i, 'text'], text: c.text });
    if (isObject(c.toolUse) && typeof c.toolUse.name === 'string') facts.toolCalls.push(toolCall(c.toolUse.name, c.toolUse.input, c.toolUse.toolUseId));
  });
  return facts;
}

function streamParser(): StreamParser {
  const decoder = new EventStreamDecoder();
  const tools = new ToolCallCollector();
  let usage: Usage | undefined;

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
    const ev = frameJson(msg.payload.toString('utf8'));
    if (!isObject(ev)) return [];
    const key = String(num(ev.contentBlockIndex) ?? '');
    switch (headerString(msg.headers, ':event-type')) {
      case 'contentBlockStart': {
        const use = isObject(ev.start) && isObject(ev.start.toolUse) ? ev.start.toolUse : undefined;
        const name = str(use?.name);
        if (name === undefined) return [];
        return tools.start(key, name, str(use?.toolUseId)).map((n) => ({ type: 'tool_call', name: n, ...(typeof use?.toolUseId === 'string' && { id: use.toolUseId }) }));
      }
      case 'contentBlockDelta': {
        const delta = isObject(ev.delta) ? ev.delta : {};
        if (typeof delta.text === 'string') return delta.text === '' ? [] : [{ type: 'text', text: delta.text }];
        if (isObject(delta.toolUse) && typeof delta.toolUse.input === 'string') tools.append(key, delta.toolUse.input);
        return [];
      }
      case 'metadata': {
        const u = usageOf(ev.usage);
        if (!u) return [];
        usage = u;
        return [{ type: 'usage', usage: u }];
      }
      default:
        return [];
    }
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
    facts: () => ({ ...(usage !== undefined && { usage }), toolCalls: tools.list(), texts: [] }),
  };
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
 * Stream exceptions are named by the ConverseStream output union's member (camelCase), which is
 * what the AWS SDKs look up. That union has no access-denied member, so a denial travels as a
 * validationException: SDKs then raise a proper ValidationException carrying our message.
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
    (BEDROCK_HOSTS.some((p) => hostMatches(p, head.host)) && pathOnly(head.path).startsWith('/model/')) ||
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
