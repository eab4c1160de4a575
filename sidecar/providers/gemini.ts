// Google Gemini: the Gemini API (generativelanguage.googleapis.com/v1beta/models/{model}:generateContent)
// and Vertex AI (/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent). The
// model and the method are in the path; the body is a GenerateContentRequest (contents[].parts[],
// systemInstruction, tools[].functionDeclarations[], toolConfig, generationConfig).
//
// Google reads a JSON field by its camelCase name or by its proto name (snake_case): `system_instruction`
// is `systemInstruction`. Both spellings are read here, and a body that gives one field both ways is
// refused: which of the two Google would take is not ours to guess.
//
// streamGenerateContent answers in SSE with ?alt=sse (what the SDKs ask for). Without it, Google writes
// one JSON array, element by element, as application/json: the proxy tells streams by content type, so
// that answer is read (and checked) as one whole JSON answer and relayed once read; parseResponse reads
// the array.
import type { JsonPath, RequestFacts, ResponseFacts, StreamEvent, TextField, ToolCall, Usage } from '../call.js';
import type { ErrorKind, ProviderAdapter, RequestHead } from './adapter.js';
import { anyHostGlob } from '../../api/host-glob.js';
import { sseStreamParser, type SseEvent } from './sse.js';
import {
  arr, frameJson, isJsonRpc, isObject, malformed, num, objectTexts, optionalArray, optionalString, pathOnly, requireArray,
  requireObject, requireString, schemaTexts, str, stringLeaves, toolCall, toolDefinitionTexts, type Obj,
} from './util.js';

/** Google's model API hosts: the Gemini API, Vertex AI's regional and global endpoints. */
const GEMINI_HOSTS: string[] = ['generativelanguage.googleapis.com', '*-aiplatform.googleapis.com', 'aiplatform.googleapis.com'];

/** The methods read here; other `models/{m}:method` calls (predict, batches...) are left to the fallback, which scans every string. */
const METHODS = new Set(['generateContent', 'streamGenerateContent', 'countTokens', 'embedContent', 'batchEmbedContents']);
const GENERATE = new Set(['generateContent', 'streamGenerateContent']);
// `{parent}/models/{model}:method`, tuned models and Vertex endpoints alike. An escaped colon (%3A, which
// the canonical path keeps) counts as one too: should Google's front end decode it, the call must not
// slip past unread for its spelling.
const ROUTE = /\/(?:models|tunedModels|endpoints)\/([^/]+?)(?::|%3[Aa])([A-Za-z]+)$/;

/** Model and method of a `.../models/{model}:{method}` path, for the methods this adapter reads. */
function route(path: string): { model: string; method: string } | undefined {
  const m = ROUTE.exec(pathOnly(path));
  if (!m || !METHODS.has(m[2]!)) return undefined;
  let model = m[1]!;
  try {
    model = decodeURIComponent(model);
  } catch {
    // a stray % — keep the model as sent
  }
  return { model, method: m[2]! };
}

// ---------------------------------------------------------------- the two spellings of a field

const snake = (camel: string): string => camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const present = (v: unknown): boolean => v !== undefined && v !== null;

/** The key a request gives a field under (camelCase or snake_case), refusing both; undefined when absent or null. */
function keyOf(o: Obj, camel: string, path: JsonPath): string | undefined {
  const other = snake(camel);
  const hasCamel = present(o[camel]);
  const hasSnake = other !== camel && present(o[other]);
  if (hasCamel && hasSnake) throw malformed([...path, camel], `given twice, as ${camel} and as ${other}`);
  return hasCamel ? camel : hasSnake ? other : undefined;
}

/** A request field and the key it came under. */
function field(o: Obj, camel: string, path: JsonPath): { key: string; value: unknown } | undefined {
  const key = keyOf(o, camel, path);
  return key === undefined ? undefined : { key, value: o[key] };
}

/** The key an answer uses for a field, without judging (answers are read, never refused here). */
function answerKey(o: Obj, camel: string): string | undefined {
  if (present(o[camel])) return camel;
  const other = snake(camel);
  return present(o[other]) ? other : undefined;
}

const pick = (o: Obj, camel: string): unknown => {
  const key = answerKey(o, camel);
  return key === undefined ? undefined : o[key];
};

// ---------------------------------------------------------------- requests

