// Small helpers the adapters share: shape checks that name the offending field, JSON-argument
// parsing, and the per-stream bookkeeping of tool calls whose arguments arrive in pieces.
import type { JsonPath, ResponseFacts, TextField, ToolCall, Usage } from '../call.js';
import { MalformedRequest } from './adapter.js';

export type Obj = Record<string, unknown>;

export function isObject(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** 'messages[3].content' — how field names appear in MalformedRequest messages. */
export function fieldName(path: JsonPath): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out === '' ? key : `.${key}`;
  return out === '' ? 'body' : out;
}

export function malformed(path: JsonPath, problem: string): MalformedRequest {
  return new MalformedRequest(`${fieldName(path)}: ${problem}`);
}

export function requireObject(v: unknown, path: JsonPath): Obj {
  if (!isObject(v)) throw malformed(path, 'must be an object');
  return v;
}

export function requireArray(v: unknown, path: JsonPath): unknown[] {
  if (!Array.isArray(v)) throw malformed(path, 'must be an array');
  return v;
}

/** Absent (undefined or null) is fine; anything else must be an array. */
export function optionalArray(v: unknown, path: JsonPath): unknown[] {
  if (v === undefined || v === null) return [];
  return requireArray(v, path);
}

export function optionalString(v: unknown, path: JsonPath): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw malformed(path, 'must be a string');
  return v;
}

export function requireString(v: unknown, path: JsonPath): string {
  if (typeof v !== 'string') throw malformed(path, 'must be a string');
  return v;
}

/** A string field read without judging: garbage in a response is ignored, not an error. */
export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** Tool arguments travel as JSON strings in some formats; parsed when valid, else kept raw. */
export function parseArguments(raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  if (raw.trim() === '') return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

/** A stream frame's data is not what its format says it is (see StreamFrame.unreadable). */
export class UnreadableFrame extends Error {}

/** A stream frame's JSON data; throws UnreadableFrame when it does not parse (never quoting it). */
export function frameJson(data: string): unknown {
  try {
    return JSON.parse(data) as unknown;
  } catch {
    throw new UnreadableFrame('its data is not JSON');
  }
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Every string leaf under a value, with its path (tool arguments, tool results in JSON form). */
export function stringLeaves(value: unknown, path: JsonPath, out: TextField[] = []): TextField[] {
  if (typeof value === 'string') out.push({ path, text: value });
  else if (Array.isArray(value)) value.forEach((v, i) => stringLeaves(v, [...path, i], out));
  else if (isObject(value)) for (const [k, v] of Object.entries(value)) stringLeaves(v, [...path, k], out);
  return out;
}

/**
 * What else of a request a provider reads that DLP must see: the string values of a metadata-like
 * object (OpenAI `metadata`, Bedrock `requestMetadata`), located for rewriting. Not an error when absent
 * or of another shape (the provider judges that).
 */
export function objectTexts(value: unknown, path: JsonPath, out: TextField[]): void {
  if (!isObject(value)) return;
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out.push({ path: [...path, k], text: v });
}

/** A tool definition's description and every string in its parameter schema (descriptions, enums, defaults). */
export function toolDefinitionTexts(description: unknown, schema: unknown, path: JsonPath, descKey: string, schemaKey: string, out: TextField[]): void {
  if (typeof description === 'string') out.push({ path: [...path, descKey], text: description });
  if (schema !== undefined && schema !== null) schemaTexts(schema, [...path, schemaKey], out);
}

/** Keys of a JSON schema whose string values are vocabulary, not text the caller wrote. */
const SCHEMA_WORDS = new Set(['type', '$schema', '$ref', '$id', 'format', 'required', 'additionalProperties']);

/** The string leaves of a JSON schema (descriptions, titles, enums, defaults, examples), without its keywords' values. */
export function schemaTexts(value: unknown, path: JsonPath, out: TextField[]): void {
  if (typeof value === 'string') out.push({ path, text: value });
  else if (Array.isArray(value)) value.forEach((v, i) => schemaTexts(v, [...path, i], out));
  else if (isObject(value)) for (const [k, v] of Object.entries(value)) if (!SCHEMA_WORDS.has(k)) schemaTexts(v, [...path, k], out);
}

export function pathOnly(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** Does a parsed body look like a JSON-RPC 2.0 message or batch (so it is MCP, whatever the path)? */
export function isJsonRpc(body: unknown): boolean {
  const first = Array.isArray(body) ? body[0] : body;
  return isObject(first) && first.jsonrpc === '2.0';
}

/**
 * Tool calls assembled from stream pieces: the name (and id) arrive once, the arguments in
 * fragments keyed by the provider's block index. Arguments are parsed only at the end.
 */
export class ToolCallCollector {
  private readonly calls = new Map<string, { name: string; id?: string; args: string; initial?: unknown }>();

  /**
   * Notes a call's name; returns the names a tool_call event is due for. The first time a key is
   * seen that is its name. A name sent again for the same key is not ignored: a reader that keeps
   * the last one sees the new name, one that joins the pieces (as OpenAI's stream helpers do) sees
   * both together, so both are judged, and the call is known by the joined name from then on.
   */
  start(key: string, name: string, id?: string, initial?: unknown): string[] {
    const known = this.calls.get(key);
    if (!known) {
      this.calls.set(key, { name, args: '', ...(id !== undefined && { id }), ...(initial !== undefined && { initial }) });
      return [name];
    }
    if (known.name === name) return [];
    const joined = known.name + name;
    known.name = joined;
    return [name, joined];
  }

  has(key: string): boolean {
    return this.calls.has(key);
  }

  append(key: string, fragment: string): void {
    const call = this.calls.get(key);
    if (call) call.args += fragment;
  }

  /** A final, complete argument string replaces the fragments (e.g. Responses' ...arguments.done). */
  replace(key: string, full: string): void {
    const call = this.calls.get(key);
    if (call) call.args = full;
  }

  list(): ToolCall[] {
    return [...this.calls.values()].map((c) => {
      const args = c.args !== '' ? parseArguments(c.args) : c.initial;
      return { name: c.name, ...(args !== undefined && { arguments: args }), ...(c.id !== undefined && { id: c.id }) };
    });
  }
}

export function toolCall(name: string, args: unknown, id: unknown): ToolCall {
  return {
    name,
    ...(args !== undefined && { arguments: args }),
    ...(typeof id === 'string' && { id }),
  };
}

/**
 * Token usage from a usage object, whatever a format calls its fields: input is the sum of
 * `inputKeys` (a format may count cached input separately), output is `outputKey`. Undefined when
 * none of them is there.
 */
export function usageFrom(u: unknown, inputKeys: readonly string[], outputKey: string): Usage | undefined {
  if (!isObject(u)) return undefined;
  const inputs = inputKeys.map((k) => num(u[k]));
  const output = num(u[outputKey]);
  if (inputs.every((n) => n === undefined) && output === undefined) return undefined;
  return { inputTokens: inputs.reduce<number>((sum, n) => sum + (n ?? 0), 0), outputTokens: output ?? 0 };
}

/** The start of every whole-response parse: empty facts, then the model and usage when present. */
export function baseResponseFacts(body: Obj, usage: (u: unknown) => Usage | undefined): ResponseFacts {
  const facts: ResponseFacts = { toolCalls: [], texts: [] };
  const model = str(body.model);
  if (model !== undefined) facts.model = model;
  const u = usage(body.usage);
  if (u) facts.usage = u;
  return facts;
}
