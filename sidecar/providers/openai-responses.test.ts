import { describe, expect, it } from 'vitest';
import type { RequestFacts } from '../call.js';
import { getAt, MalformedRequest, type RequestHead } from './adapter.js';
import { openAiResponsesAdapter as adapter } from './openai-responses.js';
import { feedAll, sse } from './testing.js';

const head = (path = '/v1/responses'): RequestHead => ({ host: 'api.openai.com', method: 'POST', path, contentType: 'application/json' });

describe('openai-responses matches', () => {
  it.each([
    ['/v1/responses', true],
    ['/openai/responses?api-version=2025-04-01-preview', true],
    ['/openai/v1/responses', true],
    ['/v1/responses/resp_123', false],
    ['/v1/chat/completions', false],
  ])('%s → %s', (path, want) => {
    expect(adapter.matches(head(path), {})).toBe(want);
  });
});

describe('openai-responses parseRequest', () => {
  const cases: Array<{ name: string; body: unknown; want: Partial<RequestFacts> }> = [
    {
      name: 'string input with instructions',
      body: { model: 'gpt-4.1', instructions: 'Talk like a pirate.', input: 'Are semicolons optional in JavaScript?' },
      want: {
        operation: 'responses',
        model: 'gpt-4.1',
        stream: false,
        toolsDefined: [],
        toolCalls: [],
        texts: [
          { path: ['instructions'], text: 'Talk like a pirate.' },
          { path: ['input'], text: 'Are semicolons optional in JavaScript?' },
        ],
      },
    },
    {
      name: 'message items with input_text parts, image skipped; built-in and function tools',
      body: {
        model: 'gpt-4.1',
        stream: true,
        input: [
          { role: 'developer', content: 'Be brief.' },
          {
            role: 'user',
            content: [
              { type: 'input_text', text: 'what is in this image?' },
              { type: 'input_image', image_url: 'https://example.com/a.jpg' },
            ],
          },
        ],
        tools: [
          { type: 'web_search_preview' },
          { type: 'function', name: 'get_weather', description: 'weather', parameters: { type: 'object', properties: {} }, strict: true },
          { type: 'file_search', vector_store_ids: ['vs_1'] },
        ],
        tool_choice: { type: 'function', name: 'get_weather' },
      },
      want: {
        stream: true,
        toolsDefined: ['web_search_preview', 'get_weather', 'file_search'],
        toolCalls: [{ name: 'get_weather' }],
        texts: [
          { path: ['input', 0, 'content'], text: 'Be brief.' },
          { path: ['input', 1, 'content', 0, 'text'], text: 'what is in this image?' },
          { path: ['tools', 1, 'description'], text: 'weather' }, // tool descriptions
        ],
      },
    },
    {
      name: 'function_call items after the last user message are the calls carried; outputs are texts',
      body: {
        model: 'o4-mini',
        input: [
          { role: 'user', content: 'first' },
          { type: 'function_call', id: 'fc_0', call_id: 'call_0', name: 'old_tool', arguments: '{}' },
          { type: 'function_call_output', call_id: 'call_0', output: 'old output' },
          { type: 'message', role: 'user', content: [{ type: 'input_text', text: "What's the weather in Paris?" }] },
          { type: 'reasoning', id: 'rs_1', summary: [] },
          { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'get_weather', arguments: '{"location":"Paris, France"}' },
          { type: 'function_call_output', call_id: 'call_1', output: '{"temperature": 14}' },
          { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'It is 14C.' }] },
        ],
        tool_choice: 'auto',
      },
      want: {
        toolCalls: [{ name: 'get_weather', arguments: { location: 'Paris, France' }, id: 'call_1' }],
        texts: [
          { path: ['input', 0, 'content'], text: 'first' },
          { path: ['input', 1, 'arguments'], text: '{}' }, // arguments of every call, raw
          { path: ['input', 2, 'output'], text: 'old output' },
          { path: ['input', 3, 'content', 0, 'text'], text: "What's the weather in Paris?" },
          { path: ['input', 5, 'arguments'], text: '{"location":"Paris, France"}' },
          { path: ['input', 6, 'output'], text: '{"temperature": 14}' },
          { path: ['input', 7, 'content', 0, 'text'], text: 'It is 14C.' },
        ],
      },
    },
    {
      name: 'forced built-in tool',
      body: { model: 'gpt-4.1', input: 'news?', tools: [{ type: 'web_search' }], tool_choice: { type: 'web_search' } },
      want: { toolsDefined: ['web_search'], toolCalls: [{ name: 'web_search' }] },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const facts = adapter.parseRequest(head(), c.body);
      expect(facts).toMatchObject(c.want);
      for (const t of facts.texts) expect(getAt(c.body, t.path)).toBe(t.text);
    });
  }

  it.each([
    ['x', 'body: must be an object'],
    [{ model: 1, input: 'x' }, 'model: must be a string'],
    [{ model: 'm', input: 5 }, 'input: must be an array'],
    [{ model: 'm', input: [1] }, 'input[0]: must be an object'],
    [{ model: 'm', input: [{ role: 'user', content: 3 }] }, 'input[0].content: must be a string or an array'],
    [{ model: 'm', input: 'x', instructions: 4 }, 'instructions: must be a string'],
    [{ model: 'm', input: 'x', tools: 'web' }, 'tools: must be an array'],
  ])('rejects %j with %s', (body, message) => {
    expect(() => adapter.parseRequest(head(), body)).toThrow(MalformedRequest);
    expect(() => adapter.parseRequest(head(), body)).toThrow(message);
  });
});

