import { eventStreamToSSEResponse } from '@anthropic-ai/bedrock-sdk/core/streaming';
import { describe, expect, it } from 'vitest';
import type { RequestFacts, ResponseFacts, StreamEvent } from '../call.js';
import { getAt, MalformedRequest, UnreadableStream, type RequestHead } from './adapter.js';
import { anthropicAdapter } from './anthropic.js';
import { decodeMessage, encodeMessage, headerString } from './aws-eventstream.js';
import { familyOf } from './bedrock-invoke.js';
import { bedrockAdapter as adapter } from './bedrock.js';
import { feed, feedAll, sse } from './testing.js';

type StreamEventList = StreamEvent[];

const HOST = 'bedrock-runtime.us-east-1.amazonaws.com';
const head = (path: string, host = HOST): RequestHead => ({ host, method: 'POST', path, contentType: 'application/json' });
const ARN = 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0';

describe('bedrock matches', () => {
  it.each([
    [HOST, '/model/anthropic.claude-3-haiku-20240307-v1:0/converse', true],
    ['bedrock-runtime-fips.us-west-2.amazonaws.com', '/model/x/converse-stream', true],
    [HOST, `/model/${encodeURIComponent(ARN)}/converse`, true],
    [HOST, '/model/x/invoke', true],
    [HOST, '/model/x/count-tokens', true], // any model call on a Bedrock host
    ['127.0.0.1', '/model/x/converse', true], // a gateway or test server speaking Converse
    ['127.0.0.1', '/model/x/foo', false],
    ['api.openai.com', '/v1/chat/completions', false],
  ])('%s %s → %s', (host, path, want) => {
    expect(adapter.matches(head(path, host), {})).toBe(want);
  });
});

describe('bedrock parseRequest', () => {
  const cases: Array<{ name: string; path: string; body: unknown; want: Partial<RequestFacts> }> = [
    {
      name: 'converse with system, text, inference config',
      path: '/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse',
      body: {
        system: [{ text: 'You are an app that creates playlists.' }, { cachePoint: { type: 'default' } }],
        messages: [{ role: 'user', content: [{ text: 'Create a list of 3 pop songs.' }] }],
        inferenceConfig: { maxTokens: 512, temperature: 0.5 },
      },
      want: {
        operation: 'converse',
        model: 'anthropic.claude-3-haiku-20240307-v1:0',
        stream: false,
        toolsDefined: [],
        toolCalls: [],
        texts: [
          { path: ['system', 0, 'text'], text: 'You are an app that creates playlists.' },
          { path: ['messages', 0, 'content', 0, 'text'], text: 'Create a list of 3 pop songs.' },
        ],
      },
    },
    {
      name: 'converse-stream on an inference-profile ARN with tools and a tool result turn',
      path: `/model/${encodeURIComponent(ARN)}/converse-stream`,
      body: {
        messages: [
          { role: 'user', content: [{ text: 'What is the most popular song on WZPZ?' }] },
          { role: 'assistant', content: [{ text: 'Let me look.' }, { toolUse: { toolUseId: 'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q', name: 'top_song', input: { sign: 'WZPZ' } } }] },
          {
            role: 'user',
            content: [{ toolResult: { toolUseId: 'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q', content: [{ json: { song: 'Elemental Hotel', artist: '8 Storey Hike' } }, { text: 'extra' }], status: 'success' } }],
          },
        ],
        toolConfig: {
          tools: [{ toolSpec: { name: 'top_song', description: 'Get the most popular song', inputSchema: { json: { type: 'object' } } } }],
          toolChoice: { tool: { name: 'top_song' } },
        },
      },
      want: {
        operation: 'converse-stream',
        model: ARN,
        stream: true,
        toolsDefined: ['top_song'],
        toolCalls: [{ name: 'top_song' }, { name: 'top_song', arguments: { sign: 'WZPZ' }, id: 'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q' }],
        texts: [
          { path: ['messages', 0, 'content', 0, 'text'], text: 'What is the most popular song on WZPZ?' },
          { path: ['messages', 1, 'content', 0, 'text'], text: 'Let me look.' },
          { path: ['messages', 1, 'content', 1, 'toolUse', 'input', 'sign'], text: 'WZPZ' }, // tool inputs, every turn
          { path: ['messages', 2, 'content', 0, 'toolResult', 'content', 0, 'json', 'song'], text: 'Elemental Hotel' },
          { path: ['messages', 2, 'content', 0, 'toolResult', 'content', 0, 'json', 'artist'], text: '8 Storey Hike' },
          { path: ['messages', 2, 'content', 0, 'toolResult', 'content', 1, 'text'], text: 'extra' },
          { path: ['toolConfig', 'tools', 0, 'toolSpec', 'description'], text: 'Get the most popular song' }, // tool descriptions
        ],
      },
    },
    {
      name: "toolChoice auto / any forces nothing; guardContent is text",
      path: '/model/amazon.nova-pro-v1:0/converse',
      body: {
        messages: [{ role: 'user', content: [{ guardContent: { text: { text: 'guarded' } } }] }],
        toolConfig: { tools: [{ toolSpec: { name: 'a' } }], toolChoice: { any: {} } },
      },
      want: { model: 'amazon.nova-pro-v1:0', toolsDefined: ['a'], toolCalls: [], texts: [{ path: ['messages', 0, 'content', 0, 'guardContent', 'text', 'text'], text: 'guarded' }] },
    },
    {
      name: 'invoke-with-response-stream: the stream flag from the path, the body read as its model speaks it',
      path: '/model/anthropic.claude-v2/invoke-with-response-stream',
      body: { anthropic_version: 'bedrock-2023-05-31', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 },
      want: { operation: 'invoke-with-response-stream', model: 'anthropic.claude-v2', stream: true, texts: [{ path: ['messages', 0, 'content'], text: 'hi' }], toolCalls: [], maxOutputTokens: 10 },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const facts = adapter.parseRequest(head(c.path), c.body);
      expect(facts).toMatchObject(c.want);
      for (const t of facts.texts) expect(getAt(c.body, t.path)).toBe(t.text);
    });
  }

  it.each([
    ['x', 'body: must be an object'],
    [{ messages: {} }, 'messages: must be an array'],
    [{ messages: [{ role: 'user', content: 'hi' }] }, 'messages[0].content: must be an array'],
    [{ messages: [{ role: 'user', content: ['hi'] }] }, 'messages[0].content[0]: must be an object'],
    [{ messages: [], system: 'be nice' }, 'system: must be an array'],
    [{ messages: [], toolConfig: { tools: {} } }, 'toolConfig.tools: must be an array'],
  ])('rejects %j with %s', (body, message) => {
    expect(() => adapter.parseRequest(head('/model/m/converse'), body)).toThrow(MalformedRequest);
    expect(() => adapter.parseRequest(head('/model/m/converse'), body)).toThrow(message);
  });
});

