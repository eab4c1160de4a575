// Bedrock InvokeModel / InvokeModelWithResponseStream: the body is the model's own format. Which one
// is told by the model id in the path (an inference profile or an ARN names the model too), and
// where the id does not say (an application inference profile, a provisioned model) by the body's
// shape. Each shape reads the strings its model reads, and any other top-level field's strings as
// well; a body of no known shape has every string leaf read: nothing goes out unread.
// Answers and stream chunks carry no model id: they are told by their shape alone.
import type { ResponseFacts, StreamEvent, TextField, ToolCall, Usage } from '../call.js';
import type { RequestHead } from './adapter.js';
import { anthropicAdapter, messagesBodyFacts, messagesStreamReader } from './anthropic.js';
import { CONVERSE_EVENTS, converseBodyFacts, converseStreamReader, type BodyFacts } from './bedrock-converse.js';
import { openAiChatAdapter } from './openai-chat.js';
import {
  arr, frameJson, isObject, num, optionalArray, requireObject, str, stringLeaves, toolCall, ToolCallCollector,
  toolDefinitionTexts, UnreadableFrame, usageFrom, type Obj,
} from './util.js';

/** The body formats InvokeModel's models speak. */
export type Dialect =
  | 'anthropic' // Anthropic Messages (anthropic_version: bedrock-2023-05-31)
  | 'converse' // Amazon Nova: Converse's shape (messages of {text} blocks, toolConfig)
  | 'chat' // OpenAI-like chat: Mistral Large, AI21 Jamba, OpenAI gpt-oss
  | 'cohere-chat' // Cohere Command R: message, chat_history, preamble, documents, tools
  | 'cohere-embed' // Cohere Embed: texts
  | 'titan' // Amazon Titan text and embeddings: inputText
  | 'prompt' // one prompt string: Meta Llama, Mistral, Cohere Command, DeepSeek, Claude Text Completions
  | 'unknown';

/** Which shapes each model family may send, most likely first. */
const FAMILY_DIALECTS: Record<string, readonly Dialect[]> = {
  anthropic: ['anthropic', 'prompt'],
  nova: ['converse'],
  titan: ['titan'],
  meta: ['prompt'],
  mistral: ['chat', 'prompt'],
  cohere: ['cohere-chat', 'cohere-embed', 'prompt'],
  ai21: ['chat', 'prompt'],
  deepseek: ['prompt', 'chat'],
  openai: ['chat'],
};

/** The field that says a body is of a shape (present, whatever its value: a bad value is the reader's to judge). */
const MARK: Record<Exclude<Dialect, 'unknown'>, string> = {
  anthropic: 'messages',
  converse: 'messages',
  chat: 'messages',
  'cohere-chat': 'message',
  'cohere-embed': 'texts',
  titan: 'inputText',
  prompt: 'prompt',
};

/**
 * `anthropic.claude-...`, `us.anthropic.claude-...` (an inference profile), an ARN ending in either
 * (`.../foundation-model/anthropic.claude-...`): the provider, and for Amazon the model line.
 */
const MODEL_ID = /(?:^|[/.:])(anthropic|amazon|meta|mistral|cohere|ai21|deepseek|openai)\.([a-z0-9]+)/i;

export function familyOf(model: string): string | undefined {
  const m = MODEL_ID.exec(model);
  if (!m) return undefined;
  const provider = m[1]!.toLowerCase();
  if (provider !== 'amazon') return provider;
  const line = m[2]!.toLowerCase();
  return line === 'nova' || line === 'titan' ? line : undefined;
}

/** A Converse-shaped message list: some content block has no `type` (Converse's blocks never do; chat parts always do). */
function looksConverse(b: Obj): boolean {
  if ('schemaVersion' in b || 'toolConfig' in b || 'inferenceConfig' in b) return true;
  return arr(b.messages).some((m) => isObject(m) && arr(m.content).some((c) => isObject(c) && c.type === undefined));
}