/** What the request parsers gather, across the nested requests of one body. */
interface Gathered {
  texts: TextField[];
  toolsDefined: string[];
  toolCalls: ToolCall[];
  maxOutputTokens?: number;
}

/**
 * The texts of one part: text, the arguments of a call the model made (every turn, rewritable in place),
 * a function's response, code the model ran and its output. Images and files (inlineData, fileData) are
 * not text.
 */
function partTexts(p: Obj, path: JsonPath, out: TextField[]): void {
  const text = field(p, 'text', path);
  if (text) out.push({ path: [...path, text.key], text: requireString(text.value, [...path, text.key]) });
  const call = field(p, 'functionCall', path);
  if (call) {
    const c = requireObject(call.value, [...path, call.key]);
    requireString(c.name, [...path, call.key, 'name']);
    if (present(c.args)) stringLeaves(c.args, [...path, call.key, 'args'], out);
  }
  const response = field(p, 'functionResponse', path);
  if (response) {
    const r = requireObject(response.value, [...path, response.key]);
    if (present(r.response)) stringLeaves(r.response, [...path, response.key, 'response'], out);
  }
  const code = field(p, 'executableCode', path);
  if (code && isObject(code.value) && typeof code.value.code === 'string') out.push({ path: [...path, code.key, 'code'], text: code.value.code });
  const result = field(p, 'codeExecutionResult', path);
  if (result && isObject(result.value) && typeof result.value.output === 'string') out.push({ path: [...path, result.key, 'output'], text: result.value.output });
}

/** A Content's parts: their texts, and the function calls among them. */
function contentParts(content: unknown, path: JsonPath, out: TextField[]): ToolCall[] {
  const c = requireObject(content, path);
  const calls: ToolCall[] = [];
  optionalArray(c.parts, [...path, 'parts']).forEach((pt, j) => {
    const at = [...path, 'parts', j];
    const p = requireObject(pt, at);
    partTexts(p, at, out);
    const call = pick(p, 'functionCall');
    if (isObject(call) && typeof call.name === 'string') calls.push(toolCall(call.name, call.args, call.id));
  });
  return calls;
}

/**
 * The built-in tools a tools[] entry turns on (googleSearch, codeExecution, computerUse, urlContext...):
 * named by their field, in camelCase, so a policy can name them.
 */
function builtInTools(tool: Obj): string[] {
  return Object.keys(tool)
    .filter((k) => k !== 'functionDeclarations' && k !== 'function_declarations' && present(tool[k]))
    .map((k) => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()));
}

/** One GenerateContentRequest (at `at` in the body): conversation, system text, tools, tool config, output cap. */
function readGenerate(b: Obj, at: JsonPath, g: Gathered, requireContents: boolean): void {
  const system = field(b, 'systemInstruction', at);
  if (system) contentParts(system.value, [...at, system.key], g.texts);

  const contents = requireContents ? requireArray(b.contents, [...at, 'contents']) : optionalArray(b.contents, [...at, 'contents']);
  let lastModel: ToolCall[] = [];
  contents.forEach((c, i) => {
    const calls = contentParts(c, [...at, 'contents', i], g.texts);
    if ((c as Obj).role === 'model') lastModel = calls;
  });

  optionalArray(b.tools, [...at, 'tools']).forEach((t, i) => {
    const tAt = [...at, 'tools', i];
    const tool = requireObject(t, tAt);
    const decls = field(tool, 'functionDeclarations', tAt);
    if (decls) {
      requireArray(decls.value, [...tAt, decls.key]).forEach((d, k) => {
        const dAt = [...tAt, decls.key, k];
        const decl = requireObject(d, dAt);
        g.toolsDefined.push(requireString(decl.name, [...dAt, 'name']));
        const params = field(decl, 'parameters', dAt);
        toolDefinitionTexts(decl.description, params?.value, dAt, 'description', 'parameters', g.texts);
        // The other schemas of a declaration are read by the model too.
        for (const name of ['parametersJsonSchema', 'response', 'responseJsonSchema']) {
          const schema = field(decl, name, dAt);
          if (schema) schemaTexts(schema.value, [...dAt, schema.key], g.texts);
        }
      });
    }
    g.toolsDefined.push(...builtInTools(tool));
  });

  const config = field(b, 'toolConfig', at);
  if (config) {
    const cAt = [...at, config.key];
    const fcc = field(requireObject(config.value, cAt), 'functionCallingConfig', cAt);
    if (fcc) {
      const fAt = [...cAt, fcc.key];
      const f = requireObject(fcc.value, fAt);
      const mode = f.mode;
      if (present(mode) && typeof mode !== 'string' && typeof mode !== 'number') throw malformed([...fAt, 'mode'], 'must be a string');
      const allowed = field(f, 'allowedFunctionNames', fAt);
      const names = allowed ? requireArray(allowed.value, [...fAt, allowed.key]).map((n, k) => requireString(n, [...fAt, allowed.key, k])) : [];
      // Mode ANY (2 as a proto enum number) with a single allowed function forces a call to it.
      if ((mode === 'ANY' || mode === 2) && names.length === 1) g.toolCalls.push({ name: names[0]! });
    }
  }
  // The calls of the last model turn: the ones whose results this request reports.
  g.toolCalls.push(...lastModel);

  const gen = field(b, 'generationConfig', at);
  if (gen) {
    const gAt = [...at, gen.key];
    const max = num(field(requireObject(gen.value, gAt), 'maxOutputTokens', gAt)?.value);
    if (max !== undefined) g.maxOutputTokens = max;
  }
  objectTexts(b.labels, [...at, 'labels'], g.texts); // Vertex AI's request labels
}

