import { describe, expect, it } from 'vitest';
import { MalformedRequest } from './adapter.js';
import { isRealtimePath, readClientEvent, realtimeError, realtimeModel, RealtimeServerReader, removeEventTools } from './realtime.js';

const fn = (name: string, description = `the ${name} tool`) => ({ type: 'function', name, description, parameters: { type: 'object', properties: { q: { type: 'string', description: 'what to look for' } } } });

describe('Realtime paths', () => {
  it('knows its endpoint and the model the URL names', () => {
    expect(isRealtimePath('/v1/realtime?model=gpt-realtime')).toBe(true);
    expect(isRealtimePath('/openai/realtime?api-version=2025-04-01-preview&deployment=d')).toBe(true);
    expect(isRealtimePath('/v1/realtime/sessions')).toBe(false);
    expect(realtimeModel('/v1/realtime?model=gpt-realtime-mini')).toBe('gpt-realtime-mini');
    expect(realtimeModel('/openai/realtime?deployment=my-deploy')).toBe('my-deploy');
    expect(realtimeModel('/v1/realtime')).toBeUndefined();
  });
});

describe('client events', () => {
  it('session.update: tools defined, a forced tool, instructions and tool descriptions as text, the model', () => {
    const reading = readClientEvent({
      type: 'session.update',
      event_id: 'evt_1',
      session: { model: 'gpt-realtime', instructions: 'be brief', tools: [fn('web_search'), { type: 'mcp', server_label: 'x' }], tool_choice: { type: 'function', name: 'web_search' } },
    });
    expect(reading).toMatchObject({ kind: 'judge', type: 'session.update', eventId: 'evt_1' });
    if (reading.kind !== 'judge') throw new Error('not judged');
    expect(reading.facts).toMatchObject({ operation: 'realtime', model: 'gpt-realtime', toolsDefined: ['web_search', 'mcp'], toolCalls: [{ name: 'web_search' }] });
    expect(reading.facts.texts).toEqual([
      { path: ['session', 'instructions'], text: 'be brief' },
      { path: ['session', 'tools', 0, 'description'], text: 'the web_search tool' },
      { path: ['session', 'tools', 0, 'parameters', 'properties', 'q', 'description'], text: 'what to look for' },
    ]);
  });

  it('conversation.item.create: message text and transcripts, a function_call the client inserts, a function_call_output', () => {
    const text = readClientEvent({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hello' }, { type: 'input_audio', audio: 'AAAA', transcript: 'spoken' }, { type: 'input_image', image_url: 'data:' }] } });
    expect(text.kind === 'judge' && text.facts.texts).toEqual([
      { path: ['item', 'content', 0, 'text'], text: 'hello' },
      { path: ['item', 'content', 1, 'transcript'], text: 'spoken' },
    ]);
    const call = readClientEvent({ type: 'conversation.item.create', item: { type: 'function_call', name: 'shell_exec', call_id: 'c1', arguments: '{"cmd":"ls"}' } });
    expect(call.kind === 'judge' && call.facts).toMatchObject({ toolCalls: [{ name: 'shell_exec', id: 'c1', arguments: { cmd: 'ls' } }], texts: [{ path: ['item', 'arguments'], text: '{"cmd":"ls"}' }] });
    const output = readClientEvent({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: 'c1', output: 'result text' } });
    expect(output.kind === 'judge' && output.facts.texts).toEqual([{ path: ['item', 'output'], text: 'result text' }]);
  });

  it('response.create: instructions, tools, input items, metadata, the output cap', () => {
    const reading = readClientEvent({
      type: 'response.create',
      response: { instructions: 'answer', tools: [fn('send_email')], input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'in band' }] }], metadata: { k: 'v' }, max_output_tokens: 300 },
    });
    if (reading.kind !== 'judge') throw new Error('not judged');
    expect(reading.facts).toMatchObject({ toolsDefined: ['send_email'], maxOutputTokens: 300 });
    expect(reading.facts.texts.map((t) => t.text)).toEqual(['answer', 'the send_email tool', 'what to look for', 'in band', 'v']);
    // "answer now", with nothing else
    expect(readClientEvent({ type: 'response.create' })).toMatchObject({ kind: 'judge', facts: { texts: [], toolsDefined: [] } });
  });

  it('lets audio and ids pass unread', () => {
    for (const type of ['input_audio_buffer.append', 'input_audio_buffer.commit', 'response.cancel', 'conversation.item.delete']) {
      expect(readClientEvent({ type, audio: 'AAAA', item_id: 'x' })).toEqual({ kind: 'pass', type });
    }
  });

  it('reads every string of an event it does not know', () => {
    const reading = readClientEvent({ type: 'transcription_session.update', event_id: 'e', session: { input_audio_transcription: { prompt: 'secret words' } } });
    expect(reading.kind === 'judge' && reading.facts.texts).toEqual([{ path: ['session', 'input_audio_transcription', 'prompt'], text: 'secret words' }]);
  });

  it('refuses shapes the API does not allow, naming the field', () => {
    expect(() => readClientEvent({ type: 'session.update', session: { tools: 'shell_exec' } })).toThrow(new MalformedRequest('session.tools: must be an array'));
    expect(() => readClientEvent({ type: 'session.update', session: { instructions: 5 } })).toThrow(MalformedRequest);
    expect(() => readClientEvent({ type: 'conversation.item.create', item: { type: 'function_call', arguments: '{}' } })).toThrow(/item.name/);
    expect(() => readClientEvent({ type: 'conversation.item.create' })).toThrow(/item: must be an object/);
  });

  it('removes tools from an offer, and a forced choice of one', () => {
    const event = { type: 'session.update', session: { tools: [fn('web_search'), fn('shell_exec')], tool_choice: { type: 'function', name: 'shell_exec' } } };
    expect(removeEventTools(event, new Set(['shell_exec']))).toBe(1);
    expect(event.session.tools.map((t) => t.name)).toEqual(['web_search']);
    expect(event.session.tool_choice).toBe('auto');
  });
});