/** The body's shape when the model id does not tell. */
function shapeOf(b: Obj): Dialect {
  if ('messages' in b) return 'anthropic_version' in b ? 'anthropic' : looksConverse(b) ? 'converse' : 'chat';
  if ('message' in b) return 'cohere-chat';
  if ('texts' in b) return 'cohere-embed';
  if ('inputText' in b) return 'titan';
  if ('prompt' in b) return 'prompt'; // Claude Text Completions may carry anthropic_version too
  if ('anthropic_version' in b) return 'anthropic'; // a Messages body without messages: refused as the Anthropic API would
  return 'unknown';
}

/** The family's first shape the body has; else the body's shape, whatever the id said. */
function dialectOf(model: string, b: Obj): Dialect {
  const family = familyOf(model);
  for (const d of family !== undefined ? (FAMILY_DIALECTS[family] ?? []) : []) {
    if (d !== 'unknown' && MARK[d] in b) return d;
  }
  return shapeOf(b);
}

/** Fields whose strings are vocabulary or binary (versions, enums, base64 images), not text anyone wrote. */
const NOT_TEXT = new Set(['anthropic_version', 'schemaVersion', 'model', 'images', 'inputImage', 'input_type', 'embedding_types', 'embeddingTypes', 'truncate']);

/** The strings of every top-level field a reader did not read: a model may read them, so DLP does. */
function restTexts(b: Obj, read: readonly string[], out: TextField[]): void {
  for (const [key, value] of Object.entries(b)) {
    if (!read.includes(key) && !NOT_TEXT.has(key)) stringLeaves(value, [key], out);
  }
}

const CONVERSE_READ = ['system', 'messages', 'toolConfig', 'requestMetadata', 'inferenceConfig'];
/** What openAiChatAdapter.parseRequest reads as text or tools. */
const CHAT_READ = ['messages', 'tools', 'functions', 'tool_choice', 'function_call', 'user', 'safety_identifier', 'prompt_cache_key', 'metadata', 'prediction'];
const COHERE_READ = ['message', 'preamble', 'chat_history', 'documents', 'tools', 'tool_results'];

/** A Cohere tool result ({call: {name, parameters}, outputs: [{...}]}): its parameters and outputs are text. */
function cohereResultTexts(r: unknown, path: (string | number)[], out: TextField[]): void {
  if (!isObject(r)) return;
  if (isObject(r.call)) stringLeaves(r.call.parameters, [...path, 'call', 'parameters'], out);
  stringLeaves(r.outputs, [...path, 'outputs'], out);
}

function cohereChatFacts(b: Obj): BodyFacts {
  const texts: TextField[] = [];
  if (typeof b.preamble === 'string') texts.push({ path: ['preamble'], text: b.preamble });
  optionalArray(b.chat_history, ['chat_history']).forEach((t, i) => {
    const turn = requireObject(t, ['chat_history', i]);
    const at = ['chat_history', i];
    if (typeof turn.message === 'string') texts.push({ path: [...at, 'message'], text: turn.message });
    arr(turn.tool_calls).forEach((c, j) => isObject(c) && stringLeaves(c.parameters, [...at, 'tool_calls', j, 'parameters'], texts));
    arr(turn.tool_results).forEach((r, j) => cohereResultTexts(r, [...at, 'tool_results', j], texts));
  });
  stringLeaves(b.message, ['message'], texts);
  stringLeaves(b.documents, ['documents'], texts); // snippets, titles, any field: the model reads them all
  const toolsDefined: string[] = [];
  optionalArray(b.tools, ['tools']).forEach((t, i) => {
    const tool = requireObject(t, ['tools', i]);
    if (typeof tool.name === 'string') toolsDefined.push(tool.name);
    toolDefinitionTexts(tool.description, tool.parameter_definitions, ['tools', i], 'description', 'parameter_definitions', texts);
  });
  // tool_results carry the calls the model made last turn and the agent ran.
  const toolCalls: ToolCall[] = [];
  optionalArray(b.tool_results, ['tool_results']).forEach((r, i) => {
    cohereResultTexts(r, ['tool_results', i], texts);
    if (isObject(r) && isObject(r.call) && typeof r.call.name === 'string') toolCalls.push(toolCall(r.call.name, r.call.parameters, undefined));
  });
  restTexts(b, COHERE_READ, texts);
  const maxOutputTokens = num(b.max_tokens);
  return { toolsDefined, toolCalls, texts, ...(maxOutputTokens !== undefined && { maxOutputTokens }) };
}

