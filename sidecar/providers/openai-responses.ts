// OpenAI Responses API (/v1/responses, Azure /openai/responses). The conversation is a list of
// typed input items; tool calls the client ran are `function_call` items it sends back.
import type { RequestFacts, ResponseFacts, StreamEvent, TextField, ToolCall, Usage } from '../call.js';
import type { ProviderAdapter } from './adapter.js';
import { openAiError, openAiErrorAnswer } from './openai-chat.js';
import { sseStreamParser, type SseEvent } from './sse.js';
import {
  arr, frameJson, isJsonRpc, isObject, malformed, num, optionalArray, optionalString, parseArguments,
  pathOnly, requireObject, str, stringLeaves, toolCall, ToolCallCollector, type Obj, objectTexts, toolDefinitionTexts,
  usageFrom,
  baseResponseFacts,
} from './util.js';

/** Content parts that carry text, in either direction of the conversation. */
const TEXT_PARTS = new Set(['input_text', 'output_text', 'text']);

/** A message's content or a tool output: a string, or a list of parts (images and files skipped). */
function partsTexts(content: unknown, path: (string | number)[], out: TextField[]): void {
  if (content === undefined || content === null) return;
  if (typeof content === 'string') {
    out.push({ path, text: content });
    return;
  }
  if (!Array.isArray(content)) throw malformed(path, 'must be a string or an array');
  content.forEach((part, j) => {
    const p = requireObject(part, [...path, j]);
    if (typeof p.type === 'string' && TEXT_PARTS.has(p.type) && typeof p.text === 'string') {
      out.push({ path: [...path, j, 'text'], text: p.text });
    }
  });
}

/**
 * Output items of built-in tools the client executes (the model proposes, the agent runs): each is
 * judged as the tool its definition names by type, with what the item asks done as its arguments.
 */
const CLIENT_TOOL_ITEMS = new Map<unknown, { tool: string; args: string }>([
  ['local_shell_call', { tool: 'local_shell', args: 'action' }],
  ['shell_call', { tool: 'shell', args: 'action' }],
  ['computer_call', { tool: 'computer_use_preview', args: 'action' }],
  ['apply_patch_call', { tool: 'apply_patch', args: 'operation' }],
]);

/** The tool a call item names: a function or custom tool by name, a client-executed built-in tool by its type. */
function itemToolName(item: Obj): string | undefined {
  if (item.type === 'function_call' || item.type === 'custom_tool_call') return str(item.name);
  return CLIENT_TOOL_ITEMS.get(item.type)?.tool;
}

/** A tool call item (client-executed function, custom or built-in tool) as a neutral ToolCall. */
function itemCall(item: Obj): ToolCall | undefined {
  const name = itemToolName(item);
  if (name === undefined) return undefined;
  if (item.type === 'function_call') return toolCall(name, parseArguments(item.arguments), item.call_id);
  if (item.type === 'custom_tool_call') return toolCall(name, item.input, item.call_id);
  return toolCall(name, item[CLIENT_TOOL_ITEMS.get(item.type)!.args], item.call_id);
}

/** Tool names: function and custom tools by name, built-in tools (web_search, file_search...) by type. */
function toolName(tool: Obj): string | undefined {
  return str(tool.name) ?? str(tool.type);
}

