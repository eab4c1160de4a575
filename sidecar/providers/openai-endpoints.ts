// OpenAI's other JSON endpoints, as named operations: legacy completions, embeddings, moderations,
// text-to-speech, image generation, the Assistants API (assistants, threads, messages, runs,
// submit_tool_outputs), batches and realtime sessions. Matched by path suffix like the chat adapter:
// /v1/..., Azure's /openai/deployments/{d}/... and /openai/..., look-alikes' /api/v1/..., on any host.
//
// Before this adapter these calls fell to the unknown adapter, whose DLP reads every string of the
// body. Naming them keeps that: the fields each operation is known to carry are read with their
// meaning (a tool list as tools, a forced tool_choice as a call), and every other top-level field is
// still read string by string (restTexts). What is no longer read: the fields known to hold only ids
// and enum words, images (data URLs, file ids) as the chat adapter skips them, and a tool definition
// beyond its description and parameter schema, as the Responses adapter reads one.
//
// Answers are read by their shape (an adapter's parseResponse sees no path): a run's required_action
// is the model proposing tool calls; a message, a completion choice or a revised image prompt is
// model text; `usage` counts tokens in either of OpenAI's namings. Streams: legacy completion
// chunks, the Assistants API's `thread.*` events, speech and image-generation events.
import { createHash, type Hash } from 'node:crypto';
import type { JsonPath, RequestFacts, ResponseFacts, StreamEvent, TextField, ToolCall, Usage } from '../call.js';
import type { ProviderAdapter, RequestHead, StreamParser, StreamParserOptions } from './adapter.js';
import { anyHostGlob } from '../../api/host-glob.js';
import { openAiError, openAiErrorAnswer } from './openai-chat.js';
import { askForStreamUsage, isUsageOnlyChunk, markingSidecarOnly } from './openai-usage.js';
import { sseStreamParser, type SseEvent } from './sse.js';
import {
  arr, baseResponseFacts, frameJson, isJsonRpc, isObject, malformed, num, objectTexts, optionalArray, optionalString, parseArguments,
  pathOnly, requireArray, requireObject, str, stringLeaves, toolCall, ToolCallCollector, toolDefinitionTexts, schemaTexts, usageFrom,
  type Obj,
} from './util.js';

// ------------------------------------------------------------------------------------- requests

/** What an operation's reader fills in; parseRequest adds model, stream and the rest's texts. */
interface Reading {
  texts: TextField[];
  toolsDefined: string[];
  toolCalls: ToolCall[];
  stream: boolean;
  maxOutputTokens?: number;
  /** A model named elsewhere than the top-level `model` (a realtime client secret's session). */
  model?: string;
}

interface Route {
  operation: string;
  /** The end of the path (query excluded). */
  pattern: RegExp;
  /** Top-level fields read by `read`, or known to hold no text (ids, enum words): not scanned whole. */
  known: readonly string[];
  read(b: Obj, out: Reading): void;
}

/** An object id in a path (asst_..., thread_..., run_...): OpenAI's never hold a ':' (Google's `batches/x:cancel` do). */
const ID = '[^/:]+';
const end = (tail: string): RegExp => new RegExp(`/${tail}$`);

/** Text a message's content holds: a string, or parts of which `text` ones count (images skipped). */
function contentTexts(content: unknown, path: JsonPath, out: TextField[]): void {
  if (content === undefined || content === null) return;
  if (typeof content === 'string') {
    out.push({ path, text: content });
    return;
  }
  requireArray(content, path).forEach((part, j) => {
    const p = requireObject(part, [...path, j]);
    if (p.type === 'text' && typeof p.text === 'string') out.push({ path: [...path, j, 'text'], text: p.text });
    // image_file / image_url parts hold a file id or an image; any other part is read whole.
    else if (p.type !== 'image_file' && p.type !== 'image_url') stringLeaves(p, [...path, j], out);
  });
}

/** An Assistants API message list (threads' `messages`, runs' `additional_messages`): content and metadata. */
function messagesTexts(messages: unknown, path: JsonPath, out: TextField[]): void {
  optionalArray(messages, path).forEach((m, i) => {
    const msg = requireObject(m, [...path, i]);
    contentTexts(msg.content, [...path, i, 'content'], out);
    objectTexts(msg.metadata, [...path, i, 'metadata'], out);
  });
}