/** Facts of a shape with texts only (no tools), and its output cap when it has one. */
function textFacts(texts: TextField[], cap: unknown): BodyFacts {
  const maxOutputTokens = num(cap);
  return { toolsDefined: [], toolCalls: [], texts, ...(maxOutputTokens !== undefined && { maxOutputTokens }) };
}

/** The facts of an InvokeModel body of the model `model`. Throws MalformedRequest where the model's own format is broken. */
export function invokeBodyFacts(head: RequestHead, model: string, body: unknown): BodyFacts {
  if (!isObject(body)) return textFacts(stringLeaves(body, []), undefined);
  const b = body;
  switch (dialectOf(model, b)) {
    case 'anthropic':
      // Exactly what the Anthropic API's body gives (its reader also reads only what Claude reads).
      return messagesBodyFacts(b);
    case 'converse': {
      const facts = converseBodyFacts(b);
      restTexts(b, CONVERSE_READ, facts.texts);
      return facts;
    }
    case 'chat': {
      const { toolsDefined, toolCalls, texts, maxOutputTokens } = openAiChatAdapter.parseRequest(head, b);
      restTexts(b, CHAT_READ, texts);
      return { toolsDefined, toolCalls, texts, ...(maxOutputTokens !== undefined && { maxOutputTokens }) };
    }
    case 'cohere-chat':
      return cohereChatFacts(b);
    case 'cohere-embed': {
      const texts = stringLeaves(b.texts, ['texts']);
      restTexts(b, ['texts'], texts);
      return textFacts(texts, undefined);
    }
    case 'titan': {
      const texts = stringLeaves(b.inputText, ['inputText']);
      restTexts(b, ['inputText', 'textGenerationConfig'], texts);
      return textFacts(texts, isObject(b.textGenerationConfig) ? b.textGenerationConfig.maxTokenCount : undefined);
    }
    case 'prompt': {
      const texts = stringLeaves(b.prompt, ['prompt']);
      restTexts(b, ['prompt'], texts);
      // Llama: max_gen_len; Mistral, Cohere, DeepSeek: max_tokens; Claude Text Completions: max_tokens_to_sample; AI21 Jurassic: maxTokens.
      return textFacts(texts, b.max_gen_len ?? b.max_tokens ?? b.max_tokens_to_sample ?? b.maxTokens);
    }
    case 'unknown':
      return textFacts(stringLeaves(b, []), undefined);
  }
}

/**
 * Removes tools from a top-level `tools` list, in the body's own shape: Anthropic's (a forced
 * tool_choice is undone as on the Anthropic API), OpenAI-like chat's (likewise), or Cohere's
 * ({name, ...}; the list goes when emptied). A Converse-shaped body's toolConfig is converseRemoveTools's.
 */
export function invokeRemoveTools(body: unknown, names: ReadonlySet<string>): number {
  if (!isObject(body) || !Array.isArray(body.tools)) return 0;
  if ('anthropic_version' in body) return anthropicAdapter.removeTools(body, names);
  if (body.tools.some((t) => isObject(t) && (isObject(t.function) || isObject(t.custom)))) return openAiChatAdapter.removeTools(body, names);
  const kept = body.tools.filter((t) => !(isObject(t) && typeof t.name === 'string' && names.has(t.name)));
  const removed = body.tools.length - kept.length;
  if (removed > 0) {
    if (kept.length > 0) body.tools = kept;
    else delete body.tools;
  }
  return removed;
}

