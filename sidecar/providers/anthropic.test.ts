import { describe, expect, it } from 'vitest';
import type { RequestFacts } from '../call.js';
import { getAt, MalformedRequest, type RequestHead } from './adapter.js';
import { anthropicAdapter as adapter } from './anthropic.js';
import { feedAll, sse } from './testing.js';

const head = (path = '/v1/messages'): RequestHead => ({ host: 'api.anthropic.com', method: 'POST', path, contentType: 'application/json' });

describe('anthropic matches', () => {
  it.each([
    ['/v1/messages', true],
    ['/anthropic/v1/messages', true],
    ['/v1/messages?beta=true', true],
    ['/v1/messages/count_tokens', true],
    ['/v1/messages/batches', false],
    ['/v1/complete', false],
  ])('%s → %s', (path, want) => {
    expect(adapter.matches(head(path), {})).toBe(want);
  });
  it('leaves JSON-RPC bodies to MCP', () => {
    expect(adapter.matches(head(), { jsonrpc: '2.0', id: 1, method: 'tools/list' })).toBe(false);
  });
});

describe('anthropic parseRequest', () => {
  const cases: Array<{ name: string; path?: string; body: unknown; want: Partial<RequestFacts> }> = [
    {
      name: 'system string, string content',
      body: { model: 'claude-sonnet-4-20250514', max_tokens: 1024, system: 'You are a pirate.', messages: [{ role: 'user', content: 'Hello, Claude' }] },
      want: {
        operation: 'messages',
        model: 'claude-sonnet-4-20250514',
        stream: false,
        toolsDefined: [],
        toolCalls: [],
        texts: [
          { path: ['system'], text: 'You are a pirate.' },
          { path: ['messages', 0, 'content'], text: 'Hello, Claude' },
        ],
      },
    },
    {
      name: 'system blocks with cache_control, image skipped, streaming',
      body: {
        model: 'claude-3-5-haiku-latest',
        max_tokens: 256,
        stream: true,
        system: [{ type: 'text', text: 'Long system prompt', cache_control: { type: 'ephemeral' } }],
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBOR' } },
              { type: 'text', text: 'Describe this image.' },
            ],
          },
        ],
      },
      want: {
        stream: true,
        texts: [
          { path: ['system', 0, 'text'], text: 'Long system prompt' },
          { path: ['messages', 0, 'content', 1, 'text'], text: 'Describe this image.' },
        ],
      },
    },
    {
      name: 'tools, forced tool_choice, tool_use in last assistant turn, tool_result texts',
      body: {
        model: 'claude-opus-4-1',
        max_tokens: 1024,
        tools: [
          { name: 'get_weather', description: 'Get the current weather', input_schema: { type: 'object', properties: { location: { type: 'string' } } } },
          { type: 'web_search_20250305', name: 'web_search', max_uses: 5 },
        ],
        tool_choice: { type: 'tool', name: 'get_weather' },
        messages: [
          { role: 'user', content: 'What is the weather in San Francisco?' },
          {
            role: 'assistant',
            content: [
              { type: 'text', text: 'Let me check.' },
              { type: 'tool_use', id: 'toolu_01A09q90qw90lq917835lq9', name: 'get_weather', input: { location: 'San Francisco, CA' } },
            ],
          },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: 'toolu_01A09q90qw90lq917835lq9', content: '15 degrees' },
              { type: 'tool_result', tool_use_id: 'x', content: [{ type: 'text', text: 'nested result' }] },
              { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'doc text' } },
            ],
          },
        ],
      },
      want: {
        toolsDefined: ['get_weather', 'web_search'],
        toolCalls: [
          { name: 'get_weather' },
          { name: 'get_weather', arguments: { location: 'San Francisco, CA' }, id: 'toolu_01A09q90qw90lq917835lq9' },
        ],
        texts: [
          { path: ['messages', 0, 'content'], text: 'What is the weather in San Francisco?' },
          { path: ['messages', 1, 'content', 0, 'text'], text: 'Let me check.' },
          { path: ['messages', 1, 'content', 1, 'input', 'location'], text: 'San Francisco, CA' }, // tool inputs, every turn
          { path: ['messages', 2, 'content', 0, 'content'], text: '15 degrees' },
          { path: ['messages', 2, 'content', 1, 'content', 0, 'text'], text: 'nested result' },
          { path: ['messages', 2, 'content', 2, 'source', 'data'], text: 'doc text' },
          { path: ['tools', 0, 'description'], text: 'Get the current weather' }, // tool descriptions
        ],
      },
    },
    {
      name: "tool_choice 'any' forces no particular tool",
      body: { model: 'claude-3-7-sonnet-latest', max_tokens: 10, tools: [{ name: 'a', input_schema: {} }], tool_choice: { type: 'any' }, messages: [{ role: 'user', content: 'x' }] },
      want: { toolsDefined: ['a'], toolCalls: [] },
    },
    {
      name: 'count_tokens',
      path: '/v1/messages/count_tokens',
      body: { model: 'claude-3-7-sonnet-latest', messages: [{ role: 'user', content: 'x' }] },
      want: { operation: 'messages.count_tokens' },
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
    [null, 'body: must be an object'],
    [{ messages: [] }, 'model: must be a string'],
    [{ model: 'claude', messages: 'hi' }, 'messages: must be an array'],
    [{ model: 'claude', messages: [{ role: 'user', content: 1 }] }, 'messages[0].content: must be a string or an array'],
    [{ model: 'claude', messages: [{ role: 'user', content: [1] }] }, 'messages[0].content[0]: must be an object'],
    [{ model: 'claude', system: 5, messages: [] }, 'system: must be a string or an array'],
    [{ model: 'claude', messages: [], tools: [null] }, 'tools[0]: must be an object'],
  ])('rejects %j with %s', (body, message) => {
    expect(() => adapter.parseRequest(head(), body)).toThrow(MalformedRequest);
    expect(() => adapter.parseRequest(head(), body)).toThrow(message);
  });
});