/**
 * A tool's name: a function tool's (Assistants: `function.name`; realtime: `name`), a built-in tool
 * (code_interpreter, file_search, mcp) by its type, as the Responses adapter names them.
 */
function toolName(tool: Obj): string | undefined {
  return (isObject(tool.function) ? str(tool.function.name) : undefined) ?? str(tool.name) ?? str(tool.type);
}

/** A tools list: names defined, and each function's description and parameter schema as text. */
function toolsOf(tools: unknown, path: JsonPath, out: Reading): void {
  optionalArray(tools, path).forEach((t, i) => {
    const tool = requireObject(t, [...path, i]);
    const name = toolName(tool);
    if (name !== undefined) out.toolsDefined.push(name);
    if (isObject(tool.function)) toolDefinitionTexts(tool.function.description, tool.function.parameters, [...path, i, 'function'], 'description', 'parameters', out.texts);
    else toolDefinitionTexts(tool.description, tool.parameters, [...path, i], 'description', 'parameters', out.texts);
  });
}

/** A forced tool_choice names the tool the model must call: {type:'function', function:{name}}, {type:'function', name}, or a built-in tool by type. */
function choiceName(choice: unknown): string | undefined {
  if (!isObject(choice)) return undefined; // 'auto' | 'none' | 'required' name none
  return toolName(choice);
}

function forcedChoice(choice: unknown, out: Reading): void {
  const name = choiceName(choice);
  if (name !== undefined) out.toolCalls.push({ name });
}

/** A structured-output format (response_format: 'auto' or {type:'json_schema', json_schema}): its schema's texts. */
function formatTexts(format: unknown, path: JsonPath, out: TextField[]): void {
  if (isObject(format)) schemaTexts(format, path, out);
}

/** `prompt`/`input` of completions and embeddings: a string, strings, or token arrays (numbers: no text). */
function promptTexts(value: unknown, path: JsonPath, out: TextField[]): void {
  if (value === undefined || value === null) return;
  if (typeof value === 'string') {
    out.push({ path, text: value });
    return;
  }
  requireArray(value, path).forEach((item, i) => {
    if (typeof item === 'string') out.push({ path: [...path, i], text: item });
    else if (typeof item !== 'number' && !Array.isArray(item)) throw malformed([...path, i], 'must be a string, a token or an array of tokens');
  });
}

/** A run's settings (create, create-and-run): instructions, extra messages, tools, forced choice. */
function runTexts(b: Obj, out: Reading): void {
  for (const key of ['instructions', 'additional_instructions']) {
    const text = optionalString(b[key], [key]);
    if (text !== undefined) out.texts.push({ path: [key], text });
  }
  messagesTexts(b.additional_messages, ['additional_messages'], out.texts);
  toolsOf(b.tools, ['tools'], out);
  forcedChoice(b.tool_choice, out);
  formatTexts(b.response_format, ['response_format'], out.texts);
  out.stream = b.stream === true;
  const max = num(b.max_completion_tokens);
  if (max !== undefined) out.maxOutputTokens = max;
}

/** A realtime session's settings (sessions: the body; client_secrets: its `session`). */
function realtimeTexts(s: Obj, path: JsonPath, out: Reading): void {
  const instructions = optionalString(s.instructions, [...path, 'instructions']);
  if (instructions !== undefined) out.texts.push({ path: [...path, 'instructions'], text: instructions });
  toolsOf(s.tools, [...path, 'tools'], out);
  forcedChoice(s.tool_choice, out);
  const max = num(s.max_output_tokens) ?? num(s.max_response_output_tokens);
  if (max !== undefined) out.maxOutputTokens = max;
}

/** Fields of a realtime session that hold no text a person wrote. */
const REALTIME_KNOWN = ['model', 'instructions', 'tools', 'tool_choice', 'voice', 'modalities', 'output_modalities', 'input_audio_format', 'output_audio_format', 'type', 'include'];