describe('bedrock parseResponse', () => {
  it('reads text, toolUse and usage', () => {
    const body = {
      output: { message: { role: 'assistant', content: [{ text: 'Here you go.' }, { toolUse: { toolUseId: 'tu_1', name: 'top_song', input: { sign: 'WZPZ' } } }] } },
      stopReason: 'tool_use',
      usage: { inputTokens: 375, outputTokens: 75, totalTokens: 450 },
      metrics: { latencyMs: 1340 },
    };
    expect(adapter.parseResponse(body)).toEqual({
      usage: { inputTokens: 375, outputTokens: 75 },
      texts: [{ path: ['output', 'message', 'content', 0, 'text'], text: 'Here you go.' }],
      toolCalls: [{ name: 'top_song', arguments: { sign: 'WZPZ' }, id: 'tu_1' }],
    });
  });
  it.each([null, { output: 1 }, { output: { message: { content: [null, 'x'] } } }])('never throws: %j', (body) => {
    expect(adapter.parseResponse(body)).toMatchObject({ toolCalls: [], texts: [] });
  });
});

const event = (type: string, payload: unknown) =>
  encodeMessage({ ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' }, JSON.stringify(payload));

describe('bedrock stream', () => {
  const stream = Buffer.concat([
    event('messageStart', { role: 'assistant', p: 'abcd' }),
    event('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Let me ' } }),
    event('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'check.' } }),
    event('contentBlockStop', { contentBlockIndex: 0 }),
    event('contentBlockStart', { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'tooluse_1', name: 'top_song' } } }),
    event('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '{"sign":' } } }),
    event('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '"WZPZ"}' } } }),
    event('contentBlockStop', { contentBlockIndex: 1 }),
    event('messageStop', { stopReason: 'tool_use' }),
    event('metadata', { usage: { inputTokens: 30, outputTokens: 12, totalTokens: 42 }, metrics: { latencyMs: 300 } }),
  ]);

  it('frames each message, reports text, tool calls and usage', () => {
    for (const { name, fed } of feedAll(() => adapter.streamParser(), stream)) {
      expect(fed.frames, name).toHaveLength(10);
      expect(fed.frames[4]!.events, name).toEqual([{ type: 'tool_call', name: 'top_song', id: 'tooluse_1' }]);
      expect(fed.events, name).toEqual([
        { type: 'text', text: 'Let me ' },
        { type: 'text', text: 'check.' },
        { type: 'tool_call', name: 'top_song', id: 'tooluse_1' },
        { type: 'usage', usage: { inputTokens: 30, outputTokens: 12 } },
      ]);
      expect(fed.facts, name).toEqual({
        usage: { inputTokens: 30, outputTokens: 12 },
        toolCalls: [{ name: 'top_song', arguments: { sign: 'WZPZ' }, id: 'tooluse_1' }],
        texts: [],
      });
    }
  });

  it('refuses to read on past a corrupted message (fail closed), whichever chunk it arrives in', () => {
    const bad = Buffer.from(stream);
    const second = event('messageStart', { role: 'assistant', p: 'abcd' }).length;
    bad[second + 20]! ^= 0xff; // inside the second message
    const parser = adapter.streamParser();
    expect(parser.push(bad.subarray(0, second + 30)).map((f) => f.bytes.length)).toEqual([second]);
    expect(() => parser.push(bad.subarray(second + 30))).toThrow(UnreadableStream);
    expect(() => adapter.streamParser().push(bad)).toThrow(/event-stream framing is broken \(message CRC mismatch\)/);
  });

  it('refuses a stream that ends inside a message', () => {
    const parser = adapter.streamParser();
    expect(parser.push(stream.subarray(0, 20))).toEqual([]);
    expect(() => parser.end()).toThrow(/ends inside a message/);
  });

  it('marks a message whose payload is not JSON unreadable, and still reads the next', () => {
    const garbage = encodeMessage({ ':message-type': 'event', ':event-type': 'contentBlockStart', ':content-type': 'application/json' }, '{"start": {"toolUse": NaN');
    const frames = adapter.streamParser().push(Buffer.concat([garbage, event('messageStop', { stopReason: 'end_turn' })]));
    expect(frames.map((f) => f.unreadable)).toEqual(['its data is not JSON', undefined]);
    expect(frames[0]!.events).toEqual([]);
  });

  it('reports exceptions; streamError is an exception message', () => {
    const frame = adapter.streamError('rate_limited', 'Too many requests');
    const msg = decodeMessage(frame);
    expect(headerString(msg.headers, ':message-type')).toBe('exception');
    expect(headerString(msg.headers, ':exception-type')).toBe('throttlingException');
    expect(headerString(msg.headers, ':content-type')).toBe('application/json');
    expect(JSON.parse(msg.payload.toString())).toEqual({ message: 'Too many requests' });
    expect(adapter.streamParser().push(frame)[0]!.events).toEqual([{ type: 'error', message: 'throttlingException: Too many requests' }]);
  });
});

describe('bedrock errors', () => {
  it.each([
    ['invalid_request', 'ValidationException'],
    ['forbidden', 'AccessDeniedException'],
    ['rate_limited', 'ThrottlingException'],
    ['upstream_unavailable', 'ServiceUnavailableException'],
    ['upstream_timeout', 'ModelTimeoutException'],
    ['internal', 'InternalServerException'],
  ] as const)('%s → %s', (kind, type) => {
    const a = adapter.errorAnswer(kind, 'msg');
    expect(a).toEqual({ contentType: 'application/json', body: '{"message":"msg"}', headers: { 'x-amzn-ErrorType': type } });
  });
});

describe('bedrock maxOutputTokens', () => {
  const converse = '/model/m/converse';
  it.each<[string, object, number | undefined]>([
    [converse, { inferenceConfig: { maxTokens: 512 } }, 512],
    [converse, { inferenceConfig: { temperature: 0.5 } }, undefined],
    [converse, {}, undefined],
    ['/model/m/invoke', { max_tokens: 10 }, undefined], // an unknown model's Converse-shaped body: Converse's cap
    ['/model/amazon.nova-lite-v1:0/invoke', { inferenceConfig: { max_new_tokens: 300 } }, 300],
    ['/model/anthropic.claude-3-haiku-20240307-v1:0/invoke', { anthropic_version: 'bedrock-2023-05-31', max_tokens: 10 }, 10],
  ])('%s %j → %s', (path, extra, want) => {
    expect(adapter.parseRequest(head(path), { messages: [{ role: 'user', content: [{ text: 'hi' }] }], ...extra }).maxOutputTokens).toBe(want);
  });
});

describe('bedrock removeTools', () => {
  const spec = (name: string) => ({ toolSpec: { name, inputSchema: { json: {} } } });
  const cases: Array<{ name: string; body: Record<string, unknown>; remove: string[]; removed: number; want: Record<string, unknown> }> = [
    {
      name: 'removes named toolSpecs, keeps cache points and an unrelated choice',
      body: { toolConfig: { tools: [spec('a'), spec('shell'), { cachePoint: { type: 'default' } }], toolChoice: { any: {} } } },
      remove: ['shell'],
      removed: 1,
      want: { toolConfig: { tools: [spec('a'), { cachePoint: { type: 'default' } }], toolChoice: { any: {} } } },
    },
    {
      name: 'a forced choice of a removed tool becomes auto',
      body: { toolConfig: { tools: [spec('a'), spec('shell')], toolChoice: { tool: { name: 'shell' } } } },
      remove: ['shell'],
      removed: 1,
      want: { toolConfig: { tools: [spec('a')], toolChoice: { auto: {} } } },
    },
    {
      name: 'no toolSpec left: the toolConfig goes (Bedrock needs at least one tool)',
      body: { toolConfig: { tools: [spec('shell'), { cachePoint: { type: 'default' } }], toolChoice: { any: {} } }, inferenceConfig: { maxTokens: 5 } },
      remove: ['shell'],
      removed: 1,
      want: { inferenceConfig: { maxTokens: 5 } },
    },
    {
      name: 'nothing to remove',
      body: { toolConfig: { tools: [spec('a')] } },
      remove: ['shell'],
      removed: 0,
      want: { toolConfig: { tools: [spec('a')] } },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(adapter.removeTools(c.body, new Set(c.remove))).toBe(c.removed);
      expect(c.body).toEqual(c.want);
      const facts = adapter.parseRequest(head('/model/m/converse'), { messages: [{ role: 'user', content: [{ text: 'x' }] }], ...c.body });
      expect([...facts.toolsDefined, ...facts.toolCalls.map((t) => t.name)].filter((t) => c.remove.includes(t))).toEqual([]);
    });
  }
  it('ignores bodies without a tool list', () => {
    expect(adapter.removeTools({}, new Set(['x']))).toBe(0);
    expect(adapter.removeTools({ toolConfig: 'x' }, new Set(['x']))).toBe(0);
  });
});

