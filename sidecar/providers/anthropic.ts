// Anthropic Messages (/v1/messages, and /v1/messages/count_tokens which takes the same body).
import type { RequestFacts, ResponseFacts, StreamEvent, TextField, ToolCall, Usage } from '../call.js';
import type { ErrorKind, ProviderAdapter, RequestHead } from './adapter.js';
import { sseStreamParser, type SseEvent } from './sse.js';
import {
  arr, frameJson, isJsonRpc, isObject, malformed, num, optionalArray, pathOnly, requireArray,
  requireObject, requireString, str, stringLeaves, toolCall, ToolCallCollector, toolDefinitionTexts, type Obj,
} from './util.js';

/** Text blocks of a content list; tool_result blocks nest their own content (string or blocks). */
function blockTexts(content: unknown, path: (string | number)[], out: TextField[]): void {
  if (typeof content === 'string') {
    out.push({ path, text: content });
    return;
  }
  if (!Array.isArray(content)) throw malformed(path, 'must be a string or an array');
  content.forEach((b, j) => {
    const block = requireObject(b, [...path, j]);
    if (block.type === 'text' && typeof block.text === 'string') out.push({ path: [...path, j, 'text'], text: block.text });
    else if (block.type === 'tool_result' && block.content !== undefined && block.content !== null) {
      blockTexts(block.content, [...path, j, 'content'], out);
    } else if (block.type === 'tool_use' && block.input !== undefined) {
      stringLeaves(block.input, [...path, j, 'input'], out); // every turn's tool inputs, rewritable in place
    } else if (block.type === 'document' && isObject(block.source) && block.source.type === 'text' && typeof block.source.data === 'string') {
      out.push({ path: [...path, j, 'source', 'data'], text: block.source.data }); // a plain-text document is prompt text too
    }
  });
}

/**
 * The facts of a Messages body, whoever names its model: the Anthropic API (`model` in the body) or
 * Bedrock's InvokeModel (the model in the path, `anthropic_version` in the body), so both read alike.
 */
export function messagesBodyFacts(b: Obj): Pick<RequestFacts, 'toolsDefined' | 'toolCalls' | 'texts' | 'maxOutputTokens'> {
  const texts: TextField[] = [];
  if (b.system !== undefined && b.system !== null) blockTexts(b.system, ['system'], texts);

  const messages = requireArray(b.messages, ['messages']);
  let lastAssistant: unknown[] = [];
  messages.forEach((m, i) => {
    const msg = requireObject(m, ['messages', i]);
    blockTexts(msg.content, ['messages', i, 'content'], texts);
    if (msg.role === 'assistant') lastAssistant = Array.isArray(msg.content) ? msg.content : [];
  });

  const toolsDefined: string[] = [];
  optionalArray(b.tools, ['tools']).forEach((t, i) => {
    const tool = requireObject(t, ['tools', i]);
    if (typeof tool.name === 'string') toolsDefined.push(tool.name);
    toolDefinitionTexts(tool.description, tool.input_schema, ['tools', i], 'description', 'input_schema', texts);
  });
  if (isObject(b.metadata) && typeof b.metadata.user_id === 'string') texts.push({ path: ['metadata', 'user_id'], text: b.metadata.user_id });

  const maxOutputTokens = num(b.max_tokens);
  const toolCalls: ToolCall[] = [];
  if (isObject(b.tool_choice) && b.tool_choice.type === 'tool' && typeof b.tool_choice.name === 'string') {
    toolCalls.push({ name: b.tool_choice.name });
  }
  // tool_use blocks of the last assistant turn: the calls whose results this request reports.
  for (const block of lastAssistant) {
    if (isObject(block) && block.type === 'tool_use' && typeof block.name === 'string') {
      toolCalls.push(toolCall(block.name, block.input, block.id));
    }
  }
  return { toolsDefined, toolCalls, texts, ...(maxOutputTokens !== undefined && { maxOutputTokens }) };
}

function parseRequest(head: RequestHead, body: unknown): RequestFacts {
  const b = requireObject(body, []);
  const model = requireString(b.model, ['model']);
  const facts = messagesBodyFacts(b);
  return {
    operation: pathOnly(head.path).endsWith('/count_tokens') ? 'messages.count_tokens' : 'messages',
    model,
    toolsDefined: facts.toolsDefined,
    toolCalls: facts.toolCalls,
    texts: facts.texts,
    stream: b.stream === true,
    ...(facts.maxOutputTokens !== undefined && { maxOutputTokens: facts.maxOutputTokens }),
  };
}

/**
 * Removes tools by name. A forced tool_choice ({type:'tool'}) naming a removed tool becomes
 * {type:'auto'} (keeping disable_parallel_tool_use). Anthropic accepts an empty tools list, so an
 * emptied one stays (a conversation holding tool_use blocks keeps its tools field); but a choice
 * that demands a tool ({type:'any'}) goes, as no tool is left to satisfy it.
 */
function removeTools(body: unknown, names: ReadonlySet<string>): number {
  if (!isObject(body) || !Array.isArray(body.tools)) return 0;
  const kept = body.tools.filter((t) => !(isObject(t) && typeof t.name === 'string' && names.has(t.name)));
  const removed = body.tools.length - kept.length;
  if (removed === 0) return 0;
  body.tools = kept;
  const choice = body.tool_choice;
  if (isObject(choice) && choice.type === 'tool' && typeof choice.name === 'string' && names.has(choice.name)) {
    const { name: _name, ...rest } = choice;
    body.tool_choice = { ...rest, type: 'auto' };
  }
  if (kept.length === 0 && isObject(body.tool_choice) && body.tool_choice.type !== 'none') delete body.tool_choice;
  return removed;
}

