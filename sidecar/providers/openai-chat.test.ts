import { describe, expect, it } from 'vitest';
import type { RequestFacts } from '../call.js';
import { getAt, MalformedRequest, type RequestHead } from './adapter.js';
import { openAiChatAdapter as adapter } from './openai-chat.js';
import { feedAll, sse } from './testing.js';

const head = (path = '/v1/chat/completions', host = 'api.openai.com'): RequestHead => ({ host, method: 'POST', path, contentType: 'application/json' });

describe('openai-chat matches', () => {
  it.each([
    ['/v1/chat/completions', true],
    ['/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21', true],
    ['/v1beta/openai/chat/completions', true],
    ['/api/v1/chat/completions', true],
    ['/openai/v1/chat/completions', true],
    ['/v1/chat/completions/chatcmpl-123', false],
    ['/v1/completions', false],
    ['/v1/embeddings', false],
  ])('%s → %s', (path, want) => {
    expect(adapter.matches(head(path), {})).toBe(want);
  });
});

describe('openai-chat parseRequest', () => {
  const cases: Array<{ name: string; path?: string; body: unknown; want: Partial<RequestFacts> }> = [
    {
      name: 'simple chat with system and developer messages',
      body: {
        model: 'gpt-4o',
        messages: [
          { role: 'system', content: 'You are helpful.' },
          { role: 'developer', content: [{ type: 'text', text: 'Answer briefly.' }] },
          { role: 'user', content: 'Hello!' },
        ],
      },
      want: {
        operation: 'chat.completions',
        model: 'gpt-4o',
        stream: false,
        toolsDefined: [],
        toolCalls: [],
        texts: [
          { path: ['messages', 0, 'content'], text: 'You are helpful.' },
          { path: ['messages', 1, 'content', 0, 'text'], text: 'Answer briefly.' },
          { path: ['messages', 2, 'content'], text: 'Hello!' },
        ],
      },
    },
    {
      name: 'vision parts: image skipped, text parts located',
      body: {
        model: 'gpt-4o-mini',
        stream: true,
        stream_options: { include_usage: true },
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is in this image?' },
              { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
              { type: 'text', text: 'Be precise.' },
            ],
          },
        ],
      },
      want: {
        stream: true,
        texts: [
          { path: ['messages', 0, 'content', 0, 'text'], text: 'What is in this image?' },
          { path: ['messages', 0, 'content', 2, 'text'], text: 'Be precise.' },
        ],
      },
    },
    {
      name: 'tools offered, forced tool_choice',
      body: {
        model: 'gpt-4.1',
        messages: [{ role: 'user', content: "What's the weather like in Boston today?" }],
        tools: [
          { type: 'function', function: { name: 'get_current_weather', description: 'Get the weather', parameters: { type: 'object', properties: { location: { type: 'string' } } } } },
          { type: 'function', function: { name: 'web_search', parameters: {} } },
        ],
        tool_choice: { type: 'function', function: { name: 'get_current_weather' } },
      },
      want: { toolsDefined: ['get_current_weather', 'web_search'], toolCalls: [{ name: 'get_current_weather' }] },
    },
    {
      name: "tool_choice 'required' / 'auto' force nothing",
      body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'a' } }], tool_choice: 'required' },
      want: { toolsDefined: ['a'], toolCalls: [] },
    },
    {
      name: 'tool results turn: calls of the last assistant message, tool message texts',
      body: {
        model: 'gpt-4o',
        messages: [
          { role: 'user', content: 'old question' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_old', type: 'function', function: { name: 'old_tool', arguments: '{}' } }] },
          { role: 'tool', tool_call_id: 'call_old', content: 'old result' },
          { role: 'user', content: 'Weather in Paris and Rome?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
              { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Rome"' } },
            ],
          },
          { role: 'tool', tool_call_id: 'call_1', content: '18C sunny' },
          { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '22C cloudy' }] },
        ],
      },
      want: {
        toolCalls: [
          { name: 'get_weather', arguments: { city: 'Paris' }, id: 'call_1' },
          { name: 'get_weather', arguments: '{"city": "Rome"', id: 'call_2' }, // invalid JSON kept raw
        ],
        texts: [
          { path: ['messages', 0, 'content'], text: 'old question' },
          { path: ['messages', 1, 'tool_calls', 0, 'function', 'arguments'], text: '{}' }, // arguments of every turn, raw
          { path: ['messages', 2, 'content'], text: 'old result' },
          { path: ['messages', 3, 'content'], text: 'Weather in Paris and Rome?' },
          { path: ['messages', 4, 'tool_calls', 0, 'function', 'arguments'], text: '{"city":"Paris"}' },
          { path: ['messages', 4, 'tool_calls', 1, 'function', 'arguments'], text: '{"city": "Rome"' },
          { path: ['messages', 5, 'content'], text: '18C sunny' },
          { path: ['messages', 6, 'content', 0, 'text'], text: '22C cloudy' },
        ],
      },
    },
    {
      name: 'legacy functions and function_call',
      body: {
        model: 'gpt-3.5-turbo-0613',
        messages: [
          { role: 'user', content: 'weather?' },
          { role: 'assistant', content: null, function_call: { name: 'get_weather', arguments: '{"loc":"NYC"}' } },
          { role: 'function', name: 'get_weather', content: 'sunny' },
        ],
        functions: [{ name: 'get_weather', parameters: {} }],
        function_call: { name: 'get_weather' },
      },
      want: {
        toolsDefined: ['get_weather'],
        toolCalls: [{ name: 'get_weather' }, { name: 'get_weather', arguments: { loc: 'NYC' } }],
      },
    },
    {
      name: 'Azure: model from the deployment in the path',
      path: '/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21',
      body: { messages: [{ role: 'user', content: 'hi' }] },
      want: { model: 'gpt4o-prod' },
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const facts = adapter.parseRequest(head(c.path), c.body);
      expect(facts).toMatchObject(c.want);
      // Every located text can be read back at its path (the pipeline rewrites through them).
      for (const t of facts.texts) expect(getAt(c.body, t.path)).toBe(t.text);
    });
  }

  it.each([
    [[], 'body: must be an object'],
    [{ model: 'gpt-4o' }, 'messages: must be an array'],
    [{ model: 'gpt-4o', messages: {} }, 'messages: must be an array'],
    [{ model: 42, messages: [] }, 'model: must be a string'],
    [{ model: 'gpt-4o', messages: ['hi'] }, 'messages[0]: must be an object'],
    [{ model: 'gpt-4o', messages: [{ role: 'user', content: 5 }] }, 'messages[0].content: must be a string or an array'],
    [{ model: 'gpt-4o', messages: [{ role: 'user', content: ['x'] }] }, 'messages[0].content[0]: must be an object'],
    [{ model: 'gpt-4o', messages: [], tools: {} }, 'tools: must be an array'],
    [{ model: 'gpt-4o', messages: [], tools: ['x'] }, 'tools[0]: must be an object'],
  ])('rejects %j with %s', (body, message) => {
    expect(() => adapter.parseRequest(head(), body)).toThrow(MalformedRequest);
    expect(() => adapter.parseRequest(head(), body)).toThrow(message);
  });
});

