import { describe, expect, it } from 'vitest';
import type { RequestHead } from './adapter.js';
import { ADAPTERS, adapterFor, geminiAdapter, likelyAdapterForHost, unknownAdapter } from './index.js';
import { sse } from './testing.js';

const head = (host: string, path: string, method = 'POST'): RequestHead => ({ host, method, path, contentType: 'application/json' });

describe('adapterFor', () => {
  const chat = { model: 'm', messages: [] };
  it.each([
    ['api.openai.com', '/v1/chat/completions', chat, 'chat.completions'],
    ['api.openai.com', '/v1/responses', { model: 'm', input: 'x' }, 'responses'],
    ['myres.openai.azure.com', '/openai/deployments/d/chat/completions?api-version=2024-10-21', chat, 'chat.completions'],
    ['api.anthropic.com', '/v1/messages', { model: 'c', messages: [] }, 'messages'],
    ['api.anthropic.com', '/v1/chat/completions', chat, 'chat.completions'], // Anthropic's OpenAI-compatible endpoint
    ['bedrock-runtime.us-east-1.amazonaws.com', '/model/m/converse', { messages: [] }, 'converse'],
    ['api.groq.com', '/openai/v1/chat/completions', chat, 'chat.completions'],
    ['generativelanguage.googleapis.com', '/v1beta/openai/chat/completions', chat, 'chat.completions'],
    ['generativelanguage.googleapis.com', '/v1beta/models/gemini-2.5-flash:generateContent', { contents: [] }, 'generateContent'],
    ['generativelanguage.googleapis.com', '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse', { contents: [] }, 'streamGenerateContent'],
    ['us-central1-aiplatform.googleapis.com', '/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent', { contents: [] }, 'generateContent'],
    ['gateway.example.com', '/google/v1beta/models/gemini-2.5-flash:countTokens', { contents: [] }, 'countTokens'], // by path on any host
    ['generativelanguage.googleapis.com', '/v1beta/models', {}, 'unknown'], // not a call this adapter reads
    ['api.openai.com', '/v1/completions', { model: 'm', prompt: 'x' }, 'completions'], // OpenAI's other endpoints
    ['api.openai.com', '/v1/embeddings', { model: 'm', input: 'x' }, 'embeddings'],
    ['myres.openai.azure.com', '/openai/deployments/ada/embeddings?api-version=2024-10-21', { input: 'x' }, 'embeddings'],
    ['api.openai.com', '/v1/threads/thread_1/runs', { assistant_id: 'a' }, 'threads.runs'],
    ['api.openai.com', '/v1/audio/speech', { model: 'm', input: 'x', voice: 'alloy' }, 'audio.speech'],
    ['generativelanguage.googleapis.com', '/v1beta/openai/embeddings', { model: 'm', input: 'x' }, 'embeddings'],
    ['mcp.example.com', '/v1/embeddings', { jsonrpc: '2.0', id: 1, method: 'tools/list' }, 'tools/list'],
    ['mcp.example.com', '/mcp', { jsonrpc: '2.0', id: 1, method: 'tools/list' }, 'tools/list'],
    ['mcp.example.com', '/v1/messages', { jsonrpc: '2.0', id: 1, method: 'tools/list' }, 'tools/list'], // body wins over path for MCP
    ['example.com', '/anything', { a: 1 }, 'unknown'],
  ])('%s %s → %s', (host, path, body, operation) => {
    const a = adapterFor(head(host, path), body);
    expect(a.parseRequest(head(host, path), body).operation).toBe(operation);
  });

  it('ends with the fallback, which matches anything', () => {
    expect(ADAPTERS.map((a) => a.provider)).toEqual(['bedrock', 'gemini', 'anthropic', 'openai', 'openai', 'openai', 'mcp', 'unknown']);
    expect(adapterFor(head('x', '/'), undefined)).toBe(unknownAdapter);
  });
});

describe('likelyAdapterForHost', () => {
  it.each([
    ['generativelanguage.googleapis.com', 'gemini'],
    ['us-central1-aiplatform.googleapis.com', 'gemini'],
    ['aiplatform.googleapis.com', 'gemini'],
    ['api.anthropic.com', 'anthropic'],
    ['bedrock-runtime.us-east-1.amazonaws.com', 'bedrock'],
    ['api.openai.com', 'unknown'],
    ['mcp.example.com', 'mcp'],
  ])('%s → %s', (host, provider) => {
    expect(likelyAdapterForHost(host).provider).toBe(provider);
  });

  it('answers an unreadable request to Google in its error shape', () => {
    expect(likelyAdapterForHost('generativelanguage.googleapis.com')).toBe(geminiAdapter);
  });
});

describe('unknown adapter', () => {
  it('learns nothing but frames SSE and answers generic errors', () => {
    expect(unknownAdapter.parseRequest(head('x', '/'), { model: 'm' })).toEqual({ operation: 'unknown', toolsDefined: [], toolCalls: [], texts: [], stream: false });
    expect(unknownAdapter.parseResponse('garbage')).toEqual({ toolCalls: [], texts: [] });
    const frames = unknownAdapter.streamParser().push(sse([[undefined, 'a'], [undefined, 'b']]));
    expect(frames.map((f) => f.bytes.toString())).toEqual(['data: a\n\n', 'data: b\n\n']);
    expect(JSON.parse(unknownAdapter.errorAnswer('forbidden', 'no').body).error.message).toBe('no');
    expect(unknownAdapter.streamError('internal', 'x').toString()).toMatch(/^data: \{"error":/);
  });
});

describe('unknown adapter removeTools', () => {
  it('knows no tool list', () => {
    expect(unknownAdapter.removeTools({ tools: [{ name: 'x' }] }, new Set(['x']))).toBe(0);
  });
});
