// OpenAI Chat Completions, and everything that copies it: Azure OpenAI deployments, Mistral, Groq,
// OpenRouter, Together, DeepSeek, Gemini's OpenAI endpoint... Any path ending in /chat/completions.
import type { RequestFacts, ResponseFacts, StreamEvent, TextField, ToolCall, Usage } from '../call.js';
import type { ErrorAnswer, ErrorKind, ProviderAdapter, RequestHead, StreamParser, StreamParserOptions } from './adapter.js';
import { askForStreamUsage, isUsageOnlyChunk, markingSidecarOnly } from './openai-usage.js';
import { sseStreamParser, type SseEvent } from './sse.js';
import {
  arr, frameJson, isJsonRpc, isObject, malformed, num, optionalArray, optionalString, parseArguments, pathOnly,
  requireArray, requireObject, str, toolCall, ToolCallCollector, type Obj, objectTexts, toolDefinitionTexts,
  usageFrom,
  baseResponseFacts,
} from './util.js';

const AZURE_DEPLOYMENT = /\/openai\/deployments\/([^/]+)\/chat\/completions$/;

/** Text of a message's content: a string, or text parts (images, audio, files are skipped). */
function contentTexts(content: unknown, path: (string | number)[], out: TextField[]): void {
  if (content === undefined || content === null) return;
  if (typeof content === 'string') {
    out.push({ path, text: content });
    return;
  }
  if (!Array.isArray(content)) throw malformed(path, 'must be a string or an array');
  content.forEach((part, j) => {
    const p = requireObject(part, [...path, j]);
    if (p.type === 'text' && typeof p.text === 'string') out.push({ path: [...path, j, 'text'], text: p.text });
  });
}

/** The calls an assistant message made: tool_calls, or the legacy single function_call. */
function assistantCalls(msg: Obj, i: number): ToolCall[] {
  const calls: ToolCall[] = [];
  optionalArray(msg.tool_calls, ['messages', i, 'tool_calls']).forEach((tc, j) => {
    const c = requireObject(tc, ['messages', i, 'tool_calls', j]);
    const fn = isObject(c.function) ? c.function : isObject(c.custom) ? c.custom : undefined;
    const name = str(fn?.name);
    if (name === undefined) return;
    const args = fn?.arguments !== undefined ? parseArguments(fn.arguments) : fn?.input;
    calls.push(toolCall(name, args, c.id));
  });
  if (isObject(msg.function_call) && typeof msg.function_call.name === 'string') {
    calls.push(toolCall(msg.function_call.name, parseArguments(msg.function_call.arguments), undefined));
  }
  return calls;
}

/**
 * The argument strings of an assistant message's calls (every turn, not only the last): raw JSON as
 * sent, so a redaction rewrites them in place.
 */
function callTexts(msg: Obj, i: number, out: TextField[]): void {
  arr(msg.tool_calls).forEach((tc, j) => {
    if (!isObject(tc)) return;
    for (const key of ['function', 'custom']) {
      const fn = tc[key];
      if (!isObject(fn)) continue;
      if (typeof fn.arguments === 'string') out.push({ path: ['messages', i, 'tool_calls', j, key, 'arguments'], text: fn.arguments });
      if (typeof fn.input === 'string') out.push({ path: ['messages', i, 'tool_calls', j, key, 'input'], text: fn.input });
    }
  });
  if (isObject(msg.function_call) && typeof msg.function_call.arguments === 'string') {
    out.push({ path: ['messages', i, 'function_call', 'arguments'], text: msg.function_call.arguments });
  }
}

