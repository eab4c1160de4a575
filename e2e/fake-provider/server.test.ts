// The fake provider answered by the providers' real SDKs: if they parse its text, tool calls and
// usage, its wire formats are real. The adapters then read the same bytes as a cross-check.
import AnthropicBedrock from '@anthropic-ai/bedrock-sdk';
import Anthropic from '@anthropic-ai/sdk';
import { ApiError, GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, EventStreamDecoder, headerString } from '../../sidecar/providers/aws-eventstream.js';
import { anthropicAdapter, bedrockAdapter, geminiAdapter, mcpAdapter, openAiChatAdapter, openAiResponsesAdapter } from '../../sidecar/providers/index.js';
import type { ProviderAdapter } from '../../sidecar/providers/adapter.js';
import { openAiEndpointsAdapter } from '../../sidecar/providers/openai-endpoints.js';
import { feed } from '../../sidecar/providers/testing.js';
import { makeTestPki } from './certs.js';
import { main } from './main.js';
import { tokens } from './model.js';
import { startFakeProvider, type FakeProvider } from './server.js';

let fake: FakeProvider;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  fake = await startFakeProvider({});
  openai = new OpenAI({ apiKey: 'sk-test', baseURL: `${fake.url}/v1`, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: 'sk-ant-test', baseURL: fake.url, maxRetries: 0 });
});
afterAll(() => fake.close());

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${fake.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

/** The raw bytes of a streamed answer, read chunk by chunk as they arrived. */
async function chunksOf(res: Response): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) out.push(Buffer.from(c));
  return out;
}

/** Runs an adapter's stream parser over a streamed answer and returns what it learned. */
async function adapterFacts(adapter: ProviderAdapter, res: Response) {
  expect(adapter.isStream(res.headers.get('content-type') ?? undefined)).toBe(true);
  return feed(adapter.streamParser(), await chunksOf(res));
}

const ASK = 'What is the capital of France?';
const TOOL_ASK = 'please call tool get_weather for Paris';

describe('OpenAI Chat Completions', () => {
  it('answers a plain completion the SDK parses', async () => {
    const r = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: ASK }] });
    expect(r.object).toBe('chat.completion');
    expect(r.model).toBe('gpt-4o');
    expect(r.choices[0]!.message.content).toBe(`Echo: ${ASK}`);
    expect(r.choices[0]!.finish_reason).toBe('stop');
    expect(r.usage).toMatchObject({ prompt_tokens: tokens('Be brief.'.length + ASK.length), completion_tokens: tokens(`Echo: ${ASK}`.length) });
    const rec = fake.received.at(-1)!;
    expect(rec).toMatchObject({ method: 'POST', path: '/v1/chat/completions' });
    expect(rec.headers.authorization).toBe('Bearer sk-test');
    expect(rec.json).toMatchObject({ model: 'gpt-4o' });
    expect(JSON.parse(rec.body)).toEqual(rec.json);
  });

  it('proposes a tool call', async () => {
    const r = await openai.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: TOOL_ASK }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } }],
    });
    const call = r.choices[0]!.message.tool_calls![0]!;
    expect(r.choices[0]!.finish_reason).toBe('tool_calls');
    expect(call.type === 'function' && call.function.name).toBe('get_weather');
    expect(call.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ q: TOOL_ASK });
  });

  it('answers in text once the tool result comes back', async () => {
    const r = await openai.chat.completions.create({
      model: 'gpt-4o',
      messages: [
        { role: 'user', content: TOOL_ASK },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      ],
    });
    expect(r.choices[0]!.message.content).toBe('Echo: sunny');
  });

  it('streams text deltas, a usage chunk and [DONE]', async () => {
    const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: ASK }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    let chunks = 0;
    for await (const c of stream) {
      chunks++;
      text += c.choices[0]?.delta.content ?? '';
      if (c.usage) usage = c.usage;
    }
    expect(text).toBe(`Echo: ${ASK}`);
    expect(chunks).toBeGreaterThan(4);
    expect(usage).toMatchObject({ prompt_tokens: tokens(ASK.length), completion_tokens: tokens(text.length) });
  });

  it('streams a tool call the SDK assembles', async () => {
    const stream = openai.chat.completions.stream({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: TOOL_ASK }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } }],
      stream_options: { include_usage: true },
    });
    const final = await stream.finalChatCompletion();
    const call = final.choices[0]!.message.tool_calls![0]!;
    expect(call.type === 'function' && call.function.name).toBe('get_weather');
    expect(call.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ q: TOOL_ASK });
    expect(final.usage?.completion_tokens).toBe(tokens(JSON.stringify({ q: TOOL_ASK }).length));
  });

  it('streams frames the chat adapter reads: tool call in the first frame, arguments over two', async () => {
    const res = await post('/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: TOOL_ASK }], stream: true, stream_options: { include_usage: true } });
    const fed = await adapterFacts(openAiChatAdapter, res);
    expect(fed.frames[0]!.events).toEqual([{ type: 'tool_call', name: 'get_weather', id: expect.stringMatching(/^call_/) }]);
    expect(fed.frames).toHaveLength(6); // name, 2 argument pieces, finish, usage, [DONE]
    expect(fed.facts.toolCalls[0]).toMatchObject({ name: 'get_weather', arguments: { q: TOOL_ASK } });
    expect(fed.facts.usage).toEqual({ inputTokens: tokens(TOOL_ASK.length), outputTokens: tokens(JSON.stringify({ q: TOOL_ASK }).length) });
  });

  it('delivers stream frames one by one, a few ms apart', async () => {
    const res = await post('/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: ASK }], stream: true });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const chunks = await chunksOf(res);
    expect(chunks.length).toBeGreaterThan(3);
    expect(Buffer.concat(chunks).toString()).toMatch(/data: \[DONE\]\n\n$/);
  });
});