describe('openai-chat parseResponse', () => {
  it('reads text, tool calls, usage and model', () => {
    const body = {
      id: 'chatcmpl-123',
      object: 'chat.completion',
      created: 1677652288,
      model: 'gpt-4o-2024-08-06',
      choices: [
        { index: 0, message: { role: 'assistant', content: 'Hello there, how may I assist you today?', refusal: null }, logprobs: null, finish_reason: 'stop' },
        {
          index: 1,
          message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_abc', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Boston"}' } }] },
          finish_reason: 'tool_calls',
        },
      ],
      usage: { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21, completion_tokens_details: { reasoning_tokens: 0 } },
    };
    expect(adapter.parseResponse(body)).toEqual({
      model: 'gpt-4o-2024-08-06',
      usage: { inputTokens: 9, outputTokens: 12 },
      texts: [{ path: ['choices', 0, 'message', 'content'], text: 'Hello there, how may I assist you today?' }],
      toolCalls: [{ name: 'get_weather', arguments: { location: 'Boston' }, id: 'call_abc' }],
    });
  });

  it.each([null, 'text', 42, [], { choices: 'x' }, { choices: [null, { message: 5 }] }, { usage: { prompt_tokens: 'x' } }])(
    'never throws on garbage: %j',
    (body) => {
      expect(adapter.parseResponse(body)).toMatchObject({ toolCalls: [], texts: [] });
    },
  );
});

