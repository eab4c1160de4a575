// The chaperone.dev/intercept-hosts annotation: "api.example.com, *.tools.example.com". The webhook
// warns about what is not a host name; the sidecar uses what is (lower-cased).
import { HOST_MAX_LENGTH, HOST_PATTERN } from './schema.js';

/** The same host names a policy's spec.intercept.hosts accepts. */
const HOST_NAME = new RegExp(HOST_PATTERN);

export function parseInterceptHosts(value: string | undefined): { hosts: string[]; invalid: string[] } {
  const hosts: string[] = [];
  const invalid: string[] = [];
  for (const entry of (value ?? '').split(',').map((h) => h.trim()).filter((h) => h !== '')) {
    const host = entry.toLowerCase();
    if (host.length <= HOST_MAX_LENGTH && HOST_NAME.test(host)) hosts.push(host);
    else invalid.push(entry);
  }
  return { hosts, invalid };
}

/** Amazon Bedrock's runtime hosts (host globs: host-glob.ts). */
export const BEDROCK_HOSTS: string[] = ['bedrock-runtime.*.amazonaws.com', 'bedrock-runtime-fips.*.amazonaws.com'];

/**
 * LLM provider hosts the proxy always intercepts; policies and the annotation add their own (e.g. MCP
 * servers). Here rather than in the sidecar so the webhook can keep NO_PROXY from exempting them.
 */
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
