import { describe, expect, it } from 'vitest';
import type { ModelPricing } from '../../api/index.js';
import type { Call } from '../call.js';
import { BUILTIN_PRICES, costOf, DEFAULT_MAX_OUTPUT_TOKENS, estimateCost, formatUsd, knownMaxOutputTokens, matchModelGlob, modelCandidates, priceFor, priceTokens, worstCaseCost } from './pricing.js';

describe('built-in price table', () => {
  it.each([
    // [model, pattern, input, output]
    ['gpt-5', 'gpt-5', 1.25, 10],
    ['gpt-5-2025-08-07', 'gpt-5', 1.25, 10],
    ['gpt-5-mini-2025-08-07', 'gpt-5-mini', 0.25, 2],
    ['gpt-5-nano', 'gpt-5-nano', 0.05, 0.4],
    ['gpt-5-codex', 'gpt-5', 1.25, 10],
    ['gpt-4.1-2025-04-14', 'gpt-4.1', 2, 8],
    ['gpt-4.1-mini-2025-04-14', 'gpt-4.1-mini', 0.4, 1.6],
    ['gpt-4.1-nano', 'gpt-4.1-nano', 0.1, 0.4],
    ['gpt-4o', 'gpt-4o', 2.5, 10],
    ['gpt-4o-2024-08-06', 'gpt-4o', 2.5, 10],
    ['gpt-4o-2024-05-13', 'gpt-4o-2024-05-13', 5, 15],
    ['gpt-4o-mini-2024-07-18', 'gpt-4o-mini', 0.15, 0.6],
    ['GPT-4o-Mini', 'gpt-4o-mini', 0.15, 0.6],
    ['gpt-4-0613', 'gpt-4', 30, 60],
    ['gpt-4-turbo-2024-04-09', 'gpt-4-turbo', 10, 30],
    ['o1-2024-12-17', 'o1', 15, 60],
    ['o1-mini', 'o1-mini', 1.1, 4.4],
    ['o3', 'o3', 2, 8],
    ['o3-mini-2025-01-31', 'o3-mini', 1.1, 4.4],
    ['o4-mini-2025-04-16', 'o4-mini', 1.1, 4.4],
    ['ft:gpt-4o-mini-2024-07-18:acme::abc123', 'ft:gpt-4o-mini', 0.3, 1.2],
    ['openai/gpt-4.1', 'gpt-4.1', 2, 8],
    // Anthropic API, aliases and Vertex ids
    ['claude-opus-4-1-20250805', 'claude-opus-4-1', 15, 75],
    ['claude-opus-4-20250514', 'claude-opus-4', 15, 75],
    ['claude-opus-4-0', 'claude-opus-4', 15, 75],
    ['claude-opus-4-5-20251101', 'claude-opus-4-5', 5, 25],
    ['claude-sonnet-4-5-20250929', 'claude-sonnet-4-5', 3, 15],
    ['claude-sonnet-4-20250514', 'claude-sonnet-4', 3, 15],
    ['claude-3-7-sonnet-latest', 'claude-3-7-sonnet', 3, 15],
    ['claude-3-5-sonnet-20241022', 'claude-3-5-sonnet', 3, 15],
    ['claude-3-5-sonnet-v2@20241022', 'claude-3-5-sonnet', 3, 15],
    ['claude-haiku-4-5-20251001', 'claude-haiku-4-5', 1, 5],
    ['claude-3-5-haiku-20241022', 'claude-3-5-haiku', 0.8, 4],
    ['claude-3-haiku-20240307', 'claude-3-haiku', 0.25, 1.25],
    // Bedrock model ids, inference profiles, ARNs
    ['anthropic.claude-3-5-sonnet-20240620-v1:0', 'claude-3-5-sonnet', 3, 15],
    ['anthropic.claude-3-haiku-20240307-v1:0', 'claude-3-haiku', 0.25, 1.25],
    ['us.anthropic.claude-sonnet-4-20250514-v1:0', 'claude-sonnet-4', 3, 15],
    ['eu.anthropic.claude-3-7-sonnet-20250219-v1:0', 'claude-3-7-sonnet', 3, 15],
    ['global.anthropic.claude-sonnet-4-5-20250929-v1:0', 'claude-sonnet-4-5', 3, 15],
    ['anthropic.claude-v2:1', 'claude-v2', 8, 24],
    ['arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0', 'claude-3-5-haiku', 0.8, 4],
    ['arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-4-1-20250805-v1:0', 'claude-opus-4-1', 15, 75],
    ['arn%3Aaws%3Abedrock%3Aus-east-1%3A%3Afoundation-model%2Famazon.nova-pro-v1%3A0', 'amazon.nova-pro', 0.8, 3.2],
    ['amazon.nova-pro-v1:0', 'amazon.nova-pro', 0.8, 3.2],
    ['us.amazon.nova-lite-v1:0', 'amazon.nova-lite', 0.06, 0.24],
    ['amazon.nova-micro-v1:0', 'amazon.nova-micro', 0.035, 0.14],
    ['meta.llama3-70b-instruct-v1:0', 'meta.llama3-70b-instruct', 2.65, 3.5],
    ['us.meta.llama3-2-90b-instruct-v1:0', 'meta.llama3-2-90b-instruct', 0.72, 0.72],
    ['meta.llama3-1-8b-instruct-v1:0', 'meta.llama3-1-8b-instruct', 0.22, 0.22],
    ['mistral.mistral-large-2407-v1:0', 'mistral.mistral-large-2407', 2, 6],
    ['mistral.mixtral-8x7b-instruct-v0:1', 'mistral.mixtral-8x7b-instruct', 0.45, 0.7],
    ['cohere.command-r-plus-v1:0', 'cohere.command-r-plus', 3, 15],
    ['cohere.command-r-v1:0', 'cohere.command-r', 0.5, 1.5],
    ['publishers/google/models/gemini-2.5-flash', 'gemini-2.5-flash', 0.3, 2.5],
  ])('%s -> %s', (model, pattern, input, output) => {
    expect(priceFor(model)).toEqual({ source: 'builtin', pattern, inputPerMTokUSD: input, outputPerMTokUSD: output });
  });

  it.each([
    'my-azure-deployment',
    'gpt-4o2', // no separator after the pattern
    'gpt-4.2', // a dot starts a different version, not a snapshot
    'claude-3-5', // shorter than every pattern
    'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4',
    'ft:davinci-002:acme::x',
    '',
  ])('knows no price for %j', (model) => {
    expect(priceFor(model)).toBeUndefined();
    expect(costOf(model, { inputTokens: 1000, outputTokens: 1000 })).toBeUndefined();
  });

  it('has no undefined model and no duplicate patterns', () => {
    expect(priceFor(undefined)).toBeUndefined();
    const patterns = BUILTIN_PRICES.map((p) => p.model);
    expect(new Set(patterns).size).toBe(patterns.length);
    for (const p of BUILTIN_PRICES) {
      expect(p.inputPerMTokUSD).toBeGreaterThanOrEqual(0);
      expect(p.outputPerMTokUSD).toBeGreaterThanOrEqual(0);
      expect(priceFor(p.model)?.pattern).toBe(p.model); // every entry reachable by its own name
    }
  });

  it('normalises names into candidates', () => {
    expect(modelCandidates('arn:aws:bedrock:us-west-2:1:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0')).toEqual([
      'arn:aws:bedrock:us-west-2:1:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0',
      'us.anthropic.claude-3-haiku-20240307-v1:0',
      'anthropic.claude-3-haiku-20240307-v1:0',
      'claude-3-haiku-20240307-v1:0',
    ]);
    expect(modelCandidates('gpt-4.1')).toEqual(['gpt-4.1']);
  });
});