describe('OpenAI Responses', () => {
  it('answers a response the SDK parses (output_text, usage)', async () => {
    const r = await openai.responses.create({ model: 'gpt-4.1', instructions: 'Be brief.', input: ASK });
    expect(r.status).toBe('completed');
    expect(r.output_text).toBe(`Echo: ${ASK}`);
    expect(r.usage).toMatchObject({ input_tokens: tokens('Be brief.'.length + ASK.length), output_tokens: tokens(`Echo: ${ASK}`.length) });
  });

  it('proposes a function call', async () => {
    const r = await openai.responses.create({
      model: 'gpt-4.1',
      input: [{ role: 'user', content: [{ type: 'input_text', text: TOOL_ASK }] }],
      tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: {} }, strict: false }],
    });
    const call = r.output[0]!;
    expect(call.type).toBe('function_call');
    expect(call.type === 'function_call' && call.name).toBe('get_weather');
    expect(call.type === 'function_call' && JSON.parse(call.arguments)).toEqual({ q: TOOL_ASK });
  });

  it('streams an event sequence the SDK accumulates (text)', async () => {
    const stream = openai.responses.stream({ model: 'gpt-4.1', input: ASK });
    const deltas: string[] = [];
    stream.on('response.output_text.delta', (e) => deltas.push(e.delta));
    const final = await stream.finalResponse();
    expect(final.output_text).toBe(`Echo: ${ASK}`);
    expect(deltas.join('')).toBe(`Echo: ${ASK}`);
    expect(deltas.length).toBeGreaterThan(1);
    expect(final.usage?.output_tokens).toBe(tokens(`Echo: ${ASK}`.length));
  });

  it('streams a function call the SDK accumulates, which the adapter sees when it starts', async () => {
    const final = await openai.responses.stream({ model: 'gpt-4.1', input: TOOL_ASK }).finalResponse();
    const call = final.output[0]!;
    expect(call.type === 'function_call' && call.name).toBe('get_weather');
    expect(call.type === 'function_call' && JSON.parse(call.arguments)).toEqual({ q: TOOL_ASK });

    const fed = await adapterFacts(openAiResponsesAdapter, await post('/v1/responses', { model: 'gpt-4.1', input: TOOL_ASK, stream: true }));
    expect(fed.frames[2]!.events).toEqual([{ type: 'tool_call', name: 'get_weather', id: expect.stringMatching(/^call_/) }]);
    expect(fed.facts.toolCalls[0]).toMatchObject({ name: 'get_weather', arguments: { q: TOOL_ASK } });
    expect(fed.facts.usage?.inputTokens).toBe(tokens(TOOL_ASK.length));
  });
});

describe('Anthropic Messages', () => {
  it('answers a message the SDK parses', async () => {
    const m = await anthropic.messages.create({ model: 'claude-sonnet-4-20250514', max_tokens: 100, system: 'Be brief.', messages: [{ role: 'user', content: ASK }] });
    expect(m.content).toEqual([{ type: 'text', text: `Echo: ${ASK}` }]);
    expect(m.stop_reason).toBe('end_turn');
    expect(m.usage).toMatchObject({ input_tokens: tokens('Be brief.'.length + ASK.length), output_tokens: tokens(`Echo: ${ASK}`.length) });
    const h = fake.received.at(-1)!.headers;
    expect(h['x-api-key'] ?? h.authorization).toMatch(/sk-ant-test/); // newer SDKs send a bearer token
    expect(h['anthropic-version']).toBeTruthy();
  });

  it('proposes tool_use, and answers the tool_result in text', async () => {
    const m = await anthropic.messages.create({
      model: 'claude-sonnet-4-20250514',
      max_tokens: 100,
      tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: {} } }],
      messages: [{ role: 'user', content: TOOL_ASK }],
    });
    expect(m.stop_reason).toBe('tool_use');
    const use = m.content[0]!;
    expect(use.type === 'tool_use' && use.name).toBe('get_weather');
    expect(use.type === 'tool_use' && use.input).toEqual({ q: TOOL_ASK });

    const next = await anthropic.messages.create({
      model: 'claude-sonnet-4-20250514',
      max_tokens: 100,
      messages: [
        { role: 'user', content: TOOL_ASK },
        { role: 'assistant', content: m.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.type === 'tool_use' ? use.id : '', content: 'rainy' }] },
      ],
    });
    expect(next.content).toEqual([{ type: 'text', text: 'Echo: rainy' }]);
  });

  it('streams text the SDK accumulates (with ping)', async () => {
    const stream = anthropic.messages.stream({ model: 'claude-sonnet-4-20250514', max_tokens: 100, messages: [{ role: 'user', content: ASK }] });
    const deltas: string[] = [];
    stream.on('text', (t) => deltas.push(t));
    const m = await stream.finalMessage();
    expect(m.content).toMatchObject([{ type: 'text', text: `Echo: ${ASK}` }]);
    expect(deltas.length).toBeGreaterThan(1);
    expect(m.usage.output_tokens).toBe(tokens(`Echo: ${ASK}`.length));
    expect(m.usage.input_tokens).toBe(tokens(ASK.length));
  });

  it('streams a tool_use the SDK assembles and the adapter sees at content_block_start', async () => {
    const m = await anthropic.messages.stream({ model: 'claude-sonnet-4-20250514', max_tokens: 100, messages: [{ role: 'user', content: TOOL_ASK }] }).finalMessage();
    const use = m.content[0]!;
    expect(use.type === 'tool_use' && use.name).toBe('get_weather');
    expect(use.type === 'tool_use' && use.input).toEqual({ q: TOOL_ASK });

    const res = await post('/v1/messages', { model: 'claude-sonnet-4-20250514', max_tokens: 100, messages: [{ role: 'user', content: TOOL_ASK }], stream: true });
    const fed = await adapterFacts(anthropicAdapter, res);
    expect(fed.frames.map((f) => f.bytes.toString().split('\n')[0])).toEqual([
      'event: message_start',
      'event: content_block_start',
      'event: ping',
      'event: content_block_delta',
      'event: content_block_delta',
      'event: content_block_stop',
      'event: message_delta',
      'event: message_stop',
    ]);
    expect(fed.frames[1]!.events).toEqual([{ type: 'tool_call', name: 'get_weather', id: expect.stringMatching(/^toolu_/) }]);
    expect(fed.facts.toolCalls[0]).toMatchObject({ name: 'get_weather', arguments: { q: TOOL_ASK } });
  });
});

