import { describe, expect, it } from 'vitest';
import { hostMatches } from './hosts.js';
import { BUILTIN_INTERCEPT_HOSTS } from './index.js';

describe('hostMatches', () => {
  it.each([
    ['api.openai.com', 'api.openai.com', true],
    ['api.openai.com', 'API.OpenAI.com', true],
    ['api.openai.com', 'api.openai.com.', true],
    ['api.openai.com', 'xapi.openai.com', false],
    ['*.openai.azure.com', 'myres.openai.azure.com', true],
    ['*.openai.azure.com', 'a.b.openai.azure.com', true],
    ['*.openai.azure.com', 'openai.azure.com', false],
    ['*.openai.azure.com', 'evil-openai.azure.com', false],
    ['bedrock-runtime.*.amazonaws.com', 'bedrock-runtime.us-east-1.amazonaws.com', true],
    ['bedrock-runtime.*.amazonaws.com', 'bedrock-runtime.a.b.amazonaws.com', false],
    ['bedrock-runtime.*.amazonaws.com', 'bedrock.us-east-1.amazonaws.com', false],
    ['*-aiplatform.googleapis.com', 'us-central1-aiplatform.googleapis.com', true],
    ['*-aiplatform.googleapis.com', 'aiplatform.googleapis.com', false],
    ['*-aiplatform.googleapis.com', 'x.us-aiplatform.googleapis.com', false],
    ['api.x.ai', 'apixxai', false], // dots are literal
  ])('%s vs %s → %s', (pattern, host, want) => {
    expect(hostMatches(pattern, host)).toBe(want);
  });

  it('covers the built-in provider hosts', () => {
    const hosts = [
      'api.openai.com', 'myco.openai.azure.com', 'api.anthropic.com', 'bedrock-runtime.eu-west-1.amazonaws.com',
      'bedrock-runtime-fips.us-east-1.amazonaws.com', 'generativelanguage.googleapis.com', 'europe-west4-aiplatform.googleapis.com',
      'api.mistral.ai', 'api.groq.com', 'openrouter.ai', 'api.together.xyz', 'api.fireworks.ai', 'api.deepseek.com',
      'api.x.ai', 'api.cohere.com', 'api.perplexity.ai',
    ];
    for (const h of hosts) expect(BUILTIN_INTERCEPT_HOSTS.some((p) => hostMatches(p, h)), h).toBe(true);
    expect(BUILTIN_INTERCEPT_HOSTS.some((p) => hostMatches(p, 'example.com'))).toBe(false);
  });
});