describe('openai-responses parseResponse', () => {
  it('reads output text, function calls and usage', () => {
    const body = {
      id: 'resp_67ccd2bed1ec8190',
      object: 'response',
      status: 'completed',
      model: 'gpt-4.1-2025-04-14',
      output: [
        { type: 'reasoning', id: 'rs_1', summary: [] },
        { type: 'message', id: 'msg_1', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'In a peaceful grove...', annotations: [] }] },
        { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'get_weather', arguments: '{"location":"Paris"}', status: 'completed' },
      ],
      usage: { input_tokens: 36, input_tokens_details: { cached_tokens: 0 }, output_tokens: 87, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 123 },
    };
    expect(adapter.parseResponse(body)).toEqual({
      model: 'gpt-4.1-2025-04-14',
      usage: { inputTokens: 36, outputTokens: 87 },
      texts: [{ path: ['output', 1, 'content', 0, 'text'], text: 'In a peaceful grove...' }],
      toolCalls: [{ name: 'get_weather', arguments: { location: 'Paris' }, id: 'call_1' }],
    });
  });

  it.each([null, 1, { output: 'x' }, { output: [null, { type: 'message', content: 'x' }] }])('never throws: %j', (body) => {
    expect(adapter.parseResponse(body)).toMatchObject({ toolCalls: [], texts: [] });
  });
});

