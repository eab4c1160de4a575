// The real wire formats the fake provider answers in: OpenAI Chat Completions, OpenAI Responses,
// Anthropic Messages and Bedrock Converse, whole (JSON) and streamed (SSE / AWS event-stream).
// Shapes follow the providers' API references closely enough that their own SDKs parse them.
import { encodeMessage } from '../../sidecar/providers/aws-eventstream.js';
import {
  anthropicConversation, answer, chatConversation, converseConversation, pieces, responsesConversation,
  type Answer,
} from './model.js';

export type Reply =
  | { kind: 'json'; status?: number; body: unknown; headers?: Record<string, string> }
  | { kind: 'stream'; contentType: string; frames: Buffer[] };

type Obj = Record<string, unknown>;

/** A fixed clock: the fake's answers are byte-for-byte reproducible. */
const CREATED = 1_700_000_000;
const TEXT_PIECES = 4;

function sse(data: unknown, event?: string): Buffer {
  const json = typeof data === 'string' ? data : JSON.stringify(data);
  return Buffer.from(`${event !== undefined ? `event: ${event}\n` : ''}data: ${json}\n\n`);
}

const str = (v: unknown, fallback: string): string => (typeof v === 'string' ? v : fallback);

// ---------------------------------------------------------------- OpenAI Chat Completions

export function chatCompletions(body: Obj, n: number): Reply {
  const model = str(body.model, 'fake-model');
  const id = `chatcmpl-fake${n}`;
  const a = answer(chatConversation(body), `call_fake${n}`);
  const usage = { prompt_tokens: a.usage.input, completion_tokens: a.usage.output, total_tokens: a.usage.input + a.usage.output };
  const r = a.reply;

  if (body.stream !== true) {
    const message =
      r.kind === 'text'
        ? { role: 'assistant', content: r.text, refusal: null, annotations: [] }
        : { role: 'assistant', content: null, refusal: null, annotations: [], tool_calls: [{ id: r.id, type: 'function', function: { name: r.name, arguments: r.argumentsJson } }] };
    return {
      kind: 'json',
      body: {
        id,
        object: 'chat.completion',
        created: CREATED,
        model,
        choices: [{ index: 0, message, logprobs: null, finish_reason: r.kind === 'text' ? 'stop' : 'tool_calls' }],
        usage,
        service_tier: 'default',
        system_fingerprint: 'fp_fake',
      },
    };
  }

  const includeUsage = (body.stream_options as Obj | undefined)?.include_usage === true;
  // With include_usage every chunk carries "usage": null, and a last chunk with no choices has it.
  const chunk = (delta: Obj, finish: string | null = null) => ({
    id,
    object: 'chat.completion.chunk',
    created: CREATED,
    model,
    system_fingerprint: 'fp_fake',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(includeUsage && { usage: null }),
  });
  const frames: Buffer[] = [];
  if (r.kind === 'text') {
    frames.push(sse(chunk({ role: 'assistant', content: '', refusal: null })));
    for (const p of pieces(r.text, TEXT_PIECES)) frames.push(sse(chunk({ content: p })));
    frames.push(sse(chunk({}, 'stop')));
  } else {
    frames.push(sse(chunk({ role: 'assistant', content: null, refusal: null, tool_calls: [{ index: 0, id: r.id, type: 'function', function: { name: r.name, arguments: '' } }] })));
    for (const p of pieces(r.argumentsJson, 2)) frames.push(sse(chunk({ tool_calls: [{ index: 0, function: { arguments: p } }] })));
    frames.push(sse(chunk({}, 'tool_calls')));
  }
  if (includeUsage) frames.push(sse({ id, object: 'chat.completion.chunk', created: CREATED, model, system_fingerprint: 'fp_fake', choices: [], usage }));
  frames.push(sse('[DONE]'));
  return { kind: 'stream', contentType: 'text/event-stream; charset=utf-8', frames };
}

// ---------------------------------------------------------------- OpenAI Responses

