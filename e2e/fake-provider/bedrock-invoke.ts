// The fake provider's Bedrock InvokeModel (POST /model/{id}/invoke) and InvokeModelWithResponseStream
// (/model/{id}/invoke-with-response-stream), in Bedrock's real wire format: the model's own JSON
// answer (with Bedrock's x-amzn-bedrock-* token headers), or an AWS event-stream of `chunk` events
// whose {"bytes": "<base64>"} each carry one JSON event of the model's own stream, the last one
// with Bedrock's amazon-bedrock-invocationMetrics. Families spoken: Anthropic Claude (Messages),
// Amazon Nova (Converse-shaped), Meta Llama (prompt), Amazon Titan text (inputText); the family
// comes from the model id, as on Bedrock. Like the rest of the fake it reads bodies with its own
// few lines (model.ts), never the sidecar's adapters.
import { encodeMessage } from '../../sidecar/providers/aws-eventstream.js';
import { anthropicConversation, answer, converseConversation, pieces, type Answer, type Conversation } from './model.js';
import type { Reply } from './wire.js';

type Obj = Record<string, unknown>;

const INVOKE_PATH = /^\/model\/([^/]+)\/(invoke|invoke-with-response-stream)$/;
const TEXT_PIECES = 4;
/** Bedrock pads each chunk with a `p` field of varying length, so sizes do not give the content away. */
const PADDING = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0';

/** One stream chunk: the model's JSON event, base64 in `bytes`. */
export function invokeChunk(event: unknown, n = 0): Buffer {
  const bytes = Buffer.from(JSON.stringify(event)).toString('base64');
  return encodeMessage({ ':event-type': 'chunk', ':content-type': 'application/json', ':message-type': 'event' }, JSON.stringify({ bytes, p: PADDING.slice(0, 1 + (n % PADDING.length)) }));
}

type Family = 'anthropic' | 'nova' | 'llama' | 'titan';

function familyOf(model: string): Family | undefined {
  if (/(^|[/.])anthropic\.claude/.test(model)) return 'anthropic';
  if (/(^|[/.])amazon\.nova-/.test(model)) return 'nova';
  if (/(^|[/.])meta\.llama/.test(model)) return 'llama';
  if (/(^|[/.])amazon\.titan-text/.test(model)) return 'titan';
  return undefined;
}

/** What Bedrock answers for a body the model does not take. */
const validation = (message: string): Reply => ({ kind: 'json', status: 400, body: { message }, headers: { 'x-amzn-ErrorType': 'ValidationException' } });

const promptConversation = (text: unknown): Conversation => ({ system: [], turns: [{ role: 'user', text: typeof text === 'string' ? text : '', toolResult: false }] });

/** Text a prompt-only model writes: its reply, or for a tool call the JSON a model would write out. */
const replyText = (a: Answer): string => (a.reply.kind === 'text' ? a.reply.text : JSON.stringify({ name: a.reply.name, parameters: a.reply.arguments }));

/** Bedrock's headers on a whole answer: its request id and the token counts it bills. */
const headersFor = (n: number, a: Answer): Record<string, string> => ({
  'x-amzn-requestid': `fake-request-${n}`,
  'x-amzn-bedrock-invocation-latency': '1',
  'x-amzn-bedrock-input-token-count': String(a.usage.input),
  'x-amzn-bedrock-output-token-count': String(a.usage.output),
});

const metrics = (a: Answer) => ({ 'amazon-bedrock-invocationMetrics': { inputTokenCount: a.usage.input, outputTokenCount: a.usage.output, invocationLatency: 1, firstByteLatency: 1 } });

const stream = (events: unknown[]): Reply => ({ kind: 'stream', contentType: 'application/vnd.amazon.eventstream', frames: events.map((e, i) => invokeChunk(e, i)) });

/** Bedrock names Claude in its answers without the provider prefix and version: claude-3-5-sonnet-20241022. */
const claudeName = (model: string): string => /anthropic\.(claude[^:/]*?)(-v\d+(:\d+)?)?$/.exec(model)?.[1] ?? 'claude-fake';

function anthropic(model: string, body: Obj, n: number, streamed: boolean): Reply {
  // bedrock-2023-05-31, or the API version the Anthropic Bedrock SDK sends (its anthropic-version header, moved into the body).
  if (typeof body.anthropic_version !== 'string') return validation('anthropic_version: required');
  if ('model' in body || 'stream' in body) return validation('extraneous key [model, stream] is not permitted');
  const a = answer(anthropicConversation(body), `toolu_bdrk_fake${n}`);
  const r = a.reply;
  const id = `msg_bdrk_fake${n}`;
  const name = claudeName(model);
  const stopReason = r.kind === 'text' ? 'end_turn' : 'tool_use';
  const content = r.kind === 'text' ? [{ type: 'text', text: r.text }] : [{ type: 'tool_use', id: r.id, name: r.name, input: r.arguments }];
  const usage = (output: number) => ({ input_tokens: a.usage.input, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: output });

  if (!streamed) {
    return { kind: 'json', headers: headersFor(n, a), body: { id, type: 'message', role: 'assistant', model: name, content, stop_reason: stopReason, stop_sequence: null, usage: usage(a.usage.output) } };
  }
  const events: Obj[] = [{ type: 'message_start', message: { id, type: 'message', role: 'assistant', model: name, content: [], stop_reason: null, stop_sequence: null, usage: usage(1) } }];
  if (r.kind === 'text') {
    events.push({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    for (const p of pieces(r.text, TEXT_PIECES)) events.push({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: p } });
  } else {
    events.push({ type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: r.id, name: r.name, input: {} } });
    for (const p of pieces(r.argumentsJson, 2)) events.push({ type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: p } });
  }
  events.push({ type: 'content_block_stop', index: 0 });
  events.push({ type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: a.usage.output } });
  events.push({ type: 'message_stop', ...metrics(a) });
  return stream(events);
}