// ---------------------------------------------------------------- answers

const usageOf = (input: unknown, output: unknown): Usage | undefined =>
  num(input) === undefined && num(output) === undefined ? undefined : { inputTokens: num(input) ?? 0, outputTokens: num(output) ?? 0 };

/** Cohere counts tokens in meta.billed_units (and meta.tokens). */
const cohereUsage = (meta: unknown): Usage | undefined =>
  isObject(meta) ? usageFrom(meta.billed_units, ['input_tokens'], 'output_tokens') ?? usageFrom(meta.tokens, ['input_tokens'], 'output_tokens') : undefined;

/** Texts at `[key, i, ...field]` of each element of a list (Titan results, Mistral outputs, ...). */
function listTexts(body: Obj, key: string, field: string[], out: TextField[]): void {
  arr(body[key]).forEach((item, i) => {
    let v: unknown = item;
    for (const f of field) v = isObject(v) ? v[f] : undefined;
    if (typeof v === 'string') out.push({ path: [key, i, ...field], text: v });
  });
}

/**
 * The facts of an InvokeModel answer (Converse-shaped ones, Nova's, are bedrock.ts's). Usage Bedrock
 * also reports in x-amzn-bedrock-input/output-token-count headers, which adapters do not see: only
 * the body's count is read. An answer of no known shape has every string read as text.
 */
export function invokeResponseFacts(body: Obj): ResponseFacts {
  const facts: ResponseFacts = { toolCalls: [], texts: [] };
  const withUsage = (u: Usage | undefined): ResponseFacts => (u ? { ...facts, usage: u } : facts);
  // Anthropic Messages: exactly as the Anthropic API's answer reads.
  if (body.type === 'message' || (Array.isArray(body.content) && typeof body.role === 'string')) return anthropicAdapter.parseResponse(body);
  if (Array.isArray(body.results)) {
    // Titan text: results[].outputText, tokens per result.
    listTexts(body, 'results', ['outputText'], facts.texts);
    const output = arr(body.results).reduce<number>((n, r) => n + (isObject(r) ? (num(r.tokenCount) ?? 0) : 0), 0);
    return withUsage(usageOf(body.inputTextTokenCount, output));
  }
  if ('embedding' in body || 'embeddings' in body || 'embeddingsByType' in body) {
    // Titan and Cohere embeddings: numbers, and the input's token count.
    return withUsage(usageOf(body.inputTextTokenCount, undefined) ?? cohereUsage(body.meta));
  }
  if (typeof body.generation === 'string') {
    // Meta Llama.
    facts.texts.push({ path: ['generation'], text: body.generation });
    return withUsage(usageOf(body.prompt_token_count, body.generation_token_count));
  }
  if (Array.isArray(body.outputs)) {
    // Mistral text completion.
    listTexts(body, 'outputs', ['text'], facts.texts);
    return facts;
  }
  if (Array.isArray(body.choices)) {
    // OpenAI-like chat (Mistral Large, AI21 Jamba, gpt-oss), or DeepSeek's choices[].text.
    const chat = openAiChatAdapter.parseResponse(body);
    listTexts(body, 'choices', ['text'], chat.texts);
    return chat;
  }
  if (typeof body.completion === 'string') {
    // Claude Text Completions.
    facts.texts.push({ path: ['completion'], text: body.completion });
    return facts;
  }
  if (typeof body.text === 'string' || Array.isArray(body.tool_calls) || Array.isArray(body.generations)) {
    // Cohere Command R (text, tool_calls [{name, parameters}]) and Command (generations[].text).
    if (typeof body.text === 'string') facts.texts.push({ path: ['text'], text: body.text });
    listTexts(body, 'generations', ['text'], facts.texts);
    for (const c of arr(body.tool_calls)) if (isObject(c) && typeof c.name === 'string') facts.toolCalls.push(toolCall(c.name, c.parameters, undefined));
    return withUsage(cohereUsage(body.meta));
  }
  if (Array.isArray(body.completions)) {
    // AI21 Jurassic.
    listTexts(body, 'completions', ['data', 'text'], facts.texts);
    return facts;
  }
  facts.texts.push(...stringLeaves(body, []));
  return facts;
}