function parseRequest(_head: unknown, body: unknown): RequestFacts {
  const b = requireObject(body, []);
  const model = optionalString(b.model, ['model']);
  const texts: TextField[] = [];
  const instructions = optionalString(b.instructions, ['instructions']);
  if (instructions !== undefined) texts.push({ path: ['instructions'], text: instructions });

  const calls: { i: number; call: ToolCall }[] = [];
  let lastUser = -1;
  if (typeof b.input === 'string') {
    texts.push({ path: ['input'], text: b.input });
  } else {
    optionalArray(b.input, ['input']).forEach((it, i) => {
      const item = requireObject(it, ['input', i]);
      if (item.role !== undefined && (item.type === undefined || item.type === 'message')) {
        if (item.role === 'user') lastUser = i;
        partsTexts(item.content, ['input', i, 'content'], texts);
      } else if (item.type === 'function_call_output' || item.type === 'custom_tool_call_output') {
        partsTexts(item.output, ['input', i, 'output'], texts);
      } else if (typeof item.type === 'string' && item.type.endsWith('_call_output')) {
        // What a built-in tool the client ran gave back (shell output, a screenshot...): the model reads it.
        stringLeaves(item.output, ['input', i, 'output'], texts);
      } else {
        const call = itemCall(item);
        if (call) calls.push({ i, call });
        // Arguments of every call in the conversation, as sent (raw JSON, or a custom tool's input).
        if (typeof item.arguments === 'string') texts.push({ path: ['input', i, 'arguments'], text: item.arguments });
        if (typeof item.input === 'string') texts.push({ path: ['input', i, 'input'], text: item.input });
        // A built-in tool call's action (a shell command, a patch): every string in it.
        const builtIn = CLIENT_TOOL_ITEMS.get(item.type);
        if (builtIn) stringLeaves(item[builtIn.args], ['input', i, builtIn.args], texts);
      }
    });
  }

  const toolsDefined: string[] = [];
  optionalArray(b.tools, ['tools']).forEach((t, i) => {
    const tool = requireObject(t, ['tools', i]);
    const name = toolName(tool);
    if (name !== undefined) toolsDefined.push(name);
    toolDefinitionTexts(tool.description, tool.parameters ?? tool.format, ['tools', i], 'description', tool.parameters !== undefined ? 'parameters' : 'format', texts);
  });
  // Top-level strings the provider reads (and may log): end-user id, metadata.
  for (const key of ['user', 'safety_identifier', 'prompt_cache_key']) {
    if (typeof b[key] === 'string') texts.push({ path: [key], text: b[key] });
  }
  objectTexts(b.metadata, ['metadata'], texts);

  const toolCalls: ToolCall[] = [];
  // Forced choice: {type:'function'|'custom', name} or a built-in tool {type:'web_search_preview'}.
  const choice = b.tool_choice;
  if (isObject(choice) && choice.type !== 'allowed_tools') {
    const name = choiceName(choice);
    if (name !== undefined) toolCalls.push({ name });
  }
  // The calls made since the user last spoke are the ones whose results the client now reports.
  for (const { i, call } of calls) if (i > lastUser) toolCalls.push(call);

  const maxOutputTokens = num(b.max_output_tokens);
  return {
    operation: 'responses',
    ...(model !== undefined && { model }),
    toolsDefined,
    toolCalls,
    texts,
    stream: b.stream === true,
    ...(maxOutputTokens !== undefined && { maxOutputTokens }),
  };
}

/** The tool a forced tool_choice names: a function/custom tool by name, a built-in one by type. */
function choiceName(choice: Obj): string | undefined {
  return str(choice.name) ?? (choice.type !== 'function' && choice.type !== 'custom' && choice.type !== 'mcp' ? str(choice.type) : undefined);
}

/**
 * Removes tools (function and custom tools by name, built-in tools by type, as parseRequest names
 * them). A forced tool_choice naming a removed tool becomes 'auto'; an allowed_tools choice loses
 * the removed ones. When the last tool goes, `tools` and `tool_choice` go with it.
 */
function removeTools(body: unknown, names: ReadonlySet<string>): number {
  if (!isObject(body) || !Array.isArray(body.tools)) return 0;
  const kept = body.tools.filter((t) => !(isObject(t) && names.has(toolName(t) ?? '')));
  const removed = body.tools.length - kept.length;
  if (removed === 0) return 0;
  body.tools = kept;
  const choice = body.tool_choice;
  if (isObject(choice)) {
    if (choice.type === 'allowed_tools' && Array.isArray(choice.tools)) {
      const allowed = choice.tools.filter((t) => !(isObject(t) && names.has(toolName(t) ?? '')));
      choice.tools = allowed;
      if (allowed.length === 0) body.tool_choice = 'auto';
    } else if (names.has(choiceName(choice) ?? '')) {
      body.tool_choice = 'auto';
    }
  }
  if (kept.length === 0) {
    delete body.tools;
    delete body.tool_choice;
  }
  return removed;
}

const usageOf = (u: unknown): Usage | undefined => usageFrom(u, ['input_tokens'], 'output_tokens');

function parseResponse(body: unknown): ResponseFacts {
  if (!isObject(body)) return { toolCalls: [], texts: [] };
  const facts = baseResponseFacts(body, usageOf);
  arr(body.output).forEach((it, i) => {
    if (!isObject(it)) return;
    if (it.type === 'message') {
      arr(it.content).forEach((part, j) => {
        if (isObject(part) && part.type === 'output_text' && typeof part.text === 'string') {
          facts.texts.push({ path: ['output', i, 'content', j, 'text'], text: part.text });
        }
      });
      return;
    }
    const call = itemCall(it);
    if (call) facts.toolCalls.push(call);
  });
  return facts;
}