describe('Bedrock Converse', () => {
  const model = encodeURIComponent('anthropic.claude-3-haiku-20240307-v1:0');
  const converseBody = (text: string) => ({ system: [{ text: 'Be brief.' }], messages: [{ role: 'user', content: [{ text }] }], inferenceConfig: { maxTokens: 100 } });

  it('answers converse JSON', async () => {
    const res = await post(`/model/${model}/converse`, converseBody(ASK));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      output: { message: { role: 'assistant', content: [{ text: `Echo: ${ASK}` }] } },
      stopReason: 'end_turn',
      usage: { inputTokens: tokens('Be brief.'.length + ASK.length), outputTokens: tokens(`Echo: ${ASK}`.length), totalTokens: tokens('Be brief.'.length + ASK.length) + tokens(`Echo: ${ASK}`.length) },
      metrics: { latencyMs: 1 },
    });
  });

  it('proposes a toolUse in converse JSON', async () => {
    const body = (await (await post(`/model/${model}/converse`, converseBody(TOOL_ASK))).json()) as { output: { message: { content: unknown[] } }; stopReason: string };
    expect(body.stopReason).toBe('tool_use');
    expect(body.output.message.content).toEqual([{ toolUse: { toolUseId: expect.any(String), name: 'get_weather', input: { q: TOOL_ASK } } }]);
  });

  it('streams converse-stream as real event-stream messages', async () => {
    const res = await post(`/model/${model}/converse-stream`, converseBody(TOOL_ASK));
    expect(res.headers.get('content-type')).toBe('application/vnd.amazon.eventstream');
    const bytes = Buffer.concat(await chunksOf(res));
    const messages = new EventStreamDecoder().push(bytes);
    const args = JSON.stringify({ q: TOOL_ASK });
    const half = Math.ceil(args.length / 2);
    expect(messages.map((m) => [headerString(m.headers, ':message-type'), headerString(m.headers, ':event-type'), headerString(m.headers, ':content-type'), JSON.parse(m.payload.toString())])).toEqual([
      ['event', 'messageStart', 'application/json', { role: 'assistant' }],
      ['event', 'contentBlockStart', 'application/json', { contentBlockIndex: 0, start: { toolUse: { toolUseId: expect.any(String), name: 'get_weather' } } }],
      ['event', 'contentBlockDelta', 'application/json', { contentBlockIndex: 0, delta: { toolUse: { input: args.slice(0, half) } } }],
      ['event', 'contentBlockDelta', 'application/json', { contentBlockIndex: 0, delta: { toolUse: { input: args.slice(half) } } }],
      ['event', 'contentBlockStop', 'application/json', { contentBlockIndex: 0 }],
      ['event', 'messageStop', 'application/json', { stopReason: 'tool_use' }],
      ['event', 'metadata', 'application/json', { usage: { inputTokens: tokens('Be brief.'.length + TOOL_ASK.length), outputTokens: tokens(args.length), totalTokens: expect.any(Number) }, metrics: { latencyMs: 1 } }],
    ]);
    // Each message is exactly framed (decodeMessage re-checks both CRCs on the exact bytes).
    for (const m of messages) expect(decodeMessage(m.bytes).payload.equals(m.payload)).toBe(true);
  });

  it('streams text deltas the Bedrock adapter reads', async () => {
    const fed = await adapterFacts(bedrockAdapter, await post(`/model/${model}/converse-stream`, converseBody(ASK)));
    expect(fed.events.filter((e) => e.type === 'text').map((e) => (e.type === 'text' ? e.text : '')).join('')).toBe(`Echo: ${ASK}`);
    expect(fed.facts.usage).toEqual({ inputTokens: tokens('Be brief.'.length + ASK.length), outputTokens: tokens(`Echo: ${ASK}`.length) });
  });

  it('answers a malformed body with a ValidationException', async () => {
    const res = await fetch(`${fake.url}/model/${model}/converse`, { method: 'POST', body: 'not json' });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('ValidationException');
  });
});