/** An embedding request's content and title. */
function readEmbed(r: Obj, at: JsonPath, g: Gathered): void {
  contentParts(r.content, [...at, 'content'], g.texts);
  const title = optionalString(r.title, [...at, 'title']);
  if (title !== undefined) g.texts.push({ path: [...at, 'title'], text: title });
}

function parseRequest(head: RequestHead, body: unknown): RequestFacts {
  const r = route(head.path);
  const b = requireObject(body, []);
  const g: Gathered = { texts: [], toolsDefined: [], toolCalls: [] };
  const method = r?.method ?? 'unknown';
  if (GENERATE.has(method)) readGenerate(b, [], g, true);
  else if (method === 'countTokens') {
    // Either the contents alone (Vertex adds system text and tools beside them) or a whole request to count.
    readGenerate(b, [], g, false);
    const nested = field(b, 'generateContentRequest', []);
    if (nested) readGenerate(requireObject(nested.value, [nested.key]), [nested.key], g, true);
  } else if (method === 'embedContent') readEmbed(b, [], g);
  else if (method === 'batchEmbedContents') {
    requireArray(b.requests, ['requests']).forEach((q, i) => readEmbed(requireObject(q, ['requests', i]), ['requests', i], g));
  }
  return {
    operation: method,
    ...(r !== undefined && { model: r.model }),
    toolsDefined: g.toolsDefined,
    toolCalls: g.toolCalls,
    texts: g.texts,
    stream: method === 'streamGenerateContent',
    ...(g.maxOutputTokens !== undefined && { maxOutputTokens: g.maxOutputTokens }),
  };
}

/**
 * Removes function declarations by name, and built-in tools named by their field. A tools[] entry left
 * empty goes (Google refuses a tool with nothing in it), and so does an emptied tools list. Removed
 * names leave allowedFunctionNames; when none of the allowed ones is left, the config becomes AUTO
 * (an empty list under ANY would allow every function, not none). When no function declaration is
 * left at all, the function-calling config goes (Google refuses one without declarations).
 */