describe('bedrock parseRequest: every string the provider reads is a text (DLP)', () => {
  it('reads toolUse inputs of every turn, tool descriptions and schemas, requestMetadata', () => {
    const body = {
      requestMetadata: { team: 'x' },
      messages: [
        { role: 'user', content: [{ text: 'hi' }] },
        { role: 'assistant', content: [{ toolUse: { toolUseId: 't0', name: 'f', input: { a: 'old' } } }] },
        { role: 'user', content: [{ toolResult: { toolUseId: 't0', content: [{ text: 'r0' }] } }] },
      ],
      toolConfig: { tools: [{ toolSpec: { name: 'f', description: 'does f', inputSchema: { json: { type: 'object', properties: { a: { type: 'string', description: 'the a' } } } } } }] },
    };
    const facts = adapter.parseRequest(head('/model/amazon.nova-pro-v1:0/converse'), body);
    expect(facts.texts).toEqual([
      { path: ['messages', 0, 'content', 0, 'text'], text: 'hi' },
      { path: ['messages', 1, 'content', 0, 'toolUse', 'input', 'a'], text: 'old' },
      { path: ['messages', 2, 'content', 0, 'toolResult', 'content', 0, 'text'], text: 'r0' },
      { path: ['toolConfig', 'tools', 0, 'toolSpec', 'description'], text: 'does f' },
      { path: ['toolConfig', 'tools', 0, 'toolSpec', 'inputSchema', 'json', 'properties', 'a', 'description'], text: 'the a' },
      { path: ['requestMetadata', 'team'], text: 'x' },
    ]);
    for (const t of facts.texts) expect(getAt(body, t.path)).toBe(t.text);
  });
});

// ---------------------------------------------------------------- InvokeModel

const invoke = (model: string, stream = false) => `/model/${encodeURIComponent(model)}/${stream ? 'invoke-with-response-stream' : 'invoke'}`;
/** Every text a request's facts name is at its path in the body (so DLP can rewrite it there). */
const located = (body: unknown, facts: { texts: Array<{ path: ReadonlyArray<string | number>; text: string }> }) => {
  for (const t of facts.texts) expect(getAt(body, t.path)).toBe(t.text);
};

describe('bedrock InvokeModel: the model family from the id', () => {
  it.each([
    ['anthropic.claude-3-5-sonnet-20241022-v2:0', 'anthropic'],
    ['us.anthropic.claude-3-7-sonnet-20250219-v1:0', 'anthropic'],
    ['global.anthropic.claude-sonnet-4-5-20250929-v1:0', 'anthropic'],
    [ARN, 'anthropic'],
    ['arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0', 'anthropic'],
    ['amazon.nova-pro-v1:0', 'nova'],
    ['us.amazon.nova-lite-v1:0', 'nova'],
    ['amazon.titan-text-express-v1', 'titan'],
    ['amazon.titan-embed-text-v2:0', 'titan'],
    ['amazon.rerank-v1:0', undefined],
    ['meta.llama3-1-70b-instruct-v1:0', 'meta'],
    ['mistral.mistral-large-2407-v1:0', 'mistral'],
    ['cohere.command-r-plus-v1:0', 'cohere'],
    ['ai21.jamba-1-5-mini-v1:0', 'ai21'],
    ['us.deepseek.r1-v1:0', 'deepseek'],
    ['openai.gpt-oss-120b-1:0', 'openai'],
    ['arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4', undefined], // opaque: the body tells
    ['arn:aws:bedrock:us-east-1:123456789012:provisioned-model/xyz', undefined],
  ])('%s → %s', (model, family) => {
    expect(familyOf(model)).toBe(family);
  });
});