describe('Bedrock InvokeModel', () => {
  const claude = 'anthropic.claude-3-5-sonnet-20241022-v2:0';
  const bedrock = () => new AnthropicBedrock({ awsAccessKey: 'AKIAFAKEFAKEFAKE', awsSecretKey: 'fake-secret', awsRegion: 'us-east-1', baseURL: fake.url, maxRetries: 0 });
  const weather = [{ name: 'get_weather', description: 'Weather by city', input_schema: { type: 'object' as const, properties: { q: { type: 'string' } } } }];

  it('answers a Claude Messages body the Anthropic Bedrock SDK parses, with Bedrock\'s token headers', async () => {
    const r = await bedrock().messages.create({ model: claude, max_tokens: 100, system: 'Be brief.', messages: [{ role: 'user', content: ASK }] });
    expect(r).toMatchObject({ type: 'message', model: 'claude-3-5-sonnet-20241022', stop_reason: 'end_turn', content: [{ type: 'text', text: `Echo: ${ASK}` }] });
    expect(r.usage).toMatchObject({ input_tokens: tokens('Be brief.'.length + ASK.length), output_tokens: tokens(`Echo: ${ASK}`.length) });
    const rec = fake.received.at(-1)!;
    expect(rec.path).toMatch(/^\/model\/anthropic\.claude-3-5-sonnet-20241022-v2(:|%3A)0\/invoke$/);
    expect(rec.json).toMatchObject({ anthropic_version: expect.any(String), max_tokens: 100 });
    expect(rec.json).not.toHaveProperty('model');
    expect(rec.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAFAKEFAKEFAKE\//);
    const raw = await post(rec.path, rec.json);
    expect(raw.headers.get('x-amzn-bedrock-input-token-count')).toBe(String(r.usage.input_tokens));
    expect(raw.headers.get('x-amzn-bedrock-output-token-count')).toBe(String(r.usage.output_tokens));
  });

  it('proposes a tool_use when asked to, whole and streamed (the SDK assembles it; the adapter reads it)', async () => {
    const r = await bedrock().messages.create({ model: claude, max_tokens: 100, tools: weather, messages: [{ role: 'user', content: TOOL_ASK }] });
    expect(r.stop_reason).toBe('tool_use');
    expect(r.content).toEqual([{ type: 'tool_use', id: expect.any(String), name: 'get_weather', input: { q: TOOL_ASK } }]);
    const final = await bedrock().messages.stream({ model: claude, max_tokens: 100, tools: weather, messages: [{ role: 'user', content: TOOL_ASK }] }).finalMessage();
    expect(final.content).toEqual([{ type: 'tool_use', id: expect.any(String), name: 'get_weather', input: { q: TOOL_ASK } }]);
    const rec = fake.received.at(-1)!;
    expect(rec.path).toMatch(/\/invoke-with-response-stream$/);
    const fed = await adapterFacts(bedrockAdapter, await post(rec.path, rec.json));
    expect(fed.frames.every((f) => f.unreadable === undefined)).toBe(true);
    expect(fed.events.filter((e) => e.type === 'tool_call')).toEqual([{ type: 'tool_call', name: 'get_weather', id: expect.any(String) }]);
    expect(fed.facts).toMatchObject({ usage: { inputTokens: tokens(TOOL_ASK.length), outputTokens: tokens(JSON.stringify({ q: TOOL_ASK }).length) }, toolCalls: [{ name: 'get_weather', arguments: { q: TOOL_ASK } }] });
  });

  it('streams Claude text the SDK and the adapter read alike', async () => {
    const stream = bedrock().messages.stream({ model: claude, max_tokens: 100, messages: [{ role: 'user', content: ASK }] });
    expect(await stream.finalText()).toBe(`Echo: ${ASK}`);
    const fed = await adapterFacts(bedrockAdapter, await post(fake.received.at(-1)!.path, fake.received.at(-1)!.json));
    expect(fed.events.flatMap((e) => (e.type === 'text' ? [e.text] : [])).join('')).toBe(`Echo: ${ASK}`);
  });

  it.each([
    ['amazon.nova-lite-v1:0', { messages: [{ role: 'user', content: [{ text: TOOL_ASK }] }], inferenceConfig: { max_new_tokens: 50 } }],
    ['meta.llama3-1-8b-instruct-v1:0', { prompt: ASK, max_gen_len: 50 }],
    ['amazon.titan-text-express-v1', { inputText: ASK, textGenerationConfig: { maxTokenCount: 50 } }],
  ])('answers %s whole and streamed in its own format, which the adapter reads', async (model, body) => {
    const path = `/model/${encodeURIComponent(model)}`;
    const whole = await post(`${path}/invoke`, body);
    expect(whole.status).toBe(200);
    const answer = bedrockAdapter.parseResponse(await whole.json());
    expect(answer.usage?.outputTokens).toBe(Number(whole.headers.get('x-amzn-bedrock-output-token-count')));
    const fed = await adapterFacts(bedrockAdapter, await post(`${path}/invoke-with-response-stream`, body));
    expect(fed.frames.every((f) => f.unreadable === undefined)).toBe(true);
    expect(fed.facts.usage).toEqual(answer.usage);
    const unnumbered = (calls: Array<{ id?: string }>) => calls.map(({ id: _id, ...call }) => call); // ids differ per call
    expect(unnumbered(fed.facts.toolCalls)).toEqual(unnumbered(answer.toolCalls));
    if (model.includes('nova')) expect(answer.toolCalls).toMatchObject([{ name: 'get_weather' }]);
    else expect(fed.events.flatMap((e) => (e.type === 'text' ? [e.text] : [])).join('')).toBe(answer.texts[0]!.text);
  });

  it('answers a model it does not speak, or a body its model does not take, with a ValidationException', async () => {
    for (const [model, body] of [['cohere.command-r-v1:0', { message: 'hi' }], [claude, { messages: [] }]] as const) {
      const res = await post(`/model/${encodeURIComponent(model)}/invoke`, body);
      expect(res.status).toBe(400);
      expect(res.headers.get('x-amzn-errortype')).toBe('ValidationException');
    }
  });
});

describe('Gemini', () => {
  const gemini = () => new GoogleGenAI({ apiKey: 'gemini-test-key', httpOptions: { baseUrl: fake.url } });
  const weather = [{ functionDeclarations: [{ name: 'get_weather', description: 'the weather', parametersJsonSchema: { type: 'object', properties: { q: { type: 'string' } } } }] }];
  const generate = (method: string, text: string) => post(`/v1beta/models/gemini-2.5-flash:${method}`, { contents: [{ role: 'user', parts: [{ text }] }] });

  it('answers generateContent the SDK parses (text, usage, model version)', async () => {
    const r = await gemini().models.generateContent({ model: 'gemini-2.5-flash', contents: ASK, config: { systemInstruction: 'Be brief.' } });
    expect(r.text).toBe(`Echo: ${ASK}`);
    expect(r.modelVersion).toBe('gemini-2.5-flash');
    expect(r.candidates![0]!.finishReason).toBe('STOP');
    const input = tokens('Be brief.'.length + ASK.length);
    const output = tokens(`Echo: ${ASK}`.length);
    expect(r.usageMetadata).toMatchObject({ promptTokenCount: input, candidatesTokenCount: output, totalTokenCount: input + output });
    const rec = fake.received.at(-1)!;
    expect(rec).toMatchObject({ method: 'POST', path: '/v1beta/models/gemini-2.5-flash:generateContent' });
    expect(rec.headers['x-goog-api-key']).toBe('gemini-test-key');
  });

  it('proposes a function call, and answers the function response in text', async () => {
    const ai = gemini();
    const r = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: TOOL_ASK, config: { tools: weather } });
    expect(r.functionCalls).toEqual([{ name: 'get_weather', args: { q: TOOL_ASK } }]);
    const facts = geminiAdapter.parseResponse(await (await post('/v1beta/models/gemini-2.5-flash:generateContent', fake.received.at(-1)!.json)).json());
    expect(facts.toolCalls).toEqual([{ name: 'get_weather', arguments: { q: TOOL_ASK } }]);
    const next = await ai.models.generateContent({
      model: 'gemini-2.5-flash',
      contents: [
        { role: 'user', parts: [{ text: TOOL_ASK }] },
        { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { q: TOOL_ASK } } }] },
        { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { output: 'sunny' } } }] },
      ],
      config: { tools: weather },
    });
    expect(next.text).toBe('Echo: {"output":"sunny"}');
  });

  it('streams with alt=sse: text the SDK accumulates, cumulative usage the adapter reads', async () => {
    const seen: string[] = [];
    for await (const c of await gemini().models.generateContentStream({ model: 'gemini-2.5-flash', contents: ASK })) seen.push(c.text ?? '');
    expect(seen).toHaveLength(4);
    expect(seen.join('')).toBe(`Echo: ${ASK}`);
    expect(fake.received.at(-1)!.path).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    const fed = await adapterFacts(geminiAdapter, await generate('streamGenerateContent?alt=sse', ASK));
    expect(fed.frames).toHaveLength(4);
    expect(fed.facts).toMatchObject({ model: 'gemini-2.5-flash', usage: { inputTokens: tokens(ASK.length), outputTokens: tokens(`Echo: ${ASK}`.length) } });
  });

  it('streams a whole function call in one event the SDK and the adapter read', async () => {
    const calls = [];
    for await (const c of await gemini().models.generateContentStream({ model: 'gemini-2.5-flash', contents: TOOL_ASK, config: { tools: weather } })) calls.push(...(c.functionCalls ?? []));
    expect(calls).toEqual([{ name: 'get_weather', args: { q: TOOL_ASK } }]);
    const fed = await adapterFacts(geminiAdapter, await generate('streamGenerateContent?alt=sse', TOOL_ASK));
    expect(fed.events.filter((e) => e.type === 'tool_call')).toEqual([{ type: 'tool_call', name: 'get_weather' }]);
    expect(fed.facts.toolCalls).toEqual([{ name: 'get_weather', arguments: { q: TOOL_ASK } }]);
  });

  it('streams without alt=sse as one JSON array, written element by element', async () => {
    const res = await generate('streamGenerateContent', ASK);
    expect(res.headers.get('content-type')).toBe('application/json; charset=UTF-8');
    const chunks = await chunksOf(res);
    expect(chunks.length).toBeGreaterThan(1);
    const body = JSON.parse(Buffer.concat(chunks).toString()) as unknown[];
    expect(body).toHaveLength(4);
    const facts = geminiAdapter.parseResponse(body);
    expect(facts.texts.map((t) => t.text).join('')).toBe(`Echo: ${ASK}`);
    expect(facts.usage).toEqual({ inputTokens: tokens(ASK.length), outputTokens: tokens(`Echo: ${ASK}`.length) });
  });

  it("answers a malformed body with Google's 400, which the SDK raises", async () => {
    const res = await fetch(`${fake.url}/v1beta/models/gemini-2.5-flash:generateContent`, { method: 'POST', body: 'not json' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: 400, message: expect.any(String), status: 'INVALID_ARGUMENT' } });
    // Contents that are not a list: the SDK checks its own arguments, so the bad field goes as extra body.
    const err = await gemini().models.generateContent({ model: 'gemini-2.5-flash', contents: ASK, config: { httpOptions: { extraBody: { contents: { role: 'user' } } } } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    expect((err as ApiError).message).toMatch(/INVALID_ARGUMENT/);
  });
});

