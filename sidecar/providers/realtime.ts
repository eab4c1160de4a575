// OpenAI Realtime (a WebSocket at `/v1/realtime`, Azure `/openai/realtime`): JSON events both ways.
// Pure: one parsed event in, the facts the checks read out; the socket side is sidecar/websocket/.
//
// Client -> server, judged like a request:
//   session.update             session.tools (tools defined), session.tool_choice (a forced tool),
//                              session.instructions (text)
//   conversation.item.create   the item: message text parts (and audio transcripts), a
//                              function_call the client inserts (a tool call carried), a
//                              function_call_output (text)
//   response.create            response.instructions, response.tools, response.tool_choice,
//                              response.input items (as above), response.max_output_tokens
//   audio appends, commits, cancels, deletes...  carry no text: they pass unread
//   any other type             every string in it is text (DLP reads what it cannot name)
// Server -> client, judged like a streamed answer:
//   an item of type function_call (response.output_item.added, conversation.item.created...)
//                              its name, as soon as it is known
//   response.function_call_arguments.done, response.output_item.done, response.done's output
//                              the complete call: name, arguments, call_id
//   text and transcript deltas text the model produced
//   response.done              usage (input_tokens, output_tokens)
import { randomUUID } from 'node:crypto';
import type { JsonPath, RequestFacts, StreamEvent, ToolCall, Usage } from '../call.js';
import type { ErrorKind } from './adapter.js';
import { openAiError } from './openai-chat.js';
import {
  isObject, malformed, num, optionalArray, optionalString, parseArguments, requireObject, str, stringLeaves, toolCall,
  toolDefinitionTexts, usageFrom, type Obj,
} from './util.js';

/** Is this path (no query) a Realtime WebSocket endpoint? */
export function isRealtimePath(path: string): boolean {
  const q = path.indexOf('?');
  return /\/realtime$/.test(q < 0 ? path : path.slice(0, q));
}

/** The model a Realtime URL names (`?model=`, Azure `?deployment=`), if any. */
export function realtimeModel(path: string): string | undefined {
  const q = path.indexOf('?');
  if (q < 0) return undefined;
  const query = new URLSearchParams(path.slice(q + 1));
  return query.get('model') ?? query.get('deployment') ?? undefined;
}

/** What a client event asks the checks. */
export type ClientReading =
  /** Nothing to judge: audio, commits, cancels, deletes. */
  | { kind: 'pass'; type: string }
  | { kind: 'judge'; type: string; eventId?: string; facts: RequestFacts };

/** Client events that carry no text or tools (ids and audio only). */
const NOTHING_TO_READ = new Set([
  'input_audio_buffer.append',
  'input_audio_buffer.commit',
  'input_audio_buffer.clear',
  'output_audio_buffer.clear',
  'conversation.item.retrieve',
  'conversation.item.truncate',
  'conversation.item.delete',
  'response.cancel',
]);

/**
 * Reads a client event (a parsed JSON object with a string `type`). Throws MalformedRequest when
 * a field the checks read has a shape the API does not allow.
 */
export function readClientEvent(event: Obj): ClientReading {
  const type = event.type as string;
  if (NOTHING_TO_READ.has(type)) return { kind: 'pass', type };
  const eventId = str(event.event_id);
  const base = { kind: 'judge' as const, type, ...(eventId !== undefined && { eventId }) };
  const facts: RequestFacts = { operation: 'realtime', toolsDefined: [], toolCalls: [], texts: [], stream: true };
  switch (type) {
    case 'session.update': {
      const session = requireObject(event.session, ['session']);
      readOptions(session, ['session'], facts);
      const model = optionalString(session.model, ['session', 'model']);
      if (model !== undefined) facts.model = model;
      // Transcription hints are text the provider reads.
      for (const path of [['input_audio_transcription', 'prompt'], ['audio', 'input', 'transcription', 'prompt']]) {
        const text = at(session, path);
        if (typeof text === 'string') facts.texts.push({ path: ['session', ...path], text });
      }
      return { ...base, facts };
    }
    case 'conversation.item.create':
      readItem(requireObject(event.item, ['item']), ['item'], facts);
      return { ...base, facts };
    case 'response.create': {
      // A response with no options is the common case: "answer now".
      if (event.response === undefined || event.response === null) return { ...base, facts };
      const response = requireObject(event.response, ['response']);
      readOptions(response, ['response'], facts);
      optionalArray(response.input, ['response', 'input']).forEach((item, i) => readItem(requireObject(item, ['response', 'input', i]), ['response', 'input', i], facts));
      for (const [key, value] of Object.entries(isObject(response.metadata) ? response.metadata : {})) {
        if (typeof value === 'string') facts.texts.push({ path: ['response', 'metadata', key], text: value });
      }
      const max = num(response.max_output_tokens) ?? num(response.max_response_output_tokens);
      if (max !== undefined) facts.maxOutputTokens = max;
      return { ...base, facts };
    }
    default: {
      // An event this reader does not know: whatever it carries may reach the model, so every
      // string in it is read as text, as for JSON of an unknown format.
      const { type: _t, event_id: _e, ...rest } = event;
      for (const [key, value] of Object.entries(rest)) stringLeaves(value, [key], facts.texts);
      return { ...base, facts };
    }
  }
}

