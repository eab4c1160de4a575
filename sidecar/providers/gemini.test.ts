import { describe, expect, it } from 'vitest';
import type { RequestFacts } from '../call.js';
import { getAt, MalformedRequest, type RequestHead } from './adapter.js';
import { geminiAdapter as adapter } from './gemini.js';
import { feedAll, sse } from './testing.js';

const GENERATE = '/v1beta/models/gemini-2.5-flash:generateContent';
const VERTEX = '/v1/projects/my-project/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent';
const head = (path = GENERATE, host = 'generativelanguage.googleapis.com'): RequestHead => ({ host, method: 'POST', path, contentType: 'application/json' });
const user = (text: string) => ({ role: 'user', parts: [{ text }] });

describe('gemini matches', () => {
  it.each([
    [GENERATE, true],
    ['/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse', true],
    ['/v1beta/models/gemini-2.5-flash:streamGenerateContent', true],
    ['/v1/models/gemini-2.0-flash:countTokens', true],
    ['/v1beta/models/gemini-embedding-001:embedContent', true],
    ['/v1beta/models/gemini-embedding-001:batchEmbedContents', true],
    ['/v1beta/tunedModels/my-tuned-model:generateContent', true],
    [VERTEX, true],
    ['/v1beta1/projects/p/locations/global/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse', true],
    ['/v1/publishers/google/models/gemini-2.5-flash:generateContent', true], // Vertex AI express mode
    ['/v1/projects/p/locations/l/endpoints/1234567890:generateContent', true],
    ['/v1beta/models/gemini-2.5-flash%3AgenerateContent', true], // an escaped colon is still the method
    ['/v1beta/openai/chat/completions', false], // Gemini's OpenAI-compatible endpoint is OpenAI's
    ['/v1beta/models/gemini-2.5-flash', false],
    ['/v1beta/models', false],
    ['/v1beta/models/imagen-4:predict', false], // left to the fallback, which scans every string
    ['/v1beta/models/gemini-2.5-flash:generateContent/extra', false],
    ['/v1/projects/p/locations/l/publishers/anthropic/models/claude:rawPredict', false],
  ])('%s → %s', (path, want) => {
    expect(adapter.matches(head(path), {})).toBe(want);
  });

  it('leaves a JSON-RPC body to MCP', () => {
    expect(adapter.matches(head(), { jsonrpc: '2.0', id: 1, method: 'tools/list' })).toBe(false);
  });
});