describe('server events', () => {
  it('names a function call as soon as its item is added, and reads it whole when it is done', () => {
    const reader = new RealtimeServerReader();
    const item = { id: 'item_1', type: 'function_call', name: 'web_search', call_id: 'call_1', arguments: '' };
    expect(reader.read({ type: 'response.output_item.added', item })).toMatchObject({ events: [{ type: 'tool_call', name: 'web_search', id: 'call_1' }], toolCalls: [] });
    expect(reader.read({ type: 'response.function_call_arguments.delta', item_id: 'item_1', delta: '{"q"' })).toMatchObject({ events: [], toolCalls: [] });
    // The done event may name the call only by its item: the name is remembered.
    expect(reader.read({ type: 'response.function_call_arguments.done', item_id: 'item_1', call_id: 'call_1', arguments: '{"q":"x"}' }).toolCalls).toEqual([{ name: 'web_search', id: 'call_1', arguments: { q: 'x' } }]);
    expect(reader.read({ type: 'response.output_item.done', item: { ...item, status: 'completed', arguments: '{"q":"x"}' } }).toolCalls).toEqual([{ name: 'web_search', id: 'call_1', arguments: { q: 'x' } }]);
    // The conversation's echo of an item names it too (judged by name), but is no proposal of its own.
    expect(reader.read({ type: 'conversation.item.created', item })).toMatchObject({ events: [{ type: 'tool_call', name: 'web_search' }], toolCalls: [] });
  });

  it('reads usage, the output of response.done, text deltas and the session model', () => {
    const reader = new RealtimeServerReader();
    expect(reader.read({ type: 'session.created', session: { model: 'gpt-realtime' } }).model).toBe('gpt-realtime');
    expect(reader.read({ type: 'response.text.delta', delta: 'hi' }).events).toEqual([{ type: 'text', text: 'hi' }]);
    expect(reader.read({ type: 'response.audio_transcript.delta', delta: 'said' }).events).toEqual([{ type: 'text', text: 'said' }]);
    const done = reader.read({
      type: 'response.done',
      response: { output: [{ type: 'function_call', name: 'send_email', call_id: 'c9', arguments: '{}' }], usage: { input_tokens: 11, output_tokens: 7, total_tokens: 18 } },
    });
    expect(done).toMatchObject({ responseDone: true, usage: { inputTokens: 11, outputTokens: 7 }, toolCalls: [{ name: 'send_email', id: 'c9' }] });
  });

  it('names a done call whose name never came "" (the session refuses it)', () => {
    expect(new RealtimeServerReader().read({ type: 'response.function_call_arguments.done', item_id: 'unknown', arguments: '{}' }).toolCalls).toEqual([{ name: '', arguments: {} }]);
  });
});

describe('error events', () => {
  it('names the client event it answers, in OpenAI vocabulary', () => {
    const event = JSON.parse(realtimeError('forbidden', 'chaperone: no', 'evt_7')) as Record<string, unknown>;
    expect(event).toMatchObject({ type: 'error', event_id: expect.stringMatching(/^event_chaperone_/), error: { type: 'invalid_request_error', code: 'forbidden', message: 'chaperone: no', event_id: 'evt_7' } });
    expect(JSON.parse(realtimeError('rate_limited', 'slow down')).error).toMatchObject({ code: 'rate_limited', event_id: null });
  });
});