function removeFrom(b: Obj, names: ReadonlySet<string>): number {
  if (!Array.isArray(b.tools)) return 0;
  let removed = 0;
  let declarationsLeft = 0;
  const kept = b.tools.filter((t) => {
    if (!isObject(t)) return true;
    for (const key of ['functionDeclarations', 'function_declarations']) {
      const decls = t[key];
      if (!Array.isArray(decls)) continue;
      const left = decls.filter((d) => !(isObject(d) && names.has(str(d.name) ?? '')));
      removed += decls.length - left.length;
      declarationsLeft += left.length;
      if (left.length === decls.length) continue;
      if (left.length > 0) t[key] = left;
      else delete t[key];
    }
    for (const key of Object.keys(t)) {
      if (key === 'functionDeclarations' || key === 'function_declarations' || !present(t[key])) continue;
      if (names.has(builtInTools({ [key]: t[key] })[0]!)) {
        delete t[key];
        removed++;
      }
    }
    return Object.values(t).some(present);
  });
  if (removed === 0) return 0;
  if (kept.length > 0) b.tools = kept;
  else delete b.tools;

  for (const configKey of ['toolConfig', 'tool_config']) {
    const config = b[configKey];
    if (!isObject(config)) continue;
    for (const fccKey of ['functionCallingConfig', 'function_calling_config']) {
      const fcc = config[fccKey];
      if (!isObject(fcc)) continue;
      if (declarationsLeft === 0) {
        delete config[fccKey];
        continue;
      }
      for (const allowedKey of ['allowedFunctionNames', 'allowed_function_names']) {
        const allowed = fcc[allowedKey];
        if (!Array.isArray(allowed)) continue;
        const left = allowed.filter((n) => !(typeof n === 'string' && names.has(n)));
        if (left.length === allowed.length) continue;
        if (left.length > 0) fcc[allowedKey] = left;
        else {
          delete fcc[allowedKey];
          fcc.mode = 'AUTO';
        }
      }
    }
    if (!Object.values(config).some(present)) delete b[configKey];
  }
  return removed;
}

function removeTools(body: unknown, names: ReadonlySet<string>): number {
  if (!isObject(body)) return 0;
  let removed = removeFrom(body, names);
  // countTokens may carry a whole request to count.
  for (const key of ['generateContentRequest', 'generate_content_request']) if (isObject(body[key])) removed += removeFrom(body[key], names);
  return removed;
}

// ---------------------------------------------------------------- answers

/**
 * Usage as Google reports it: input is the prompt (cached tokens included) plus what tool use added
 * to it, output the candidates plus the model's thinking. Each stream chunk carries the counts so
 * far, so every count keeps its latest value rather than being summed.
 */
class UsageTally {
  private readonly counts = new Map<string, number>();

  note(u: unknown): Usage | undefined {
    if (!isObject(u)) return undefined;
    let seen = false;
    for (const name of ['promptTokenCount', 'toolUsePromptTokenCount', 'candidatesTokenCount', 'thoughtsTokenCount']) {
      const n = num(pick(u, name));
      if (n === undefined) continue;
      this.counts.set(name, n);
      seen = true;
    }
    return seen ? this.usage() : undefined;
  }

  usage(): Usage | undefined {
    if (this.counts.size === 0) return undefined;
    const c = (name: string) => this.counts.get(name) ?? 0;
    return { inputTokens: c('promptTokenCount') + c('toolUsePromptTokenCount'), outputTokens: c('candidatesTokenCount') + c('thoughtsTokenCount') };
  }
}

/** The parts of every candidate of one GenerateContentResponse, with their paths. */
function* candidateParts(chunk: Obj, at: JsonPath): Generator<{ part: Obj; path: JsonPath }> {
  const candidatesKey = answerKey(chunk, 'candidates');
  if (candidatesKey === undefined) return;
  for (const [i, c] of arr(chunk[candidatesKey]).entries()) {
    if (!isObject(c) || !isObject(c.content)) continue;
    for (const [j, p] of arr(c.content.parts).entries()) if (isObject(p)) yield { part: p, path: [...at, candidatesKey, i, 'content', 'parts', j] };
  }
}

/** A proposed function call in a part: Gemini sends each one whole, arguments included. */
function proposedCall(part: Obj): ToolCall | undefined {
  const call = pick(part, 'functionCall');
  return isObject(call) && typeof call.name === 'string' ? toolCall(call.name, call.args, call.id) : undefined;
}

/** What one GenerateContentResponse says, added to `facts` (texts located under `at`). */
function readAnswer(chunk: Obj, at: JsonPath, facts: ResponseFacts, usage: UsageTally): void {
  const model = str(pick(chunk, 'modelVersion'));
  if (model !== undefined) facts.model = model;
  usage.note(pick(chunk, 'usageMetadata'));
  for (const { part, path } of candidateParts(chunk, at)) {
    if (typeof part.text === 'string') facts.texts.push({ path: [...path, 'text'], text: part.text });
    const call = proposedCall(part);
    if (call) facts.toolCalls.push(call);
    const code = answerKey(part, 'executableCode');
    if (code && isObject(part[code]) && typeof (part[code] as Obj).code === 'string') facts.texts.push({ path: [...path, code, 'code'], text: (part[code] as Obj).code as string });
    const result = answerKey(part, 'codeExecutionResult');
    if (result && isObject(part[result]) && typeof (part[result] as Obj).output === 'string') facts.texts.push({ path: [...path, result, 'output'], text: (part[result] as Obj).output as string });
  }
}