describe('gemini parseRequest', () => {
  const cases: Array<{ name: string; path?: string; body: unknown; want: Partial<RequestFacts> }> = [
    {
      name: 'a plain prompt with system text and an output cap',
      body: {
        systemInstruction: { parts: [{ text: 'You are a cat.' }] },
        contents: [user('Hello there')],
        generationConfig: { maxOutputTokens: 256, temperature: 0.2 },
      },
      want: {
        operation: 'generateContent',
        model: 'gemini-2.5-flash',
        stream: false,
        toolsDefined: [],
        toolCalls: [],
        maxOutputTokens: 256,
        texts: [
          { path: ['systemInstruction', 'parts', 0, 'text'], text: 'You are a cat.' },
          { path: ['contents', 0, 'parts', 0, 'text'], text: 'Hello there' },
        ],
      },
    },
    {
      name: 'streamed; inline images are not text',
      path: '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
      body: { contents: [{ role: 'user', parts: [{ text: 'What is this?' }, { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } }, { fileData: { mimeType: 'application/pdf', fileUri: 'gs://b/f.pdf' } }] }] },
      want: { operation: 'streamGenerateContent', stream: true, texts: [{ path: ['contents', 0, 'parts', 0, 'text'], text: 'What is this?' }] },
    },
    {
      name: 'tools offered (descriptions and schemas are text), built-in tools by name, a forced call',
      body: {
        contents: [user('weather in Paris?')],
        tools: [
          {
            functionDeclarations: [
              { name: 'get_weather', description: 'Gets the weather', parameters: { type: 'OBJECT', properties: { city: { type: 'STRING', description: 'the city' } }, required: ['city'] } },
              { name: 'web_search', parametersJsonSchema: { type: 'object', properties: { q: { type: 'string', description: 'the query' } } } },
            ],
          },
          { googleSearch: {} },
          { codeExecution: {} },
        ],
        toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] } },
      },
      want: {
        toolsDefined: ['get_weather', 'web_search', 'googleSearch', 'codeExecution'],
        toolCalls: [{ name: 'get_weather' }],
        texts: [
          { path: ['contents', 0, 'parts', 0, 'text'], text: 'weather in Paris?' },
          { path: ['tools', 0, 'functionDeclarations', 0, 'description'], text: 'Gets the weather' },
          { path: ['tools', 0, 'functionDeclarations', 0, 'parameters', 'properties', 'city', 'description'], text: 'the city' },
          { path: ['tools', 0, 'functionDeclarations', 1, 'parametersJsonSchema', 'properties', 'q', 'description'], text: 'the query' },
        ],
      },
    },
    {
      name: 'mode ANY with several allowed names, or AUTO, forces no call',
      body: {
        contents: [user('x')],
        tools: [{ functionDeclarations: [{ name: 'a' }, { name: 'b' }] }],
        toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['a', 'b'] } },
      },
      want: { toolsDefined: ['a', 'b'], toolCalls: [] },
    },
    {
      name: 'tool results turn: the calls of the last model turn; arguments and responses of every turn are text',
      body: {
        contents: [
          user('old question'),
          { role: 'model', parts: [{ functionCall: { name: 'old_tool', args: { q: 'old' } } }] },
          { role: 'user', parts: [{ functionResponse: { name: 'old_tool', response: { result: 'old result' } } }] },
          user('Weather in Paris and Rome?'),
          {
            role: 'model',
            parts: [
              { text: 'Let me check.', thought: true },
              { functionCall: { id: 'fc-1', name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: 'c2ln' },
              { functionCall: { name: 'get_weather', args: { city: 'Rome', units: ['C'] } } },
            ],
          },
          {
            role: 'user',
            parts: [
              { functionResponse: { id: 'fc-1', name: 'get_weather', response: { output: '18C sunny' } } },
              { functionResponse: { name: 'get_weather', response: { output: { temp: '22C', sky: 'cloudy' } } } },
            ],
          },
        ],
      },
      want: {
        toolCalls: [
          { name: 'get_weather', arguments: { city: 'Paris' }, id: 'fc-1' },
          { name: 'get_weather', arguments: { city: 'Rome', units: ['C'] } },
        ],
        texts: [
          { path: ['contents', 0, 'parts', 0, 'text'], text: 'old question' },
          { path: ['contents', 1, 'parts', 0, 'functionCall', 'args', 'q'], text: 'old' },
          { path: ['contents', 2, 'parts', 0, 'functionResponse', 'response', 'result'], text: 'old result' },
          { path: ['contents', 3, 'parts', 0, 'text'], text: 'Weather in Paris and Rome?' },
          { path: ['contents', 4, 'parts', 0, 'text'], text: 'Let me check.' },
          { path: ['contents', 4, 'parts', 1, 'functionCall', 'args', 'city'], text: 'Paris' },
          { path: ['contents', 4, 'parts', 2, 'functionCall', 'args', 'city'], text: 'Rome' },
          { path: ['contents', 4, 'parts', 2, 'functionCall', 'args', 'units', 0], text: 'C' },
          { path: ['contents', 5, 'parts', 0, 'functionResponse', 'response', 'output'], text: '18C sunny' },
          { path: ['contents', 5, 'parts', 1, 'functionResponse', 'response', 'output', 'temp'], text: '22C' },
          { path: ['contents', 5, 'parts', 1, 'functionResponse', 'response', 'output', 'sky'], text: 'cloudy' },
        ],
      },
    },
    {
      name: "Google's snake_case field names read the same (paths keep the spelling sent)",
      body: {
        system_instruction: { parts: [{ text: 'sys' }] },
        contents: [user('hi'), { role: 'model', parts: [{ function_call: { name: 'shell', args: { cmd: 'ls' } } }] }],
        tools: [{ function_declarations: [{ name: 'shell', description: 'runs' }] }, { google_search: {} }],
        tool_config: { function_calling_config: { mode: 'ANY', allowed_function_names: ['shell'] } },
        generation_config: { max_output_tokens: 64 },
      },
      want: {
        toolsDefined: ['shell', 'googleSearch'],
        toolCalls: [{ name: 'shell' }, { name: 'shell', arguments: { cmd: 'ls' } }],
        maxOutputTokens: 64,
        texts: [
          { path: ['system_instruction', 'parts', 0, 'text'], text: 'sys' },
          { path: ['contents', 0, 'parts', 0, 'text'], text: 'hi' },
          { path: ['contents', 1, 'parts', 0, 'function_call', 'args', 'cmd'], text: 'ls' },
          { path: ['tools', 0, 'function_declarations', 0, 'description'], text: 'runs' },
        ],
      },
    },
    {
      name: 'a proto enum number: mode 2 is ANY',
      body: { contents: [user('x')], tools: [{ functionDeclarations: [{ name: 'a' }] }], toolConfig: { functionCallingConfig: { mode: 2, allowedFunctionNames: ['a'] } } },
      want: { toolCalls: [{ name: 'a' }] },
    },
    {
      name: 'code the model ran and its output are text; Vertex labels too',
      path: VERTEX,
      body: {
        contents: [user('compute'), { role: 'model', parts: [{ executableCode: { language: 'PYTHON', code: 'print(1)' } }, { codeExecutionResult: { outcome: 'OUTCOME_OK', output: '1' } }] }],
        labels: { team: 'research' },
      },
      want: {
        model: 'gemini-2.5-pro',
        texts: [
          { path: ['contents', 0, 'parts', 0, 'text'], text: 'compute' },
          { path: ['contents', 1, 'parts', 0, 'executableCode', 'code'], text: 'print(1)' },
          { path: ['contents', 1, 'parts', 1, 'codeExecutionResult', 'output'], text: '1' },
          { path: ['labels', 'team'], text: 'research' },
        ],
      },
    },
    {
      name: 'countTokens: contents alone',
      path: '/v1beta/models/gemini-2.5-flash:countTokens',
      body: { contents: [user('count me')] },
      want: { operation: 'countTokens', texts: [{ path: ['contents', 0, 'parts', 0, 'text'], text: 'count me' }] },
    },
    {
      name: 'countTokens: a whole request to count',
      path: '/v1beta/models/gemini-2.5-flash:countTokens',
      body: { generateContentRequest: { model: 'models/gemini-2.5-flash', contents: [user('count me too')], tools: [{ functionDeclarations: [{ name: 't' }] }] } },
      want: { toolsDefined: ['t'], texts: [{ path: ['generateContentRequest', 'contents', 0, 'parts', 0, 'text'], text: 'count me too' }] },
    },
    {
      name: 'embedContent: content and title',
      path: '/v1beta/models/gemini-embedding-001:embedContent',
      body: { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'embed me' }] }, title: 'a title', taskType: 'RETRIEVAL_DOCUMENT' },
      want: {
        operation: 'embedContent',
        model: 'gemini-embedding-001',
        texts: [
          { path: ['content', 'parts', 0, 'text'], text: 'embed me' },
          { path: ['title'], text: 'a title' },
        ],
      },
    },
    {
      name: 'batchEmbedContents: every request',
      path: '/v1beta/models/gemini-embedding-001:batchEmbedContents',
      body: { requests: [{ model: 'models/gemini-embedding-001', content: { parts: [{ text: 'one' }] } }, { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'two' }] } }] },
      want: {
        operation: 'batchEmbedContents',
        texts: [
          { path: ['requests', 0, 'content', 'parts', 0, 'text'], text: 'one' },
          { path: ['requests', 1, 'content', 'parts', 0, 'text'], text: 'two' },
        ],
      },
    },
    {
      name: 'a model name escaped in the path',
      path: '/v1beta/models/my%20model:generateContent',
      body: { contents: [] },
      want: { model: 'my model' },
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
    [{}, 'contents: must be an array'],
    [{ contents: {} }, 'contents: must be an array'],
    [{ contents: ['hi'] }, 'contents[0]: must be an object'],
    [{ contents: [{ role: 'user', parts: {} }] }, 'contents[0].parts: must be an array'],
    [{ contents: [{ role: 'user', parts: ['hi'] }] }, 'contents[0].parts[0]: must be an object'],
    [{ contents: [{ role: 'user', parts: [{ text: 5 }] }] }, 'contents[0].parts[0].text: must be a string'],
    [{ contents: [{ role: 'model', parts: [{ functionCall: 'x' }] }] }, 'contents[0].parts[0].functionCall: must be an object'],
    [{ contents: [{ role: 'model', parts: [{ functionCall: { args: {} } }] }] }, 'contents[0].parts[0].functionCall.name: must be a string'],
    [{ contents: [{ role: 'user', parts: [{ functionResponse: [] }] }] }, 'contents[0].parts[0].functionResponse: must be an object'],
    [{ contents: [], systemInstruction: 'be nice' }, 'systemInstruction: must be an object'],
    [{ contents: [], tools: {} }, 'tools: must be an array'],
    [{ contents: [], tools: ['x'] }, 'tools[0]: must be an object'],
    [{ contents: [], tools: [{ functionDeclarations: {} }] }, 'tools[0].functionDeclarations: must be an array'],
    [{ contents: [], tools: [{ functionDeclarations: [{ description: 'no name' }] }] }, 'tools[0].functionDeclarations[0].name: must be a string'],
    [{ contents: [], toolConfig: [] }, 'toolConfig: must be an object'],
    [{ contents: [], toolConfig: { functionCallingConfig: 'ANY' } }, 'toolConfig.functionCallingConfig: must be an object'],
    [{ contents: [], toolConfig: { functionCallingConfig: { mode: {} } } }, 'toolConfig.functionCallingConfig.mode: must be a string'],
    [{ contents: [], toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: 'a' } } }, 'toolConfig.functionCallingConfig.allowedFunctionNames: must be an array'],
    [{ contents: [], toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [1] } } }, 'toolConfig.functionCallingConfig.allowedFunctionNames[0]: must be a string'],
    [{ contents: [], generationConfig: 5 }, 'generationConfig: must be an object'],
    // One field spelt both ways: which one Google would read is not ours to guess.
    [{ contents: [], toolConfig: {}, tool_config: {} }, 'toolConfig: given twice, as toolConfig and as tool_config'],
    [{ contents: [{ parts: [{ functionCall: { name: 'a' }, function_call: { name: 'b' } }] }] }, 'contents[0].parts[0].functionCall: given twice'],
    [{ contents: [], tools: [{ functionDeclarations: [], function_declarations: [{ name: 'x' }] }] }, 'tools[0].functionDeclarations: given twice'],
  ])('rejects %j with %s', (body, message) => {
    expect(() => adapter.parseRequest(head(), body)).toThrow(MalformedRequest);
    expect(() => adapter.parseRequest(head(), body)).toThrow(message);
  });

  it('rejects malformed embedding requests', () => {
    expect(() => adapter.parseRequest(head('/v1beta/models/e:embedContent'), { title: 't' })).toThrow('content: must be an object');
    expect(() => adapter.parseRequest(head('/v1beta/models/e:batchEmbedContents'), { requests: {} })).toThrow('requests: must be an array');
    expect(() => adapter.parseRequest(head('/v1beta/models/e:countTokens'), { generateContentRequest: {} })).toThrow('generateContentRequest.contents: must be an array');
  });
});