function nova(body: Obj, n: number, streamed: boolean): Reply {
  if (!Array.isArray(body.messages)) return validation('messages: required');
  const a = answer(converseConversation(body), `tooluse_fake${n}`);
  const r = a.reply;
  const stopReason = r.kind === 'text' ? 'end_turn' : 'tool_use';
  const usage = { inputTokens: a.usage.input, outputTokens: a.usage.output, totalTokens: a.usage.input + a.usage.output, cacheReadInputTokenCount: 0, cacheWriteInputTokenCount: 0 };
  if (!streamed) {
    const content = r.kind === 'text' ? [{ text: r.text }] : [{ toolUse: { toolUseId: r.id, name: r.name, input: r.arguments } }];
    return { kind: 'json', headers: headersFor(n, a), body: { output: { message: { role: 'assistant', content } }, stopReason, usage } };
  }
  const events: Obj[] = [{ messageStart: { role: 'assistant' } }];
  if (r.kind === 'text') {
    for (const p of pieces(r.text, TEXT_PIECES)) events.push({ contentBlockDelta: { delta: { text: p }, contentBlockIndex: 0 } });
  } else {
    events.push({ contentBlockStart: { start: { toolUse: { toolUseId: r.id, name: r.name } }, contentBlockIndex: 0 } });
    events.push({ contentBlockDelta: { delta: { toolUse: { input: r.argumentsJson } }, contentBlockIndex: 0 } });
  }
  events.push({ contentBlockStop: { contentBlockIndex: 0 } });
  events.push({ messageStop: { stopReason } });
  events.push({ metadata: { usage, metrics: {}, trace: {} }, ...metrics(a) });
  return stream(events);
}

function llama(body: Obj, n: number, streamed: boolean): Reply {
  if (typeof body.prompt !== 'string') return validation('prompt: required');
  const a = answer(promptConversation(body.prompt), `call_fake${n}`);
  const text = replyText(a);
  if (!streamed) return { kind: 'json', headers: headersFor(n, a), body: { generation: text, prompt_token_count: a.usage.input, generation_token_count: a.usage.output, stop_reason: 'stop' } };
  const parts = pieces(text, TEXT_PIECES);
  return stream(
    parts.map((p, i) => ({
      generation: p,
      prompt_token_count: i === 0 ? a.usage.input : null,
      generation_token_count: Math.ceil((a.usage.output * (i + 1)) / parts.length),
      stop_reason: i === parts.length - 1 ? 'stop' : null,
      ...(i === parts.length - 1 && metrics(a)),
    })),
  );
}

function titan(body: Obj, n: number, streamed: boolean): Reply {
  if (typeof body.inputText !== 'string') return validation('inputText: required');
  const a = answer(promptConversation(body.inputText), `call_fake${n}`);
  const text = replyText(a);
  if (!streamed) return { kind: 'json', headers: headersFor(n, a), body: { inputTextTokenCount: a.usage.input, results: [{ tokenCount: a.usage.output, outputText: text, completionReason: 'FINISH' }] } };
  const parts = pieces(text, TEXT_PIECES);
  return stream(
    parts.map((p, i) => ({
      outputText: p,
      index: 0,
      totalOutputTextTokenCount: Math.ceil((a.usage.output * (i + 1)) / parts.length),
      completionReason: i === parts.length - 1 ? 'FINISH' : null,
      inputTextTokenCount: i === 0 ? a.usage.input : null,
      ...(i === parts.length - 1 && metrics(a)),
    })),
  );
}

/** Answers InvokeModel / InvokeModelWithResponseStream at `path` for a JSON object body. */
export function bedrockInvoke(path: string, body: Obj, n: number): Reply {
  const m = INVOKE_PATH.exec(path);
  if (!m) return validation('not an InvokeModel path');
  let model = m[1]!;
  try {
    model = decodeURIComponent(model);
  } catch {
    // keep it as sent
  }
  const streamed = m[2] === 'invoke-with-response-stream';
  switch (familyOf(model)) {
    case 'anthropic':
      return anthropic(model, body, n, streamed);
    case 'nova':
      return nova(body, n, streamed);
    case 'llama':
      return llama(body, n, streamed);
    case 'titan':
      return titan(body, n, streamed);
    default:
      return validation(`fake provider: InvokeModel does not speak the format of ${model}`);
  }
}