describe('openai-chat stream', () => {
  const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', system_fingerprint: 'fp', usage: null };
  const chunk = (delta: unknown, finish: string | null = null) => ({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
  const text = sse([
    [undefined, chunk({ role: 'assistant', content: '', refusal: null })],
    [undefined, chunk({ content: 'Hello' })],
    [undefined, chunk({ content: ' world' })],
    [undefined, chunk({}, 'stop')],
    [undefined, { ...base, choices: [], usage: { prompt_tokens: 8, completion_tokens: 2, total_tokens: 10 } }],
    [undefined, '[DONE]'],
  ]);
  const tools = sse(
    [
      [undefined, chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] })],
      [undefined, chunk({ tool_calls: [{ index: 0, function: { arguments: '{"loc' } }] })],
      [undefined, chunk({ tool_calls: [{ index: 0, function: { arguments: 'ation":"Paris"}' } }] })],
      [undefined, chunk({ tool_calls: [{ index: 1, id: 'call_2', type: 'function', function: { name: 'send_email', arguments: '{"to":"a@b.c"}' } }] })],
      [undefined, chunk({}, 'tool_calls')],
      [undefined, { ...base, choices: [], usage: { prompt_tokens: 20, completion_tokens: 9, total_tokens: 29 } }],
      [undefined, '[DONE]'],
    ],
    '\r\n',
  );

  it('marks a frame whose data is not JSON unreadable (a lenient client might read a tool call in it); [DONE] is not', () => {
    const nan = Buffer.from(`data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"delete_database"}}]}}],"x":NaN}\n\n`);
    const frames = adapter.streamParser().push(Buffer.concat([nan, Buffer.from('data: [DONE]\n\n')]));
    expect(frames.map((f) => f.unreadable)).toEqual(['its data is not JSON', undefined]);
    expect(frames.flatMap((f) => f.events)).toEqual([]);
  });

  it('judges a second name sent for the same call by itself and joined to the first (as stream helpers join pieces)', () => {
    const renamed = sse([
      [undefined, chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'web_search', arguments: '' } }] })],
      [undefined, chunk({ tool_calls: [{ index: 0, function: { name: 'delete_database', arguments: '{}' } }] })],
      [undefined, chunk({ tool_calls: [{ index: 0, function: { name: 'delete_database' } }] })],
    ]);
    const frames = adapter.streamParser().push(renamed);
    expect(frames.flatMap((f) => f.events)).toEqual([
      { type: 'tool_call', name: 'web_search', id: 'call_1' },
      { type: 'tool_call', name: 'delete_database' },
      { type: 'tool_call', name: 'web_searchdelete_database' },
      { type: 'tool_call', name: 'delete_database' },
      { type: 'tool_call', name: 'web_searchdelete_databasedelete_database' },
    ]);
  });

  it('reports text deltas and usage, whatever the chunking', () => {
    for (const { name, fed } of feedAll(() => adapter.streamParser(), text)) {
      expect(fed.frames, name).toHaveLength(6);
      expect(fed.events, name).toEqual([
        { type: 'text', text: 'Hello' },
        { type: 'text', text: ' world' },
        { type: 'usage', usage: { inputTokens: 8, outputTokens: 2 } },
      ]);
      expect(fed.facts, name).toEqual({ model: 'gpt-4o-mini', usage: { inputTokens: 8, outputTokens: 2 }, toolCalls: [], texts: [] });
    }
  });

  it('reports each tool call in the frame that names it, arguments joined at the end', () => {
    for (const { name, fed } of feedAll(() => adapter.streamParser(), tools)) {
      expect(fed.frames[0]!.events, name).toEqual([{ type: 'tool_call', name: 'get_weather', id: 'call_1' }]);
      expect(fed.frames[3]!.events, name).toEqual([{ type: 'tool_call', name: 'send_email', id: 'call_2' }]);
      expect(fed.facts.toolCalls, name).toEqual([
        { name: 'get_weather', arguments: { location: 'Paris' }, id: 'call_1' },
        { name: 'send_email', arguments: { to: 'a@b.c' }, id: 'call_2' },
      ]);
    }
  });

  it('reports an error chunk and survives garbage', () => {
    const bytes = Buffer.concat([sse([[undefined, 'not json'], [undefined, { error: { message: 'boom', type: 'server_error' } }]]), Buffer.from('data: {"trunc')]);
    for (const { name, fed } of feedAll(() => adapter.streamParser(), bytes)) {
      expect(fed.events, name).toEqual([{ type: 'error', message: 'boom' }]);
    }
  });
});

