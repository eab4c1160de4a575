import { describe, expect, it } from 'vitest';
import type { RequestFacts } from '../call.js';
import { getAt, MalformedRequest, type RequestHead } from './adapter.js';
import { openAiEndpointsAdapter as adapter, operationOf } from './openai-endpoints.js';
import { feedAll, sse } from './testing.js';

const head = (path: string, method = 'POST'): RequestHead => ({ host: 'api.openai.com', method, path, contentType: 'application/json' });
const parse = (path: string, body: unknown) => adapter.parseRequest(head(path), body);

describe('openai-endpoints matches', () => {
  it.each([
    ['/v1/completions', 'completions'],
    ['/openai/deployments/davinci/completions?api-version=2024-10-21', 'completions'],
    ['/v1/fim/completions', 'completions'],
    ['/v1/chat/completions', undefined],
    ['/openai/deployments/d/chat/completions', undefined],
    ['/v1/embeddings', 'embeddings'],
    ['/openai/deployments/ada/embeddings?api-version=2024-10-21', 'embeddings'],
    ['/api/v1/embeddings', 'embeddings'],
    ['/v1/moderations', 'moderations'],
    ['/v1/audio/speech', 'audio.speech'],
    ['/openai/deployments/tts/audio/speech', 'audio.speech'],
    ['/v1/audio/transcriptions', undefined], // multipart
    ['/v1/images/generations', 'images.generations'],
    ['/v1/images/edits', 'images.edits'],
    ['/v1/images/variations', undefined], // multipart only
    ['/v1/assistants', 'assistants'],
    ['/v1/assistants/asst_abc', 'assistants'],
    ['/openai/assistants?api-version=2024-05-01-preview', 'assistants'],
    ['/v1/threads', 'threads'],
    ['/v1/threads/thread_1', 'threads'],
    ['/v1/threads/thread_1/messages', 'threads.messages'],
    ['/v1/threads/thread_1/messages/msg_1', 'threads.messages'],
    ['/v1/threads/runs', 'threads.runs'],
    ['/v1/threads/thread_1/runs', 'threads.runs'],
    ['/v1/threads/thread_1/runs/run_1', 'threads.runs'],
    ['/v1/threads/thread_1/runs/run_1/cancel', 'threads.runs'],
    ['/v1/threads/thread_1/runs/run_1/submit_tool_outputs', 'threads.runs.submit_tool_outputs'],
    ['/v1/threads/thread_1/runs/run_1/steps', undefined], // past steps: not proposals
    ['/v1/batches', 'batches'],
    ['/v1/batches/batch_1', 'batches'],
    ['/v1/batches/batch_1/cancel', 'batches'],
    ['/v1/files', undefined],
    ['/v1/realtime/sessions', 'realtime.sessions'],
    ['/v1/realtime/transcription_sessions', 'realtime.transcription_sessions'],
    ['/v1/realtime/client_secrets', 'realtime.client_secrets'],
    ['/v1/responses', undefined],
    ['/v1/messages', undefined],
  ])('%s → %s', (path, op) => {
    expect(operationOf(path)).toBe(op);
    expect(adapter.matches(head(path), {})).toBe(op !== undefined);
  });

  it.each([
    ['api.anthropic.com', '/v1/messages/batches', false], // Anthropic's Message Batches
    ['gateway.example.com', '/anthropic/v1/messages/batches/msgbatch_1/cancel', false],
    ['generativelanguage.googleapis.com', '/v1beta/batches/abc', false], // Gemini's batch operations
    ['generativelanguage.googleapis.com', '/v1beta/batches/abc:cancel', false],
    ['generativelanguage.googleapis.com', '/v1beta/openai/embeddings', true], // Gemini's OpenAI-compatible layer
    ['api.anthropic.com', '/v1/embeddings', false],
    ['api.groq.com', '/openai/v1/batches', true],
    ['openai-gateway.internal', '/v1/batches', true],
  ])('on %s, %s → %s', (host, path, want) => {
    expect(adapter.matches({ ...head(path), host }, {})).toBe(want);
  });

  it('matches bodiless requests by path, and leaves JSON-RPC to MCP', () => {
    expect(adapter.matches(head('/v1/threads/t/runs/r', 'GET'), undefined)).toBe(true);
    expect(adapter.matches(head('/v1/assistants/a', 'DELETE'), undefined)).toBe(true);
    expect(adapter.matches(head('/v1/embeddings'), { jsonrpc: '2.0', id: 1, method: 'tools/list' })).toBe(false);
  });

  it('says only the operation for a bodiless request (the data path does not parse one)', () => {
    expect(adapter.parseRequest(head('/v1/threads/t/runs/r', 'GET'), undefined)).toEqual({ operation: 'threads.runs', toolsDefined: [], toolCalls: [], texts: [], stream: false });
  });
});