describe('gemini removeTools', () => {
  const fn = (name: string) => ({ name, parameters: { type: 'OBJECT' } });
  const cases: Array<{ name: string; body: Record<string, unknown>; remove: string[]; removed: number; want: Record<string, unknown> }> = [
    {
      name: 'removes named declarations and built-in tools, keeps the rest',
      body: { contents: [], tools: [{ functionDeclarations: [fn('a'), fn('shell')] }, { googleSearch: {} }, { codeExecution: {} }], toolConfig: { functionCallingConfig: { mode: 'AUTO' } } },
      remove: ['shell', 'codeExecution'],
      removed: 2,
      want: { contents: [], tools: [{ functionDeclarations: [fn('a')] }, { googleSearch: {} }], toolConfig: { functionCallingConfig: { mode: 'AUTO' } } },
    },
    {
      name: 'removed names leave allowedFunctionNames',
      body: { contents: [], tools: [{ functionDeclarations: [fn('a'), fn('b'), fn('shell')] }], toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['a', 'shell'] } } },
      remove: ['shell'],
      removed: 1,
      want: { contents: [], tools: [{ functionDeclarations: [fn('a'), fn('b')] }], toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['a'] } } },
    },
    {
      name: 'a call forced to a removed function becomes AUTO (an empty list under ANY would allow all)',
      body: { contents: [], tools: [{ functionDeclarations: [fn('a'), fn('shell')] }], toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['shell'] } } },
      remove: ['shell'],
      removed: 1,
      want: { contents: [], tools: [{ functionDeclarations: [fn('a')] }], toolConfig: { functionCallingConfig: { mode: 'AUTO' } } },
    },
    {
      name: 'the last function: its tool entry, the tools list and the function-calling config go',
      body: { contents: [], tools: [{ functionDeclarations: [fn('shell')] }], toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['shell'] } } },
      remove: ['shell'],
      removed: 1,
      want: { contents: [] },
    },
    {
      name: 'snake_case spellings, and the request countTokens carries',
      body: { generate_content_request: { contents: [], tools: [{ function_declarations: [fn('a'), fn('shell')] }, { code_execution: {} }], tool_config: { function_calling_config: { mode: 'ANY', allowed_function_names: ['shell'] } } } },
      remove: ['shell', 'codeExecution'],
      removed: 2,
      want: { generate_content_request: { contents: [], tools: [{ function_declarations: [fn('a')] }], tool_config: { function_calling_config: { mode: 'AUTO' } } } },
    },
    {
      name: 'nothing to remove',
      body: { contents: [], tools: [{ functionDeclarations: [fn('a')] }], toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['a'] } } },
      remove: ['shell'],
      removed: 0,
      want: { contents: [], tools: [{ functionDeclarations: [fn('a')] }], toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['a'] } } },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(adapter.removeTools(c.body, new Set(c.remove))).toBe(c.removed);
      expect(c.body).toEqual(c.want);
      const path = 'contents' in c.body ? GENERATE : '/v1beta/models/m:countTokens';
      const facts = adapter.parseRequest(head(path), c.body);
      expect([...facts.toolsDefined, ...facts.toolCalls.map((t) => t.name)].filter((t) => c.remove.includes(t))).toEqual([]);
    });
  }

  it('ignores what is not a request', () => {
    expect(adapter.removeTools('x', new Set(['a']))).toBe(0);
    expect(adapter.removeTools([{ candidates: [] }], new Set(['a']))).toBe(0);
  });
});