describe('openai-chat errors', () => {
  it('answers in the OpenAI error shape', () => {
    const a = adapter.errorAnswer('forbidden', 'tool shell_exec is forbidden');
    expect(a.contentType).toBe('application/json');
    expect(JSON.parse(a.body)).toEqual({ error: { message: 'tool shell_exec is forbidden', type: 'invalid_request_error', param: null, code: 'policy_violation' } });
    expect(JSON.parse(adapter.errorAnswer('rate_limited', 'slow down').body).error.code).toBe('rate_limit_exceeded');
  });

  it('ends a stream with an error data frame the stream parser itself recognises', () => {
    const frame = adapter.streamError('forbidden', 'blocked by DLP');
    expect(frame.toString()).toMatch(/^data: \{"error":\{.*\}\}\n\n$/);
    const parser = adapter.streamParser();
    expect(parser.push(frame)[0]!.events).toEqual([{ type: 'error', message: 'blocked by DLP' }]);
  });
});

describe('openai-chat maxOutputTokens', () => {
  const messages = [{ role: 'user', content: 'hi' }];
  it.each<[object, number | undefined]>([
    [{ max_completion_tokens: 300 }, 300],
    [{ max_tokens: 200 }, 200],
    [{ max_completion_tokens: 300, max_tokens: 200 }, 300],
    [{}, undefined],
    [{ max_tokens: 'lots' }, undefined],
  ])('%j → %s', (extra, want) => {
    expect(adapter.parseRequest(head(), { model: 'gpt-4o', messages, ...extra }).maxOutputTokens).toBe(want);
  });
});

describe('openai-chat removeTools', () => {
  const fn = (name: string) => ({ type: 'function', function: { name, parameters: {} } });
  const messages = [{ role: 'user', content: 'hi' }];
  const cases: Array<{ name: string; body: Record<string, unknown>; remove: string[]; removed: number; want: Record<string, unknown> }> = [
    {
      name: 'removes named tools, keeps the rest and an unrelated choice',
      body: { messages, tools: [fn('a'), fn('shell'), { type: 'custom', custom: { name: 'b' } }], tool_choice: 'required' },
      remove: ['shell'],
      removed: 1,
      want: { messages, tools: [fn('a'), { type: 'custom', custom: { name: 'b' } }], tool_choice: 'required' },
    },
    {
      name: 'a forced choice of a removed tool becomes auto',
      body: { messages, tools: [fn('a'), fn('shell')], tool_choice: { type: 'function', function: { name: 'shell' } } },
      remove: ['shell'],
      removed: 1,
      want: { messages, tools: [fn('a')], tool_choice: 'auto' },
    },
    {
      name: 'custom tools by name',
      body: { messages, tools: [{ type: 'custom', custom: { name: 'shell' } }, fn('a')] },
      remove: ['shell'],
      removed: 1,
      want: { messages, tools: [fn('a')] },
    },
    {
      name: 'allowed_tools loses the removed ones',
      body: {
        messages, tools: [fn('a'), fn('shell')],
        tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [{ type: 'function', function: { name: 'a' } }, { type: 'function', function: { name: 'shell' } }] } },
      },
      remove: ['shell'],
      removed: 1,
      want: {
        messages, tools: [fn('a')],
        tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [{ type: 'function', function: { name: 'a' } }] } },
      },
    },
    {
      name: 'the last tool takes tools, tool_choice and parallel_tool_calls with it (OpenAI rejects them empty)',
      body: { messages, tools: [fn('shell')], tool_choice: 'required', parallel_tool_calls: false },
      remove: ['shell'],
      removed: 1,
      want: { messages },
    },
    {
      name: 'legacy functions and function_call',
      body: { messages, functions: [{ name: 'a' }, { name: 'shell' }], function_call: { name: 'shell' } },
      remove: ['shell'],
      removed: 1,
      want: { messages, functions: [{ name: 'a' }], function_call: 'auto' },
    },
    {
      name: 'the last legacy function',
      body: { messages, functions: [{ name: 'shell' }], function_call: 'auto' },
      remove: ['shell'],
      removed: 1,
      want: { messages },
    },
    {
      name: 'nothing to remove leaves the body alone',
      body: { messages, tools: [], tool_choice: 'none' },
      remove: ['shell'],
      removed: 0,
      want: { messages, tools: [], tool_choice: 'none' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(adapter.removeTools(c.body, new Set(c.remove))).toBe(c.removed);
      expect(c.body).toEqual(c.want);
      expect(adapter.parseRequest(head(), { model: 'm', ...c.body }).toolsDefined.filter((t) => c.remove.includes(t))).toEqual([]);
    });
  }
  it('ignores bodies that are not objects', () => {
    expect(adapter.removeTools(null, new Set(['x']))).toBe(0);
    expect(adapter.removeTools([1], new Set(['x']))).toBe(0);
  });
});