describe('policy price overrides', () => {
  const overrides: ModelPricing[] = [
    { model: 'gpt-4o*', inputPerMTokUSD: 1, outputPerMTokUSD: 2 },
    { model: 'gpt-4o-mini*', inputPerMTokUSD: 9, outputPerMTokUSD: 9 }, // never reached: the first match wins
    { model: '*claude-3-5-sonnet*', inputPerMTokUSD: 4, outputPerMTokUSD: 16 },
    { model: 'in-house-*b', inputPerMTokUSD: 0.5, outputPerMTokUSD: 0.5 },
  ];

  it.each([
    ['gpt-4o-2024-08-06', 'gpt-4o*', 1, 2],
    ['gpt-4o-mini', 'gpt-4o*', 1, 2],
    ['GPT-4O', 'gpt-4o*', 1, 2],
    ['us.anthropic.claude-3-5-sonnet-20241022-v2:0', '*claude-3-5-sonnet*', 4, 16],
    ['in-house-7b', 'in-house-*b', 0.5, 0.5],
    ['In-House-70B', 'in-house-*b', 0.5, 0.5],
  ])('%s -> override %s', (model, pattern, input, output) => {
    expect(priceFor(model, overrides)).toEqual({ source: 'policy', pattern, inputPerMTokUSD: input, outputPerMTokUSD: output });
  });

  it('falls back to the built-in table when no override matches', () => {
    expect(priceFor('gpt-4.1', overrides)).toMatchObject({ source: 'builtin', pattern: 'gpt-4.1' });
    expect(priceFor('in-house-7b-chat', overrides)).toBeUndefined();
  });

  it('matches globs against the bare Bedrock id as well as the raw name', () => {
    expect(matchModelGlob('anthropic.claude-3-haiku*', 'arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0')).toBe(true);
    expect(matchModelGlob('claude-3-haiku-*', 'us.anthropic.claude-3-haiku-20240307-v1:0')).toBe(true);
    expect(matchModelGlob('gpt-4o', 'gpt-4o-mini')).toBe(false); // whole-name match
    expect(matchModelGlob('gpt.4o', 'gpt-4o')).toBe(false); // regex characters are literal
    expect(matchModelGlob('gpt-?o', 'gpt-4o')).toBe(false); // only * is special
    expect(matchModelGlob('*a*a*a*a*b', 'a'.repeat(50_000))).toBe(false); // no backtracking blow-up
  });
});