export function responses(body: Obj, n: number): Reply {
  const model = str(body.model, 'fake-model');
  const a = answer(responsesConversation(body), `call_fake${n}`);
  const r = a.reply;
  const msgId = `msg_fake${n}`;
  const fcId = `fc_fake${n}`;
  const usage = {
    input_tokens: a.usage.input,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: a.usage.output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: a.usage.input + a.usage.output,
  };
  const textPart = (text: string) => ({ type: 'output_text', text, annotations: [], logprobs: [] });
  // A tool the client executes itself (`tools: [{type: 'local_shell'}]`) is proposed as its own item, whole.
  const localShell = r.kind === 'tool' && r.name === 'local_shell' && Array.isArray(body.tools) && body.tools.some((t) => typeof t === 'object' && t !== null && (t as Obj).type === 'local_shell');
  const item = (status: string, text: string, args: string) =>
    r.kind === 'text'
      ? { id: msgId, type: 'message', status, role: 'assistant', content: status === 'completed' ? [textPart(text)] : [] }
      : localShell
        ? { id: fcId, type: 'local_shell_call', status, call_id: r.id, action: { type: 'exec', command: ['ls', '-la'], env: {}, timeout_ms: null, user: null, working_directory: null } }
        : { id: fcId, type: 'function_call', status, call_id: r.id, name: r.name, arguments: args };
  const response = (status: string, output: unknown[], withUsage: boolean) => ({
    id: `resp_fake${n}`,
    object: 'response',
    created_at: CREATED,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    model,
    output,
    parallel_tool_calls: true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: null, summary: null },
    store: true,
    temperature: 1,
    text: { format: { type: 'text' } },
    tool_choice: body.tool_choice ?? 'auto',
    tools: body.tools ?? [],
    top_p: 1,
    truncation: 'disabled',
    usage: withUsage ? usage : null,
    user: null,
    metadata: {},
  });
  const done = item('completed', r.kind === 'text' ? r.text : '', r.kind === 'tool' ? r.argumentsJson : '');

  if (body.stream !== true) return { kind: 'json', body: response('completed', [done], true) };

  let seq = 0;
  const frames: Buffer[] = [];
  const emit = (type: string, data: Obj) => frames.push(sse({ type, sequence_number: seq++, ...data }, type));
  emit('response.created', { response: response('in_progress', [], false) });
  emit('response.in_progress', { response: response('in_progress', [], false) });
  emit('response.output_item.added', { output_index: 0, item: item('in_progress', '', '') });
  if (r.kind === 'text') {
    const at = { item_id: msgId, output_index: 0, content_index: 0 };
    emit('response.content_part.added', { ...at, part: textPart('') });
    for (const p of pieces(r.text, TEXT_PIECES)) emit('response.output_text.delta', { ...at, delta: p, logprobs: [] });
    emit('response.output_text.done', { ...at, text: r.text, logprobs: [] });
    emit('response.content_part.done', { ...at, part: textPart(r.text) });
  } else if (!localShell) {
    for (const p of pieces(r.argumentsJson, 2)) emit('response.function_call_arguments.delta', { item_id: fcId, output_index: 0, delta: p });
    emit('response.function_call_arguments.done', { item_id: fcId, output_index: 0, arguments: r.argumentsJson });
  }
  emit('response.output_item.done', { output_index: 0, item: done });
  emit('response.completed', { response: response('completed', [done], true) });
  return { kind: 'stream', contentType: 'text/event-stream; charset=utf-8', frames };
}

// ---------------------------------------------------------------- Anthropic Messages

export function anthropicMessages(body: Obj, n: number): Reply {
  const model = str(body.model, 'claude-fake');
  const a = answer(anthropicConversation(body), `toolu_fake${n}`);
  const r = a.reply;
  const id = `msg_fake${n}`;
  const stopReason = r.kind === 'text' ? 'end_turn' : 'tool_use';
  const content = r.kind === 'text' ? [{ type: 'text', text: r.text }] : [{ type: 'tool_use', id: r.id, name: r.name, input: r.arguments }];
  const usage = (output: number) => ({ input_tokens: a.usage.input, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: output });

  if (body.stream !== true) {
    return { kind: 'json', body: { id, type: 'message', role: 'assistant', model, content, stop_reason: stopReason, stop_sequence: null, usage: usage(a.usage.output) } };
  }

  const frames: Buffer[] = [];
  const emit = (type: string, data: Obj) => frames.push(sse({ type, ...data }, type));
  emit('message_start', { message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: usage(1) } });
  if (r.kind === 'text') {
    emit('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
    emit('ping', {});
    for (const p of pieces(r.text, TEXT_PIECES)) emit('content_block_delta', { index: 0, delta: { type: 'text_delta', text: p } });
  } else {
    emit('content_block_start', { index: 0, content_block: { type: 'tool_use', id: r.id, name: r.name, input: {} } });
    emit('ping', {});
    for (const p of pieces(r.argumentsJson, 2)) emit('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: p } });
  }
  emit('content_block_stop', { index: 0 });
  emit('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: a.usage.output } });
  emit('message_stop', {});
  return { kind: 'stream', contentType: 'text/event-stream; charset=utf-8', frames };
}

// ---------------------------------------------------------------- Bedrock Converse

/** One converse-stream event as an AWS event-stream message. */
export function converseEvent(type: string, payload: unknown): Buffer {
  return encodeMessage({ ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' }, JSON.stringify(payload));
}

export function converse(body: Obj, n: number, stream: boolean): Reply {
  const a: Answer = answer(converseConversation(body), `tooluse_fake${n}`);
  const r = a.reply;
  const stopReason = r.kind === 'text' ? 'end_turn' : 'tool_use';
  const usage = { inputTokens: a.usage.input, outputTokens: a.usage.output, totalTokens: a.usage.input + a.usage.output };
  const headers = { 'x-amzn-requestid': `fake-request-${n}` };

  if (!stream) {
    const content = r.kind === 'text' ? [{ text: r.text }] : [{ toolUse: { toolUseId: r.id, name: r.name, input: r.arguments } }];
    return { kind: 'json', headers, body: { output: { message: { role: 'assistant', content } }, stopReason, usage, metrics: { latencyMs: 1 } } };
  }

  const frames = [converseEvent('messageStart', { role: 'assistant' })];
  if (r.kind === 'text') {
    for (const p of pieces(r.text, TEXT_PIECES)) frames.push(converseEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: p } }));
  } else {
    frames.push(converseEvent('contentBlockStart', { contentBlockIndex: 0, start: { toolUse: { toolUseId: r.id, name: r.name } } }));
    for (const p of pieces(r.argumentsJson, 2)) frames.push(converseEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { toolUse: { input: p } } }));
  }
  frames.push(converseEvent('contentBlockStop', { contentBlockIndex: 0 }));
  frames.push(converseEvent('messageStop', { stopReason }));
  frames.push(converseEvent('metadata', { usage, metrics: { latencyMs: 1 } }));
  return { kind: 'stream', contentType: 'application/vnd.amazon.eventstream', frames };
}

// ---------------------------------------------------------------- errors

export function openAiErrorBody(message: string, type: string, code: string | null): unknown {
  return { error: { message, type, param: null, code } };
}
