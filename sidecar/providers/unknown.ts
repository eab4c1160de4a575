// The fallback for traffic no other adapter speaks: it learns nothing, and answers errors in a
// generic OpenAI-like shape ({"error":{...}}), which most HTTP clients at least print.
import type { ProviderAdapter } from './adapter.js';
import { openAiError, openAiErrorAnswer } from './openai-chat.js';
import { sseStreamParser } from './sse.js';

export const unknownAdapter: ProviderAdapter = {
  provider: 'unknown',
  matches: () => true,
  parseRequest: () => ({ operation: 'unknown', toolsDefined: [], toolCalls: [], texts: [], stream: false }),
  parseResponse: () => ({ toolCalls: [], texts: [] }),
  // SSE is still framed, so the proxy can stop a stream between two events.
  isStream: (contentType) => contentType?.toLowerCase().includes('text/event-stream') ?? false,
  streamParser: () => sseStreamParser(() => [], () => ({ toolCalls: [], texts: [] })),
  errorAnswer: openAiErrorAnswer,
  streamError: (kind, message) => Buffer.from(`data: ${JSON.stringify({ error: openAiError(kind, message) })}\n\n`),
  removeTools: () => 0,
};