// ---------------------------------------------------------------- streams

/** Anthropic Messages stream event types: a chunk with one of these is Claude's. */
const ANTHROPIC_EVENTS = new Set(['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop', 'ping', 'error']);
/** Bedrock's own count, added to the last chunk of every model's stream. */
const METRICS = 'amazon-bedrock-invocationMetrics';
/** What the AWS SDKs' base64 decoder accepts (@smithy/util-base64): anything else fails there, so it fails here. */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The JSON event a chunk's `bytes` carries. */
function chunkJson(bytes: unknown): unknown {
  if (typeof bytes !== 'string' || bytes.length % 4 !== 0 || !BASE64.test(bytes)) throw new UnreadableFrame('its bytes are not base64 JSON');
  try {
    return JSON.parse(Buffer.from(bytes, 'base64').toString('utf8')) as unknown;
  } catch {
    throw new UnreadableFrame('its bytes are not base64 JSON');
  }
}

const text = (t: unknown): StreamEvent[] => (typeof t === 'string' && t !== '' ? [{ type: 'text', text: t }] : []);

export interface InvokeStreamReader {
  /** One `chunk` event's payload ({"bytes": "<base64 JSON>"}). Throws UnreadableFrame when it cannot be read. */
  read(payload: Buffer): StreamEvent[];
  facts(): ResponseFacts;
}