const answer = {
  candidates: [
    {
      content: {
        parts: [
          { text: 'Thinking about it', thought: true },
          { text: 'The weather in Paris is' },
          { functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: 'c2ln' },
        ],
        role: 'model',
      },
      finishReason: 'STOP',
      index: 0,
    },
  ],
  usageMetadata: { promptTokenCount: 12, candidatesTokenCount: 20, thoughtsTokenCount: 30, totalTokenCount: 62, promptTokensDetails: [{ modality: 'TEXT', tokenCount: 12 }] },
  modelVersion: 'gemini-2.5-flash',
  responseId: 'resp-1',
};

describe('gemini parseResponse', () => {
  it('reads texts, proposed calls, usage (thinking counts as output) and the model version', () => {
    expect(adapter.parseResponse(answer)).toEqual({
      model: 'gemini-2.5-flash',
      usage: { inputTokens: 12, outputTokens: 50 },
      toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' } }],
      texts: [
        { path: ['candidates', 0, 'content', 'parts', 0, 'text'], text: 'Thinking about it' },
        { path: ['candidates', 0, 'content', 'parts', 1, 'text'], text: 'The weather in Paris is' },
      ],
    });
  });

  it('counts tool-use prompt tokens as input; reads code the model ran', () => {
    const body = {
      candidates: [{ content: { role: 'model', parts: [{ executableCode: { language: 'PYTHON', code: 'print(2)' } }, { codeExecutionResult: { outcome: 'OUTCOME_OK', output: '2' } }] } }],
      usageMetadata: { promptTokenCount: 5, toolUsePromptTokenCount: 7, candidatesTokenCount: 3, totalTokenCount: 15 },
    };
    const facts = adapter.parseResponse(body);
    expect(facts.usage).toEqual({ inputTokens: 12, outputTokens: 3 });
    expect(facts.texts).toEqual([
      { path: ['candidates', 0, 'content', 'parts', 0, 'executableCode', 'code'], text: 'print(2)' },
      { path: ['candidates', 0, 'content', 'parts', 1, 'codeExecutionResult', 'output'], text: '2' },
    ]);
    for (const t of facts.texts) expect(getAt(body, t.path)).toBe(t.text);
  });

  it('reads the JSON array of a streamGenerateContent without alt=sse: texts by element, the last usage', () => {
    const body = [
      { candidates: [{ content: { role: 'model', parts: [{ text: 'Hel' }] } }], usageMetadata: { promptTokenCount: 4, totalTokenCount: 4 }, modelVersion: 'gemini-2.5-flash' },
      { candidates: [{ content: { role: 'model', parts: [{ text: 'lo' }, { functionCall: { name: 'shell', args: {} } }] } }], usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 2, totalTokenCount: 6 }, modelVersion: 'gemini-2.5-flash' },
    ];
    const facts = adapter.parseResponse(body);
    expect(facts).toEqual({
      model: 'gemini-2.5-flash',
      usage: { inputTokens: 4, outputTokens: 2 },
      toolCalls: [{ name: 'shell', arguments: {} }],
      texts: [
        { path: [0, 'candidates', 0, 'content', 'parts', 0, 'text'], text: 'Hel' },
        { path: [1, 'candidates', 0, 'content', 'parts', 0, 'text'], text: 'lo' },
      ],
    });
    for (const t of facts.texts) expect(getAt(body, t.path)).toBe(t.text);
  });

  it('never throws on garbage; an error answer says nothing', () => {
    for (const body of [null, 'x', 42, [1, 'a'], { candidates: 'x' }, { candidates: [{ content: { parts: [null, 'x'] } }] }, { error: { code: 400, message: 'bad' } }]) {
      expect(adapter.parseResponse(body)).toEqual({ toolCalls: [], texts: [] });
    }
  });
});