function streamParser() {
  const tools = new ToolCallCollector();
  /** Text each output item's deltas carried, so the final response's copy of it is not judged twice. */
  const streamedText = new Map<string, string>();
  let model: string | undefined;
  let usage: Usage | undefined;

  /** Starts a call from an output item; returns the tool_call events its name makes due. */
  const startCall = (key: string, item: unknown): StreamEvent[] => {
    if (!isObject(item)) return [];
    const name = itemToolName(item);
    if (name === undefined) return [];
    return tools.start(key, name, str(item.call_id)).map((n) => ({ type: 'tool_call', name: n, ...(typeof item.call_id === 'string' && { id: item.call_id }) }));
  };

  const read = (frame: SseEvent): StreamEvent[] => {
    if (!frame.hasData) return [];
    const ev = frameJson(frame.data);
    if (!isObject(ev)) return [];
    const type = str(ev.type) ?? frame.event;
    // Deltas name their item by output_index (and item_id); both identify the same call.
    const key = String(num(ev.output_index) ?? str(ev.item_id) ?? '');
    switch (type) {
      case 'error':
        return [{ type: 'error', message: str(ev.message) ?? (isObject(ev.error) ? str(ev.error.message) : undefined) ?? 'upstream error' }];
      case 'response.output_item.added':
        return startCall(key, ev.item);
      case 'response.output_item.done': {
        const events = startCall(key, ev.item);
        if (isObject(ev.item) && typeof ev.item.arguments === 'string') tools.replace(key, ev.item.arguments);
        else if (isObject(ev.item) && typeof ev.item.input === 'string') tools.replace(key, ev.item.input);
        return events;
      }
      case 'response.output_text.delta':
        if (typeof ev.delta !== 'string' || ev.delta === '') return [];
        streamedText.set(key, (streamedText.get(key) ?? '') + ev.delta);
        return [{ type: 'text', text: ev.delta }];
      case 'response.function_call_arguments.delta':
      case 'response.custom_tool_call_input.delta':
        if (typeof ev.delta === 'string') tools.append(key, ev.delta);
        return [];
      case 'response.function_call_arguments.done':
        if (typeof ev.arguments === 'string') tools.replace(key, ev.arguments);
        return [];
      case 'response.created':
      case 'response.in_progress':
      case 'response.completed':
      case 'response.incomplete':
      case 'response.failed': {
        const response = isObject(ev.response) ? ev.response : {};
        model = str(response.model) ?? model;
        const events: StreamEvent[] = [];
        const u = usageOf(response.usage);
        if (u) {
          usage = u;
          events.push({ type: 'usage', usage: u });
        }
        if (type === 'response.failed') {
          const message = isObject(response.error) ? str(response.error.message) : undefined;
          events.push({ type: 'error', message: message ?? 'response failed' });
        }
        // The final response repeats the whole output, and the SDKs hand that to the agent: a call or a
        // text it holds that the deltas never carried is judged here too.
        arr(response.output).forEach((item, i) => {
          events.push(...startCall(String(i), item));
          if (!isObject(item) || item.type !== 'message') return;
          const text = arr(item.content).map((c) => (isObject(c) && typeof c.text === 'string' ? c.text : '')).join('');
          if (text !== '' && text !== streamedText.get(String(i))) events.push({ type: 'text', text });
        });
        return events;
      }
      default:
        return [];
    }
  };

  return sseStreamParser(read, () => ({
    ...(model !== undefined && { model }),
    ...(usage !== undefined && { usage }),
    toolCalls: tools.list(),
    texts: [],
  }));
}

export const openAiResponsesAdapter: ProviderAdapter = {
  provider: 'openai',
  matches: (head, body) => pathOnly(head.path).endsWith('/responses') && !isJsonRpc(body),
  parseRequest,
  parseResponse,
  isStream: (contentType) => contentType?.toLowerCase().includes('text/event-stream') ?? false,
  streamParser,
  errorAnswer: openAiErrorAnswer,
  // The Responses API ends a failed stream with an `error` event: {type, code, message, param}.
  streamError: (kind, message) => {
    const { code, param } = openAiError(kind, message);
    const data = JSON.stringify({ type: 'error', code, message, param, sequence_number: 0 });
    return Buffer.from(`event: error\ndata: ${data}\n\n`);
  },
  removeTools,
};