/** A whole answer: one GenerateContentResponse, or the array a streamGenerateContent without alt=sse writes. */
function parseResponse(body: unknown): ResponseFacts {
  const facts: ResponseFacts = { toolCalls: [], texts: [] };
  const usage = new UsageTally();
  if (Array.isArray(body)) body.forEach((chunk, k) => isObject(chunk) && readAnswer(chunk, [k], facts, usage));
  else if (isObject(body)) readAnswer(body, [], facts, usage);
  const u = usage.usage();
  if (u) facts.usage = u;
  return facts;
}

function streamParser() {
  const usage = new UsageTally();
  const calls: ToolCall[] = [];
  let model: string | undefined;

  // Each event's data is a GenerateContentResponse holding what is new since the last one.
  const read = (frame: SseEvent): StreamEvent[] => {
    if (!frame.hasData) return [];
    const chunk = frameJson(frame.data);
    if (!isObject(chunk)) return [];
    if (isObject(chunk.error)) return [{ type: 'error', message: str(chunk.error.message) ?? 'upstream error' }];
    const events: StreamEvent[] = [];
    model = str(pick(chunk, 'modelVersion')) ?? model;
    for (const { part } of candidateParts(chunk, [])) {
      if (typeof part.text === 'string' && part.text !== '') events.push({ type: 'text', text: part.text });
      const call = proposedCall(part);
      if (call) {
        calls.push(call);
        events.push({ type: 'tool_call', name: call.name, ...(call.id !== undefined && { id: call.id }) });
      }
    }
    const u = usage.note(pick(chunk, 'usageMetadata'));
    if (u) events.push({ type: 'usage', usage: u });
    return events;
  };

  return sseStreamParser(read, () => {
    const u = usage.usage();
    return { ...(model !== undefined && { model }), ...(u !== undefined && { usage: u }), toolCalls: [...calls], texts: [] };
  });
}

// ---------------------------------------------------------------- errors

/**
 * Google's error shape: `code` is the HTTP status the data path answers with for the kind (the SDK
 * raises a stream's error event with it as the status), `status` the google.rpc.Code name.
 */
const GOOGLE_ERRORS: Record<ErrorKind, [number, string]> = {
  invalid_request: [400, 'INVALID_ARGUMENT'],
  too_large: [413, 'INVALID_ARGUMENT'],
  forbidden: [403, 'PERMISSION_DENIED'],
  approval_required: [428, 'FAILED_PRECONDITION'],
  rate_limited: [429, 'RESOURCE_EXHAUSTED'],
  upstream_unavailable: [503, 'UNAVAILABLE'],
  upstream_timeout: [504, 'DEADLINE_EXCEEDED'],
  internal: [500, 'INTERNAL'],
};

function googleError(kind: ErrorKind, message: string): { error: { code: number; message: string; status: string } } {
  const [code, status] = GOOGLE_ERRORS[kind];
  return { error: { code, message, status } };
}

export const geminiAdapter: ProviderAdapter = {
  provider: 'gemini',
  // By path on any host (a gateway, a test server); Gemini's OpenAI-compatible endpoint ends in /chat/completions.
  matches: (head, body) => route(head.path) !== undefined && !isJsonRpc(body),
  parseRequest,
  parseResponse,
  isStream: (contentType) => contentType?.toLowerCase().includes('text/event-stream') ?? false,
  streamParser,
  errorAnswer: (kind, message) => ({ contentType: 'application/json', body: JSON.stringify(googleError(kind, message)) }),
  // An SSE event carrying the error object: @google/genai raises an ApiError for it (its code a 4xx or 5xx).
  streamError: (kind, message) => Buffer.from(`data: ${JSON.stringify(googleError(kind, message))}\n\n`),
  removeTools,
};

/** Is this one of Google's model API hosts (for the error shape of a request that cannot be read)? */
export const isGeminiHost = (host: string): boolean => anyHostGlob(GEMINI_HOSTS, host);