describe('gemini streams', () => {
  const chunk = (parts: unknown[], usage: Record<string, number>, extra: Record<string, unknown> = {}) => ({
    candidates: [{ content: { parts, role: 'model' }, index: 0, ...extra }],
    usageMetadata: usage,
    modelVersion: 'gemini-2.5-flash',
    responseId: 'r1',
  });
  // Google ends its SSE events with CRLF CRLF.
  const body = sse(
    [
      [undefined, chunk([{ text: 'Let me ' }], { promptTokenCount: 10, totalTokenCount: 10 })],
      [undefined, chunk([{ text: 'check.' }], { promptTokenCount: 10, candidatesTokenCount: 3, totalTokenCount: 13 })],
      [undefined, chunk([{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }, { functionCall: { id: 'c2', name: 'shell', args: { cmd: 'ls' } } }], { promptTokenCount: 10, candidatesTokenCount: 9, thoughtsTokenCount: 4, totalTokenCount: 23 }, { finishReason: 'STOP' })],
      [undefined, chunk([], { promptTokenCount: 10, totalTokenCount: 23 })], // a late chunk restating part of it
    ],
    '\r\n',
  );

  it('frames every event; tool_call events as soon as a call appears; the final usage is the last counts', () => {
    for (const { name, fed } of feedAll(() => adapter.streamParser(), body)) {
      expect(fed.frames, name).toHaveLength(4);
      expect(fed.events, name).toEqual([
        { type: 'text', text: 'Let me ' },
        { type: 'usage', usage: { inputTokens: 10, outputTokens: 0 } },
        { type: 'text', text: 'check.' },
        { type: 'usage', usage: { inputTokens: 10, outputTokens: 3 } },
        { type: 'tool_call', name: 'get_weather' },
        { type: 'tool_call', name: 'shell', id: 'c2' },
        { type: 'usage', usage: { inputTokens: 10, outputTokens: 13 } },
        { type: 'usage', usage: { inputTokens: 10, outputTokens: 13 } },
      ]);
      expect(fed.facts, name).toEqual({
        model: 'gemini-2.5-flash',
        usage: { inputTokens: 10, outputTokens: 13 },
        toolCalls: [
          { name: 'get_weather', arguments: { city: 'Paris' } },
          { name: 'shell', arguments: { cmd: 'ls' }, id: 'c2' },
        ],
        texts: [],
      });
    }
  });

  it('marks data that is not JSON unreadable', () => {
    const [frame] = adapter.streamParser().push(Buffer.from('data: {"candidates": [\r\n\r\n'));
    expect(frame!.unreadable).toBe('its data is not JSON');
  });

  it('reports an error event; streamError is one, in the shape @google/genai raises', () => {
    const frame = adapter.streamError('forbidden', 'chaperone: no');
    expect(frame.toString()).toBe('data: {"error":{"code":403,"message":"chaperone: no","status":"PERMISSION_DENIED"}}\n\n');
    expect(adapter.streamParser().push(frame)[0]!.events).toEqual([{ type: 'error', message: 'chaperone: no' }]);
  });

  it('is SSE by content type only', () => {
    expect(adapter.isStream('text/event-stream')).toBe(true);
    expect(adapter.isStream('application/json; charset=UTF-8')).toBe(false);
    expect(adapter.isStream(undefined)).toBe(false);
  });
});

describe('gemini errors', () => {
  it.each([
    ['invalid_request', 400, 'INVALID_ARGUMENT'],
    ['too_large', 413, 'INVALID_ARGUMENT'],
    ['forbidden', 403, 'PERMISSION_DENIED'],
    ['approval_required', 428, 'FAILED_PRECONDITION'],
    ['rate_limited', 429, 'RESOURCE_EXHAUSTED'],
    ['upstream_unavailable', 503, 'UNAVAILABLE'],
    ['upstream_timeout', 504, 'DEADLINE_EXCEEDED'],
    ['internal', 500, 'INTERNAL'],
  ] as const)('%s → %s %s', (kind, code, status) => {
    const answer = adapter.errorAnswer(kind, 'm');
    expect(answer.contentType).toBe('application/json');
    expect(answer.status).toBeUndefined(); // the data path's status
    expect(JSON.parse(answer.body)).toEqual({ error: { code, message: 'm', status } });
  });
});
