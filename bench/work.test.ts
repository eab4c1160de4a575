import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileDlp } from '../sidecar/policy/dlp/index.js';
import { describeWork, requestBody, SIZE_32KB_MIN, TARGETS, type Work } from './work.js';

const chat = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'chat-1kb.json'), 'utf8')) as unknown;
const all: Work[] = (['openai', 'anthropic'] as const).flatMap((format) =>
  (['1kb', '32kb'] as const).flatMap((size) => [false, true].map((stream) => ({ format, size, stream }))),
);
type Tool = { name?: string; function?: { name: string } };

describe('bench work', () => {
  it('sends the 1 KB fixture unchanged as the 1 KB OpenAI call', () => {
    expect(JSON.parse(requestBody(chat, { format: 'openai', size: '1kb', stream: false }))).toEqual(chat);
  });

  it.each(all)('builds %o: its size, its format, the same final user message', (w) => {
    const text = requestBody(chat, w);
    const body = JSON.parse(text) as Record<string, unknown>;
    const bytes = Buffer.byteLength(text);
    if (w.size === '1kb') expect(bytes).toBeLessThan(1600);
    else {
      expect(bytes).toBeGreaterThanOrEqual(SIZE_32KB_MIN);
      expect(bytes).toBeLessThan(SIZE_32KB_MIN + 2048);
    }
    const messages = body.messages as Array<{ role: string; content: string }>;
    expect(messages.at(-1)!.role).toBe('user');
    expect(messages.at(-1)!.content).toMatch(/checkout service started returning intermittent 502s/);
    expect(body.stream === true).toBe(w.stream);
    const tools = (body.tools as Tool[]).map((t) => t.function?.name ?? t.name);
    expect(tools.slice(0, 2)).toEqual(['web_search', 'file_reader']);
    // Every tool is one all-checks.yaml permits the researcher agent.
    for (const t of tools) expect(t).toMatch(/^(web_search|file_reader|kb_.*)$/);
    if (w.format === 'anthropic') {
      expect(typeof body.system).toBe('string');
      expect(messages.every((m) => m.role !== 'system')).toBe(true);
      expect((body.tools as Array<Record<string, unknown>>)[0]).toHaveProperty('input_schema');
    } else {
      expect(messages[0]!.role).toBe('system');
    }
  });

  it('alternates user and assistant turns in the long conversation', () => {
    const body = JSON.parse(requestBody(chat, { format: 'anthropic', size: '32kb', stream: false })) as { messages: Array<{ role: string }> };
    body.messages.forEach((m, i) => expect(m.role).toBe(i % 2 === 0 ? 'user' : 'assistant'));
  });

  it('holds nothing a DLP detector flags at high sensitivity (so every check passes the 32 KB call)', () => {
    const body = JSON.parse(requestBody(chat, { format: 'openai', size: '32kb', stream: false })) as { messages: Array<{ content: string }> };
    const scanner = compileDlp({
      mode: 'redact',
      sensitivity: 'high',
      detectors: ['ssn', 'credit_card', 'email', 'phone', 'iban', 'aws_access_key', 'api_key', 'private_key', 'jwt'],
      custom: [{ name: 'employee_id', pattern: 'EMP-[0-9]{6}' }],
    } as Parameters<typeof compileDlp>[0]);
    for (const m of body.messages) expect(scanner.scan(m.content)).toEqual([]);
  });

  it('names the provider hosts and describes the work', () => {
    expect(TARGETS.openai.host).toBe('api.openai.com');
    expect(TARGETS.anthropic.path).toBe('/v1/messages');
    expect(describeWork({ format: 'anthropic', size: '32kb', stream: true })).toBe('32 KB Anthropic message, streamed');
  });
});
