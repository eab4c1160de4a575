import { describe, expect, it } from 'vitest';
import { anyHostGlob, hostGlob } from './host-glob.js';
import { BUILTIN_INTERCEPT_HOSTS } from './intercept-hosts.js';

describe('hostGlob', () => {
  it.each([
    // exact names: case and a trailing dot do not count; dots are literal
    ['api.openai.com', 'api.openai.com', true],
    ['api.openai.com', 'API.OpenAI.com', true],
    ['API.OPENAI.COM', 'api.openai.com', true],
    ['api.openai.com', 'api.openai.com.', true],
    ['api.openai.com.', 'api.openai.com', true],
    ['api.openai.com', 'xapi.openai.com', false],
    ['api.openai.com', 'api.openai.com.evil.net', false],
    ['api.x.ai', 'apixxai', false],
    // `*` alone: every host
    ['*', 'anything.at.all', true],
    ['*', 'localhost', true],
    // a leading `*.`: every name under the domain, at any depth, not the domain itself
    ['*.example.com', 'a.example.com', true],
    ['*.example.com', 'a.b.example.com', true],
    ['*.example.com', 'example.com', false],
    ['*.example.com', 'badexample.com', false],
    ['*.example.com', 'example.com.evil.net', false],
    ['*.openai.azure.com', 'myres.openai.azure.com', true],
    ['*.openai.azure.com', 'evil-openai.azure.com', false],
    // any other `*`: part of one label, never a dot
    ['bedrock-runtime.*.amazonaws.com', 'bedrock-runtime.us-east-1.amazonaws.com', true],
    ['bedrock-runtime.*.amazonaws.com', 'bedrock-runtime.a.b.amazonaws.com', false],
    ['bedrock-runtime.*.amazonaws.com', 'bedrock.us-east-1.amazonaws.com', false],
    ['*-aiplatform.googleapis.com', 'us-central1-aiplatform.googleapis.com', true],
    ['*-aiplatform.googleapis.com', 'aiplatform.googleapis.com', false],
    ['*-aiplatform.googleapis.com', 'x.us-aiplatform.googleapis.com', false],
    ['api.*.com', 'api.example.com', true],
    ['api.*.com', 'api.example.com.evil.com', false],
    ['api.openai.*', 'api.openai.com', true],
    ['api.openai.*', 'api.openai.com.evil.net', false],
    ['*example.com', 'badexample.com', true],
    ['*example.com', 'www.example.com', false],
    ['*.*.example.com', 'a.example.com', false],
    ['*.*.example.com', 'a.b.example.com', true],
    ['*.*.example.com', 'a.b.c.example.com', true],
    // an IPv4 address is no name: `*` is any run there, so address-prefix deny rules hold
    ['169.254.*', '169.254.169.254', true],
    ['10.*', '10.1.2.3', true],
    ['10.*', '100.1.2.3', false],
    ['10.0.0.1', '10.0.0.1', true],
    ['10.0.0.1', '10.0.0.10', false],
    ['*.example.com', '10.1.2.3', false],
    ['*', '10.1.2.3', true],
  ])('%s ~ %s → %s', (glob, host, want) => {
    expect(hostGlob(glob, host)).toBe(want);
  });

  it('stays fast on a long host an agent controls', () => {
    const host = `${'a'.repeat(50_000)}.${'b.'.repeat(10_000)}example.com`;
    const started = performance.now();
    expect(hostGlob('*a*a*a*a*c.*.example.com', host)).toBe(false);
    expect(hostGlob('*.example.com', host)).toBe(true);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('anyHostGlob: does any of the globs fit', () => {
    expect(anyHostGlob(['*.svc', 'kubernetes'], 'db.prod.svc')).toBe(true);
    expect(anyHostGlob(['*.svc', 'kubernetes'], 'svc')).toBe(false);
    expect(anyHostGlob([], 'kubernetes')).toBe(false);
  });

  it('covers the built-in provider hosts', () => {
    const hosts = [
      'api.openai.com', 'myco.openai.azure.com', 'api.anthropic.com', 'bedrock-runtime.eu-west-1.amazonaws.com',
      'bedrock-runtime-fips.us-east-1.amazonaws.com', 'generativelanguage.googleapis.com', 'europe-west4-aiplatform.googleapis.com',
      'api.mistral.ai', 'api.groq.com', 'openrouter.ai', 'api.together.xyz', 'api.fireworks.ai', 'api.deepseek.com',
      'api.x.ai', 'api.cohere.com', 'api.perplexity.ai',
    ];
    for (const h of hosts) expect(anyHostGlob(BUILTIN_INTERCEPT_HOSTS, h), h).toBe(true);
    expect(anyHostGlob(BUILTIN_INTERCEPT_HOSTS, 'example.com')).toBe(false);
  });
});