describe('bedrock InvokeModel: request bodies', () => {
  const anthropicBody = {
    anthropic_version: 'bedrock-2023-05-31',
    max_tokens: 1024,
    system: [{ type: 'text', text: 'You are terse.' }],
    messages: [
      { role: 'user', content: 'What is the weather in Paris?' },
      { role: 'assistant', content: [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: '18C and sunny' }] }] },
    ],
    tools: [{ name: 'get_weather', description: 'Weather by city', input_schema: { type: 'object', properties: { city: { type: 'string', description: 'the city' } } } }],
    tool_choice: { type: 'tool', name: 'get_weather' },
  };

  it.each(['anthropic.claude-3-5-sonnet-20241022-v2:0', 'us.anthropic.claude-3-7-sonnet-20250219-v1:0', ARN])(
    'an Anthropic Messages body (%s) gives exactly the facts the Anthropic API gives',
    (model) => {
      const facts = adapter.parseRequest(head(invoke(model)), anthropicBody);
      const api = anthropicAdapter.parseRequest({ host: 'api.anthropic.com', method: 'POST', path: '/v1/messages' }, { model: 'claude', ...anthropicBody });
      expect(facts).toEqual({ ...api, operation: 'invoke', model, stream: false });
      expect(facts.toolCalls.map((c) => c.name)).toEqual(['get_weather', 'get_weather']);
      expect(facts.texts.map((t) => t.text)).toContain('18C and sunny');
      located(anthropicBody, facts);
    },
  );

  it('an application inference profile: an Anthropic body known by anthropic_version', () => {
    const facts = adapter.parseRequest(head(invoke('arn:aws:bedrock:us-east-1:1:application-inference-profile/abc', true)), anthropicBody);
    expect(facts).toMatchObject({ operation: 'invoke-with-response-stream', stream: true, toolsDefined: ['get_weather'], maxOutputTokens: 1024 });
  });

  const cases: Array<{ name: string; model: string; body: Record<string, unknown>; want: Partial<RequestFacts> }> = [
    {
      name: 'Amazon Nova: Converse-shaped messages, system, toolConfig, inferenceConfig.max_new_tokens',
      model: 'us.amazon.nova-pro-v1:0',
      body: {
        schemaVersion: 'messages-v1',
        system: [{ text: 'Be brief.' }],
        messages: [
          { role: 'user', content: [{ text: 'Top song on WZPZ?' }] },
          { role: 'assistant', content: [{ toolUse: { toolUseId: 't1', name: 'top_song', input: { sign: 'WZPZ' } } }] },
          { role: 'user', content: [{ toolResult: { toolUseId: 't1', content: [{ json: { song: 'Elemental Hotel' } }] } }] },
        ],
        inferenceConfig: { max_new_tokens: 300, temperature: 0.7, stopSequences: ['END'] },
        toolConfig: { tools: [{ toolSpec: { name: 'top_song', description: 'Most popular song', inputSchema: { json: { type: 'object' } } } }], toolChoice: { auto: {} } },
      },
      want: {
        toolsDefined: ['top_song'],
        toolCalls: [{ name: 'top_song', arguments: { sign: 'WZPZ' }, id: 't1' }],
        maxOutputTokens: 300,
        texts: [
          { path: ['system', 0, 'text'], text: 'Be brief.' },
          { path: ['messages', 0, 'content', 0, 'text'], text: 'Top song on WZPZ?' },
          { path: ['messages', 1, 'content', 0, 'toolUse', 'input', 'sign'], text: 'WZPZ' },
          { path: ['messages', 2, 'content', 0, 'toolResult', 'content', 0, 'json', 'song'], text: 'Elemental Hotel' },
          { path: ['toolConfig', 'tools', 0, 'toolSpec', 'description'], text: 'Most popular song' },
        ],
      },
    },
    {
      name: 'Amazon Titan text: inputText, textGenerationConfig.maxTokenCount',
      model: 'amazon.titan-text-premier-v1:0',
      body: { inputText: 'Summarise this.', textGenerationConfig: { maxTokenCount: 512, temperature: 0, topP: 0.9, stopSequences: [] } },
      want: { toolsDefined: [], toolCalls: [], maxOutputTokens: 512, texts: [{ path: ['inputText'], text: 'Summarise this.' }] },
    },
    {
      name: 'Amazon Titan embeddings: inputText',
      model: 'amazon.titan-embed-text-v2:0',
      body: { inputText: 'embed me', dimensions: 512, normalize: true },
      want: { texts: [{ path: ['inputText'], text: 'embed me' }] },
    },
    {
      name: 'Cohere embeddings: texts (input_type is vocabulary, not text)',
      model: 'cohere.embed-english-v3',
      body: { texts: ['first', 'second'], input_type: 'search_document', truncate: 'NONE' },
      want: { texts: [{ path: ['texts', 0], text: 'first' }, { path: ['texts', 1], text: 'second' }] },
    },
    {
      name: 'Meta Llama: prompt, max_gen_len (a vision request\'s base64 images are not text)',
      model: 'us.meta.llama3-2-11b-instruct-v1:0',
      body: { prompt: '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\nHi<|eot_id|>', max_gen_len: 256, temperature: 0.5, images: ['aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ='] },
      want: { maxOutputTokens: 256, texts: [{ path: ['prompt'], text: '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\nHi<|eot_id|>' }] },
    },
    {
      name: 'Mistral text completion: prompt, max_tokens, and the stop strings it reads',
      model: 'mistral.mistral-7b-instruct-v0:2',
      body: { prompt: '<s>[INST] Hi [/INST]', max_tokens: 200, stop: ['</s>'] },
      want: { maxOutputTokens: 200, texts: [{ path: ['prompt'], text: '<s>[INST] Hi [/INST]' }, { path: ['stop', 0], text: '</s>' }] },
    },
    {
      name: 'Mistral Large chat: messages, tools, the last assistant turn\'s calls',
      model: 'mistral.mistral-large-2407-v1:0',
      body: {
        messages: [
          { role: 'system', content: 'You help.' },
          { role: 'user', content: 'Status of order 42?' },
          { role: 'assistant', content: '', tool_calls: [{ id: 'abc123def', function: { name: 'order_status', arguments: '{"id":"42"}' } }] },
          { role: 'tool', tool_call_id: 'abc123def', content: 'shipped' },
        ],
        tools: [{ type: 'function', function: { name: 'order_status', description: 'Order status', parameters: { type: 'object', properties: { id: { type: 'string' } } } } }],
        tool_choice: 'any',
        max_tokens: 100,
      },
      want: {
        toolsDefined: ['order_status'],
        toolCalls: [{ name: 'order_status', arguments: { id: '42' }, id: 'abc123def' }],
        maxOutputTokens: 100,
        texts: [
          { path: ['messages', 0, 'content'], text: 'You help.' },
          { path: ['messages', 1, 'content'], text: 'Status of order 42?' },
          { path: ['messages', 2, 'content'], text: '' },
          { path: ['messages', 2, 'tool_calls', 0, 'function', 'arguments'], text: '{"id":"42"}' },
          { path: ['messages', 3, 'content'], text: 'shipped' },
          { path: ['tools', 0, 'function', 'description'], text: 'Order status' },
        ],
      },
    },
    {
      name: 'Cohere Command R: preamble, chat_history, message, documents, tools, tool_results',
      model: 'cohere.command-r-plus-v1:0',
      body: {
        preamble: 'You are a librarian.',
        chat_history: [
          { role: 'USER', message: 'Find me a book.' },
          { role: 'CHATBOT', message: 'Searching.', tool_calls: [{ name: 'search', parameters: { q: 'dune' } }] },
        ],
        message: 'Which one?',
        documents: [{ title: 'Dune', snippet: 'A desert planet.' }],
        tools: [{ name: 'search', description: 'Search the catalogue', parameter_definitions: { q: { description: 'query', type: 'str', required: true } } }],
        tool_results: [{ call: { name: 'search', parameters: { q: 'dune' } }, outputs: [{ title: 'Dune', year: 1965 }] }],
        max_tokens: 400,
        prompt_truncation: 'OFF',
      },
      want: {
        toolsDefined: ['search'],
        toolCalls: [{ name: 'search', arguments: { q: 'dune' } }],
        maxOutputTokens: 400,
        texts: [
          { path: ['preamble'], text: 'You are a librarian.' },
          { path: ['chat_history', 0, 'message'], text: 'Find me a book.' },
          { path: ['chat_history', 1, 'message'], text: 'Searching.' },
          { path: ['chat_history', 1, 'tool_calls', 0, 'parameters', 'q'], text: 'dune' },
          { path: ['message'], text: 'Which one?' },
          { path: ['documents', 0, 'title'], text: 'Dune' },
          { path: ['documents', 0, 'snippet'], text: 'A desert planet.' },
          { path: ['tools', 0, 'description'], text: 'Search the catalogue' },
          { path: ['tools', 0, 'parameter_definitions', 'q', 'description'], text: 'query' },
          { path: ['tool_results', 0, 'call', 'parameters', 'q'], text: 'dune' },
          { path: ['tool_results', 0, 'outputs', 0, 'title'], text: 'Dune' },
          { path: ['prompt_truncation'], text: 'OFF' },
        ],
      },
    },
    {
      name: 'AI21 Jamba: chat messages, and documents (read by the model, so text)',
      model: 'ai21.jamba-1-5-large-v1:0',
      body: { messages: [{ role: 'user', content: 'Summarise the document.' }], documents: [{ content: 'Quarterly revenue rose.', metadata: [{ key: 'author', value: 'Kim' }] }], max_tokens: 50 },
      want: {
        maxOutputTokens: 50,
        texts: [
          { path: ['messages', 0, 'content'], text: 'Summarise the document.' },
          { path: ['documents', 0, 'content'], text: 'Quarterly revenue rose.' },
          { path: ['documents', 0, 'metadata', 0, 'key'], text: 'author' },
          { path: ['documents', 0, 'metadata', 0, 'value'], text: 'Kim' },
        ],
      },
    },
    {
      name: 'Claude Text Completions: prompt, max_tokens_to_sample',
      model: 'anthropic.claude-v2:1',
      body: { prompt: '\n\nHuman: Hi\n\nAssistant:', max_tokens_to_sample: 300 },
      want: { maxOutputTokens: 300, texts: [{ path: ['prompt'], text: '\n\nHuman: Hi\n\nAssistant:' }] },
    },
    {
      name: 'a model of unknown shape (an image model): every string leaf is text',
      model: 'stability.sd3-large-v1:0',
      body: { prompt_spec: { text: 'a cat', negative: ['dog'] }, seed: 1 },
      want: { toolsDefined: [], toolCalls: [], texts: [{ path: ['prompt_spec', 'text'], text: 'a cat' }, { path: ['prompt_spec', 'negative', 0], text: 'dog' }] },
    },
    {
      name: 'a known family sending another shape: read by its shape, not dropped',
      model: 'meta.llama3-8b-instruct-v1:0',
      body: { inputText: 'not Llama\'s field' },
      want: { texts: [{ path: ['inputText'], text: 'not Llama\'s field' }] },
    },
    {
      name: 'an opaque id with a Converse-shaped body (Nova behind an application inference profile)',
      model: 'arn:aws:bedrock:us-east-1:1:application-inference-profile/nova',
      body: { messages: [{ role: 'user', content: [{ text: 'hello' }] }], inferenceConfig: { max_new_tokens: 9 } },
      want: { maxOutputTokens: 9, texts: [{ path: ['messages', 0, 'content', 0, 'text'], text: 'hello' }] },
    },
    {
      name: 'an opaque id with a chat body',
      model: 'arn:aws:bedrock:us-east-1:1:provisioned-model/x',
      body: { messages: [{ role: 'user', content: [{ type: 'text', text: 'hello' }] }] },
      want: { texts: [{ path: ['messages', 0, 'content', 0, 'text'], text: 'hello' }] },
    },
    {
      name: 'fields a reader does not know are still read (Llama with an unexpected field)',
      model: 'meta.llama3-8b-instruct-v1:0',
      body: { prompt: 'hi', extra: { note: 'also sent' } },
      want: { texts: [{ path: ['prompt'], text: 'hi' }, { path: ['extra', 'note'], text: 'also sent' }] },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const facts = adapter.parseRequest(head(invoke(c.model)), c.body);
      expect(facts).toMatchObject({ operation: 'invoke', model: c.model, stream: false, ...c.want });
      located(c.body, facts);
    });
  }

  it('an opaque id with a Claude Text Completions body that names anthropic_version: a prompt', () => {
    const body = { anthropic_version: 'bedrock-2023-05-31', prompt: '\n\nHuman: Hi\n\nAssistant:', max_tokens_to_sample: 20 };
    expect(adapter.parseRequest(head(invoke('arn:aws:bedrock:us-east-1:1:application-inference-profile/abc')), body)).toMatchObject({ maxOutputTokens: 20, texts: [{ path: ['prompt'], text: body.prompt }] });
  });

  it('reads a body that is not an object as strings (it is still sent)', () => {
    expect(adapter.parseRequest(head(invoke('x.y')), ['a', { b: 'c' }]).texts).toEqual([{ path: [0], text: 'a' }, { path: [1, 'b'], text: 'c' }]);
  });

  it.each([
    ['anthropic.claude-3-haiku-20240307-v1:0', { anthropic_version: 'bedrock-2023-05-31', messages: {} }, 'messages: must be an array'],
    ['anthropic.claude-3-haiku-20240307-v1:0', { anthropic_version: 'bedrock-2023-05-31' }, 'messages: must be an array'],
    ['amazon.nova-micro-v1:0', { messages: [{ role: 'user', content: 'hi' }] }, 'messages[0].content: must be an array'],
    ['mistral.mistral-large-2407-v1:0', { messages: [{ role: 'user', content: 7 }] }, 'messages[0].content: must be a string or an array'],
    ['cohere.command-r-v1:0', { message: 'hi', tools: [1] }, 'tools[0]: must be an object'],
  ])('a body broken in its model\'s own format is a 400 (%s)', (model, body, message) => {
    expect(() => adapter.parseRequest(head(invoke(model)), body)).toThrow(MalformedRequest);
    expect(() => adapter.parseRequest(head(invoke(model)), body)).toThrow(message);
  });

  it('other model calls (CountTokens): every string is text', () => {
    const body = { input: { invokeModel: { body: '{"prompt":"secret"}' } } };
    expect(adapter.parseRequest(head('/model/anthropic.claude-3-haiku-20240307-v1:0/count-tokens'), body)).toMatchObject({
      operation: 'count-tokens',
      texts: [{ path: ['input', 'invokeModel', 'body'], text: '{"prompt":"secret"}' }],
    });
  });
});