/** Input tokens include the cached ones: they were sent (and are billed, if at another rate). */
function inputTokens(u: Record<string, unknown>): number | undefined {
  const parts = [u.input_tokens, u.cache_creation_input_tokens, u.cache_read_input_tokens].map(num);
  if (parts.every((p) => p === undefined)) return undefined;
  return parts.reduce<number>((sum, p) => sum + (p ?? 0), 0);
}

function parseResponse(body: unknown): ResponseFacts {
  const facts: ResponseFacts = { toolCalls: [], texts: [] };
  if (!isObject(body)) return facts;
  const model = str(body.model);
  if (model !== undefined) facts.model = model;
  if (isObject(body.usage)) {
    const input = inputTokens(body.usage);
    const output = num(body.usage.output_tokens);
    if (input !== undefined || output !== undefined) facts.usage = { inputTokens: input ?? 0, outputTokens: output ?? 0 };
  }
  arr(body.content).forEach((block, i) => {
    if (!isObject(block)) return;
    if (block.type === 'text' && typeof block.text === 'string') facts.texts.push({ path: ['content', i, 'text'], text: block.text });
    else if (block.type === 'tool_use' && typeof block.name === 'string') facts.toolCalls.push(toolCall(block.name, block.input, block.id));
  });
  return facts;
}

/** Reads Messages stream events, whatever carries them (SSE here, Bedrock's event-stream chunks there). */
export interface MessagesStreamReader {
  /** One event's parsed JSON; `eventName` is the SSE event field, when there is one (the JSON's `type` comes first). */
  read(ev: unknown, eventName?: string): StreamEvent[];
  facts(): ResponseFacts;
}

export function messagesStreamReader(): MessagesStreamReader {
  const tools = new ToolCallCollector();
  let model: string | undefined;
  const usage: Partial<Usage> = {};

  const read = (ev: unknown, eventName?: string): StreamEvent[] => {
    if (!isObject(ev)) return [];
    const key = String(num(ev.index) ?? '');
    switch (str(ev.type) ?? eventName) {
      case 'message_start': {
        const message = isObject(ev.message) ? ev.message : {};
        model = str(message.model) ?? model;
        const input = isObject(message.usage) ? inputTokens(message.usage) : undefined;
        if (input === undefined) return [];
        usage.inputTokens = input;
        return [{ type: 'usage', usage: { inputTokens: input } }];
      }
      case 'content_block_start': {
        const block = isObject(ev.content_block) ? ev.content_block : {};
        if (block.type === 'tool_use' && typeof block.name === 'string') {
          return tools.start(key, block.name, str(block.id), block.input).map((name) => ({ type: 'tool_call', name, ...(typeof block.id === 'string' && { id: block.id }) }));
        }
        if (block.type === 'text' && typeof block.text === 'string' && block.text !== '') return [{ type: 'text', text: block.text }];
        return [];
      }
      case 'content_block_delta': {
        const delta = isObject(ev.delta) ? ev.delta : {};
        if (delta.type === 'text_delta' && typeof delta.text === 'string') return [{ type: 'text', text: delta.text }];
        if (delta.type === 'input_json_delta' && typeof delta.partial_json === 'string') tools.append(key, delta.partial_json);
        return [];
      }
      case 'message_delta': {
        // output_tokens here is the running total; newer API versions may restate input tokens too.
        const u = isObject(ev.usage) ? ev.usage : {};
        const update: Partial<Usage> = {};
        const output = num(u.output_tokens);
        const input = inputTokens(u);
        if (output !== undefined) update.outputTokens = usage.outputTokens = output;
        if (input !== undefined && input > 0) update.inputTokens = usage.inputTokens = input;
        return Object.keys(update).length > 0 ? [{ type: 'usage', usage: update }] : [];
      }
      case 'error': {
        const message = isObject(ev.error) ? str(ev.error.message) : undefined;
        return [{ type: 'error', message: message ?? 'upstream error' }];
      }
      default:
        return [];
    }
  };

  const facts = (): ResponseFacts => ({
    ...(model !== undefined && { model }),
    ...(usage.inputTokens !== undefined || usage.outputTokens !== undefined
      ? { usage: { inputTokens: usage.inputTokens ?? 0, outputTokens: usage.outputTokens ?? 0 } }
      : {}),
    toolCalls: tools.list(),
    texts: [],
  });
  return { read, facts };
}

function streamParser() {
  const reader = messagesStreamReader();
  return sseStreamParser((frame: SseEvent) => (frame.hasData ? reader.read(frameJson(frame.data), frame.event) : []), reader.facts);
}

function anthropicError(kind: ErrorKind, message: string) {
  const type = {
    invalid_request: 'invalid_request_error',
    too_large: 'request_too_large',
    forbidden: 'permission_error',
    approval_required: 'permission_error',
    rate_limited: 'rate_limit_error',
    upstream_unavailable: 'api_error',
    upstream_timeout: 'timeout_error',
    internal: 'api_error',
  }[kind];
  return { type: 'error', error: { type, message } };
}

export const anthropicAdapter: ProviderAdapter = {
  provider: 'anthropic',
  matches: (head, body) => /\/v1\/messages(\/count_tokens)?$/.test(pathOnly(head.path)) && !isJsonRpc(body),
  parseRequest,
  parseResponse,
  isStream: (contentType) => contentType?.toLowerCase().includes('text/event-stream') ?? false,
  streamParser,
  errorAnswer: (kind, message) => ({ contentType: 'application/json', body: JSON.stringify(anthropicError(kind, message)) }),
  streamError: (kind, message) => Buffer.from(`event: error\ndata: ${JSON.stringify(anthropicError(kind, message))}\n\n`),
  removeTools,
};
