// OpenAI's other endpoints as the fake provider answers them, in their real wire formats: legacy
// completions (JSON or SSE), embeddings (floats or base64), moderations, text-to-speech (audio bytes,
// or SSE), image generation and JSON edits, the Assistants API (assistants, threads, messages, runs
// with requires_action, submit_tool_outputs; JSON or the `thread.*` event stream), batches and
// realtime sessions / client secrets.
//
// The Assistants API keeps state (threads hold messages, runs are polled), so these answers come
// from a small store per fake server, bounded: the oldest thread, run... is forgotten first. Runs
// finish at once: a run is answered already `requires_action` (the fake model proposes a call) or
// `completed`, which the SDKs' pollers accept as they would after a few polls.
//
// Like the rest of the fake, independent of sidecar/providers: it reads bodies with its own few lines.
import { pieces, tokens, answer as modelAnswer, type Answer, type Turn } from './model.js';
import { openAiErrorBody, type Reply } from './wire.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown, fallback: string): string => (typeof v === 'string' ? v : fallback);

/** A fixed clock, as in wire.ts: answers are reproducible. */
const CREATED = 1_700_000_000;
const TEXT_PIECES = 4;
/** How many threads, runs, assistants and batches the store keeps, and messages per thread. */
const MAX_KEPT = 256;
const MAX_MESSAGES = 100;
/** A 1×1 PNG, for image answers. */
const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

function sse(data: unknown, event?: string): Buffer {
  const json = typeof data === 'string' ? data : JSON.stringify(data);
  return Buffer.from(`${event !== undefined ? `event: ${event}\n` : ''}data: ${json}\n\n`);
}

const json = (body: unknown, status?: number): Reply => ({ kind: 'json', body, ...(status !== undefined && { status }) });
const notFound = (what: string, id: string): Reply => json(openAiErrorBody(`No ${what} found with id '${id}'.`, 'invalid_request_error', null), 404);
const badRequest = (message: string): Reply => json(openAiErrorBody(message, 'invalid_request_error', null), 400);

/** A Map that forgets its oldest entry past MAX_KEPT. */
class Kept<V> extends Map<string, V> {
  override set(key: string, value: V): this {
    super.set(key, value);
    if (this.size > MAX_KEPT) this.delete(this.keys().next().value!);
    return this;
  }
}

/** Text of a content value: a string, or its text parts. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  return list(content).map((p) => (isObj(p) && typeof p.text === 'string' ? p.text : isObj(p) && isObj(p.text) ? str(p.text.value, '') : '')).join('');
}

/** The strings of a prompt or an input: a string, strings, token arrays (counted as one token each). */
function inputs(v: unknown): { text: string; tokens: number }[] {
  if (typeof v === 'string') return [{ text: v, tokens: tokens(v.length) }];
  const items = list(v);
  if (items.every((t) => typeof t === 'number')) return items.length > 0 ? [{ text: '', tokens: items.length }] : [];
  return items.map((t) => (typeof t === 'string' ? { text: t, tokens: tokens(t.length) } : { text: '', tokens: list(t).length }));
}

/** The fake model's answer to a text that asks for no tool: an echo. */
const echo = (text: string): Answer => modelAnswer({ system: [], turns: [{ role: 'user', text, toolResult: true }] }, '');

// ---------------------------------------------------------------- completions (legacy)

