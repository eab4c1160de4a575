// The fake provider answered by the providers' real SDKs: if they parse its text, tool calls and
// usage, its wire formats are real. The adapters then read the same bytes as a cross-check.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, EventStreamDecoder, headerString } from '../../sidecar/providers/aws-eventstream.js';
import { anthropicAdapter, bedrockAdapter, mcpAdapter, openAiChatAdapter, openAiResponsesAdapter } from '../../sidecar/providers/index.js';
import type { ProviderAdapter } from '../../sidecar/providers/adapter.js';
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