/** Most specific first: /threads/runs is create-and-run, not thread "runs". */
const ROUTES: readonly Route[] = [
  {
    operation: 'completions',
    pattern: /\/completions$/, // /chat/completions is excluded in routeOf
    known: ['model', 'prompt', 'suffix'],
    read(b, out) {
      promptTexts(b.prompt, ['prompt'], out.texts);
      const suffix = optionalString(b.suffix, ['suffix']);
      if (suffix !== undefined) out.texts.push({ path: ['suffix'], text: suffix });
      out.stream = b.stream === true;
      const max = num(b.max_tokens);
      if (max !== undefined) out.maxOutputTokens = max;
    },
  },
  {
    operation: 'embeddings',
    pattern: end('embeddings'),
    known: ['model', 'input', 'encoding_format'],
    read: (b, out) => promptTexts(b.input, ['input'], out.texts),
  },
  {
    operation: 'moderations',
    pattern: end('moderations'),
    known: ['model', 'input'],
    read(b, out) {
      // A string, strings, or multimodal parts: text parts read, image parts skipped, anything else read whole.
      if (typeof b.input === 'string' || b.input === undefined || b.input === null) return promptTexts(b.input, ['input'], out.texts);
      requireArray(b.input, ['input']).forEach((item, i) => {
        if (typeof item === 'string') out.texts.push({ path: ['input', i], text: item });
        else if (isObject(item) && item.type === 'text' && typeof item.text === 'string') out.texts.push({ path: ['input', i, 'text'], text: item.text });
        else if (!(isObject(item) && item.type === 'image_url')) stringLeaves(item, ['input', i], out.texts);
      });
    },
  },
  {
    operation: 'audio.speech',
    pattern: end('audio/speech'),
    known: ['model', 'input', 'instructions', 'voice', 'response_format', 'stream_format'],
    read(b, out) {
      for (const key of ['input', 'instructions']) {
        const text = optionalString(b[key], [key]);
        if (text !== undefined) out.texts.push({ path: [key], text });
      }
      // The answer is audio bytes, or server-sent events when asked for.
      out.stream = b.stream_format === 'sse';
    },
  },
  ...(['generations', 'edits'] as const).map(
    (kind): Route => ({
      operation: `images.${kind}`,
      pattern: end(`images/${kind}`),
      // images / mask (edits) are image URLs or file ids.
      known: ['model', 'prompt', 'images', 'mask', 'size', 'quality', 'style', 'background', 'moderation', 'output_format', 'response_format', 'input_fidelity'],
      read(b, out) {
        const prompt = optionalString(b.prompt, ['prompt']);
        if (prompt !== undefined) out.texts.push({ path: ['prompt'], text: prompt });
        out.stream = b.stream === true;
      },
    }),
  ),
  {
    operation: 'assistants',
    pattern: new RegExp(`/assistants(?:/${ID})?$`),
    known: ['model', 'name', 'description', 'instructions', 'tools', 'tool_resources', 'response_format', 'reasoning_effort'],
    read(b, out) {
      for (const key of ['name', 'description', 'instructions']) {
        const text = optionalString(b[key], [key]);
        if (text !== undefined) out.texts.push({ path: [key], text });
      }
      toolsOf(b.tools, ['tools'], out);
      formatTexts(b.response_format, ['response_format'], out.texts);
    },
  },
  {
    operation: 'threads.runs.submit_tool_outputs',
    pattern: new RegExp(`/threads/${ID}/runs/${ID}/submit_tool_outputs$`),
    known: ['tool_outputs'],
    read(b, out) {
      // The results of the calls the agent ran; only their ids name the calls.
      optionalArray(b.tool_outputs, ['tool_outputs']).forEach((o, i) => {
        const output = requireObject(o, ['tool_outputs', i]);
        const text = optionalString(output.output, ['tool_outputs', i, 'output']);
        if (text !== undefined) out.texts.push({ path: ['tool_outputs', i, 'output'], text });
      });
      out.stream = b.stream === true;
    },
  },
  {
    operation: 'threads.runs',
    // Create-and-run, create, modify (metadata) and cancel a run.
    pattern: new RegExp(`/threads(?:/runs|/${ID}/runs(?:/${ID}(?:/cancel)?)?)$`),
    known: ['assistant_id', 'model', 'instructions', 'additional_instructions', 'additional_messages', 'tools', 'tool_choice', 'tool_resources', 'response_format', 'reasoning_effort', 'truncation_strategy', 'thread'],
    read(b, out) {
      runTexts(b, out);
      // Create-and-run starts a new thread.
      if (b.thread !== undefined && b.thread !== null) {
        const thread = requireObject(b.thread, ['thread']);
        messagesTexts(thread.messages, ['thread', 'messages'], out.texts);
        objectTexts(thread.metadata, ['thread', 'metadata'], out.texts);
      }
    },
  },
  {
    operation: 'threads.messages',
    pattern: new RegExp(`/threads/${ID}/messages(?:/${ID})?$`),
    known: ['role', 'content', 'attachments'],
    read: (b, out) => contentTexts(b.content, ['content'], out.texts),
  },
  {
    operation: 'threads',
    pattern: new RegExp(`/threads(?:/${ID})?$`),
    known: ['messages', 'tool_resources'],
    read: (b, out) => messagesTexts(b.messages, ['messages'], out.texts),
  },
  {
    operation: 'batches',
    // The requests are in an uploaded file (multipart /files: not read here); only its id is sent.
    pattern: new RegExp(`/batches(?:/${ID}(?:/cancel)?)?$`),
    known: ['input_file_id', 'endpoint', 'completion_window', 'output_expires_after'],
    read: () => undefined,
  },
  {
    operation: 'realtime.sessions',
    pattern: end('realtime/sessions'),
    known: REALTIME_KNOWN,
    read: (b, out) => realtimeTexts(b, [], out),
  },
  {
    operation: 'realtime.transcription_sessions',
    pattern: end('realtime/transcription_sessions'),
    known: ['input_audio_format', 'include', 'modalities'],
    read: () => undefined,
  },
  {
    operation: 'realtime.client_secrets',
    pattern: end('realtime/client_secrets'),
    known: ['session', 'expires_after'],
    read(b, out) {
      if (b.session === undefined || b.session === null) return;
      const session = requireObject(b.session, ['session']);
      const model = optionalString(session.model, ['session', 'model']);
      if (model !== undefined) out.model = model;
      realtimeTexts(session, ['session'], out);
      restTexts(session, REALTIME_KNOWN, ['session'], out.texts);
    },
  },
];