describe('MCP', () => {
  const rpc = (id: number | undefined, method: string, params?: unknown) => ({ jsonrpc: '2.0', ...(id !== undefined && { id }), method, ...(params !== undefined && { params }) });
  const accept = { accept: 'application/json, text/event-stream' };

  it('initializes, lists tools, calls a tool (JSON answers)', async () => {
    const init = await post('/mcp', rpc(1, 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } }), accept);
    expect(init.headers.get('content-type')).toBe('application/json');
    expect(init.headers.get('mcp-session-id')).toBeTruthy();
    expect(await init.json()).toMatchObject({ jsonrpc: '2.0', id: 1, result: { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: expect.any(String) } } });

    const note = await post('/mcp', rpc(undefined, 'notifications/initialized'), accept);
    expect(note.status).toBe(202);

    const list = (await (await post('/mcp', rpc(2, 'tools/list'), accept)).json()) as { result: { tools: { name: string }[] } };
    expect(list.result.tools.map((t) => t.name)).toContain('web_search');

    const call = await post('/mcp', rpc(3, 'tools/call', { name: 'web_search', arguments: { q: 'chaperone' } }), accept);
    const body = await call.json();
    expect(body).toEqual({ jsonrpc: '2.0', id: 3, result: { content: [{ type: 'text', text: 'web_search result: {"q":"chaperone"}' }], isError: false } });
    expect(mcpAdapter.parseResponse(body).texts).toEqual([{ path: ['result', 'content', 0, 'text'], text: 'web_search result: {"q":"chaperone"}' }]);
  });

  it('answers SSE when the client accepts only text/event-stream, or asks with x-fake-sse', async () => {
    for (const headers of [{ accept: 'text/event-stream' }, { ...accept, 'x-fake-sse': '1' }]) {
      const res = await post('/mcp', [rpc(4, 'tools/call', { name: 'echo', arguments: { text: 'hi' } }), rpc(5, 'ping')], headers);
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      const fed = await adapterFacts(mcpAdapter, res);
      expect(fed.frames.map((f) => f.bytes.toString())).toEqual([
        'event: message\ndata: {"jsonrpc":"2.0","id":4,"result":{"content":[{"type":"text","text":"echo result: {\\"text\\":\\"hi\\"}"}],"isError":false}}\n\n',
        'event: message\ndata: {"jsonrpc":"2.0","id":5,"result":{}}\n\n',
      ]);
      expect(fed.events).toEqual([{ type: 'text', text: 'echo result: {"text":"hi"}' }]);
    }
  });

  it('answers an unknown method with a JSON-RPC error', async () => {
    expect(await (await post('/mcp', rpc(9, 'resources/list'))).json()).toMatchObject({ id: 9, error: { code: -32601 } });
  });
});