function parseRequest(head: RequestHead, body: unknown): RequestFacts {
  const b = requireObject(body, []);
  let model = optionalString(b.model, ['model']);
  // Azure names the deployment in the path and usually sends no model.
  if (model === undefined) model = AZURE_DEPLOYMENT.exec(pathOnly(head.path))?.[1];
  const messages = requireArray(b.messages, ['messages']);

  const texts: TextField[] = [];
  let lastAssistant: { msg: Obj; i: number } | undefined;
  messages.forEach((m, i) => {
    const msg = requireObject(m, ['messages', i]);
    if (typeof msg.name === 'string') texts.push({ path: ['messages', i, 'name'], text: msg.name });
    contentTexts(msg.content, ['messages', i, 'content'], texts);
    if (typeof msg.refusal === 'string') texts.push({ path: ['messages', i, 'refusal'], text: msg.refusal });
    if (msg.role === 'assistant') {
      lastAssistant = { msg, i };
      callTexts(msg, i, texts);
    }
  });

  const toolsDefined: string[] = [];
  optionalArray(b.tools, ['tools']).forEach((t, i) => {
    const tool = requireObject(t, ['tools', i]);
    const key = isObject(tool.function) ? 'function' : isObject(tool.custom) ? 'custom' : undefined;
    const spec = key === 'function' ? (tool.function as Obj) : key === 'custom' ? (tool.custom as Obj) : undefined;
    if (typeof spec?.name === 'string') toolsDefined.push(spec.name);
    const schemaKey = key === 'function' ? 'parameters' : 'format'; // a custom tool's grammar
    if (spec && key) toolDefinitionTexts(spec.description, spec[schemaKey], ['tools', i, key], 'description', schemaKey, texts);
  });
  optionalArray(b.functions, ['functions']).forEach((f, i) => {
    const fn = requireObject(f, ['functions', i]);
    if (typeof fn.name === 'string') toolsDefined.push(fn.name);
    toolDefinitionTexts(fn.description, fn.parameters, ['functions', i], 'description', 'parameters', texts);
  });
  // Top-level strings the provider reads (and may log): end-user id, metadata, predicted output.
  for (const key of ['user', 'safety_identifier', 'prompt_cache_key']) {
    if (typeof b[key] === 'string') texts.push({ path: [key], text: b[key] });
  }
  objectTexts(b.metadata, ['metadata'], texts);
  if (isObject(b.prediction)) contentTexts(b.prediction.content, ['prediction', 'content'], texts);

  const toolCalls: ToolCall[] = [];
  // A forced choice names the tool the model must call. 'auto' | 'none' | 'required' name none.
  const choice = b.tool_choice;
  if (isObject(choice)) {
    const spec = isObject(choice.function) ? choice.function : isObject(choice.custom) ? choice.custom : undefined;
    if (typeof spec?.name === 'string') toolCalls.push({ name: spec.name });
  }
  if (isObject(b.function_call) && typeof b.function_call.name === 'string') toolCalls.push({ name: b.function_call.name });
  // The last assistant turn's calls are the ones the agent has just run and now reports on.
  if (lastAssistant) toolCalls.push(...assistantCalls(lastAssistant.msg, lastAssistant.i));

  // max_tokens is the older name; o-series models only take max_completion_tokens.
  const maxOutputTokens = num(b.max_completion_tokens) ?? num(b.max_tokens);
  return {
    operation: 'chat.completions',
    ...(model !== undefined && { model }),
    toolsDefined,
    toolCalls,
    texts,
    stream: b.stream === true,
    ...(maxOutputTokens !== undefined && { maxOutputTokens }),
  };
}

/** The tool a tools[] entry or a named tool_choice stands for: function or custom. */
function specName(o: Obj): string | undefined {
  const spec = isObject(o.function) ? o.function : isObject(o.custom) ? o.custom : undefined;
  return str(spec?.name);
}

/**
 * Removes tools from `tools` (function and custom tools) and the legacy `functions`. A forced
 * tool_choice or function_call naming a removed tool becomes 'auto'; an allowed_tools choice loses
 * the removed ones. OpenAI rejects an empty tools array, and a tool_choice or parallel_tool_calls
 * without tools, so those go when the last tool does (likewise functions and function_call).
 */
function removeTools(body: unknown, names: ReadonlySet<string>): number {
  if (!isObject(body)) return 0;
  let removed = 0;
  if (Array.isArray(body.tools)) {
    const kept = body.tools.filter((t) => !(isObject(t) && names.has(specName(t) ?? '')));
    removed += body.tools.length - kept.length;
    body.tools = kept;
    const choice = body.tool_choice;
    if (isObject(choice) && names.has(specName(choice) ?? '')) body.tool_choice = 'auto';
    if (isObject(choice) && choice.type === 'allowed_tools' && isObject(choice.allowed_tools) && Array.isArray(choice.allowed_tools.tools)) {
      const allowed = choice.allowed_tools.tools.filter((t) => !(isObject(t) && names.has(specName(t) ?? str(t.name) ?? '')));
      choice.allowed_tools.tools = allowed;
      if (allowed.length === 0) body.tool_choice = 'auto';
    }
    if (kept.length === 0 && removed > 0) {
      delete body.tools;
      delete body.tool_choice;
      delete body.parallel_tool_calls;
    }
  }
  if (Array.isArray(body.functions)) {
    const kept = body.functions.filter((f) => !(isObject(f) && names.has(str(f.name) ?? '')));
    const gone = body.functions.length - kept.length;
    removed += gone;
    body.functions = kept;
    if (isObject(body.function_call) && names.has(str(body.function_call.name) ?? '')) body.function_call = 'auto';
    if (kept.length === 0 && gone > 0) {
      delete body.functions;
      delete body.function_call;
    }
  }
  return removed;
}

const usageOf = (u: unknown): Usage | undefined => usageFrom(u, ['prompt_tokens'], 'completion_tokens');

function parseResponse(body: unknown): ResponseFacts {
  if (!isObject(body)) return { toolCalls: [], texts: [] };
  const facts = baseResponseFacts(body, usageOf);
  arr(body.choices).forEach((c, i) => {
    if (!isObject(c) || !isObject(c.message)) return;
    const msg = c.message;
    if (typeof msg.content === 'string') facts.texts.push({ path: ['choices', i, 'message', 'content'], text: msg.content });
    for (const tc of arr(msg.tool_calls)) {
      if (!isObject(tc)) continue;
      // A function call's arguments are JSON; a custom tool's input is free text.
      if (isObject(tc.function) && typeof tc.function.name === 'string') facts.toolCalls.push(toolCall(tc.function.name, parseArguments(tc.function.arguments), tc.id));
      else if (isObject(tc.custom) && typeof tc.custom.name === 'string') facts.toolCalls.push(toolCall(tc.custom.name, tc.custom.input, tc.id));
    }
    if (isObject(msg.function_call) && typeof msg.function_call.name === 'string') {
      facts.toolCalls.push(toolCall(msg.function_call.name, parseArguments(msg.function_call.arguments), undefined));
    }
  });
  return facts;
}