describe('anthropic parseResponse', () => {
  it('reads text, tool_use, usage (cache tokens count as input) and model', () => {
    const body = {
      id: 'msg_013Zva2CMHLNnXjNJJKqJ2EF',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-20250514',
      content: [
        { type: 'text', text: "I'll check the weather." },
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { location: 'SF' } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 2095, output_tokens: 503, cache_read_input_tokens: 100, cache_creation_input_tokens: 5 },
    };
    expect(adapter.parseResponse(body)).toEqual({
      model: 'claude-sonnet-4-20250514',
      usage: { inputTokens: 2200, outputTokens: 503 },
      texts: [{ path: ['content', 0, 'text'], text: "I'll check the weather." }],
      toolCalls: [{ name: 'get_weather', arguments: { location: 'SF' }, id: 'toolu_1' }],
    });
  });
  it.each([null, [], { content: 'x' }, { content: [1, { type: 'tool_use' }] }])('never throws: %j', (body) => {
    expect(adapter.parseResponse(body)).toMatchObject({ toolCalls: [], texts: [] });
  });
});

describe('anthropic stream', () => {
  const stream = sse([
    ['message_start', { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', content: [], model: 'claude-sonnet-4-20250514', stop_reason: null, stop_sequence: null, usage: { input_tokens: 472, output_tokens: 2 } } }],
    ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
    ['ping', { type: 'ping' }],
    ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Okay,' } }],
    ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ' checking.' } }],
    ['content_block_stop', { type: 'content_block_stop', index: 0 }],
    ['content_block_start', { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', name: 'get_weather', input: {} } }],
    ['content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '' } }],
    ['content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"location": "San Fra' } }],
    ['content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: 'ncisco, CA"}' } }],
    ['content_block_stop', { type: 'content_block_stop', index: 1 }],
    ['content_block_start', { type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'toolu_2', name: 'no_args', input: {} } }],
    ['content_block_stop', { type: 'content_block_stop', index: 2 }],
    ['message_delta', { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 89 } }],
    ['message_stop', { type: 'message_stop' }],
  ]);

  it('reports text, tool calls when they start, and usage', () => {
    for (const { name, fed } of feedAll(() => adapter.streamParser(), stream)) {
      expect(fed.frames, name).toHaveLength(15);
      expect(fed.frames[6]!.events, name).toEqual([{ type: 'tool_call', name: 'get_weather', id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6' }]);
      expect(fed.events, name).toEqual([
        { type: 'usage', usage: { inputTokens: 472 } },
        { type: 'text', text: 'Okay,' },
        { type: 'text', text: ' checking.' },
        { type: 'tool_call', name: 'get_weather', id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6' },
        { type: 'tool_call', name: 'no_args', id: 'toolu_2' },
        { type: 'usage', usage: { outputTokens: 89 } },
      ]);
      expect(fed.facts, name).toEqual({
        model: 'claude-sonnet-4-20250514',
        usage: { inputTokens: 472, outputTokens: 89 },
        toolCalls: [
          { name: 'get_weather', arguments: { location: 'San Francisco, CA' }, id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6' },
          { name: 'no_args', arguments: {}, id: 'toolu_2' },
        ],
        texts: [],
      });
    }
  });

  it('reports an error event; streamError is one', () => {
    const frame = adapter.streamError('forbidden', 'no');
    expect(frame.toString()).toBe('event: error\ndata: {"type":"error","error":{"type":"permission_error","message":"no"}}\n\n');
    expect(adapter.streamParser().push(frame)[0]!.events).toEqual([{ type: 'error', message: 'no' }]);
    const overloaded = sse([['error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }]]);
    expect(adapter.streamParser().push(overloaded)[0]!.events).toEqual([{ type: 'error', message: 'Overloaded' }]);
  });
});

describe('anthropic errors', () => {
  it.each([
    ['invalid_request', 'invalid_request_error'],
    ['too_large', 'request_too_large'],
    ['forbidden', 'permission_error'],
    ['rate_limited', 'rate_limit_error'],
    ['upstream_timeout', 'timeout_error'],
    ['internal', 'api_error'],
  ] as const)('%s → %s', (kind, type) => {
    expect(JSON.parse(adapter.errorAnswer(kind, 'm').body)).toEqual({ type: 'error', error: { type, message: 'm' } });
  });
});

describe('anthropic maxOutputTokens', () => {
  it.each<[object, number | undefined]>([
    [{ max_tokens: 1024 }, 1024],
    [{}, undefined],
  ])('%j → %s', (extra, want) => {
    expect(adapter.parseRequest(head(), { model: 'claude', messages: [{ role: 'user', content: 'hi' }], ...extra }).maxOutputTokens).toBe(want);
  });
});

describe('anthropic removeTools', () => {
  const tool = (name: string) => ({ name, input_schema: { type: 'object' } });
  const cases: Array<{ name: string; body: Record<string, unknown>; remove: string[]; removed: number; want: Record<string, unknown> }> = [
    {
      name: 'removes named tools, keeps an unrelated choice',
      body: { tools: [tool('a'), tool('shell'), { type: 'web_search_20250305', name: 'web_search' }], tool_choice: { type: 'any' } },
      remove: ['shell', 'web_search'],
      removed: 2,
      want: { tools: [tool('a')], tool_choice: { type: 'any' } },
    },
    {
      name: 'a forced choice of a removed tool becomes auto, keeping its options',
      body: { tools: [tool('a'), tool('shell')], tool_choice: { type: 'tool', name: 'shell', disable_parallel_tool_use: true } },
      remove: ['shell'],
      removed: 1,
      want: { tools: [tool('a')], tool_choice: { type: 'auto', disable_parallel_tool_use: true } },
    },
    {
      name: 'the last tool: the empty list stays, a choice demanding a tool goes',
      body: { tools: [tool('shell')], tool_choice: { type: 'any' } },
      remove: ['shell'],
      removed: 1,
      want: { tools: [] },
    },
    {
      name: 'the last tool: tool_choice none stays',
      body: { tools: [tool('shell')], tool_choice: { type: 'none' } },
      remove: ['shell'],
      removed: 1,
      want: { tools: [], tool_choice: { type: 'none' } },
    },
    {
      name: 'nothing to remove',
      body: { tools: [tool('a')], tool_choice: { type: 'tool', name: 'a' } },
      remove: ['shell'],
      removed: 0,
      want: { tools: [tool('a')], tool_choice: { type: 'tool', name: 'a' } },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(adapter.removeTools(c.body, new Set(c.remove))).toBe(c.removed);
      expect(c.body).toEqual(c.want);
      const facts = adapter.parseRequest(head(), { model: 'm', messages: [{ role: 'user', content: 'x' }], ...c.body });
      expect([...facts.toolsDefined, ...facts.toolCalls.map((t) => t.name)].filter((t) => c.remove.includes(t))).toEqual([]);
    });
  }
});

describe('anthropic parseRequest: every string the provider reads is a text (DLP)', () => {
  it('reads tool_use inputs of every turn, tool descriptions and schemas, metadata.user_id', () => {
    const body = {
      model: 'claude-sonnet-4-5',
      max_tokens: 10,
      metadata: { user_id: 'u-1' },
      system: 'sys',
      tools: [{ name: 'f', description: 'does f', input_schema: { type: 'object', properties: { a: { type: 'string', description: 'the a' } } } }],
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't0', name: 'f', input: { a: 'old', nested: ['deep'] } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't0', content: 'r0' }] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: { a: 'new' } }] },
      ],
    };
    const facts = adapter.parseRequest(head(), body);
    expect(facts.texts).toEqual([
      { path: ['system'], text: 'sys' },
      { path: ['messages', 0, 'content'], text: 'hi' },
      { path: ['messages', 1, 'content', 0, 'input', 'a'], text: 'old' },
      { path: ['messages', 1, 'content', 0, 'input', 'nested', 0], text: 'deep' },
      { path: ['messages', 2, 'content', 0, 'content'], text: 'r0' },
      { path: ['messages', 3, 'content', 0, 'input', 'a'], text: 'new' },
      { path: ['tools', 0, 'description'], text: 'does f' },
      { path: ['tools', 0, 'input_schema', 'properties', 'a', 'description'], text: 'the a' },
      { path: ['metadata', 'user_id'], text: 'u-1' },
    ]);
    for (const t of facts.texts) expect(getAt(body, t.path)).toBe(t.text);
  });
});