describe('special paths and behaviour', () => {
  it('/status/{code} answers that status in the OpenAI error shape, which the SDK surfaces', async () => {
    const c = new OpenAI({ apiKey: 'k', baseURL: `${fake.url}/status/503`, maxRetries: 0 });
    const err = await c.chat.completions.create({ model: 'm', messages: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    const res = await fetch(`${fake.url}/status/429`);
    expect(res.status).toBe(429);
    expect(await res.json()).toEqual({ error: { message: 'fake status 429', type: 'invalid_request_error', param: null, code: 'fake_429' } });
  });

  it('/hang never answers (but is recorded)', async () => {
    const before = fake.received.length;
    const err = await fetch(`${fake.url}/hang`, { signal: AbortSignal.timeout(150) }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('TimeoutError');
    expect(fake.received[before]).toMatchObject({ method: 'GET', path: '/hang' });
  });

  it('/slow-stream sends a frame every 200 ms', async () => {
    const start = Date.now();
    const res = await fetch(`${fake.url}/slow-stream`);
    const times: number[] = [];
    const reader = res.body!.getReader();
    while (times.length < 3) {
      const { done } = await reader.read();
      if (done) break;
      times.push(Date.now() - start);
    }
    await reader.cancel();
    expect(times).toHaveLength(3);
    expect(times[0]!).toBeLessThan(150);
    expect(times[2]! - times[0]!).toBeGreaterThanOrEqual(350);
  });

  it('unknown paths get a 404 in the OpenAI shape', async () => {
    const res = await fetch(`${fake.url}/v1/nothing`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });

  it('answers a malformed chat body with a 400 the SDK understands', async () => {
    const res = await fetch(`${fake.url}/v1/chat/completions`, { method: 'POST', body: '{"model":' });
    expect(res.status).toBe(400);
    expect(fake.received.at(-1)).toMatchObject({ body: '{"model":' });
    expect(fake.received.at(-1)!.json).toBeUndefined();
  });

  it('x-fake-answer-headers adds those headers to any answer, JSON or stream', async () => {
    const forged = { 'x-chaperone-rule': 'forged', 'x-extra': 'yes' };
    const json = await post('/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'hi' }] }, { 'x-fake-answer-headers': JSON.stringify(forged) });
    expect(json.status).toBe(200);
    expect(json.headers.get('x-chaperone-rule')).toBe('forged');
    expect(json.headers.get('x-extra')).toBe('yes');
    expect(json.headers.get('content-type')).toBe('application/json');
    const stream = await post('/v1/chat/completions', { model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }, { 'x-fake-answer-headers': JSON.stringify(forged) });
    expect(stream.headers.get('x-chaperone-rule')).toBe('forged');
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await stream.text();
    const missing = await fetch(`${fake.url}/v1/nothing`, { headers: { 'x-fake-answer-headers': JSON.stringify(forged) } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-extra')).toBe('yes');
    const garbage = await fetch(`${fake.url}/v1/nothing`, { headers: { 'x-fake-answer-headers': 'not json' } });
    expect(garbage.headers.get('x-extra')).toBeNull();
  });

  it('setDelay delays every answer', async () => {
    fake.setDelay(120);
    try {
      const start = Date.now();
      await post('/mcp', { jsonrpc: '2.0', id: 1, method: 'ping' });
      expect(Date.now() - start).toBeGreaterThanOrEqual(110);
    } finally {
      fake.setDelay(0);
    }
  });
});

describe('TLS and the CLI', () => {
  it('serves HTTPS with a certificate from makeTestPki', async () => {
    const pki = await makeTestPki(['localhost']);
    const tlsFake = await startFakeProvider({ tls: { cert: pki.cert, key: pki.key } });
    try {
      expect(tlsFake.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const get = (host: string) =>
        new Promise<number>((resolve, reject) => {
          const req = httpsRequest({ host: '127.0.0.1', servername: host === '127.0.0.1' ? undefined : host, port: tlsFake.port, path: '/status/204', ca: pki.caCert }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on('error', reject);
          req.end();
        });
      expect(await get('localhost')).toBe(204);
      expect(await get('127.0.0.1')).toBe(204);
      await expect(
        new Promise((resolve, reject) => {
          const req = httpsRequest({ host: '127.0.0.1', port: tlsFake.port, path: '/', ca: [] }, resolve);
          req.on('error', reject);
          req.end();
        }),
      ).rejects.toThrow(/certificate/i);
    } finally {
      await tlsFake.close();
    }
  });

  it('main() parses flags, prints the URL as one JSON line, and close() stops a hung request', async () => {
    const lines: string[] = [];
    const cli = await main(['--port', '0', '--delay-ms', '0', '--stream-gap-ms', '1'], (l) => lines.push(l));
    try {
      expect(lines).toHaveLength(1);
      const { url } = JSON.parse(lines[0]!) as { url: string };
      expect(url).toBe(cli.url);
      expect((await fetch(`${url}/status/200`)).status).toBe(200);
      const hung = fetch(`${url}/hang`).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 50));
      await cli.close();
      expect(await hung).toBeInstanceOf(Error);
    } finally {
      await cli.close().catch(() => undefined);
    }
    await expect(main(['--port', 'x'])).rejects.toThrow(/--port/);
    await expect(main(['--tls-cert', 'a'])).rejects.toThrow(/go together/);
  });
});

describe("OpenAI's other endpoints (openai-endpoints.ts)", () => {
  it('answers legacy completions, whole and streamed, which the SDK and the endpoints adapter read', async () => {
    const r = await openai.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: ASK, max_tokens: 20 });
    expect(r).toMatchObject({ object: 'text_completion', model: 'gpt-3.5-turbo-instruct', choices: [{ text: `Echo: ${ASK}`, finish_reason: 'stop' }] });
    expect(r.usage).toEqual({ prompt_tokens: tokens(ASK.length), completion_tokens: tokens(`Echo: ${ASK}`.length), total_tokens: tokens(ASK.length) + tokens(`Echo: ${ASK}`.length) });
    let text = '';
    let usage: unknown;
    for await (const c of await openai.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: ASK, stream: true, stream_options: { include_usage: true } })) {
      text += c.choices[0]?.text ?? '';
      usage = c.usage ?? usage;
    }
    expect([text, usage]).toEqual([`Echo: ${ASK}`, r.usage]);
    const fed = await adapterFacts(openAiEndpointsAdapter, await post('/v1/completions', { model: 'm', prompt: ASK, stream: true, stream_options: { include_usage: true } }));
    expect(fed.events.filter((e) => e.type === 'text').map((e) => (e.type === 'text' ? e.text : '')).join('')).toBe(`Echo: ${ASK}`);
    expect(fed.facts.usage).toEqual({ inputTokens: r.usage!.prompt_tokens, outputTokens: r.usage!.completion_tokens });
  });

  it('answers embeddings (base64 by the SDK\'s default, or floats) and moderations', async () => {
    const e = await openai.embeddings.create({ model: 'text-embedding-3-small', input: ['hello', 'world!'] });
    expect(e.data.map((d) => d.embedding.length)).toEqual([8, 8]);
    expect(fake.received.at(-1)!.json).toMatchObject({ encoding_format: 'base64' });
    expect(e.usage).toEqual({ prompt_tokens: tokens(5) + tokens(6), total_tokens: tokens(5) + tokens(6) });
    const floats = await openai.embeddings.create({ model: 'text-embedding-3-small', input: 'hello', encoding_format: 'float', dimensions: 4 });
    expect(floats.data[0]!.embedding).toEqual(e.data[0]!.embedding.slice(0, 4).map((x) => Math.fround(x)));
    const m = await openai.moderations.create({ model: 'omni-moderation-latest', input: [{ type: 'text', text: 'hi' }] });
    expect(m.results).toHaveLength(1);
    expect(m.results[0]!.flagged).toBe(false);
  });

  it('answers speech as audio bytes (or SSE), and images as base64 with usage', async () => {
    const speech = await openai.audio.speech.create({ model: 'gpt-4o-mini-tts', voice: 'alloy', input: 'Hello there, how are you today?' });
    expect(speech.headers.get('content-type')).toBe('audio/mpeg');
    const audio = Buffer.from(await speech.arrayBuffer());
    expect([...audio.subarray(0, 2)]).toEqual([0xff, 0xfb]);
    const events = await adapterFacts(openAiEndpointsAdapter, await post('/v1/audio/speech', { model: 'gpt-4o-mini-tts', voice: 'alloy', input: 'Hi', stream_format: 'sse' }));
    expect(events.facts.usage).toEqual({ inputTokens: 1, outputTokens: tokens(64) });
    const image = await openai.images.generate({ model: 'gpt-image-1', prompt: 'a sea otter' });
    expect(image.data![0]!.b64_json).toMatch(/^iVBOR/);
    expect(image.usage).toMatchObject({ input_tokens: tokens('a sea otter'.length), output_tokens: 272 });
    const dalle = await openai.images.generate({ model: 'dall-e-3', prompt: 'a sea otter' });
    expect(openAiEndpointsAdapter.parseResponse(JSON.parse(JSON.stringify(dalle))).texts).toEqual([{ path: ['data', 0, 'revised_prompt'], text: 'Echo: a sea otter' }]);
  });

  it('runs an assistant: requires_action with the proposed call, then the answer to its output (polled JSON)', async () => {
    const assistant = await openai.beta.assistants.create({ model: 'gpt-4o', instructions: 'Be brief.', tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } }] });
    const thread = await openai.beta.threads.create({ messages: [{ role: 'user', content: TOOL_ASK }] });
    const run = await openai.beta.threads.runs.createAndPoll(thread.id, { assistant_id: assistant.id });
    expect(run.status).toBe('requires_action');
    const call = run.required_action!.submit_tool_outputs.tool_calls[0]!;
    expect([call.function.name, JSON.parse(call.function.arguments)]).toEqual(['get_weather', { q: TOOL_ASK }]);
    expect(openAiEndpointsAdapter.parseResponse(JSON.parse(JSON.stringify(run))).toolCalls).toEqual([{ name: 'get_weather', arguments: { q: TOOL_ASK }, id: call.id }]);
    const done = await openai.beta.threads.runs.submitToolOutputsAndPoll(run.id, { thread_id: thread.id, tool_outputs: [{ tool_call_id: call.id, output: 'sunny' }] });
    expect(done.status).toBe('completed');
    expect(done.usage).toMatchObject({ completion_tokens: tokens('Echo: sunny'.length) });
    const messages = await openai.beta.threads.messages.list(thread.id);
    expect(messages.data[0]!.content[0]).toMatchObject({ type: 'text', text: { value: 'Echo: sunny' } });
    expect((await openai.beta.threads.runs.retrieve(run.id, { thread_id: thread.id })).status).toBe('completed');
    await expect(openai.beta.threads.runs.retrieve('run_nope', { thread_id: thread.id })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('streams a run: the SDK\'s AssistantStream assembles the text; the adapter sees a proposed call at its first step delta', async () => {
    const stream = openai.beta.threads.createAndRunStream({ assistant_id: 'asst_x', thread: { messages: [{ role: 'user', content: ASK }] } });
    const messages = await stream.finalMessages();
    expect(messages[0]!.content[0]).toMatchObject({ text: { value: `Echo: ${ASK}` } });
    expect((await stream.finalRun()).status).toBe('completed');
    const fed = await adapterFacts(openAiEndpointsAdapter, await post('/v1/threads/runs', { assistant_id: 'asst_x', stream: true, thread: { messages: [{ role: 'user', content: TOOL_ASK }] } }));
    const names = fed.frames.map((f) => f.bytes.toString().split('\n')[0]);
    const at = fed.frames.findIndex((f) => f.events.some((e) => e.type === 'tool_call'));
    expect(names[at]).toBe('event: thread.run.step.delta');
    expect(names.at(-2)).toBe('event: thread.run.requires_action');
    expect(fed.facts.toolCalls).toEqual([{ name: 'get_weather', arguments: { q: TOOL_ASK }, id: expect.stringMatching(/^call_fake/) }]);
  });

  it('answers batches and realtime client secrets; a body that is no JSON object gets a 400', async () => {
    const batch = await openai.batches.create({ input_file_id: 'file-abc', endpoint: '/v1/chat/completions', completion_window: '24h' });
    expect(batch).toMatchObject({ object: 'batch', status: 'validating', input_file_id: 'file-abc' });
    expect((await openai.batches.retrieve(batch.id)).id).toBe(batch.id);
    const secret = await openai.realtime.clientSecrets.create({ session: { type: 'realtime', model: 'gpt-realtime', instructions: 'Be nice.' } });
    expect(secret.value).toMatch(/^ek_fake/);
    expect(secret.session).toMatchObject({ type: 'realtime', instructions: 'Be nice.' });
    const bad = await fetch(`${fake.url}/v1/embeddings`, { method: 'POST', body: '[1]' });
    expect(bad.status).toBe(400);
  });
});