describe('openai-responses stream', () => {
  const resp = (status: string, extra: object = {}) => ({ id: 'resp_1', object: 'response', status, model: 'gpt-4.1-2025-04-14', output: [], ...extra });
  const ev = (type: string, data: object, seq: number): [string, unknown] => [type, { type, sequence_number: seq, ...data }];
  const stream = sse([
    ev('response.created', { response: resp('in_progress') }, 0),
    ev('response.in_progress', { response: resp('in_progress') }, 1),
    ev('response.output_item.added', { output_index: 0, item: { type: 'message', id: 'msg_1', status: 'in_progress', role: 'assistant', content: [] } }, 2),
    ev('response.content_part.added', { item_id: 'msg_1', output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } }, 3),
    ev('response.output_text.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'Hi' }, 4),
    ev('response.output_text.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: ' there' }, 5),
    ev('response.output_text.done', { item_id: 'msg_1', output_index: 0, content_index: 0, text: 'Hi there' }, 6),
    ev('response.output_item.added', { output_index: 1, item: { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'get_weather', arguments: '', status: 'in_progress' } }, 7),
    ev('response.function_call_arguments.delta', { item_id: 'fc_1', output_index: 1, delta: '{"location":' }, 8),
    ev('response.function_call_arguments.delta', { item_id: 'fc_1', output_index: 1, delta: '"Paris"}' }, 9),
    ev('response.function_call_arguments.done', { item_id: 'fc_1', output_index: 1, arguments: '{"location":"Paris"}' }, 10),
    ev('response.completed', { response: resp('completed', { usage: { input_tokens: 11, output_tokens: 7, total_tokens: 18 } }) }, 11),
  ]);

  it('reports text, the tool call as soon as named, and usage', () => {
    for (const { name, fed } of feedAll(() => adapter.streamParser(), stream)) {
      expect(fed.frames, name).toHaveLength(12);
      expect(fed.frames[7]!.events, name).toEqual([{ type: 'tool_call', name: 'get_weather', id: 'call_1' }]);
      expect(fed.events, name).toEqual([
        { type: 'text', text: 'Hi' },
        { type: 'text', text: ' there' },
        { type: 'tool_call', name: 'get_weather', id: 'call_1' },
        { type: 'usage', usage: { inputTokens: 11, outputTokens: 7 } },
      ]);
      expect(fed.facts, name).toEqual({
        model: 'gpt-4.1-2025-04-14',
        usage: { inputTokens: 11, outputTokens: 7 },
        toolCalls: [{ name: 'get_weather', arguments: { location: 'Paris' }, id: 'call_1' }],
        texts: [],
      });
    }
  });

  it('ends with an error event the parser recognises', () => {
    const frame = adapter.streamError('forbidden', 'denied by policy');
    expect(frame.toString()).toMatch(/^event: error\ndata: \{"type":"error","code":"policy_violation","message":"denied by policy"/);
    expect(adapter.streamParser().push(frame)[0]!.events).toEqual([{ type: 'error', message: 'denied by policy' }]);
  });

  it('reports response.failed as an error', () => {
    const bytes = sse([ev('response.failed', { response: resp('failed', { error: { code: 'server_error', message: 'oops' } }) }, 0)]);
    expect(adapter.streamParser().push(bytes)[0]!.events).toEqual([{ type: 'error', message: 'oops' }]);
  });
});

describe('openai-responses maxOutputTokens', () => {
  it.each<[object, number | undefined]>([
    [{ max_output_tokens: 1024 }, 1024],
    [{}, undefined],
    [{ max_tokens: 5 }, undefined], // not a Responses field
  ])('%j → %s', (extra, want) => {
    expect(adapter.parseRequest(head(), { model: 'gpt-4.1', input: 'hi', ...extra }).maxOutputTokens).toBe(want);
  });
});

describe('openai-responses removeTools', () => {
  const fn = (name: string) => ({ type: 'function', name, parameters: {} });
  const cases: Array<{ name: string; body: Record<string, unknown>; remove: string[]; removed: number; want: Record<string, unknown> }> = [
    {
      name: 'function, custom and built-in tools by the names parseRequest gives them',
      body: { input: 'x', tools: [fn('a'), fn('shell'), { type: 'custom', name: 'grammar' }, { type: 'web_search' }], tool_choice: 'auto' },
      remove: ['shell', 'grammar', 'web_search'],
      removed: 3,
      want: { input: 'x', tools: [fn('a')], tool_choice: 'auto' },
    },
    {
      name: 'a forced function choice becomes auto',
      body: { input: 'x', tools: [fn('a'), fn('shell')], tool_choice: { type: 'function', name: 'shell' } },
      remove: ['shell'],
      removed: 1,
      want: { input: 'x', tools: [fn('a')], tool_choice: 'auto' },
    },
    {
      name: 'a forced built-in choice becomes auto',
      body: { input: 'x', tools: [fn('a'), { type: 'web_search' }], tool_choice: { type: 'web_search' } },
      remove: ['web_search'],
      removed: 1,
      want: { input: 'x', tools: [fn('a')], tool_choice: 'auto' },
    },
    {
      name: 'allowed_tools loses the removed ones',
      body: { input: 'x', tools: [fn('a'), fn('shell')], tool_choice: { type: 'allowed_tools', mode: 'required', tools: [{ type: 'function', name: 'shell' }, { type: 'function', name: 'a' }] } },
      remove: ['shell'],
      removed: 1,
      want: { input: 'x', tools: [fn('a')], tool_choice: { type: 'allowed_tools', mode: 'required', tools: [{ type: 'function', name: 'a' }] } },
    },
    {
      name: 'the last tool takes tools and tool_choice with it',
      body: { input: 'x', tools: [fn('shell')], tool_choice: 'required' },
      remove: ['shell'],
      removed: 1,
      want: { input: 'x' },
    },
    {
      name: 'nothing to remove',
      body: { input: 'x', tools: [fn('a')] },
      remove: ['shell'],
      removed: 0,
      want: { input: 'x', tools: [fn('a')] },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(adapter.removeTools(c.body, new Set(c.remove))).toBe(c.removed);
      expect(c.body).toEqual(c.want);
      const facts = adapter.parseRequest(head(), { model: 'm', ...c.body });
      expect([...facts.toolsDefined, ...facts.toolCalls.map((t) => t.name)].filter((t) => c.remove.includes(t))).toEqual([]);
    });
  }
});

describe('openai-responses parseRequest: every string the provider reads is a text (DLP)', () => {
  it('reads every call\'s arguments and custom inputs, tool descriptions and schemas, user, metadata', () => {
    const body = {
      model: 'gpt-4.1',
      user: 'user-1',
      metadata: { ticket: 't-1' },
      input: [
        { type: 'function_call', call_id: 'c0', name: 'f', arguments: '{"a":"old"}' },
        { type: 'custom_tool_call', call_id: 'c1', name: 'c', input: 'raw input' },
        { role: 'user', content: 'hi' },
      ],
      tools: [{ type: 'function', name: 'f', description: 'does f', parameters: { type: 'object', properties: { a: { type: 'string', description: 'the a' } } } }],
    };
    const facts = adapter.parseRequest(head(), body);
    expect(facts.texts).toEqual([
      { path: ['input', 0, 'arguments'], text: '{"a":"old"}' },
      { path: ['input', 1, 'input'], text: 'raw input' },
      { path: ['input', 2, 'content'], text: 'hi' },
      { path: ['tools', 0, 'description'], text: 'does f' },
      { path: ['tools', 0, 'parameters', 'properties', 'a', 'description'], text: 'the a' },
      { path: ['user'], text: 'user-1' },
      { path: ['metadata', 'ticket'], text: 't-1' },
    ]);
    for (const t of facts.texts) expect(getAt(body, t.path)).toBe(t.text);
  });
});

describe('openai-responses stream: the final response is read too', () => {
  it('judges a call and a text that only response.completed carries, not what the deltas already did', () => {
    const stream = sse([
      ['response.output_text.delta', { type: 'response.output_text.delta', output_index: 0, delta: 'Hello' }],
      [
        'response.completed',
        {
          type: 'response.completed',
          response: {
            model: 'gpt-4.1',
            output: [
              { type: 'message', content: [{ type: 'output_text', text: 'Hello' }] },
              { type: 'function_call', call_id: 'c9', name: 'delete_database', arguments: '{}' },
              { type: 'message', content: [{ type: 'output_text', text: 'SSN 219-09-9999' }] },
            ],
          },
        },
      ],
    ]);
    const events = adapter.streamParser().push(stream).flatMap((f) => f.events);
    expect(events).toEqual([
      { type: 'text', text: 'Hello' },
      { type: 'tool_call', name: 'delete_database', id: 'c9' },
      { type: 'text', text: 'SSN 219-09-9999' },
    ]);
  });
});

describe('openai-responses: built-in tools the client executes', () => {
  const shell = { type: 'local_shell_call', id: 'lsh_1', call_id: 'call_sh', status: 'completed', action: { type: 'exec', command: ['rm', '-rf', '/'], env: {} } };
  const computer = { type: 'computer_call', id: 'cu_1', call_id: 'call_cu', status: 'completed', action: { type: 'type', text: 'hunter2' }, pending_safety_checks: [] };
  const shellCall = { type: 'shell_call', id: 'sh_1', call_id: 'call_s2', action: { commands: ['cat /etc/shadow'], timeout_ms: 1000 } };
  const patch = { type: 'apply_patch_call', id: 'ap_1', call_id: 'call_ap', operation: { type: 'update_file', path: 'a.ts', diff: '+x' } };

  it('reads a proposed local shell, shell, computer or apply_patch call as a call of that tool, with what it asks done', () => {
    const facts = adapter.parseResponse({ id: 'resp_1', object: 'response', model: 'gpt-5', output: [shell, computer, shellCall, patch] });
    expect(facts.toolCalls).toEqual([
      { name: 'local_shell', arguments: shell.action, id: 'call_sh' },
      { name: 'computer_use_preview', arguments: computer.action, id: 'call_cu' },
      { name: 'shell', arguments: shellCall.action, id: 'call_s2' },
      { name: 'apply_patch', arguments: patch.operation, id: 'call_ap' },
    ]);
  });

  it('names the tool as soon as its item is added to a stream', () => {
    const stream = sse([
      ['response.output_item.added', { type: 'response.output_item.added', output_index: 0, item: { ...shell, status: 'in_progress' } }],
      ['response.output_item.done', { type: 'response.output_item.done', output_index: 0, item: shell }],
    ]);
    for (const { name, fed } of feedAll(() => adapter.streamParser(), stream)) {
      expect(fed.events, name).toEqual([{ type: 'tool_call', name: 'local_shell', id: 'call_sh' }]);
    }
  });

  it('in a request: the calls since the user spoke are carried, and their actions and outputs are texts', () => {
    const facts = adapter.parseRequest(head(), {
      model: 'gpt-5',
      tools: [{ type: 'local_shell' }, { type: 'computer_use_preview', display_width: 1024, display_height: 768, environment: 'browser' }],
      input: [
        { role: 'user', content: 'clean up' },
        shell,
        { type: 'local_shell_call_output', id: 'lsho_1', call_id: 'call_sh', output: 'removed jane@example.com' },
        computer,
        { type: 'computer_call_output', call_id: 'call_cu', output: { type: 'computer_screenshot', image_url: 'data:image/png;base64,AAAA' } },
      ],
    });
    expect(facts.toolsDefined).toEqual(['local_shell', 'computer_use_preview']);
    expect(facts.toolCalls.map((c) => c.name)).toEqual(['local_shell', 'computer_use_preview']);
    const texts = facts.texts.map((t) => t.text);
    expect(texts).toEqual(expect.arrayContaining(['rm', '-rf', '/', 'removed jane@example.com', 'hunter2', 'data:image/png;base64,AAAA']));
    for (const t of facts.texts) expect(getAt({ input: [{ role: 'user', content: 'clean up' }, shell, { type: 'local_shell_call_output', id: 'lsho_1', call_id: 'call_sh', output: 'removed jane@example.com' }, computer, { type: 'computer_call_output', call_id: 'call_cu', output: { type: 'computer_screenshot', image_url: 'data:image/png;base64,AAAA' } }] }, t.path)).toBe(t.text);
  });
});
