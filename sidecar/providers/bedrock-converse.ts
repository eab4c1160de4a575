// Bedrock's Converse shape: the body of Converse / ConverseStream, and the same shape where a model
// speaks it natively (Amazon Nova's InvokeModel body, answer, and stream chunks). The framing
// (AWS event-stream) and the routing live in bedrock.ts.
import type { RequestFacts, ResponseFacts, StreamEvent, TextField, ToolCall, Usage } from '../call.js';
import {
  arr, isObject, malformed, num, objectTexts, optionalArray, requireObject, schemaTexts, str, stringLeaves, toolCall,
  ToolCallCollector, toolDefinitionTexts, usageFrom, type Obj,
} from './util.js';

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

export type BodyFacts = Pick<RequestFacts, 'toolsDefined' | 'toolCalls' | 'texts' | 'maxOutputTokens'>;

/**
 * The facts of a Converse-shaped body. The output cap is `inferenceConfig.maxTokens` in Converse
 * and `inferenceConfig.max_new_tokens` in Nova's InvokeModel body; either is read.
 */
export function converseBodyFacts(b: Obj): BodyFacts {
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
  const config = isObject(b.inferenceConfig) ? b.inferenceConfig : {};
  const maxOutputTokens = num(config.maxTokens) ?? num(config.max_new_tokens);
  return { toolsDefined, toolCalls, texts, ...(maxOutputTokens !== undefined && { maxOutputTokens }) };
}

/**
 * Removes tools (toolConfig.tools[].toolSpec) by name; cachePoint entries stay. A forced
 * toolChoice ({tool:{name}}) naming a removed tool becomes {auto:{}}. Bedrock requires at least
 * one tool in a toolConfig, so when no toolSpec is left the whole toolConfig goes. (Bedrock then
 * refuses a conversation that already holds toolUse blocks; such a call fails upstream rather
 * than offering the model a forbidden tool.)
 */
export function converseRemoveTools(body: unknown, names: ReadonlySet<string>): number {
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

/** Converse counts cached input apart (cacheRead/WriteInputTokens); Nova's InvokeModel names them ...TokenCount. */
const converseUsage = (u: unknown): Usage | undefined =>
  usageFrom(u, ['inputTokens', 'cacheReadInputTokens', 'cacheWriteInputTokens', 'cacheReadInputTokenCount', 'cacheWriteInputTokenCount'], 'outputTokens');

/** Is this answer in the Converse shape (output.message)? */
export const isConverseAnswer = (body: Obj): boolean => isObject(body.output) && isObject(body.output.message);

export function converseResponseFacts(body: Obj): ResponseFacts {
  const facts: ResponseFacts = { toolCalls: [], texts: [] };
  const usage = converseUsage(body.usage);
  if (usage) facts.usage = usage;
  const message = isObject(body.output) && isObject(body.output.message) ? body.output.message : {};
  arr(message.content).forEach((c, i) => {
    if (!isObject(c)) return;
    if (typeof c.text === 'string') facts.texts.push({ path: ['output', 'message', 'content', i, 'text'], text: c.text });
    if (isObject(c.toolUse) && typeof c.toolUse.name === 'string') facts.toolCalls.push(toolCall(c.toolUse.name, c.toolUse.input, c.toolUse.toolUseId));
  });
  return facts;
}

/** The Converse stream's event names (ConverseStream's :event-type; the key of a Nova stream chunk). */
export const CONVERSE_EVENTS = new Set(['messageStart', 'contentBlockStart', 'contentBlockDelta', 'contentBlockStop', 'messageStop', 'metadata']);

export interface ConverseStreamReader {
  /** One event, by its name, with its parsed JSON. */
  read(type: string | undefined, ev: unknown): StreamEvent[];
  toolCalls(): ToolCall[];
  usage(): Usage | undefined;
}

/** Reads Converse stream events, whatever carries them (event-stream messages, or Nova's chunks). */
export function converseStreamReader(): ConverseStreamReader {
  const tools = new ToolCallCollector();
  let usage: Usage | undefined;
  const read = (type: string | undefined, ev: unknown): StreamEvent[] => {
    if (!isObject(ev)) return [];
    const key = String(num(ev.contentBlockIndex) ?? '');
    switch (type) {
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
        const u = converseUsage(ev.usage);
        if (!u) return [];
        usage = u;
        return [{ type: 'usage', usage: u }];
      }
      default:
        return [];
    }
  };
  return { read, toolCalls: () => tools.list(), usage: () => usage };
}
