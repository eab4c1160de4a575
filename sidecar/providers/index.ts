// The adapter registry: which wire format a request speaks, and which hosts are LLM providers.
import type { ProviderAdapter, RequestHead } from './adapter.js';
import { anthropicAdapter } from './anthropic.js';
import { bedrockAdapter } from './bedrock.js';
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

/** LLM provider hosts the proxy always intercepts (defined in api/, which the webhook shares). */
export { BUILTIN_INTERCEPT_HOSTS } from '../../api/intercept-hosts.js';

export { anthropicAdapter, bedrockAdapter, mcpAdapter, openAiChatAdapter, openAiResponsesAdapter, unknownAdapter };