describe('cost arithmetic', () => {
  it.each([
    // [model, input tokens, output tokens, USD]
    ['gpt-4o', 1_000_000, 1_000_000, 12.5],
    ['gpt-4o', 1000, 500, 0.0075],
    ['gpt-4o-mini', 123_456, 7890, 0.0185184 + 0.004734],
    ['claude-sonnet-4-5-20250929', 10_000, 2000, 0.06],
    ['claude-3-haiku-20240307', 4000, 1000, 0.00225],
    ['amazon.nova-micro-v1:0', 1_000_000, 0, 0.035],
    ['gpt-5', 0, 0, 0],
  ])('%s: %i in + %i out = $%d', (model, input, output, usd) => {
    expect(costOf(model, { inputTokens: input, outputTokens: output })).toBeCloseTo(usd, 10);
  });

  it('uses overrides in the arithmetic and ignores nonsense token counts', () => {
    const overrides = [{ model: 'gpt-4o*', inputPerMTokUSD: 1, outputPerMTokUSD: 2 }];
    expect(costOf('gpt-4o', { inputTokens: 500_000, outputTokens: 250_000 }, overrides)).toBe(1);
    expect(priceTokens({ inputPerMTokUSD: 1, outputPerMTokUSD: 1 }, -5, Number.NaN)).toBe(0);
  });

  it('keeps float noise out', () => {
    expect(priceTokens({ inputPerMTokUSD: 0.1, outputPerMTokUSD: 0.2 }, 1_000_000, 1_000_000)).toBe(0.3);
  });

  it('estimates a call before it goes out from its text and output cap', () => {
    const call: Call = {
      id: '1', provider: 'openai', agent: 'a', host: 'api.openai.com', port: 443, method: 'POST', path: '/v1/chat/completions',
      operation: 'chat.completions', toolsDefined: [], toolCalls: [], stream: false,
      model: 'gpt-4o', texts: [{ path: ['messages', 0, 'content'], text: 'x'.repeat(4000) }], maxOutputTokens: 1000,
    };
    // 1000 input tokens at $2.50/M + 1000 output tokens at $10/M
    expect(estimateCost(call)).toBeCloseTo(0.0125, 10);
    // no cap: the default output estimate (512 tokens)
    expect(estimateCost({ ...call, maxOutputTokens: undefined })).toBeCloseTo(0.0025 + 0.00512, 10);
    expect(estimateCost(call, [{ model: 'gpt-4o', inputPerMTokUSD: 0, outputPerMTokUSD: 0 }])).toBe(0);
    expect(estimateCost({ ...call, model: undefined })).toBeUndefined();
    expect(estimateCost({ ...call, model: 'mystery-model' })).toBeUndefined();
  });

  it.each([
    [50.02, '$50.02'],
    [50, '$50.00'],
    [1.004, '$1.004'],
    [0.0031, '$0.0031'],
    [0.5, '$0.50'],
  ])('formats %d as %s', (usd, text) => {
    expect(formatUsd(usd)).toBe(text);
  });
});