function streamParser(options: StreamParserOptions = {}): StreamParser {
  const tools = new ToolCallCollector();
  let model: string | undefined;
  let usage: Usage | undefined;
  /** Frames (by their bytes) that carry only the usage the sidecar asked for. */
  const sidecarOnly = new WeakSet<Buffer>();

  const read = (frame: SseEvent): StreamEvent[] => {
    if (!frame.hasData || frame.data === '[DONE]') return [];
    const chunk = frameJson(frame.data);
    if (!isObject(chunk)) return [];
    const events: StreamEvent[] = [];
    if (isObject(chunk.error)) {
      events.push({ type: 'error', message: str(chunk.error.message) ?? 'upstream error' });
      return events;
    }
    model = str(chunk.model) ?? model;
    arr(chunk.choices).forEach((c, ci) => {
      if (!isObject(c) || !isObject(c.delta)) return;
      const choice = num(c.index) ?? ci;
      const delta = c.delta;
      if (typeof delta.content === 'string' && delta.content !== '') events.push({ type: 'text', text: delta.content });
      arr(delta.tool_calls).forEach((tc, ti) => {
        if (!isObject(tc)) return;
        // Pieces of one call share its index; some OpenAI look-alikes omit it and send whole calls.
        const key = `${choice}:${num(tc.index) ?? ti}`;
        // A function call's pieces carry `arguments`; a custom tool call's carry `input`.
        const fn = isObject(tc.function) ? tc.function : isObject(tc.custom) ? tc.custom : {};
        const name = str(fn.name);
        if (name !== undefined && name !== '') {
          for (const n of tools.start(key, name, str(tc.id))) events.push({ type: 'tool_call', name: n, ...(typeof tc.id === 'string' && { id: tc.id }) });
        }
        if (typeof fn.arguments === 'string') tools.append(key, fn.arguments);
        if (typeof fn.input === 'string') tools.append(key, fn.input);
      });
      // Legacy streamed function_call: one call per choice.
      if (isObject(delta.function_call)) {
        const key = `${choice}:fn`;
        const name = str(delta.function_call.name);
        if (name !== undefined) for (const n of tools.start(key, name)) events.push({ type: 'tool_call', name: n });
        if (typeof delta.function_call.arguments === 'string') tools.append(key, delta.function_call.arguments);
      }
    });
    const u = usageOf(chunk.usage);
    if (u) {
      usage = u;
      events.push({ type: 'usage', usage: u });
      // The usage-only chunk (no choices) the agent did not ask for: its SDK may not expect it.
      if (options.usageAskedBySidecar && isUsageOnlyChunk(chunk)) sidecarOnly.add(frame.bytes);
    }
    return events;
  };

  const parser = sseStreamParser(read, () => ({
    ...(model !== undefined && { model }),
    ...(usage !== undefined && { usage }),
    toolCalls: tools.list(),
    texts: [],
  }));
  return options.usageAskedBySidecar ? markingSidecarOnly(parser, sidecarOnly) : parser;
}

/** OpenAI's error vocabulary: `type` is the family SDKs and users read, `code` the specific reason. */
export function openAiError(kind: ErrorKind, message: string): { message: string; type: string; param: null; code: string } {
  const [type, code] = ({
    invalid_request: ['invalid_request_error', 'invalid_request'],
    too_large: ['invalid_request_error', 'request_too_large'],
    forbidden: ['invalid_request_error', 'policy_violation'],
    approval_required: ['invalid_request_error', 'approval_required'],
    rate_limited: ['requests', 'rate_limit_exceeded'],
    upstream_unavailable: ['server_error', 'upstream_unavailable'],
    upstream_timeout: ['server_error', 'upstream_timeout'],
    internal: ['server_error', 'internal_error'],
  } as const)[kind];
  return { message, type, param: null, code };
}

export function openAiErrorAnswer(kind: ErrorKind, message: string): ErrorAnswer {
  return { contentType: 'application/json', body: JSON.stringify({ error: openAiError(kind, message) }) };
}

export const openAiChatAdapter: ProviderAdapter = {
  provider: 'openai',
  matches: (head, body) => pathOnly(head.path).endsWith('/chat/completions') && !isJsonRpc(body),
  parseRequest,
  parseResponse,
  isStream: (contentType) => contentType?.toLowerCase().includes('text/event-stream') ?? false,
  streamParser,
  askForUsage: askForStreamUsage,
  errorAnswer: openAiErrorAnswer,
  streamError: (kind, message) => Buffer.from(`data: ${JSON.stringify({ error: openAiError(kind, message) })}\n\n`),
  removeTools,
};