describe('bedrock InvokeModel: removeTools', () => {
  const cases: Array<{ name: string; model: string; body: Record<string, unknown>; want: Record<string, unknown> }> = [
    {
      name: 'Anthropic: as on the Anthropic API (a forced choice of a removed tool becomes auto)',
      model: 'anthropic.claude-3-haiku-20240307-v1:0',
      body: { anthropic_version: 'bedrock-2023-05-31', messages: [{ role: 'user', content: 'x' }], tools: [{ name: 'a', input_schema: {} }, { name: 'shell', input_schema: {} }], tool_choice: { type: 'tool', name: 'shell' } },
      want: { anthropic_version: 'bedrock-2023-05-31', messages: [{ role: 'user', content: 'x' }], tools: [{ name: 'a', input_schema: {} }], tool_choice: { type: 'auto' } },
    },
    {
      name: 'Mistral chat: as on OpenAI Chat (no tool left: tools and tool_choice go)',
      model: 'mistral.mistral-large-2407-v1:0',
      body: { messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'shell', parameters: {} } }], tool_choice: 'any' },
      want: { messages: [{ role: 'user', content: 'x' }] },
    },
    {
      name: 'Cohere: by name',
      model: 'cohere.command-r-v1:0',
      body: { message: 'x', tools: [{ name: 'a', description: 'd' }, { name: 'shell', description: 'd' }] },
      want: { message: 'x', tools: [{ name: 'a', description: 'd' }] },
    },
    {
      name: 'Nova: as in Converse (toolConfig)',
      model: 'amazon.nova-pro-v1:0',
      body: { messages: [{ role: 'user', content: [{ text: 'x' }] }], toolConfig: { tools: [{ toolSpec: { name: 'shell' } }, { toolSpec: { name: 'a' } }], toolChoice: { tool: { name: 'shell' } } } },
      want: { messages: [{ role: 'user', content: [{ text: 'x' }] }], toolConfig: { tools: [{ toolSpec: { name: 'a' } }], toolChoice: { auto: {} } } },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(adapter.removeTools(c.body, new Set(['shell']))).toBe(1);
      expect(c.body).toEqual(c.want);
      const facts = adapter.parseRequest(head(invoke(c.model)), c.body);
      expect([...facts.toolsDefined, ...facts.toolCalls.map((t) => t.name)]).not.toContain('shell');
    });
  }
});