describe('openai-chat parseRequest: every string the provider reads is a text (DLP)', () => {
  it('reads names, refusals, every turn\'s call arguments, tool descriptions and schemas, user, metadata, prediction', () => {
    const body = {
      model: 'gpt-4o',
      user: 'user-1',
      safety_identifier: 'sid-1',
      metadata: { ticket: 't-1', n: 3 },
      prediction: { type: 'content', content: [{ type: 'text', text: 'predicted' }] },
      messages: [
        { role: 'user', name: 'alice', content: 'hi' },
        { role: 'assistant', content: null, refusal: 'no', tool_calls: [{ id: 'c0', type: 'function', function: { name: 'f', arguments: '{"a":"old"}' } }] },
        { role: 'tool', tool_call_id: 'c0', content: 'done' },
        { role: 'assistant', content: null, function_call: { name: 'g', arguments: '{"b":1}' } },
      ],
      tools: [
        { type: 'function', function: { name: 'f', description: 'does f', parameters: { type: 'object', properties: { a: { type: 'string', description: 'the a', enum: ['x'] } } } } },
        { type: 'custom', custom: { name: 'c', description: 'free form' } },
      ],
      functions: [{ name: 'g', description: 'does g', parameters: { type: 'object', properties: { b: { type: 'number', title: 'B' } } } }],
    };
    const facts = adapter.parseRequest(head(), body);
    expect(facts.texts).toEqual([
      { path: ['messages', 0, 'name'], text: 'alice' },
      { path: ['messages', 0, 'content'], text: 'hi' },
      { path: ['messages', 1, 'refusal'], text: 'no' },
      { path: ['messages', 1, 'tool_calls', 0, 'function', 'arguments'], text: '{"a":"old"}' },
      { path: ['messages', 2, 'content'], text: 'done' },
      { path: ['messages', 3, 'function_call', 'arguments'], text: '{"b":1}' },
      { path: ['tools', 0, 'function', 'description'], text: 'does f' },
      { path: ['tools', 0, 'function', 'parameters', 'properties', 'a', 'description'], text: 'the a' },
      { path: ['tools', 0, 'function', 'parameters', 'properties', 'a', 'enum', 0], text: 'x' },
      { path: ['tools', 1, 'custom', 'description'], text: 'free form' },
      { path: ['functions', 0, 'description'], text: 'does g' },
      { path: ['functions', 0, 'parameters', 'properties', 'b', 'title'], text: 'B' },
      { path: ['user'], text: 'user-1' },
      { path: ['safety_identifier'], text: 'sid-1' },
      { path: ['metadata', 'ticket'], text: 't-1' },
      { path: ['prediction', 'content', 0, 'text'], text: 'predicted' },
    ]);
    for (const t of facts.texts) expect(getAt(body, t.path)).toBe(t.text);
  });
});

describe('openai-chat custom tool calls in answers', () => {
  const custom = { id: 'call_c1', type: 'custom', custom: { name: 'run_sql', input: 'DROP TABLE users;' } };

  it('reads a proposed custom tool call, its input as the arguments', () => {
    const body = { id: 'chatcmpl-1', object: 'chat.completion', model: 'gpt-5', choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [custom] }, finish_reason: 'tool_calls' }] };
    expect(adapter.parseResponse(body).toolCalls).toEqual([{ name: 'run_sql', arguments: 'DROP TABLE users;', id: 'call_c1' }]);
  });

  it('names a streamed custom tool call as soon as its name arrives, and collects its input', () => {
    const chunk = (delta: object) => ({ id: 'chatcmpl-1', object: 'chat.completion.chunk', model: 'gpt-5', choices: [{ index: 0, delta, finish_reason: null }] });
    const stream = sse([
      [undefined, chunk({ role: 'assistant', content: null })],
      [undefined, chunk({ tool_calls: [{ index: 0, id: 'call_c1', type: 'custom', custom: { name: 'run_sql', input: '' } }] })],
      [undefined, chunk({ tool_calls: [{ index: 0, custom: { input: 'DROP TABLE ' } }] })],
      [undefined, chunk({ tool_calls: [{ index: 0, custom: { input: 'users;' } }] })],
    ]);
    for (const { name, fed } of feedAll(() => adapter.streamParser(), stream)) {
      expect(fed.events, name).toEqual([{ type: 'tool_call', name: 'run_sql', id: 'call_c1' }]);
      expect(fed.facts.toolCalls, name).toEqual([{ name: 'run_sql', arguments: 'DROP TABLE users;', id: 'call_c1' }]);
    }
  });
});