/** The options a session and a response share: instructions, tools, tool_choice. */
function readOptions(options: Obj, path: JsonPath, facts: RequestFacts): void {
  const instructions = optionalString(options.instructions, [...path, 'instructions']);
  if (instructions !== undefined) facts.texts.push({ path: [...path, 'instructions'], text: instructions });
  optionalArray(options.tools, [...path, 'tools']).forEach((t, i) => {
    const tool = requireObject(t, [...path, 'tools', i]);
    const name = toolName(tool);
    if (name !== undefined) facts.toolsDefined.push(name);
    toolDefinitionTexts(tool.description, tool.parameters, [...path, 'tools', i], 'description', 'parameters', facts.texts);
  });
  // A forced choice names the tool the model must call: judged as a call.
  const choice = options.tool_choice;
  if (isObject(choice)) {
    const name = str(choice.name) ?? (isObject(choice.function) ? str(choice.function.name) : undefined);
    if (name !== undefined) facts.toolCalls.push({ name });
  }
}

/** Function tools by name; other tool types (a remote MCP server...) by type. */
function toolName(tool: Obj): string | undefined {
  return str(tool.name) ?? str(tool.type);
}

/** Content parts that carry text the client wrote, and those whose transcript is text. */
const TEXT_PARTS = new Set(['input_text', 'text', 'output_text']);
const AUDIO_PARTS = new Set(['input_audio', 'audio', 'output_audio']);

/** One conversation item: its text, or the call it carries. */
function readItem(item: Obj, path: JsonPath, facts: RequestFacts): void {
  const type = item.type ?? (item.role !== undefined ? 'message' : undefined);
  if (type === 'message') {
    optionalArray(item.content, [...path, 'content']).forEach((p, j) => {
      const part = requireObject(p, [...path, 'content', j]);
      const key = TEXT_PARTS.has(part.type as string) ? 'text' : AUDIO_PARTS.has(part.type as string) ? 'transcript' : undefined;
      if (key === undefined) return; // images are not text
      const text = optionalString(part[key], [...path, 'content', j, key]);
      if (text !== undefined) facts.texts.push({ path: [...path, 'content', j, key], text });
    });
  } else if (type === 'function_call') {
    const name = optionalString(item.name, [...path, 'name']);
    if (name === undefined) throw malformed([...path, 'name'], 'a function_call item must name its function');
    facts.toolCalls.push(toolCall(name, parseArguments(item.arguments), item.call_id));
    if (typeof item.arguments === 'string') facts.texts.push({ path: [...path, 'arguments'], text: item.arguments });
  } else if (type === 'function_call_output') {
    const output = optionalString(item.output, [...path, 'output']);
    if (output !== undefined) facts.texts.push({ path: [...path, 'output'], text: output });
  } else {
    // An item type this reader does not know: every string in it but its type and ids.
    for (const [key, value] of Object.entries(item)) if (!['type', 'id', 'object', 'status', 'role'].includes(key)) stringLeaves(value, [...path, key], facts.texts);
  }
}

function at(root: Obj, path: readonly string[]): unknown {
  let node: unknown = root;
  for (const key of path) node = isObject(node) ? node[key] : undefined;
  return node;
}