describe('bedrock InvokeModel: answers', () => {
  it('Anthropic: exactly as the Anthropic API answer reads (tool_use → proposed call, usage)', () => {
    const body = {
      id: 'msg_bdrk_01',
      type: 'message',
      role: 'assistant',
      model: 'claude-3-5-sonnet-20241022',
      content: [{ type: 'text', text: 'Let me check.' }, { type: 'tool_use', id: 'toolu_bdrk_1', name: 'get_weather', input: { city: 'Paris' } }],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 380, output_tokens: 70 },
    };
    const facts = adapter.parseResponse(body);
    expect(facts).toEqual(anthropicAdapter.parseResponse(body));
    expect(facts).toMatchObject({ usage: { inputTokens: 380, outputTokens: 70 }, toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' }, id: 'toolu_bdrk_1' }] });
  });

  const cases: Array<{ name: string; body: Record<string, unknown>; want: ResponseFacts }> = [
    {
      name: 'Nova: output.message content and toolUse, usage with its cache counts',
      body: {
        output: { message: { role: 'assistant', content: [{ text: 'On it.' }, { toolUse: { toolUseId: 'tu_n', name: 'top_song', input: { sign: 'WZPZ' } } }] } },
        stopReason: 'tool_use',
        usage: { inputTokens: 20, outputTokens: 9, totalTokens: 29, cacheReadInputTokenCount: 5, cacheWriteInputTokenCount: 0 },
      },
      want: {
        usage: { inputTokens: 25, outputTokens: 9 },
        texts: [{ path: ['output', 'message', 'content', 0, 'text'], text: 'On it.' }],
        toolCalls: [{ name: 'top_song', arguments: { sign: 'WZPZ' }, id: 'tu_n' }],
      },
    },
    {
      name: 'Titan text: results[].outputText, inputTextTokenCount, tokenCount',
      body: { inputTextTokenCount: 6, results: [{ tokenCount: 12, outputText: 'Titan says hi.', completionReason: 'FINISH' }] },
      want: { usage: { inputTokens: 6, outputTokens: 12 }, texts: [{ path: ['results', 0, 'outputText'], text: 'Titan says hi.' }], toolCalls: [] },
    },
    {
      name: 'Titan embeddings: only the input token count',
      body: { embedding: [0.1, 0.2], inputTextTokenCount: 4 },
      want: { usage: { inputTokens: 4, outputTokens: 0 }, texts: [], toolCalls: [] },
    },
    {
      name: 'Llama: generation, prompt_token_count, generation_token_count',
      body: { generation: 'Llama says hi.', prompt_token_count: 11, generation_token_count: 5, stop_reason: 'stop' },
      want: { usage: { inputTokens: 11, outputTokens: 5 }, texts: [{ path: ['generation'], text: 'Llama says hi.' }], toolCalls: [] },
    },
    {
      name: 'Mistral text completion: outputs[].text',
      body: { outputs: [{ text: 'Mistral says hi.', stop_reason: 'stop' }] },
      want: { texts: [{ path: ['outputs', 0, 'text'], text: 'Mistral says hi.' }], toolCalls: [] },
    },
    {
      name: 'Mistral Large chat: choices[].message content and tool_calls',
      body: { choices: [{ index: 0, message: { role: 'assistant', content: '', tool_calls: [{ id: 'call1', function: { name: 'order_status', arguments: '{"id":"42"}' } }] }, stop_reason: 'tool_calls' }] },
      want: { texts: [{ path: ['choices', 0, 'message', 'content'], text: '' }], toolCalls: [{ name: 'order_status', arguments: { id: '42' }, id: 'call1' }] },
    },
    {
      name: 'AI21 Jamba: choices and OpenAI-style usage',
      body: { id: 'j1', choices: [{ index: 0, message: { role: 'assistant', content: 'Jamba says hi.' }, finish_reason: 'stop' }], usage: { prompt_tokens: 8, completion_tokens: 4, total_tokens: 12 } },
      want: { usage: { inputTokens: 8, outputTokens: 4 }, texts: [{ path: ['choices', 0, 'message', 'content'], text: 'Jamba says hi.' }], toolCalls: [] },
    },
    {
      name: 'DeepSeek: choices[].text',
      body: { choices: [{ text: 'DeepSeek says hi.', stop_reason: 'stop' }] },
      want: { texts: [{ path: ['choices', 0, 'text'], text: 'DeepSeek says hi.' }], toolCalls: [] },
    },
    {
      name: 'Cohere Command R: text, tool_calls, billed units',
      body: { response_id: 'r', text: 'I will search.', generation_id: 'g', finish_reason: 'COMPLETE', tool_calls: [{ name: 'search', parameters: { q: 'dune' } }], meta: { billed_units: { input_tokens: 30, output_tokens: 7 } } },
      want: { usage: { inputTokens: 30, outputTokens: 7 }, texts: [{ path: ['text'], text: 'I will search.' }], toolCalls: [{ name: 'search', arguments: { q: 'dune' } }] },
    },
    {
      name: 'Claude Text Completions: completion',
      body: { completion: ' Hello.', stop_reason: 'stop_sequence', stop: '\n\nHuman:' },
      want: { texts: [{ path: ['completion'], text: ' Hello.' }], toolCalls: [] },
    },
    {
      name: 'an answer of no known shape: every string is text',
      body: { images: ['iVBORw0KGgo='], finish_reasons: [null], note: 'x' },
      want: { texts: [{ path: ['images', 0], text: 'iVBORw0KGgo=' }, { path: ['note'], text: 'x' }], toolCalls: [] },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const facts = adapter.parseResponse(c.body);
      expect(facts).toEqual(c.want);
      located(c.body, facts);
    });
  }
});