describe('openai-endpoints parseRequest', () => {
  const cases: Array<{ name: string; path: string; body: unknown; want: Partial<RequestFacts> }> = [
    {
      name: 'legacy completion: prompt strings, token arrays skipped, suffix, user, stop, max_tokens',
      path: '/v1/completions',
      body: { model: 'gpt-3.5-turbo-instruct', prompt: ['Say this', [1, 2, 3], 'is a test'], suffix: 'end.', max_tokens: 7, stop: ['\n\n'], user: 'u-1', stream: true, stream_options: { include_usage: true } },
      want: {
        operation: 'completions',
        model: 'gpt-3.5-turbo-instruct',
        stream: true,
        maxOutputTokens: 7,
        texts: [
          { path: ['prompt', 0], text: 'Say this' },
          { path: ['prompt', 2], text: 'is a test' },
          { path: ['suffix'], text: 'end.' },
          { path: ['stop', 0], text: '\n\n' },
          { path: ['user'], text: 'u-1' },
        ],
      },
    },
    {
      name: 'completion: a single token array',
      path: '/v1/completions',
      body: { model: 'm', prompt: [1, 2, 3] },
      want: { operation: 'completions', texts: [], stream: false },
    },
    {
      name: 'embeddings: a string; usage counted on the answer',
      path: '/v1/embeddings',
      body: { model: 'text-embedding-3-small', input: 'The food was delicious', encoding_format: 'base64', dimensions: 256 },
      want: { operation: 'embeddings', model: 'text-embedding-3-small', texts: [{ path: ['input'], text: 'The food was delicious' }] },
    },
    {
      name: 'embeddings on Azure: the model is the deployment',
      path: '/openai/deployments/ada-prod/embeddings?api-version=2024-10-21',
      body: { input: ['a', 'b'] },
      want: { model: 'ada-prod', texts: [{ path: ['input', 0], text: 'a' }, { path: ['input', 1], text: 'b' }] },
    },
    {
      name: 'moderations: multimodal input, image skipped',
      path: '/v1/moderations',
      body: { model: 'omni-moderation-latest', input: [{ type: 'text', text: 'kill it' }, { type: 'image_url', image_url: { url: 'https://x/y.png' } }] },
      want: { operation: 'moderations', texts: [{ path: ['input', 0, 'text'], text: 'kill it' }] },
    },
    {
      name: 'moderations: a look-alike\'s chat-shaped input is read whole',
      path: '/v1/chat/moderations',
      body: { model: 'mistral-moderation-latest', input: [{ role: 'user', content: 'hi' }] },
      want: { operation: 'moderations', texts: [{ path: ['input', 0, 'role'], text: 'user' }, { path: ['input', 0, 'content'], text: 'hi' }] },
    },
    {
      name: 'audio.speech: input and instructions; stream_format sse is a stream',
      path: '/v1/audio/speech',
      body: { model: 'gpt-4o-mini-tts', input: 'Today is a wonderful day', voice: 'coral', instructions: 'Speak cheerfully.', response_format: 'mp3', stream_format: 'sse' },
      want: { operation: 'audio.speech', stream: true, texts: [{ path: ['input'], text: 'Today is a wonderful day' }, { path: ['instructions'], text: 'Speak cheerfully.' }] },
    },
    {
      name: 'images.generations: prompt, enum words skipped',
      path: '/v1/images/generations',
      body: { model: 'gpt-image-1', prompt: 'A cute baby sea otter', n: 1, size: '1024x1024', quality: 'high', user: 'u' },
      want: { operation: 'images.generations', model: 'gpt-image-1', texts: [{ path: ['prompt'], text: 'A cute baby sea otter' }, { path: ['user'], text: 'u' }] },
    },
    {
      name: 'images.edits as JSON: prompt, image references skipped',
      path: '/v1/images/edits',
      body: { model: 'gpt-image-1', prompt: 'add a hat', images: [{ image_url: 'data:image/png;base64,AAAA' }], stream: true },
      want: { operation: 'images.edits', stream: true, texts: [{ path: ['prompt'], text: 'add a hat' }] },
    },
    {
      name: 'assistants: name, description, instructions, function and built-in tools, metadata, schema',
      path: '/v1/assistants',
      body: {
        model: 'gpt-4o',
        name: 'Math Tutor',
        description: 'helps',
        instructions: 'You are a personal math tutor.',
        tools: [{ type: 'code_interpreter' }, { type: 'function', function: { name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string', description: 'The city' } } } } }],
        tool_resources: { code_interpreter: { file_ids: ['file-1'] } },
        metadata: { team: 'math' },
        response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object', description: 'the answer' } } },
      },
      want: {
        operation: 'assistants',
        toolsDefined: ['code_interpreter', 'get_weather'],
        toolCalls: [],
        texts: [
          { path: ['name'], text: 'Math Tutor' },
          { path: ['description'], text: 'helps' },
          { path: ['instructions'], text: 'You are a personal math tutor.' },
          { path: ['tools', 1, 'function', 'description'], text: 'Weather of a city' },
          { path: ['tools', 1, 'function', 'parameters', 'properties', 'city', 'description'], text: 'The city' },
          { path: ['response_format', 'json_schema', 'name'], text: 'answer' },
          { path: ['response_format', 'json_schema', 'schema', 'description'], text: 'the answer' },
          { path: ['metadata', 'team'], text: 'math' },
        ],
      },
    },
    {
      name: 'threads: messages with string and text-part content, image skipped, metadata',
      path: '/v1/threads',
      body: {
        messages: [
          { role: 'user', content: 'Hello, what is AI?', metadata: { k: 'v' } },
          { role: 'user', content: [{ type: 'text', text: 'And this?' }, { type: 'image_file', image_file: { file_id: 'file-1' } }], attachments: [{ file_id: 'file-2', tools: [{ type: 'file_search' }] }] },
        ],
        tool_resources: { file_search: { vector_store_ids: ['vs_1'] } },
      },
      want: {
        operation: 'threads',
        texts: [
          { path: ['messages', 0, 'content'], text: 'Hello, what is AI?' },
          { path: ['messages', 0, 'metadata', 'k'], text: 'v' },
          { path: ['messages', 1, 'content', 0, 'text'], text: 'And this?' },
        ],
      },
    },
    {
      name: 'threads.messages: content parts',
      path: '/v1/threads/thread_1/messages',
      body: { role: 'user', content: [{ type: 'text', text: 'I need to solve 3x + 11 = 14.' }] },
      want: { operation: 'threads.messages', texts: [{ path: ['content', 0, 'text'], text: 'I need to solve 3x + 11 = 14.' }] },
    },
    {
      name: 'threads.runs: instructions, additional messages, tools, forced choice, stream, max_completion_tokens',
      path: '/v1/threads/thread_1/runs?include[]=step_details.tool_calls[*].file_search.results[*].content',
      body: {
        assistant_id: 'asst_1',
        model: 'gpt-4o',
        instructions: 'Be brief.',
        additional_instructions: 'Address the user as Jane.',
        additional_messages: [{ role: 'user', content: 'please call tool get_weather' }],
        tools: [{ type: 'function', function: { name: 'get_weather' } }, { type: 'file_search' }],
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
        stream: true,
        max_completion_tokens: 300,
      },
      want: {
        operation: 'threads.runs',
        model: 'gpt-4o',
        stream: true,
        maxOutputTokens: 300,
        toolsDefined: ['get_weather', 'file_search'],
        toolCalls: [{ name: 'get_weather' }],
        texts: [
          { path: ['instructions'], text: 'Be brief.' },
          { path: ['additional_instructions'], text: 'Address the user as Jane.' },
          { path: ['additional_messages', 0, 'content'], text: 'please call tool get_weather' },
        ],
      },
    },
    {
      name: 'threads.runs create-and-run: the new thread\'s messages; a built-in forced choice',
      path: '/v1/threads/runs',
      body: { assistant_id: 'asst_1', thread: { messages: [{ role: 'user', content: 'Explain deep learning' }], metadata: { m: 'x' } }, tool_choice: { type: 'file_search' } },
      want: {
        operation: 'threads.runs',
        toolCalls: [{ name: 'file_search' }],
        texts: [
          { path: ['thread', 'messages', 0, 'content'], text: 'Explain deep learning' },
          { path: ['thread', 'metadata', 'm'], text: 'x' },
        ],
      },
    },
    {
      name: 'submit_tool_outputs: the outputs are text',
      path: '/v1/threads/thread_1/runs/run_1/submit_tool_outputs',
      body: { tool_outputs: [{ tool_call_id: 'call_1', output: '70 degrees and sunny.' }], stream: true },
      want: { operation: 'threads.runs.submit_tool_outputs', stream: true, texts: [{ path: ['tool_outputs', 0, 'output'], text: '70 degrees and sunny.' }] },
    },
    {
      name: 'batches: a file id, metadata only',
      path: '/v1/batches',
      body: { input_file_id: 'file-abc123', endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { description: 'nightly eval job' } },
      want: { operation: 'batches', texts: [{ path: ['metadata', 'description'], text: 'nightly eval job' }] },
    },
    {
      name: 'realtime.sessions: instructions, flat function tools, forced choice, transcription prompt',
      path: '/v1/realtime/sessions',
      body: {
        model: 'gpt-4o-realtime-preview',
        modalities: ['audio', 'text'],
        instructions: 'You are a friendly assistant.',
        tools: [{ type: 'function', name: 'lookup', description: 'Looks up', parameters: { type: 'object' } }],
        tool_choice: { type: 'function', name: 'lookup' },
        input_audio_transcription: { model: 'whisper-1', prompt: 'names: Zoë' },
        max_response_output_tokens: 500,
      },
      want: {
        operation: 'realtime.sessions',
        maxOutputTokens: 500,
        toolsDefined: ['lookup'],
        toolCalls: [{ name: 'lookup' }],
        texts: [
          { path: ['instructions'], text: 'You are a friendly assistant.' },
          { path: ['tools', 0, 'description'], text: 'Looks up' },
          { path: ['input_audio_transcription', 'model'], text: 'whisper-1' },
          { path: ['input_audio_transcription', 'prompt'], text: 'names: Zoë' },
        ],
      },
    },
    {
      name: 'realtime.client_secrets: the session inside',
      path: '/v1/realtime/client_secrets',
      body: { expires_after: { anchor: 'created_at', seconds: 600 }, session: { type: 'realtime', model: 'gpt-realtime', instructions: 'Speak clearly.', tools: [{ type: 'function', name: 'hang_up' }, { type: 'mcp', server_label: 'crm' }] } },
      want: {
        operation: 'realtime.client_secrets',
        model: 'gpt-realtime',
        toolsDefined: ['hang_up', 'mcp'],
        texts: [
          { path: ['session', 'instructions'], text: 'Speak clearly.' },
          // An MCP tool's settings are read as the Responses adapter reads them: the rest of the session whole.
        ],
      },
    },
  ];

  it.each(cases)('$name', ({ path, body, want }) => {
    const got = parse(path, body);
    expect(got).toMatchObject(want);
    if (want.texts) expect(got.texts).toEqual(want.texts);
    // Every text is where it says it is: redactions write it back there.
    for (const t of got.texts) expect(getAt(body, t.path)).toBe(t.text);
  });

  it('reads fields it does not know string by string, as the unknown adapter did', () => {
    const got = parse('/v1/embeddings', { model: 'm', input: 'x', new_field: { nested: ['secret text'] } });
    expect(got.texts).toEqual([{ path: ['input'], text: 'x' }, { path: ['new_field', 'nested', 0], text: 'secret text' }]);
  });

  it.each([
    ['/v1/completions', { prompt: { a: 1 } }, /prompt: must be an array/],
    ['/v1/completions', { prompt: [{ a: 1 }] }, /prompt\[0\]: must be a string, a token/],
    ['/v1/embeddings', { input: 3 }, /input: must be an array/],
    ['/v1/threads', { messages: {} }, /messages: must be an array/],
    ['/v1/threads/t/messages', { content: 5 }, /content: must be an array/],
    ['/v1/threads/t/messages', { content: ['x'] }, /content\[0\]: must be an object/],
    ['/v1/assistants', { tools: [1] }, /tools\[0\]: must be an object/],
    ['/v1/assistants', { instructions: 1 }, /instructions: must be a string/],
    ['/v1/threads/runs', { thread: [] }, /thread: must be an object/],
    ['/v1/threads/t/runs/r/submit_tool_outputs', { tool_outputs: [{ output: 1 }] }, /tool_outputs\[0\]\.output: must be a string/],
    ['/v1/audio/speech', { input: ['x'] }, /input: must be a string/],
    ['/v1/realtime/client_secrets', { session: 'x' }, /session: must be an object/],
    ['/v1/embeddings', [], /body: must be an object/],
  ])('%s %j is malformed', (path, body, message) => {
    expect(() => parse(path, body)).toThrow(MalformedRequest);
    expect(() => parse(path, body)).toThrow(message);
  });
});

describe('openai-endpoints removeTools', () => {
  it('removes from an assistant\'s tools by name or built-in type; a forced choice becomes auto', () => {
    const body = { tools: [{ type: 'function', function: { name: 'shell' } }, { type: 'code_interpreter' }, { type: 'function', function: { name: 'ok' } }], tool_choice: { type: 'function', function: { name: 'shell' } } };
    expect(adapter.removeTools(body, new Set(['shell', 'code_interpreter']))).toBe(2);
    expect(body).toEqual({ tools: [{ type: 'function', function: { name: 'ok' } }], tool_choice: 'auto' });
  });

  it("keeps a run's emptied list: without it the run would use the assistant's tools", () => {
    const body = { assistant_id: 'a', tools: [{ type: 'function', function: { name: 'shell' } }] };
    expect(adapter.removeTools(body, new Set(['shell']))).toBe(1);
    expect(body.tools).toEqual([]);
  });

  it("removes from a realtime client secret's session", () => {
    const body = { session: { tools: [{ type: 'function', name: 'hang_up' }], tool_choice: { type: 'function', name: 'hang_up' } } };
    expect(adapter.removeTools(body, new Set(['hang_up']))).toBe(1);
    expect(body.session).toEqual({ tools: [], tool_choice: 'auto' });
    expect(adapter.removeTools('nope', new Set(['x']))).toBe(0);
  });
});

describe('openai-endpoints parseResponse', () => {
  it('reads a legacy completion: text and usage', () => {
    expect(
      adapter.parseResponse({
        id: 'cmpl-1', object: 'text_completion', created: 1, model: 'gpt-3.5-turbo-instruct',
        choices: [{ text: '\n\nThis is a test', index: 0, logprobs: null, finish_reason: 'length' }],
        usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
      }),
    ).toEqual({ model: 'gpt-3.5-turbo-instruct', usage: { inputTokens: 5, outputTokens: 7 }, toolCalls: [], texts: [{ path: ['choices', 0, 'text'], text: '\n\nThis is a test' }] });
  });

  it('reads embeddings usage: input tokens, no output', () => {
    const facts = adapter.parseResponse({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: 'AACAPw==' }], model: 'text-embedding-3-small', usage: { prompt_tokens: 8, total_tokens: 8 } });
    expect(facts).toEqual({ model: 'text-embedding-3-small', usage: { inputTokens: 8, outputTokens: 0 }, toolCalls: [], texts: [] });
  });

  it('reads an image answer: revised prompts, input/output usage', () => {
    const facts = adapter.parseResponse({ created: 1, data: [{ b64_json: 'AAAA', revised_prompt: 'A sea otter, cute' }], usage: { input_tokens: 50, output_tokens: 4160, total_tokens: 4210 } });
    expect(facts).toEqual({ usage: { inputTokens: 50, outputTokens: 4160 }, toolCalls: [], texts: [{ path: ['data', 0, 'revised_prompt'], text: 'A sea otter, cute' }] });
  });

  it("reads a run's required_action as proposed calls, and its usage", () => {
    const run = {
      id: 'run_1', object: 'thread.run', status: 'requires_action', model: 'gpt-4o',
      required_action: { type: 'submit_tool_outputs', submit_tool_outputs: { tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] } },
      usage: { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 },
    };
    expect(adapter.parseResponse(run)).toEqual({ model: 'gpt-4o', usage: { inputTokens: 10, outputTokens: 3 }, toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' }, id: 'call_1' }], texts: [] });
    // A listed run proposes too (an agent may act on a list).
    expect(adapter.parseResponse({ object: 'list', data: [run] }).toolCalls).toEqual([{ name: 'get_weather', arguments: { city: 'Paris' }, id: 'call_1' }]);
    expect(adapter.parseResponse({ ...run, status: 'queued', required_action: null }).toolCalls).toEqual([]);
  });

  it("reads an assistant's messages as model text, not the user's", () => {
    const msg = (role: string, value: string) => ({ id: 'm', object: 'thread.message', role, content: [{ type: 'text', text: { value, annotations: [] } }, { type: 'image_file', image_file: { file_id: 'f' } }] });
    expect(adapter.parseResponse(msg('assistant', 'x = 1')).texts).toEqual([{ path: ['content', 0, 'text', 'value'], text: 'x = 1' }]);
    expect(adapter.parseResponse(msg('user', 'mine')).texts).toEqual([]);
    expect(adapter.parseResponse({ object: 'list', data: [msg('user', 'q'), msg('assistant', 'a')] }).texts).toEqual([{ path: ['data', 1, 'content', 0, 'text', 'value'], text: 'a' }]);
  });

  it("names a realtime client secret's model, never reads its secret", () => {
    expect(adapter.parseResponse({ value: 'ek_123', expires_at: 1, session: { type: 'realtime', model: 'gpt-realtime', instructions: 'x' } })).toEqual({ model: 'gpt-realtime', toolCalls: [], texts: [] });
    expect(adapter.parseResponse('garbage')).toEqual({ toolCalls: [], texts: [] });
  });
});

describe('openai-endpoints streams', () => {
  it('reads legacy completion chunks: text deltas, the usage chunk, [DONE]', () => {
    const chunk = (text: string) => ({ id: 'cmpl-1', object: 'text_completion', created: 1, model: 'gpt-3.5-turbo-instruct', choices: [{ text, index: 0, logprobs: null, finish_reason: null }], usage: null });
    const bytes = sse([
      [undefined, chunk('Hel')],
      [undefined, chunk('lo')],
      [undefined, { id: 'cmpl-1', object: 'text_completion', created: 1, model: 'gpt-3.5-turbo-instruct', choices: [], usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 } }],
      [undefined, '[DONE]'],
    ]);
    for (const { name, fed } of feedAll(() => adapter.streamParser(), bytes)) {
      expect(fed.events, name).toEqual([{ type: 'text', text: 'Hel' }, { type: 'text', text: 'lo' }, { type: 'usage', usage: { inputTokens: 4, outputTokens: 2 } }]);
      expect(fed.facts, name).toEqual({ model: 'gpt-3.5-turbo-instruct', usage: { inputTokens: 4, outputTokens: 2 }, toolCalls: [], texts: [] });
    }
  });

  const run = (status: string, extra: object = {}) => ({ id: 'run_1', object: 'thread.run', thread_id: 'thread_1', assistant_id: 'asst_1', status, model: 'gpt-4o', required_action: null, usage: null, ...extra });
  const required = { type: 'submit_tool_outputs', submit_tool_outputs: { tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] } };
  const stepDelta = (tc: object) => ({ id: 'step_1', object: 'thread.run.step.delta', delta: { step_details: { type: 'tool_calls', tool_calls: [tc] } } });

  it('reads an Assistants run stream proposing a call: the name from the first step delta, the arguments whole at requires_action', () => {
    const bytes = sse([
      ['thread.run.created', run('queued')],
      ['thread.run.in_progress', run('in_progress')],
      ['thread.run.step.created', { id: 'step_1', object: 'thread.run.step', type: 'tool_calls', step_details: { type: 'tool_calls', tool_calls: [] } }],
      ['thread.run.step.delta', stepDelta({ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '', output: null } })],
      ['thread.run.step.delta', stepDelta({ index: 0, type: 'function', function: { arguments: '{"city":' } })],
      ['thread.run.step.delta', stepDelta({ index: 0, type: 'function', function: { arguments: '"Par' } })],
      ['thread.run.requires_action', run('requires_action', { required_action: required })],
      ['done', '[DONE]'],
    ]);
    for (const { name, fed } of feedAll(() => adapter.streamParser(), bytes)) {
      expect(fed.frames.map((f) => f.events), name).toEqual([[], [], [], [{ type: 'tool_call', name: 'get_weather', id: 'call_1' }], [], [], [], []]);
      expect(fed.facts, name).toEqual({ model: 'gpt-4o', toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' }, id: 'call_1' }], texts: [] });
    }
  });

  it('judges a call first seen at requires_action there', () => {
    const fed = feedAll(() => adapter.streamParser(), sse([['thread.run.requires_action', run('requires_action', { required_action: required })]]))[0]!.fed;
    expect(fed.events).toEqual([{ type: 'tool_call', name: 'get_weather', id: 'call_1' }]);
  });

  it('does not judge again a call the agent already ran (a completed step with its output)', () => {
    const step = { id: 'step_1', object: 'thread.run.step', type: 'tool_calls', status: 'completed', step_details: { type: 'tool_calls', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{}', output: 'sunny' } }] } };
    expect(feedAll(() => adapter.streamParser(), sse([['thread.run.step.completed', step]]))[0]!.fed.events).toEqual([]);
  });

  it('reads message deltas as text, the completed message only when it differs, and the run usage once', () => {
    const delta = (value: string) => ({ id: 'msg_1', object: 'thread.message.delta', delta: { content: [{ index: 0, type: 'text', text: { value, annotations: [] } }] } });
    const message = (value: string) => ({ id: 'msg_1', object: 'thread.message', role: 'assistant', status: 'completed', content: [{ type: 'text', text: { value, annotations: [] } }] });
    const usage = { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25 };
    const bytes = sse([
      ['thread.message.created', { ...message(''), content: [] }],
      ['thread.message.delta', delta('Hello')],
      ['thread.message.delta', delta(' there')],
      ['thread.message.completed', message('Hello there')],
      ['thread.run.step.completed', { id: 'step_1', object: 'thread.run.step', type: 'message_creation', step_details: { type: 'message_creation' }, usage }],
      ['thread.run.completed', run('completed', { usage })],
      ['done', '[DONE]'],
    ]);
    for (const { name, fed } of feedAll(() => adapter.streamParser(), bytes)) {
      expect(fed.events, name).toEqual([{ type: 'text', text: 'Hello' }, { type: 'text', text: ' there' }, { type: 'usage', usage: { inputTokens: 20, outputTokens: 5 } }]);
      expect(fed.facts.usage, name).toEqual({ inputTokens: 20, outputTokens: 5 });
    }
    // A final message holding text the deltas never carried is judged.
    const sneaky = feedAll(() => adapter.streamParser(), sse([['thread.message.delta', delta('Hi')], ['thread.message.completed', message('Hi, the secret is X')]]))[0]!.fed;
    expect(sneaky.events).toEqual([{ type: 'text', text: 'Hi' }, { type: 'text', text: 'Hi, the secret is X' }]);
  });

  it('reads a failed run and an error event as errors', () => {
    const fed = feedAll(() => adapter.streamParser(), sse([
      ['thread.run.failed', run('failed', { last_error: { code: 'server_error', message: 'boom' } })],
      ['error', { error: { message: 'bad', type: 'server_error' } }],
      ['error', { code: 'server_error', message: 'worse' }],
    ]))[0]!.fed;
    expect(fed.events).toEqual([{ type: 'error', message: 'boom' }, { type: 'error', message: 'bad' }, { type: 'error', message: 'worse' }]);
  });

  it('reads usage off speech and image-generation events', () => {
    const speech = feedAll(() => adapter.streamParser(), sse([[undefined, { type: 'speech.audio.delta', audio: 'AAAA' }], [undefined, { type: 'speech.audio.done', usage: { input_tokens: 14, output_tokens: 101, total_tokens: 115 } }]]))[0]!.fed;
    expect(speech.facts.usage).toEqual({ inputTokens: 14, outputTokens: 101 });
    const image = feedAll(() => adapter.streamParser(), sse([['image_generation.partial_image', { type: 'image_generation.partial_image', b64_json: 'AA' }], ['image_generation.completed', { type: 'image_generation.completed', b64_json: 'AA', usage: { input_tokens: 5, output_tokens: 6, total_tokens: 11 } }]]))[0]!.fed;
    expect(image.facts.usage).toEqual({ inputTokens: 5, outputTokens: 6 });
  });

  it('marks a frame whose data is not JSON unreadable', () => {
    const [frame] = adapter.streamParser().push(Buffer.from('event: thread.run.created\ndata: {nope\n\n'));
    expect(frame!.unreadable).toMatch(/not JSON/);
  });
});

describe('openai-endpoints errors', () => {
  it('answers in OpenAI\'s shape, and ends a stream with an error event the SDKs raise', () => {
    expect(JSON.parse(adapter.errorAnswer('forbidden', 'no').body)).toEqual({ error: { message: 'no', type: 'invalid_request_error', param: null, code: 'policy_violation' } });
    expect(adapter.streamError('forbidden', 'no').toString()).toBe('event: error\ndata: {"error":{"message":"no","type":"invalid_request_error","param":null,"code":"policy_violation"}}\n\n');
    // The parser reads its own stop as an error too.
    expect(feedAll(() => adapter.streamParser(), adapter.streamError('internal', 'x'))[0]!.fed.events).toEqual([{ type: 'error', message: 'x' }]);
  });
});