/** Reads InvokeModelWithResponseStream's chunks, each one JSON event of the model's own stream format. */
export function invokeStreamReader(): InvokeStreamReader {
  const anthropic = messagesStreamReader();
  const converse = converseStreamReader();
  /** Tool calls of the OpenAI-like and Cohere streams. */
  const tools = new ToolCallCollector();
  /** Usage the other formats state (running totals). */
  const own: Partial<Usage> = {};
  /** Bedrock's invocation metrics: the final count, whatever the model said before. */
  let metrics: Usage | undefined;

  const note = (input: unknown, output: unknown): StreamEvent[] => {
    const update: Partial<Usage> = {};
    if (num(input) !== undefined) update.inputTokens = own.inputTokens = num(input);
    if (num(output) !== undefined) update.outputTokens = own.outputTokens = num(output);
    return Object.keys(update).length > 0 ? [{ type: 'usage', usage: update }] : [];
  };
  const startCall = (key: string, name: unknown, id: unknown, initial?: unknown): StreamEvent[] =>
    typeof name === 'string' && name !== ''
      ? tools.start(key, name, str(id), initial).map((n) => ({ type: 'tool_call', name: n, ...(typeof id === 'string' && { id }) }))
      : [];

  /** OpenAI-like chat chunks: choices[].delta (or .message, as Mistral streams) content and tool_calls; DeepSeek's choices[].text. */
  const chat = (ev: Obj): StreamEvent[] => {
    const out: StreamEvent[] = [];
    arr(ev.choices).forEach((c, i) => {
      if (!isObject(c)) return;
      out.push(...text(c.text));
      const m = isObject(c.delta) ? c.delta : isObject(c.message) ? c.message : undefined;
      if (!m) return;
      out.push(...text(m.reasoning_content), ...text(m.content));
      arr(m.tool_calls).forEach((tc, j) => {
        if (!isObject(tc)) return;
        const key = `chat:${num(c.index) ?? i}:${num(tc.index) ?? j}`;
        const fn = isObject(tc.function) ? tc.function : {};
        out.push(...startCall(key, fn.name, tc.id));
        if (typeof fn.arguments === 'string') tools.append(key, fn.arguments);
      });
    });
    if (isObject(ev.usage)) out.push(...note(ev.usage.prompt_tokens, ev.usage.completion_tokens));
    return out;
  };

  /** Cohere: Command R's typed events, or Command's plain {text} / {generations} chunks. */
  const cohere = (ev: Obj): StreamEvent[] => {
    const out: StreamEvent[] = [];
    const calls = (list: unknown) => arr(list).forEach((c, j) => isObject(c) && out.push(...startCall(`cohere:${j}`, c.name, undefined, c.parameters)));
    switch (ev.event_type) {
      case 'stream-end': {
        // The whole answer again: its calls (already seen, or not), its usage; its text was streamed.
        const response = isObject(ev.response) ? ev.response : {};
        calls(response.tool_calls);
        const u = cohereUsage(response.meta);
        if (u) out.push(...note(u.inputTokens, u.outputTokens));
        return out;
      }
      case 'tool-calls-chunk': {
        const delta = isObject(ev.tool_call_delta) ? ev.tool_call_delta : {};
        const key = `cohere:${num(delta.index) ?? 0}`;
        out.push(...text(ev.text), ...startCall(key, delta.name, undefined));
        if (typeof delta.parameters === 'string') tools.append(key, delta.parameters);
        return out;
      }
      default:
        out.push(...text(ev.text));
        calls(ev.tool_calls);
        arr(ev.generations).forEach((g) => isObject(g) && out.push(...text(g.text)));
        return out;
    }
  };

  const readEvent = (ev: unknown): StreamEvent[] => {
    if (!isObject(ev)) return stringLeaves(ev, []).flatMap((t) => text(t.text));
    if (typeof ev.type === 'string' && ANTHROPIC_EVENTS.has(ev.type)) return anthropic.read(ev);
    const converseKey = Object.keys(ev).find((k) => CONVERSE_EVENTS.has(k)); // Nova: {"contentBlockDelta": {...}}
    if (converseKey !== undefined) return converse.read(converseKey, ev[converseKey]);
    if (typeof ev.outputText === 'string') return [...text(ev.outputText), ...note(ev.inputTextTokenCount, ev.totalOutputTextTokenCount)]; // Titan
    if (typeof ev.generation === 'string') return [...text(ev.generation), ...note(ev.prompt_token_count, ev.generation_token_count)]; // Llama
    if (Array.isArray(ev.outputs)) return ev.outputs.flatMap((o) => (isObject(o) ? text(o.text) : [])); // Mistral text completion
    if (Array.isArray(ev.choices)) return chat(ev);
    if (typeof ev.completion === 'string') return text(ev.completion); // Claude Text Completions
    if (typeof ev.event_type === 'string' || typeof ev.text === 'string' || Array.isArray(ev.generations)) return cohere(ev);
    // No known shape: every string in it may be what the agent shows, so each is judged as text.
    const { [METRICS]: _metrics, ...rest } = ev;
    return stringLeaves(rest, []).flatMap((t) => text(t.text));
  };

  return {
    read(payload) {
      const part = frameJson(payload.toString('utf8'));
      // A chunk with no bytes is skipped by the SDKs; one whose bytes are not base64 JSON is unreadable.
      if (!isObject(part) || part.bytes === undefined || part.bytes === null) return [];
      const ev = chunkJson(part.bytes);
      const events = readEvent(ev);
      const m = isObject(ev) && isObject(ev[METRICS]) ? usageOf(ev[METRICS].inputTokenCount, ev[METRICS].outputTokenCount) : undefined;
      if (m) {
        metrics = m;
        events.push({ type: 'usage', usage: m });
      }
      return events;
    },
    facts() {
      const a = anthropic.facts();
      const ownUsage = own.inputTokens !== undefined || own.outputTokens !== undefined ? { inputTokens: own.inputTokens ?? 0, outputTokens: own.outputTokens ?? 0 } : undefined;
      const usage = metrics ?? a.usage ?? converse.usage() ?? ownUsage;
      return {
        ...(a.model !== undefined && { model: a.model }),
        ...(usage !== undefined && { usage }),
        toolCalls: [...a.toolCalls, ...converse.toolCalls(), ...tools.list()],
        texts: [],
      };
    },
  };
}