function routeOf(path: string): Route | undefined {
  const p = pathOnly(path);
  if (p.endsWith('/chat/completions')) return undefined; // the chat adapter's
  if (p.includes('/messages/batches')) return undefined; // Anthropic's Message Batches
  return ROUTES.find((r) => r.pattern.test(p));
}

/**
 * Hosts whose own APIs share these path words (Anthropic's, Google's `/v1beta/batches`): there only
 * an OpenAI-compatible layer under `/openai/` (Gemini's `/v1beta/openai/embeddings`) is this format.
 */
const OTHER_FORMAT_HOSTS = ['api.anthropic.com', 'generativelanguage.googleapis.com', '*-aiplatform.googleapis.com', 'aiplatform.googleapis.com'];
const speaksThis = (head: RequestHead): boolean =>
  routeOf(head.path) !== undefined && (pathOnly(head.path).includes('/openai/') || !anyHostGlob(OTHER_FORMAT_HOSTS, head.host));

/**
 * Every string of the fields not read above, as the unknown adapter read them: what OpenAI adds to
 * an endpoint (a `user`, `metadata`, stop sequences, a new prompt field) is still seen by DLP.
 */
function restTexts(b: Obj, known: readonly string[], path: JsonPath, out: TextField[]): void {
  for (const [key, value] of Object.entries(b)) {
    if (!known.includes(key) && key !== 'model' && key !== 'stream') stringLeaves(value, [...path, key], out);
  }
}

/** Azure names the deployment in the path (/openai/deployments/{d}/embeddings) and sends no model. */
const AZURE_DEPLOYMENT = /\/openai\/deployments\/([^/]+)\//;

function parseRequest(head: RequestHead, body: unknown): RequestFacts {
  const route = routeOf(head.path);
  const out: Reading = { texts: [], toolsDefined: [], toolCalls: [], stream: false };
  let model = AZURE_DEPLOYMENT.exec(pathOnly(head.path))?.[1];
  // A bodiless request (GET, DELETE, a cancel) is never parsed by the data path; here it says only its operation.
  if (body !== undefined && route) {
    const b = requireObject(body, []);
    route.read(b, out);
    model = optionalString(b.model, ['model']) ?? out.model ?? model;
    restTexts(b, route.known, [], out.texts);
  }
  return {
    operation: route?.operation ?? 'unknown',
    ...(model !== undefined && { model }),
    toolsDefined: out.toolsDefined,
    toolCalls: out.toolCalls,
    texts: out.texts,
    stream: out.stream,
    ...(out.maxOutputTokens !== undefined && { maxOutputTokens: out.maxOutputTokens }),
  };
}