/** One InvokeModelWithResponseStream chunk: the model's JSON event, base64 in `bytes` (and Bedrock's padding `p`). */
const chunk = (payload: unknown, raw?: string) =>
  encodeMessage(
    { ':event-type': 'chunk', ':content-type': 'application/json', ':message-type': 'event' },
    JSON.stringify({ bytes: raw ?? Buffer.from(JSON.stringify(payload)).toString('base64'), p: 'abcdefghijklmnopqrstuvwxyzABCDEF' }),
  );
const exception = (type: string, message: string) =>
  encodeMessage({ ':message-type': 'exception', ':exception-type': type, ':content-type': 'application/json' }, JSON.stringify({ message }));

describe('bedrock InvokeModelWithResponseStream', () => {
  const anthropicEvents: Array<Record<string, unknown>> = [
    { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-3-5-sonnet-20241022', content: [], usage: { input_tokens: 25, output_tokens: 1 } } },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Let me ' } },
    { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'check.' } },
    { type: 'content_block_stop', index: 0 },
    { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} } },
    { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"city":' } },
    { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '"Paris"}' } },
    { type: 'content_block_stop', index: 1 },
    { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 40 } },
    { type: 'message_stop', 'amazon-bedrock-invocationMetrics': { inputTokenCount: 25, outputTokenCount: 41, invocationLatency: 900, firstByteLatency: 300 } },
  ];
  const stream = Buffer.concat(anthropicEvents.map((e) => chunk(e)));

  it('Anthropic: the tool call as soon as its name arrives, text deltas, usage; cut at every byte boundary', () => {
    for (const { name, fed } of feedAll(() => adapter.streamParser(), stream)) {
      expect(fed.frames, name).toHaveLength(anthropicEvents.length);
      expect(fed.frames.map((f) => f.unreadable), name).toEqual(anthropicEvents.map(() => undefined));
      expect(fed.frames[5]!.events, name).toEqual([{ type: 'tool_call', name: 'get_weather', id: 'toolu_1' }]);
      expect(fed.events, name).toEqual([
        { type: 'usage', usage: { inputTokens: 25 } },
        { type: 'text', text: 'Let me ' },
        { type: 'text', text: 'check.' },
        { type: 'tool_call', name: 'get_weather', id: 'toolu_1' },
        { type: 'usage', usage: { outputTokens: 40 } },
        { type: 'usage', usage: { inputTokens: 25, outputTokens: 41 } }, // Bedrock's own count, last
      ]);
      expect(fed.facts, name).toEqual({
        model: 'claude-3-5-sonnet-20241022',
        usage: { inputTokens: 25, outputTokens: 41 },
        toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' }, id: 'toolu_1' }],
        texts: [],
      });
    }
  });

  it('Anthropic: the same events as the Anthropic API stream gives, frame for frame', () => {
    const api = feed(anthropicAdapter.streamParser(), [sse(anthropicEvents.map((e) => [String(e.type), e]))]);
    const bedrock = feed(adapter.streamParser(), [stream]);
    expect(bedrock.frames.map((f) => f.events.filter((e) => !(e.type === 'usage' && e.usage.inputTokens === 25 && e.usage.outputTokens === 41)))).toEqual(api.frames.map((f) => f.events));
    expect(bedrock.facts.toolCalls).toEqual(api.facts.toolCalls);
  });

  it('Anthropic: an error event inside a chunk is an error', () => {
    const frames = adapter.streamParser().push(chunk({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }));
    expect(frames[0]!.events).toEqual([{ type: 'error', message: 'Overloaded' }]);
  });

  const families: Array<{ name: string; events: unknown[]; want: StreamEventList; facts: ResponseFacts }> = [
    {
      name: 'Nova: Converse-like chunks (text, a toolUse, metadata usage)',
      events: [
        { messageStart: { role: 'assistant' } },
        { contentBlockDelta: { delta: { text: 'Looking.' }, contentBlockIndex: 0 } },
        { contentBlockStop: { contentBlockIndex: 0 } },
        { contentBlockStart: { start: { toolUse: { toolUseId: 'tu_n1', name: 'top_song' } }, contentBlockIndex: 1 } },
        { contentBlockDelta: { delta: { toolUse: { input: '{"sign":"WZPZ"}' } }, contentBlockIndex: 1 } },
        { contentBlockStop: { contentBlockIndex: 1 } },
        { messageStop: { stopReason: 'tool_use' } },
        { metadata: { usage: { inputTokens: 12, outputTokens: 8 }, metrics: {}, trace: {} } },
      ],
      want: [{ type: 'text', text: 'Looking.' }, { type: 'tool_call', name: 'top_song', id: 'tu_n1' }, { type: 'usage', usage: { inputTokens: 12, outputTokens: 8 } }],
      facts: { usage: { inputTokens: 12, outputTokens: 8 }, toolCalls: [{ name: 'top_song', arguments: { sign: 'WZPZ' }, id: 'tu_n1' }], texts: [] },
    },
    {
      name: 'Titan: outputText, token counts; Bedrock\'s metrics last',
      events: [
        { outputText: 'Hello', index: 0, totalOutputTextTokenCount: 1, completionReason: null, inputTextTokenCount: 5 },
        { outputText: ' there.', index: 0, totalOutputTextTokenCount: 3, completionReason: 'FINISH', inputTextTokenCount: null, 'amazon-bedrock-invocationMetrics': { inputTokenCount: 5, outputTokenCount: 3 } },
      ],
      want: [
        { type: 'text', text: 'Hello' },
        { type: 'usage', usage: { inputTokens: 5, outputTokens: 1 } },
        { type: 'text', text: ' there.' },
        { type: 'usage', usage: { outputTokens: 3 } },
        { type: 'usage', usage: { inputTokens: 5, outputTokens: 3 } },
      ],
      facts: { usage: { inputTokens: 5, outputTokens: 3 }, toolCalls: [], texts: [] },
    },
    {
      name: 'Llama: generation, token counts',
      events: [
        { generation: 'Hi', prompt_token_count: 9, generation_token_count: 1, stop_reason: null },
        { generation: '!', prompt_token_count: null, generation_token_count: 2, stop_reason: 'stop' },
      ],
      want: [{ type: 'text', text: 'Hi' }, { type: 'usage', usage: { inputTokens: 9, outputTokens: 1 } }, { type: 'text', text: '!' }, { type: 'usage', usage: { outputTokens: 2 } }],
      facts: { usage: { inputTokens: 9, outputTokens: 2 }, toolCalls: [], texts: [] },
    },
    {
      name: 'Mistral: outputs[].text, and chat choices with a tool call',
      events: [
        { outputs: [{ text: 'Sure', stop_reason: null }] },
        { choices: [{ index: 0, message: { role: 'assistant', content: '', tool_calls: [{ id: 'c1', function: { name: 'order_status', arguments: '{"id":' } }] } }] },
        { choices: [{ index: 0, message: { role: 'assistant', content: '', tool_calls: [{ function: { arguments: '"42"}' } }] }, stop_reason: 'tool_calls' }] },
      ],
      want: [{ type: 'text', text: 'Sure' }, { type: 'tool_call', name: 'order_status', id: 'c1' }],
      facts: { toolCalls: [{ name: 'order_status', arguments: { id: '42' }, id: 'c1' }], texts: [] },
    },
    {
      name: 'Cohere Command R: text-generation, tool-calls-generation, stream-end usage',
      events: [
        { is_finished: false, event_type: 'stream-start', generation_id: 'g' },
        { is_finished: false, event_type: 'text-generation', text: 'I will search.' },
        { is_finished: false, event_type: 'tool-calls-generation', tool_calls: [{ name: 'search', parameters: { q: 'dune' } }] },
        { is_finished: true, event_type: 'stream-end', finish_reason: 'COMPLETE', response: { text: 'I will search.', tool_calls: [{ name: 'search', parameters: { q: 'dune' } }], meta: { billed_units: { input_tokens: 30, output_tokens: 7 } } } },
      ],
      want: [{ type: 'text', text: 'I will search.' }, { type: 'tool_call', name: 'search' }, { type: 'usage', usage: { inputTokens: 30, outputTokens: 7 } }],
      facts: { usage: { inputTokens: 30, outputTokens: 7 }, toolCalls: [{ name: 'search', arguments: { q: 'dune' } }], texts: [] },
    },
    {
      name: 'a chunk of no known shape: its strings are text',
      events: [{ delta_text: 'odd', n: 1 }, 'bare'],
      want: [{ type: 'text', text: 'odd' }, { type: 'text', text: 'bare' }],
      facts: { toolCalls: [], texts: [] },
    },
  ];
  for (const f of families) {
    it(`${f.name}; cut at every byte boundary`, () => {
      const bytes = Buffer.concat(f.events.map((e) => chunk(e)));
      for (const { name, fed } of feedAll(() => adapter.streamParser(), bytes)) {
        expect(fed.frames, name).toHaveLength(f.events.length);
        expect(fed.frames.every((fr) => fr.unreadable === undefined), name).toBe(true);
        expect(fed.events, name).toEqual(f.want);
        expect(fed.facts, name).toEqual(f.facts);
      }
    });
  }

  it('an exception mid-stream is an error event', () => {
    const frames = adapter.streamParser().push(Buffer.concat([chunk(anthropicEvents[0]), exception('modelStreamErrorException', 'The model failed')]));
    expect(frames[1]!.events).toEqual([{ type: 'error', message: 'modelStreamErrorException: The model failed' }]);
  });

  it.each([
    ['bytes that are not base64', chunk(null, 'not base64!'), 'its bytes are not base64 JSON'],
    ['base64 with bad padding', chunk(null, 'eyJ0eXBlIjoicGluZyJ9='), 'its bytes are not base64 JSON'],
    ['base64 of something not JSON', chunk(null, Buffer.from('{"type": "content_block_start", NaN').toString('base64')), 'its bytes are not base64 JSON'],
    ['empty bytes', chunk(null, ''), 'its bytes are not base64 JSON'],
    ['a chunk payload that is not JSON', encodeMessage({ ':event-type': 'chunk', ':message-type': 'event' }, '{"bytes": '), 'its data is not JSON'],
    ['bytes of another type', encodeMessage({ ':event-type': 'chunk', ':message-type': 'event' }, '{"bytes": 7}'), 'its bytes are not base64 JSON'],
  ])('fails closed on %s: the frame is unreadable, and the next one is still read', (_, bad, why) => {
    const frames = adapter.streamParser().push(Buffer.concat([bad, chunk(anthropicEvents[2])]));
    expect(frames.map((f) => f.unreadable)).toEqual([why, undefined]);
    expect(frames[0]!.events).toEqual([]);
    expect(frames[1]!.events).toEqual([{ type: 'text', text: 'Let me ' }]);
  });

  it('a chunk with no bytes says nothing (the SDKs skip it)', () => {
    const frames = adapter.streamParser().push(encodeMessage({ ':event-type': 'chunk', ':message-type': 'event' }, '{"p": "abc"}'));
    expect(frames).toEqual([expect.objectContaining({ events: [] })]);
    expect(frames[0]!.unreadable).toBeUndefined();
  });

  it('streamError ends the stream with an exception the Anthropic Bedrock SDK raises as an error event', async () => {
    const stop = adapter.streamError('forbidden', 'chaperone: the model called tool shell', {});
    const msg = decodeMessage(stop);
    expect(headerString(msg.headers, ':message-type')).toBe('exception');
    expect(headerString(msg.headers, ':exception-type')).toBe('validationException');
    // What the SDK makes of the stream: the chunk before as an SSE event, the exception as an error event.
    const upstream = new Response(new Blob([Buffer.concat([chunk(anthropicEvents[0]), stop])]).stream(), { headers: { 'content-type': 'application/vnd.amazon.eventstream' } });
    const sseText = await eventStreamToSSEResponse(upstream).text();
    expect(sseText).toContain('event: message_start\n');
    expect(sseText).toContain(`event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'validationException', message: 'chaperone: the model called tool shell' } })}`);
  });
});