describe('max output tokens and the worst-case cost of a call', () => {
  it.each([
    ['gpt-4o-2024-08-06', 16_384],
    ['gpt-4o-2024-05-13', 4_096],
    ['gpt-5-mini-2025-08-07', 128_000],
    ['gpt-5-pro', 272_000],
    ['o4-mini', 100_000],
    ['claude-sonnet-4-5-20250929', 64_000],
    ['claude-3-5-haiku-20241022', 8_192],
    ['us.anthropic.claude-opus-4-1-20250805-v1:0', 32_000],
    ['publishers/google/models/gemini-2.5-pro', 65_536],
    ['meta.llama3-1-70b-instruct-v1:0', 8_192],
    ['text-embedding-3-small', 0],
  ])('%s answers at most %i tokens', (model, max) => {
    expect(knownMaxOutputTokens(model)).toBe(max);
  });

  it('knows nothing of unknown models', () => {
    expect(knownMaxOutputTokens('in-house-7b')).toBeUndefined();
    expect(knownMaxOutputTokens(undefined)).toBeUndefined();
  });

  const call = (over: Partial<Call>): Call => ({
    id: '1', provider: 'openai', agent: 'a', host: 'api.openai.com', port: 443, method: 'POST', path: '/v1/chat/completions',
    operation: 'chat.completions', toolsDefined: [], toolCalls: [], texts: [{ path: ['messages', 0, 'content'], text: 'x'.repeat(400) }], stream: false, ...over,
  });

  it('is the input estimate plus the caller\'s output cap, else the model\'s max output', () => {
    // gpt-4o: $2.50 in, $10 out per million; 400 characters are ~100 input tokens.
    expect(worstCaseCost(call({ model: 'gpt-4o', maxOutputTokens: 1_000 }))).toBeCloseTo(0.00025 + 0.01, 10);
    expect(worstCaseCost(call({ model: 'gpt-4o' }))).toBeCloseTo(0.00025 + 0.16384, 10);
  });

  it('reserves a generous default for a priced model of unknown max output, and nothing for an unpriced one', () => {
    const pricing = [{ model: 'house-*', inputPerMTokUSD: 1, outputPerMTokUSD: 1 }];
    expect(worstCaseCost(call({ model: 'house-7b' }), pricing)).toBeCloseTo((100 + DEFAULT_MAX_OUTPUT_TOKENS) / 1e6, 10);
    expect(worstCaseCost(call({ model: 'house-7b' }))).toBeUndefined();
    expect(worstCaseCost(call({ model: undefined }))).toBeUndefined();
  });
});