/**
 * Removes tools from an assistant's, a run's or a realtime session's list. A run's `tools` replaces
 * the assistant's for that run, so an emptied list stays (`[]`): deleting it would bring the
 * assistant's tools, the removed ones among them, back. A forced tool_choice naming one becomes 'auto'.
 */
function removeTools(body: unknown, names: ReadonlySet<string>): number {
  if (!isObject(body)) return 0;
  let removed = 0;
  for (const holder of [body, body.session]) {
    if (!isObject(holder) || !Array.isArray(holder.tools)) continue;
    const kept = holder.tools.filter((t) => !(isObject(t) && names.has(toolName(t) ?? '')));
    removed += holder.tools.length - kept.length;
    holder.tools = kept;
    if (names.has(choiceName(holder.tool_choice) ?? '')) holder.tool_choice = 'auto';
  }
  return removed;
}

// -------------------------------------------------------------------------------------- answers

/** `usage` in either naming: prompt/completion tokens (completions, embeddings, runs), input/output (images, speech). */
const usageOf = (u: unknown): Usage | undefined => usageFrom(u, ['prompt_tokens'], 'completion_tokens') ?? usageFrom(u, ['input_tokens'], 'output_tokens');

/** The function calls a run's required_action asks the client to make (the model's proposals), as sent. */
function requiredCalls(run: Obj): { name: string; id?: string; args: unknown }[] {
  const action = isObject(run.required_action) ? run.required_action : undefined;
  const submit = isObject(action?.submit_tool_outputs) ? action.submit_tool_outputs : undefined;
  const calls: { name: string; id?: string; args: unknown }[] = [];
  for (const tc of arr(submit?.tool_calls)) {
    if (!isObject(tc) || !isObject(tc.function) || typeof tc.function.name !== 'string') continue;
    calls.push({ name: tc.function.name, args: tc.function.arguments, ...(typeof tc.id === 'string' && { id: tc.id }) });
  }
  return calls;
}

/** The text of an assistant's message (thread.message): model output. A user's message is the agent's own. */
function messageTexts(msg: Obj, path: JsonPath, out: TextField[]): void {
  if (msg.role !== 'assistant') return;
  arr(msg.content).forEach((part, j) => {
    if (isObject(part) && part.type === 'text' && isObject(part.text) && typeof part.text.value === 'string') {
      out.push({ path: [...path, 'content', j, 'text', 'value'], text: part.text.value });
    }
  });
}

/** One object of an answer, by its `object` (runs, messages), or by its fields (choices, images). */
function readAnswer(o: Obj, path: JsonPath, facts: ResponseFacts): void {
  if (o.object === 'thread.run') for (const c of requiredCalls(o)) facts.toolCalls.push(toolCall(c.name, parseArguments(c.args), c.id));
  else if (o.object === 'thread.message') messageTexts(o, path, facts.texts);
  arr(o.choices).forEach((c, i) => {
    if (!isObject(c)) return;
    // Legacy completions answer `text`; look-alikes of the endpoint (fill-in-the-middle) a chat message.
    if (typeof c.text === 'string') facts.texts.push({ path: [...path, 'choices', i, 'text'], text: c.text });
    else if (isObject(c.message) && typeof c.message.content === 'string') facts.texts.push({ path: [...path, 'choices', i, 'message', 'content'], text: c.message.content });
  });
}

function parseResponse(body: unknown): ResponseFacts {
  if (!isObject(body)) return { toolCalls: [], texts: [] };
  const facts = baseResponseFacts(body, usageOf);
  readAnswer(body, [], facts);
  arr(body.data).forEach((item, i) => {
    if (!isObject(item)) return;
    // A list of runs or messages; an image's prompt as the model rewrote it.
    readAnswer(item, ['data', i], facts);
    if (typeof item.revised_prompt === 'string') facts.texts.push({ path: ['data', i, 'revised_prompt'], text: item.revised_prompt });
  });
  // A realtime client secret names its session's model.
  if (facts.model === undefined && isObject(body.session) && typeof body.session.model === 'string') facts.model = body.session.model;
  return facts;
}

