import { describe, expect, it } from 'vitest';
import type { RequestFacts } from '../call.js';
import { getAt, MalformedRequest, UnreadableStream, type RequestHead } from './adapter.js';
import { decodeMessage, encodeMessage, headerString } from './aws-eventstream.js';
import { bedrockAdapter as adapter } from './bedrock.js';
import { feed, feedAll } from './testing.js';

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
      name: 'invoke: model and stream flag only',
      path: '/model/anthropic.claude-v2/invoke-with-response-stream',
      body: { anthropic_version: 'bedrock-2023-05-31', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 },
      want: { operation: 'invoke-with-response-stream', model: 'anthropic.claude-v2', stream: true, texts: [], toolCalls: [] },
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
    ['/model/m/invoke', { max_tokens: 10 }, undefined], // InvokeModel bodies are model-specific
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