describe('openai-chat usage the sidecar asks for', () => {
  const ask = (extra: object) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], ...extra });

  it.each([
    ['a stream without stream_options', ask({ stream: true }), true, { include_usage: true }],
    ['a stream with other stream_options', ask({ stream: true, stream_options: { include_obfuscation: false } }), true, { include_obfuscation: false, include_usage: true }],
    ['a stream with include_usage: false', ask({ stream: true, stream_options: { include_usage: false } }), true, { include_usage: true }],
    ['a stream that asked already', ask({ stream: true, stream_options: { include_usage: true } }), false, { include_usage: true }],
    ['no stream', ask({}), false, undefined],
    ['stream: "true" (not a stream to OpenAI)', ask({ stream: 'true' }), false, undefined],
  ])('%s', (_name, body, changed, options) => {
    expect(adapter.askForUsage!(head(), body)).toBe(changed);
    expect((body as { stream_options?: unknown }).stream_options).toEqual(options);
  });

  it('leaves a body that is not an object alone', () => {
    expect(adapter.askForUsage!(head(), null)).toBe(false);
    expect(adapter.askForUsage!(head(), [1])).toBe(false);
  });

  it.each([
    ['api.openai.com', '/v1/chat/completions', true],
    ['API.OpenAI.com', '/v1/chat/completions', true],
    ['my.openai.azure.com', '/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21', true],
    ['my.openai.azure.com', '/openai/deployments/gpt4o/chat/completions?api-version=2025-04-01-preview', true],
    ['my.openai.azure.com', '/openai/deployments/gpt4o/chat/completions?api-version=2024-02-01', false],
    ['my.openai.azure.com', '/openai/deployments/gpt4o/chat/completions', false],
    ['my.openai.azure.com', '/openai/v1/chat/completions', true],
    ['api.mistral.ai', '/v1/chat/completions', false], // refuses stream_options, reports usage anyway
    ['api.groq.com', '/openai/v1/chat/completions', false],
    ['llm.internal.example.com', '/v1/chat/completions', false],
  ])('asks %s%s for usage: %s', (host, path, asks) => {
    const body = ask({ stream: true });
    expect(adapter.askForUsage!(head(path, host), body)).toBe(asks);
    expect('stream_options' in body).toBe(asks);
  });

  const base = { id: 'chatcmpl-9', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', usage: null };
  const stream = sse([
    [undefined, { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' }, finish_reason: null }] }],
    [undefined, { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }],
    [undefined, { ...base, choices: [], usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 } }],
    [undefined, '[DONE]'],
  ]);

  it('marks the usage-only chunk sidecarOnly when the sidecar asked for usage, and still reads the usage', () => {
    for (const { name, fed } of feedAll(() => adapter.streamParser({ usageAskedBySidecar: true }), stream)) {
      expect(fed.frames.map((f) => f.sidecarOnly === true), name).toEqual([false, false, true, false]);
      expect(fed.facts.usage, name).toEqual({ inputTokens: 5, outputTokens: 1 });
      expect(fed.events, name).toContainEqual({ type: 'usage', usage: { inputTokens: 5, outputTokens: 1 } });
    }
  });

  it('withholds nothing when the agent asked for usage itself', () => {
    for (const { name, fed } of feedAll(() => adapter.streamParser(), stream)) {
      expect(fed.frames.some((f) => f.sidecarOnly), name).toBe(false);
      expect(fed.facts.usage, name).toEqual({ inputTokens: 5, outputTokens: 1 });
    }
  });

  it('never withholds a chunk with choices, even one that carries usage (some look-alikes send it there)', () => {
    const merged = sse([[undefined, { ...base, choices: [{ index: 0, delta: { content: 'x' }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 } }]]);
    const frames = adapter.streamParser({ usageAskedBySidecar: true }).push(merged);
    expect(frames.map((f) => f.sidecarOnly)).toEqual([undefined]);
  });
});