function completions(body: Obj, n: number): Reply {
  const model = str(body.model, 'gpt-3.5-turbo-instruct');
  const prompt = inputs(body.prompt);
  const a = echo(prompt.map((p) => p.text).join(''));
  const text = a.reply.kind === 'text' ? a.reply.text : '';
  const inputTokens = prompt.reduce((sum, p) => sum + p.tokens, 0) || 1;
  const usage = { prompt_tokens: inputTokens, completion_tokens: a.usage.output, total_tokens: inputTokens + a.usage.output };
  const id = `cmpl-fake${n}`;
  const choice = (t: string, finish: string | null) => ({ text: t, index: 0, logprobs: null, finish_reason: finish });
  if (body.stream !== true) return json({ id, object: 'text_completion', created: CREATED, model, system_fingerprint: 'fp_fake', choices: [choice(text, 'stop')], usage });

  const includeUsage = isObj(body.stream_options) && body.stream_options.include_usage === true;
  const chunk = (choices: unknown[], extra: Obj = includeUsage ? { usage: null } : {}) => sse({ id, object: 'text_completion', created: CREATED, model, system_fingerprint: 'fp_fake', choices, ...extra });
  const frames = pieces(text, TEXT_PIECES).map((p) => chunk([choice(p, null)]));
  frames.push(chunk([choice('', 'stop')]));
  if (includeUsage) frames.push(chunk([], { usage }));
  frames.push(sse('[DONE]'));
  return { kind: 'stream', contentType: 'text/event-stream; charset=utf-8', frames };
}

// ---------------------------------------------------------------- embeddings, moderations

function embeddings(body: Obj): Reply {
  const dims = typeof body.dimensions === 'number' && body.dimensions > 0 && body.dimensions <= 3072 ? body.dimensions : 8;
  const items = inputs(body.input);
  const data = items.map((item, index) => {
    // A vector that depends on the text only, so the same input embeds the same.
    const vector = Float32Array.from({ length: dims }, (_, d) => ((item.text.length + item.tokens) * (d + 1)) % 97 / 97);
    const embedding = body.encoding_format === 'base64' ? Buffer.from(vector.buffer).toString('base64') : [...vector];
    return { object: 'embedding', index, embedding };
  });
  const used = items.reduce((sum, i) => sum + i.tokens, 0);
  return json({ object: 'list', data, model: str(body.model, 'text-embedding-3-small'), usage: { prompt_tokens: used, total_tokens: used } });
}

const MODERATION_CATEGORIES = ['harassment', 'harassment/threatening', 'hate', 'hate/threatening', 'illicit', 'illicit/violent', 'self-harm', 'self-harm/instructions', 'self-harm/intent', 'sexual', 'sexual/minors', 'violence', 'violence/graphic'];

function moderations(body: Obj, n: number): Reply {
  // Multimodal input is judged as one item; strings one result each. Nothing is flagged.
  const count = Array.isArray(body.input) && body.input.every((i) => typeof i === 'string') ? body.input.length : 1;
  const result = {
    flagged: false,
    categories: Object.fromEntries(MODERATION_CATEGORIES.map((c) => [c, false])),
    category_scores: Object.fromEntries(MODERATION_CATEGORIES.map((c) => [c, 0.0001])),
    category_applied_input_types: Object.fromEntries(MODERATION_CATEGORIES.map((c) => [c, ['text']])),
  };
  return json({ id: `modr-fake${n}`, model: str(body.model, 'omni-moderation-latest'), results: Array.from({ length: count }, () => result) });
}

// ---------------------------------------------------------------- audio, images

const AUDIO_TYPES: Record<string, string> = { mp3: 'audio/mpeg', opus: 'audio/opus', aac: 'audio/aac', flac: 'audio/flac', wav: 'audio/wav', pcm: 'audio/pcm' };

/** Fake audio: MPEG frame headers and bytes that are no UTF-8, one frame per 16 characters of input. */
function audioBytes(input: string): Buffer {
  const frames = Math.max(1, Math.min(64, Math.ceil(input.length / 16)));
  return Buffer.concat(Array.from({ length: frames }, (_, i) => Buffer.from([0xff, 0xfb, 0x90, 0x64, 0x00, 0xc3, 0xfe, i & 0xff, ...Array<number>(56).fill(0x55)])));
}