/**
 * Removes the named tools from a session.update's or response.create's tool list (and a forced
 * tool_choice naming one of them), in place; returns how many it removed.
 */
export function removeEventTools(event: Obj, names: ReadonlySet<string>): number {
  let removed = 0;
  for (const options of [event.session, event.response]) {
    const tools = isObject(options) ? options.tools : undefined;
    if (!isObject(options) || !Array.isArray(tools)) continue;
    options.tools = tools.filter((t) => !(isObject(t) && names.has(toolName(t) ?? '')));
    removed += tools.length - (options.tools as unknown[]).length;
    const choice = options.tool_choice;
    if (isObject(choice) && names.has(str(choice.name) ?? (isObject(choice.function) ? (str(choice.function.name) ?? '') : ''))) options.tool_choice = 'auto';
  }
  return removed;
}

/** What one server event says. */
export interface ServerReading {
  type: string;
  /** Events for the stream checks, in order: a proposed tool call by name (as soon as it is known), model text. */
  events: StreamEvent[];
  /** Tool calls the model proposes, complete (name, arguments, call_id). */
  toolCalls: ToolCall[];
  /** The model's token usage for one response (response.done). */
  usage?: Usage;
  /** The model the session runs (session.created, session.updated). */
  model?: string;
  /** This event ends a response (response.done). */
  responseDone: boolean;
}

/** Server events whose `delta` is text the model produced. */
const TEXT_DELTAS = new Set(['response.text.delta', 'response.output_text.delta', 'response.audio_transcript.delta', 'response.output_audio_transcript.delta']);

/**
 * Reads server events in order. It remembers the name of each function_call item, since some
 * events name a call only by its item id.
 */
export class RealtimeServerReader {
  private readonly names = new Map<string, string>();

  read(event: Obj): ServerReading {
    const type = typeof event.type === 'string' ? event.type : '';
    const out: ServerReading = { type, events: [], toolCalls: [], responseDone: false };
    if (type === 'session.created' || type === 'session.updated') {
      const model = isObject(event.session) ? str(event.session.model) : undefined;
      if (model !== undefined) out.model = model;
    }
    if (TEXT_DELTAS.has(type) && typeof event.delta === 'string') out.events.push({ type: 'text', text: event.delta });
    if (isObject(event.item)) this.item(event.item, type.startsWith('response.') && type.endsWith('.done'), out);
    if (type === 'response.function_call_arguments.done') {
      const name = str(event.name) ?? this.names.get(str(event.item_id) ?? '');
      // A call whose name never came: named '' here, which the session refuses (it cannot be judged).
      out.toolCalls.push(toolCall(name ?? '', parseArguments(event.arguments), event.call_id));
    }
    if (type === 'response.done' && isObject(event.response)) {
      for (const item of Array.isArray(event.response.output) ? event.response.output : []) if (isObject(item)) this.item(item, true, out);
      const usage = usageFrom(event.response.usage, ['input_tokens'], 'output_tokens');
      if (usage) out.usage = usage;
      out.responseDone = true;
    }
    if (type === 'response.done') this.names.clear();
    return out;
  }

  /** A function_call item: judged by name as soon as it appears; as a whole call when it is done. */
  private item(item: Obj, done: boolean, out: ServerReading): void {
    if (item.type !== 'function_call') return;
    const name = str(item.name);
    if (name === undefined) return;
    const id = str(item.id);
    if (id !== undefined && this.names.size < 10_000) this.names.set(id, name);
    const callId = str(item.call_id);
    out.events.push({ type: 'tool_call', name, ...(callId !== undefined && { id: callId }) });
    if (done) out.toolCalls.push(toolCall(name, parseArguments(item.arguments), item.call_id));
  }
}

/**
 * A Realtime `error` event from the sidecar, naming the client event it answers (if any): the
 * shape the SDKs surface. `type` is OpenAI's error family, `code` the kind (`forbidden`,
 * `rate_limited`, `approval_required`, `invalid_request`...).
 */
export function realtimeError(kind: ErrorKind, message: string, clientEventId?: string): string {
  return JSON.stringify({
    type: 'error',
    event_id: `event_chaperone_${randomUUID().replace(/-/g, '')}`,
    error: { type: openAiError(kind, message).type, code: kind, message, param: null, event_id: clientEventId ?? null },
  });
}
