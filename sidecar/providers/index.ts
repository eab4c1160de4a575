// The adapter registry: which wire format a request speaks, and which hosts are LLM providers.
import type { ProviderAdapter, RequestHead } from './adapter.js';
import { anthropicAdapter } from './anthropic.js';
import { bedrockAdapter } from './bedrock.js';
import { geminiAdapter, isGeminiHost } from './gemini.js';
import { mcpAdapter } from './mcp.js';
import { openAiChatAdapter } from './openai-chat.js';
import { openAiEndpointsAdapter } from './openai-endpoints.js';
import { openAiResponsesAdapter } from './openai-responses.js';
import { unknownAdapter } from './unknown.js';

import { BEDROCK_HOSTS, BUILTIN_INTERCEPT_HOSTS } from '../../api/intercept-hosts.js';
import { anyHostGlob, hostGlob } from '../../api/host-glob.js';


/**
 * Match order matters: Bedrock and Gemini first (their paths are unmistakable: `/model/{id}/converse`,
 * `models/{model}:generateContent`), then the path-suffix formats from the most to the least
 * specific, then MCP (recognised by its JSON-RPC body on any path), and the fallback that matches
 * everything.
 */
export const ADAPTERS: ProviderAdapter[] = [
  bedrockAdapter,
  geminiAdapter,
  anthropicAdapter,
  openAiResponsesAdapter,
  openAiChatAdapter,
  openAiEndpointsAdapter, // completions, embeddings, assistants, threads... (after chat: never /chat/completions)
  mcpAdapter,
  unknownAdapter,
];

export function adapterFor(head: RequestHead, body: unknown): ProviderAdapter {
  return ADAPTERS.find((a) => a.matches(head, body)) ?? unknownAdapter;
}

/**
 * The adapter most likely to speak for a host whose request cannot be read (a request target that
 * cannot be made canonical, a body it cannot decode): whose error shape its SDK understands.
 * Anthropic, Bedrock and Gemini (Google's hosts) have their own; every other provider speaks
 * OpenAI's, as the fallback does; a host only a policy intercepts is most likely an MCP server,
 * which reads JSON-RPC errors.
 */
export function likelyAdapterForHost(host: string): ProviderAdapter {
  if (hostGlob('api.anthropic.com', host)) return anthropicAdapter;
  if (anyHostGlob(BEDROCK_HOSTS, host)) return bedrockAdapter;
  if (isGeminiHost(host)) return geminiAdapter;
  if (!anyHostGlob(BUILTIN_INTERCEPT_HOSTS, host)) return mcpAdapter;
  return unknownAdapter;
}

/** LLM provider hosts the proxy always intercepts (defined in api/, which the webhook shares). */
export { BUILTIN_INTERCEPT_HOSTS } from '../../api/intercept-hosts.js';

export { anthropicAdapter, bedrockAdapter, geminiAdapter, mcpAdapter, openAiChatAdapter, openAiEndpointsAdapter, openAiResponsesAdapter, unknownAdapter };