function speech(body: Obj): Reply {
  const input = str(body.input, '');
  const audio = audioBytes(input);
  if (body.stream_format === 'sse') {
    const usage = { input_tokens: tokens(input.length), output_tokens: tokens(audio.length), total_tokens: tokens(input.length) + tokens(audio.length) };
    const frames = [sse({ type: 'speech.audio.delta', audio: audio.toString('base64') }), sse({ type: 'speech.audio.done', usage })];
    return { kind: 'stream', contentType: 'text/event-stream; charset=utf-8', frames };
  }
  // Sent as it is made (chunked), like the real endpoint.
  return { kind: 'stream', contentType: AUDIO_TYPES[str(body.response_format, 'mp3')] ?? 'audio/mpeg', frames: [audio] };
}

function images(body: Obj, kind: 'generation' | 'edit'): Reply {
  const model = str(body.model, 'gpt-image-1');
  const prompt = str(body.prompt, '');
  // DALL·E answers a URL (or base64) and rewrites the prompt; GPT Image answers base64 and counts tokens.
  if (model.startsWith('dall-e')) {
    const image = body.response_format === 'b64_json' ? { b64_json: PNG_1X1 } : { url: `https://fake-images.example/${encodeURIComponent(model)}.png` };
    return json({ created: CREATED, data: [{ ...image, revised_prompt: `Echo: ${prompt}` }] });
  }
  const usage = { input_tokens: tokens(prompt.length), output_tokens: 272, total_tokens: tokens(prompt.length) + 272, input_tokens_details: { text_tokens: tokens(prompt.length), image_tokens: 0 } };
  if (body.stream !== true) return json({ created: CREATED, background: 'opaque', output_format: 'png', quality: 'low', size: '1024x1024', data: [{ b64_json: PNG_1X1 }], usage });
  const common = { created_at: CREATED, size: '1024x1024', quality: 'low', background: 'opaque', output_format: 'png' };
  const frames = [
    sse({ type: `image_${kind}.partial_image`, b64_json: PNG_1X1, partial_image_index: 0, ...common }, `image_${kind}.partial_image`),
    sse({ type: `image_${kind}.completed`, b64_json: PNG_1X1, usage, ...common }, `image_${kind}.completed`),
  ];
  return { kind: 'stream', contentType: 'text/event-stream; charset=utf-8', frames };
}

// ---------------------------------------------------------------- Assistants API

interface Thread {
  id: string;
  metadata: unknown;
  /** Newest last. */
  messages: Obj[];
}

interface Run {
  object: Obj;
  /** The number its ids were made from. */
  n: number;
  /** What the model has seen: the thread's turns then, and the tool results submitted since. */
  turns: Turn[];
  system: string[];
}

function message(threadId: string, id: string, role: string, content: unknown, extra: Obj = {}): Obj {
  const parts = typeof content === 'string' ? [{ type: 'text', text: content }] : list(content);
  return {
    id,
    object: 'thread.message',
    created_at: CREATED,
    assistant_id: null,
    thread_id: threadId,
    run_id: null,
    role,
    status: 'completed',
    incomplete_details: null,
    completed_at: CREATED,
    incomplete_at: null,
    content: parts.filter(isObj).map((p) => (p.type === 'text' ? { type: 'text', text: { value: str(p.text, ''), annotations: [] } } : p)),
    attachments: list(extra.attachments),
    metadata: isObj(extra.metadata) ? extra.metadata : {},
    ...(extra.assistant_id !== undefined && { assistant_id: extra.assistant_id, run_id: extra.run_id }),
  };
}

const threadObject = (t: Thread): Obj => ({ id: t.id, object: 'thread', created_at: CREATED, metadata: t.metadata ?? {}, tool_resources: {} });

/** A request as the fake server recorded it: `path` without its query, `json` when the body parsed. */
export interface Asked {
  method: string;
  path: string;
  body: string;
  json?: unknown;
}

export interface OpenAiEndpoints {
  /** The answer to a call on one of these endpoints, or undefined when the path is none of them. `next` numbers ids. */
  answer(req: Asked, next: () => number): Reply | undefined;
}