// -------------------------------------------------------------------------------------- streams

/** Messages whose streamed text is remembered (as a digest) so its final copy is not judged twice. */
const MAX_TRACKED_MESSAGES = 256;
/** Run-step tool calls whose id is remembered, for deltas that name the call by its index only. */
const MAX_TRACKED_CALLS = 1024;

function streamParser(options: StreamParserOptions = {}): StreamParser {
  const tools = new ToolCallCollector();
  let model: string | undefined;
  let usage: Usage | undefined;
  /** A digest of each message's deltas: bounded, whatever the message's length. */
  const streamed = new Map<string, Hash>();
  /** step id + index → call id: a step delta names its call by index once the id was sent. */
  const callIds = new Map<string, string>();

  /** Starts (or continues) a proposed function call; returns the tool_call events due. */
  const startCall = (key: string, name: string | undefined, id: string | undefined): StreamEvent[] =>
    name === undefined || name === '' ? [] : tools.start(key, name, id).map((n) => ({ type: 'tool_call', name: n, ...(id !== undefined && { id }) }));

  /** A run object (thread.run.* events): its model, proposed calls (full arguments) and usage. */
  const readRun = (run: Obj, failed: boolean): StreamEvent[] => {
    model = str(run.model) ?? model;
    const events: StreamEvent[] = [];
    // Whole calls, with their complete arguments; a call the run's steps already showed keeps its key (the call id).
    for (const call of requiredCalls(run)) {
      const key = call.id ?? call.name;
      events.push(...startCall(key, call.name, call.id));
      if (typeof call.args === 'string') tools.replace(key, call.args);
    }
    const u = usageOf(run.usage);
    if (u) {
      usage = u;
      events.push({ type: 'usage', usage: u });
    }
    if (failed) events.push({ type: 'error', message: (isObject(run.last_error) ? str(run.last_error.message) : undefined) ?? 'run failed' });
    return events;
  };

  /** Function calls in a run step (whole or a delta): judged as soon as their name shows. */
  const readStep = (stepId: string, details: unknown): StreamEvent[] => {
    if (!isObject(details)) return [];
    const events: StreamEvent[] = [];
    arr(details.tool_calls).forEach((tc, ti) => {
      if (!isObject(tc) || (tc.type !== undefined && tc.type !== 'function')) return; // code_interpreter, file_search run at OpenAI
      const fn = isObject(tc.function) ? tc.function : {};
      // A call with its output is one the agent already ran and reported (a step completed after
      // submit_tool_outputs): not a new proposal, so not judged (nor held for approval) again.
      if (typeof fn.output === 'string') return;
      const at = `${stepId}:${num(tc.index) ?? ti}`;
      const id = str(tc.id);
      if (id !== undefined && callIds.size < MAX_TRACKED_CALLS) callIds.set(at, id);
      const key = id ?? callIds.get(at) ?? at;
      events.push(...startCall(key, str(fn.name), id));
      if (typeof fn.arguments === 'string' && tools.has(key)) tools.append(key, fn.arguments);
    });
    return events;
  };

  /** A message delta's text parts; the digest of what was streamed grows with them. */
  const readMessageDelta = (ev: Obj): StreamEvent[] => {
    const delta = isObject(ev.delta) ? ev.delta : {};
    const events: StreamEvent[] = [];
    for (const part of arr(delta.content)) {
      if (!isObject(part) || !isObject(part.text) || typeof part.text.value !== 'string' || part.text.value === '') continue;
      const id = str(ev.id) ?? '';
      let hash = streamed.get(id);
      if (!hash && streamed.size < MAX_TRACKED_MESSAGES) streamed.set(id, (hash = createHash('sha256')));
      hash?.update(part.text.value);
      events.push({ type: 'text', text: part.text.value });
    }
    return events;
  };

  /** A completed message repeats its whole text: judged again only when the deltas did not carry exactly it. */
  const readMessageDone = (msg: Obj): StreamEvent[] => {
    const texts: TextField[] = [];
    messageTexts(msg, [], texts);
    const text = texts.map((t) => t.text).join('');
    const hash = streamed.get(str(msg.id) ?? '');
    if (text === '' || (hash && hash.copy().digest('hex') === createHash('sha256').update(text).digest('hex'))) return [];
    return [{ type: 'text', text }];
  };

  /** The Assistants API's `thread.*` events. */
  const readAssistantEvent = (event: string, ev: Obj): StreamEvent[] => {
    if (event === 'thread.message.delta') return readMessageDelta(ev);
    if (event === 'thread.message.completed') return readMessageDone(ev);
    if (event === 'thread.run.step.delta') return readStep(str(ev.id) ?? '', isObject(ev.delta) ? ev.delta.step_details : undefined);
    if (event.startsWith('thread.run.step.')) return readStep(str(ev.id) ?? '', ev.step_details);
    if (event.startsWith('thread.run.')) return readRun(ev, event === 'thread.run.failed');
    return []; // thread.created, thread.message.created / in_progress / incomplete
  };

  /** Other chunks: legacy completions (and look-alikes' chat-shaped deltas), speech and image events. */
  const readChunk = (chunk: Obj): StreamEvent[] => {
    const events: StreamEvent[] = [];
    model = str(chunk.model) ?? model;
    for (const c of arr(chunk.choices)) {
      if (!isObject(c)) continue;
      const text = str(c.text) ?? (isObject(c.delta) ? str(c.delta.content) : undefined);
      if (text !== undefined && text !== '') events.push({ type: 'text', text });
    }
    const u = usageOf(chunk.usage);
    if (u) {
      usage = u;
      events.push({ type: 'usage', usage: u });
    }
    return events;
  };
  /** Chunks carrying only the usage the sidecar asked for (legacy completions), by their bytes. */
  const sidecarOnly = new WeakSet<Buffer>();

  const read = (frame: SseEvent): StreamEvent[] => {
    if (!frame.hasData || frame.data === '[DONE]') return []; // Assistants end with `event: done` / `data: [DONE]`
    const ev = frameJson(frame.data);
    if (!isObject(ev)) return [];
    if (isObject(ev.error)) return [{ type: 'error', message: str(ev.error.message) ?? 'upstream error' }];
    if (frame.event === 'error') return [{ type: 'error', message: str(ev.message) ?? 'upstream error' }];
    if (frame.event?.startsWith('thread.')) return readAssistantEvent(frame.event, ev);
    if (options.usageAskedBySidecar && ev.usage !== undefined && isUsageOnlyChunk(ev)) sidecarOnly.add(frame.bytes);
    return readChunk(ev);
  };

  const parser = sseStreamParser(read, () => ({
    ...(model !== undefined && { model }),
    ...(usage !== undefined && { usage }),
    toolCalls: tools.list(),
    texts: [],
  }));
  return options.usageAskedBySidecar ? markingSidecarOnly(parser, sidecarOnly) : parser;
}

