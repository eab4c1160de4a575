// The adapter registry: which wire format a request speaks, and which hosts are LLM providers.
import type { ProviderAdapter, RequestHead } from './adapter.js';
import { anthropicAdapter } from './anthropic.js';
import { bedrockAdapter, BEDROCK_HOSTS } from './bedrock.js';
import { mcpAdapter } from './mcp.js';
import { openAiChatAdapter } from './openai-chat.js';
import { openAiResponsesAdapter } from './openai-responses.js';
import { unknownAdapter } from './unknown.js';

export { hostMatches, anyHostMatches } from './hosts.js';

/**
 * Match order matters: Bedrock first (its paths are unmistakable), then the path-suffix formats
 * from the most to the least specific, then MCP (recognised by its JSON-RPC body on any path),
 * and the fallback that matches everything.
 */
export const ADAPTERS: ProviderAdapter[] = [
  bedrockAdapter,
  anthropicAdapter,
  openAiResponsesAdapter,
  openAiChatAdapter,
  mcpAdapter,
  unknownAdapter,
];

export function adapterFor(head: RequestHead, body: unknown): ProviderAdapter {
  return ADAPTERS.find((a) => a.matches(head, body)) ?? unknownAdapter;
}

/** LLM provider hosts the proxy always intercepts; policies add their own (e.g. MCP servers). */
export const BUILTIN_INTERCEPT_HOSTS: string[] = [
  'api.openai.com',
  '*.openai.azure.com',
  'api.anthropic.com',
  ...BEDROCK_HOSTS,
  'generativelanguage.googleapis.com',
  '*-aiplatform.googleapis.com',
  'aiplatform.googleapis.com', // Vertex AI's global endpoint
  'api.mistral.ai',
  'api.groq.com',
  'openrouter.ai',
  'api.together.xyz',
  'api.fireworks.ai',
  'api.deepseek.com',
  'api.x.ai',
  'api.cohere.com',
  'api.perplexity.ai',
];

export { anthropicAdapter, bedrockAdapter, mcpAdapter, openAiChatAdapter, openAiResponsesAdapter, unknownAdapter };