/** Routes by path suffix (any prefix: /v1/..., /openai/v1/...). */
const ID = '([^/]+)';
const at = (tail: string): RegExp => new RegExp(`/${tail}$`);
const R = {
  completions: at('completions'),
  embeddings: at('embeddings'),
  moderations: at('moderations'),
  speech: at('audio/speech'),
  images: at('images/(generations|edits)'),
  assistants: at('assistants'),
  assistant: at(`assistants/${ID}`),
  createAndRun: at('threads/runs'),
  threads: at('threads'),
  thread: at(`threads/${ID}`),
  messages: at(`threads/${ID}/messages`),
  messageOne: at(`threads/${ID}/messages/${ID}`),
  runs: at(`threads/${ID}/runs`),
  run: at(`threads/${ID}/runs/${ID}`),
  runAction: at(`threads/${ID}/runs/${ID}/(submit_tool_outputs|cancel)`),
  batches: at('batches'),
  batch: at(`batches/${ID}`),
  batchCancel: at(`batches/${ID}/cancel`),
  realtime: at('realtime/(sessions|transcription_sessions|client_secrets)'),
};

/** The endpoints with their own store; one per fake server. */
export function openAiEndpoints(): OpenAiEndpoints {
  const assistants = new Kept<Obj>();
  const threads = new Kept<Thread>();
  const runs = new Kept<Run>();
  const batches = new Kept<Obj>();

  const addMessage = (t: Thread, msg: Obj) => {
    t.messages.push(msg);
    if (t.messages.length > MAX_MESSAGES) t.messages.shift();
  };

  const newThread = (spec: Obj, n: number): Thread => {
    const t: Thread = { id: `thread_fake${n}`, metadata: spec.metadata ?? {}, messages: [] };
    list(spec.messages).filter(isObj).forEach((m, i) => addMessage(t, message(t.id, `msg_fake${n}_${i}`, str(m.role, 'user'), m.content, m)));
    threads.set(t.id, t);
    return t;
  };

  const turnsOf = (t: Thread): Turn[] => t.messages.map((m) => ({ role: str(m.role, 'user'), text: textOf(m.content), toolResult: false }));

  /** A run object in the API's shape, for its current state. */
  const runObject = (id: string, t: Thread, body: Obj, assistant: Obj | undefined): Obj => ({
    id,
    object: 'thread.run',
    created_at: CREATED,
    assistant_id: str(body.assistant_id, ''),
    thread_id: t.id,
    status: 'queued',
    started_at: null,
    expires_at: CREATED + 600,
    cancelled_at: null,
    failed_at: null,
    completed_at: null,
    required_action: null,
    last_error: null,
    model: str(body.model, str(assistant?.model, 'gpt-4o')),
    instructions: str(body.instructions, str(assistant?.instructions, '')),
    tools: Array.isArray(body.tools) ? body.tools : list(assistant?.tools),
    metadata: body.metadata ?? {},
    incomplete_details: null,
    usage: null,
    temperature: 1,
    top_p: 1,
    max_prompt_tokens: body.max_prompt_tokens ?? null,
    max_completion_tokens: body.max_completion_tokens ?? null,
    truncation_strategy: { type: 'auto', last_messages: null },
    response_format: 'auto',
    tool_choice: body.tool_choice ?? 'auto',
    parallel_tool_calls: true,
  });

  /**
   * Lets the fake model take its turn: the run ends `requires_action` (a proposed call) or
   * `completed` (a message added to the thread). Answers JSON, or the event stream that got there.
   */
  const step = (run: Run, t: Thread, stream: boolean, prelude: Buffer[] = []): Reply => {
    const r = run.object;
    const n = run.n;
    const a = modelAnswer({ system: run.system, turns: run.turns }, `call_fake${n}`);
    const usage = { prompt_tokens: a.usage.input, completion_tokens: a.usage.output, total_tokens: a.usage.input + a.usage.output };
    const stepId = `step_fake${n}_${run.turns.length}`;
    const stepObject = (type: string, details: Obj, status: string, withUsage: boolean) => ({
      id: stepId, object: 'thread.run.step', created_at: CREATED, run_id: r.id, assistant_id: r.assistant_id, thread_id: t.id, type, status,
      cancelled_at: null, completed_at: status === 'completed' ? CREATED : null, expired_at: null, failed_at: null, last_error: null, step_details: details,
      usage: withUsage ? usage : null,
    });
    const frames = [...prelude];
    const emit = (event: string, data: unknown) => frames.push(sse(data, event));
    if (stream && r.status === 'queued') {
      emit('thread.run.created', r);
      emit('thread.run.queued', r);
    }
    Object.assign(r, { status: 'in_progress', started_at: CREATED, required_action: null });
    if (stream) emit('thread.run.in_progress', r);

    if (a.reply.kind === 'tool') {
      const call = { id: a.reply.id, type: 'function', function: { name: a.reply.name, arguments: a.reply.argumentsJson } };
      Object.assign(r, { status: 'requires_action', required_action: { type: 'submit_tool_outputs', submit_tool_outputs: { tool_calls: [call] } } });
      run.turns.push({ role: 'assistant', text: '', toolResult: false });
      if (!stream) return json(r);
      emit('thread.run.step.created', stepObject('tool_calls', { type: 'tool_calls', tool_calls: [] }, 'in_progress', false));
      emit('thread.run.step.in_progress', stepObject('tool_calls', { type: 'tool_calls', tool_calls: [] }, 'in_progress', false));
      const delta = (tc: Obj) => ({ id: stepId, object: 'thread.run.step.delta', delta: { step_details: { type: 'tool_calls', tool_calls: [{ index: 0, type: 'function', ...tc }] } } });
      emit('thread.run.step.delta', delta({ id: call.id, function: { name: call.function.name, arguments: '', output: null } }));
      for (const p of pieces(call.function.arguments, 2)) emit('thread.run.step.delta', delta({ function: { arguments: p } }));
      emit('thread.run.requires_action', r);
    } else {
      const text = a.reply.text;
      const msgId = `msg_fake${n}_${run.turns.length}`;
      const msg = message(t.id, msgId, 'assistant', text, { assistant_id: r.assistant_id, run_id: r.id });
      addMessage(t, msg);
      run.turns.push({ role: 'assistant', text, toolResult: false });
      Object.assign(r, { status: 'completed', completed_at: CREATED, usage });
      if (!stream) return json(r);
      const details = { type: 'message_creation', message_creation: { message_id: msgId } };
      emit('thread.run.step.created', stepObject('message_creation', details, 'in_progress', false));
      emit('thread.run.step.in_progress', stepObject('message_creation', details, 'in_progress', false));
      emit('thread.message.created', { ...msg, status: 'in_progress', completed_at: null, content: [] });
      emit('thread.message.in_progress', { ...msg, status: 'in_progress', completed_at: null, content: [] });
      for (const p of pieces(text, TEXT_PIECES)) emit('thread.message.delta', { id: msgId, object: 'thread.message.delta', delta: { content: [{ index: 0, type: 'text', text: { value: p, annotations: [] } }] } });
      emit('thread.message.completed', msg);
      emit('thread.run.step.completed', stepObject('message_creation', details, 'completed', true));
      emit('thread.run.completed', r);
    }
    emit('done', '[DONE]');
    return { kind: 'stream', contentType: 'text/event-stream; charset=utf-8', frames };
  };

  /** Starts a run on a thread: the assistant's and the run's instructions, the thread, extra messages. */
  const startRun = (t: Thread, body: Obj, n: number, prelude: Buffer[] = []): Reply => {
    const assistant = assistants.get(str(body.assistant_id, ''));
    list(body.additional_messages).filter(isObj).forEach((m, i) => addMessage(t, message(t.id, `msg_fake${n}_a${i}`, str(m.role, 'user'), m.content, m)));
    const system = [str(body.instructions, str(assistant?.instructions, '')), str(body.additional_instructions, '')].filter((s) => s !== '');
    const run: Run = { object: runObject(`run_fake${n}`, t, body, assistant), n, turns: turnsOf(t), system };
    runs.set(String(run.object.id), run);
    return step(run, t, body.stream === true, prelude);
  };

  const assistantsApi = (method: string, path: string, body: Obj | undefined, next: () => number): Reply | undefined => {
    let m: RegExpExecArray | null;
    if (R.createAndRun.test(path) && method === 'POST') {
      const n = next();
      const t = newThread(isObj(body?.thread) ? body.thread : {}, n);
      // A streamed create-and-run starts with the thread it made.
      return startRun(t, body ?? {}, n, body?.stream === true ? [sse(threadObject(t), 'thread.created')] : []);
    }
    if ((m = R.runAction.exec(path)) && method === 'POST') {
      const t = threads.get(m[1]!);
      const run = runs.get(m[2]!);
      if (!t || !run || run.object.thread_id !== t.id) return notFound('run', m[2]!);
      if (m[3] === 'cancel') return json(Object.assign(run.object, { status: 'cancelled', cancelled_at: CREATED, required_action: null }));
      if (run.object.status !== 'requires_action') return badRequest(`Runs in status "${String(run.object.status)}" do not accept tool outputs.`);
      const outputs = list(body?.tool_outputs).filter(isObj);
      run.turns.push({ role: 'tool', text: outputs.map((o) => str(o.output, '')).join('\n'), toolResult: true });
      return step(run, t, body?.stream === true);
    }
    if ((m = R.run.exec(path))) {
      const run = runs.get(m[2]!);
      if (!run || run.object.thread_id !== m[1]) return notFound('run', m[2]!);
      if (method === 'POST' && isObj(body?.metadata)) run.object.metadata = body.metadata;
      return json(run.object);
    }
    if ((m = R.runs.exec(path))) {
      const t = threads.get(m[1]!);
      if (!t) return notFound('thread', m[1]!);
      if (method === 'POST') return startRun(t, body ?? {}, next());
      const data = [...runs.values()].filter((r) => r.object.thread_id === t.id).map((r) => r.object).reverse();
      return json({ object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: false });
    }
    if ((m = R.messageOne.exec(path))) {
      const msg = threads.get(m[1]!)?.messages.find((x) => x.id === m![2]);
      return msg ? json(msg) : notFound('message', m[2]!);
    }
    if ((m = R.messages.exec(path))) {
      const t = threads.get(m[1]!);
      if (!t) return notFound('thread', m[1]!);
      if (method === 'POST') {
        const msg = message(t.id, `msg_fake${next()}`, str(body?.role, 'user'), body?.content, body ?? {});
        addMessage(t, msg);
        return json(msg);
      }
      // Newest first, as the API lists them by default.
      const data = [...t.messages].reverse();
      return json({ object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: false });
    }
    if (R.threads.test(path) && method === 'POST') return json(threadObject(newThread(body ?? {}, next())));
    if ((m = R.thread.exec(path))) {
      const t = threads.get(m[1]!);
      if (!t) return notFound('thread', m[1]!);
      if (method === 'DELETE') {
        threads.delete(t.id);
        return json({ id: t.id, object: 'thread.deleted', deleted: true });
      }
      if (method === 'POST' && isObj(body?.metadata)) t.metadata = body.metadata;
      return json(threadObject(t));
    }
    if (R.assistants.test(path)) {
      if (method !== 'POST') return json({ object: 'list', data: [...assistants.values()].reverse(), has_more: false });
      const a = { id: `asst_fake${next()}`, object: 'assistant', created_at: CREATED, name: null, description: null, instructions: null, tools: [], tool_resources: {}, metadata: {}, top_p: 1, temperature: 1, response_format: 'auto', ...body };
      assistants.set(a.id, a);
      return json(a);
    }
    if ((m = R.assistant.exec(path))) {
      const a = assistants.get(m[1]!);
      if (!a) return notFound('assistant', m[1]!);
      if (method === 'DELETE') {
        assistants.delete(m[1]!);
        return json({ id: m[1], object: 'assistant.deleted', deleted: true });
      }
      if (method === 'POST') Object.assign(a, body, { id: a.id, object: 'assistant' });
      return json(a);
    }
    return undefined;
  };

  const batchesApi = (method: string, path: string, body: Obj | undefined, next: () => number): Reply | undefined => {
    let m: RegExpExecArray | null;
    if (R.batches.test(path)) {
      if (method !== 'POST') return json({ object: 'list', data: [...batches.values()].reverse(), has_more: false });
      const b = {
        id: `batch_fake${next()}`, object: 'batch', endpoint: str(body?.endpoint, '/v1/chat/completions'), errors: null, input_file_id: str(body?.input_file_id, ''),
        completion_window: str(body?.completion_window, '24h'), status: 'validating', output_file_id: null, error_file_id: null, created_at: CREATED,
        in_progress_at: null, expires_at: CREATED + 86_400, finalizing_at: null, completed_at: null, failed_at: null, expired_at: null, cancelling_at: null,
        cancelled_at: null, request_counts: { total: 0, completed: 0, failed: 0 }, metadata: body?.metadata ?? {},
      };
      batches.set(b.id, b);
      return json(b);
    }
    if ((m = R.batchCancel.exec(path)) && method === 'POST') {
      const b = batches.get(m[1]!);
      return b ? json(Object.assign(b, { status: 'cancelling', cancelling_at: CREATED })) : notFound('batch', m[1]!);
    }
    if ((m = R.batch.exec(path))) {
      const b = batches.get(m[1]!);
      return b ? json(b) : notFound('batch', m[1]!);
    }
    return undefined;
  };

  const realtime = (kind: string, body: Obj, n: number): Reply => {
    const secret = { value: `ek_fake${n}`, expires_at: CREATED + 600 };
    if (kind === 'client_secrets') {
      const session = isObj(body.session) ? body.session : { type: 'realtime' };
      return json({ ...secret, session: { object: 'realtime.session', id: `sess_fake${n}`, model: 'gpt-realtime', instructions: '', tools: [], tool_choice: 'auto', ...session } });
    }
    const object = kind === 'sessions' ? 'realtime.session' : 'realtime.transcription_session';
    return json({ id: `sess_fake${n}`, object, model: 'gpt-4o-realtime-preview', modalities: ['audio', 'text'], instructions: '', tools: [], tool_choice: 'auto', ...body, client_secret: secret });
  };

  return {
    answer({ method, path, body: raw, json: body }, next) {
      if (isObj(body) && body.jsonrpc === '2.0') return undefined; // MCP, whatever the path
      // A body must be a JSON object (this fake speaks no multipart); some calls (a cancel, a poll) have none.
      if (raw !== '' && !isObj(body) && isOurs(path)) return badRequest('request body must be a JSON object');
      const b = isObj(body) ? body : undefined;
      if (method === 'POST' && !path.endsWith('/chat/completions')) {
        let m: RegExpExecArray | null;
        if (R.completions.test(path)) return completions(b ?? {}, next());
        if (R.embeddings.test(path)) return embeddings(b ?? {});
        if (R.moderations.test(path)) return moderations(b ?? {}, next());
        if (R.speech.test(path)) return speech(b ?? {});
        if ((m = R.images.exec(path))) return images(b ?? {}, m[1] === 'edits' ? 'edit' : 'generation');
        if ((m = R.realtime.exec(path))) return realtime(m[1]!, b ?? {}, next());
      }
      return assistantsApi(method, path, b, next) ?? batchesApi(method, path, b, next);
    },
  };
}

/** Is this one of the paths answered here (for the 400 a body that is no JSON object gets)? */
function isOurs(path: string): boolean {
  if (path.endsWith('/chat/completions')) return false;
  return Object.values(R).some((re) => re.test(path));
}