export const openAiEndpointsAdapter: ProviderAdapter = {
  provider: 'openai',
  // By path alone: a bodiless GET (a run polled for its required_action, a message list) is read too.
  matches: (head, body) => speaksThis(head) && !isJsonRpc(body),
  parseRequest,
  parseResponse,
  isStream: (contentType) => contentType?.toLowerCase().includes('text/event-stream') ?? false,
  // Speech is audio bytes (the SDK asks for application/octet-stream); asked for as SSE, it is a stream.
  binaryAnswer: (facts) => facts.operation === 'audio.speech' && !facts.stream,
  // Legacy completions stream their usage only when asked, as chat does.
  askForUsage: (head, body) => routeOf(head.path)?.operation === 'completions' && askForStreamUsage(head, body),
  streamParser,
  errorAnswer: openAiErrorAnswer,
  // An `error` event holding {error}: the OpenAI SDKs raise it on every one of these streams (named
  // events outside `thread.*` are read like unnamed ones, and `event: error` is raised by name).
  streamError: (kind, message) => Buffer.from(`event: error\ndata: ${JSON.stringify({ error: openAiError(kind, message) })}\n\n`),
  removeTools,
};

/** The operation a path names (for tests and docs): undefined when this adapter does not speak it. */
export const operationOf = (path: string): string | undefined => routeOf(path)?.operation;
