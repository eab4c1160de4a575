// Model prices: what a call costs in US dollars, from its token usage. A policy's `budget.pricing`
// globs come first (the first matching entry wins); then the built-in table below, where the most
// specific (longest) pattern that matches wins.
//
// Model names arrive in many spellings, so a name is normalised into candidates before matching:
//   gpt-4o-2024-08-06                                   dated snapshot       -> pattern gpt-4o
//   claude-sonnet-4-5-20250929, claude-3-5-sonnet-v2@20241022 (Vertex)      -> claude-sonnet-4-5 / claude-3-5-sonnet
//   anthropic.claude-3-5-sonnet-20240620-v1:0           Bedrock model id     -> claude-3-5-sonnet
//   us.anthropic.claude-sonnet-4-20250514-v1:0          inference profile    -> claude-sonnet-4
//   arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0  ARN    -> amazon.nova-pro
//   openai/gpt-4.1, publishers/google/models/gemini-2.5-pro           paths  -> last segment
// A built-in pattern matches a candidate that equals it or continues it after a separator
// (`-`, `:`, `@`, `_`), so `gpt-4o` covers `gpt-4o-2024-08-06` and `gpt-4o-mini` has its own entry.
// A dot is not a separator: `gpt-4.2` or `claude-2.1` is a different model, not a snapshot of `gpt-4`.
// Names nothing matches (Azure deployment names, application inference profiles) have no price.
import type { ModelPricing } from '../../api/index.js';
import type { Call, Usage } from '../call.js';
import { estimateInputTokens, estimateOutputTokens } from './estimate.js';
import { nameGlob } from '../../api/glob.js';

export interface Price {
  /** USD per million input (prompt) tokens. */
  inputPerMTokUSD: number;
  /** USD per million output (completion) tokens. */
  outputPerMTokUSD: number;
}

interface PriceMatch extends Price {
  /** `policy` when a budget.pricing override matched, `builtin` for the table below. */
  source: 'policy' | 'builtin';
  /** The override glob or the built-in pattern that matched. */
  pattern: string;
}

// The built-in list prices were taken from the providers' public price pages on 2025-11-30.

/** [pattern, input USD/MTok, output USD/MTok]. Standard (on-demand, non-batch, <=200k context) text prices. */
const TABLE: ReadonlyArray<readonly [string, number, number]> = [
  // ---- OpenAI ----
  ['gpt-5.1', 1.25, 10],
  ['gpt-5.1-codex-mini', 0.25, 2],
  ['gpt-5', 1.25, 10], // also gpt-5-codex, gpt-5-chat-latest
  ['gpt-5-mini', 0.25, 2],
  ['gpt-5-nano', 0.05, 0.4],
  ['gpt-5-pro', 15, 120],
  ['gpt-4.5', 75, 150], // gpt-4.5-preview
  ['gpt-4.1', 2, 8],
  ['gpt-4.1-mini', 0.4, 1.6],
  ['gpt-4.1-nano', 0.1, 0.4],
  ['gpt-4o', 2.5, 10], // also gpt-4o-audio-preview, gpt-4o-search-preview (text tokens)
  ['gpt-4o-2024-05-13', 5, 15],
  ['gpt-4o-mini', 0.15, 0.6],
  ['gpt-4o-realtime', 5, 20],
  ['gpt-4o-mini-realtime', 0.6, 2.4],
  ['gpt-realtime', 4, 16],
  ['gpt-realtime-mini', 0.6, 2.4],
  ['chatgpt-4o', 5, 15],
  ['gpt-4-turbo', 10, 30],
  ['gpt-4-1106', 10, 30],
  ['gpt-4-0125', 10, 30],
  ['gpt-4-vision', 10, 30],
  ['gpt-4', 30, 60],
  ['gpt-4-32k', 60, 120],
  ['gpt-3.5-turbo', 0.5, 1.5],
  ['gpt-3.5-turbo-1106', 1, 2],
  ['gpt-3.5-turbo-0613', 1.5, 2],
  ['gpt-3.5-turbo-16k', 3, 4],
  ['gpt-3.5-turbo-instruct', 1.5, 2],
  ['o1', 15, 60], // also o1-preview
  ['o1-mini', 1.1, 4.4],
  ['o1-pro', 150, 600],
  ['o3', 2, 8],
  ['o3-mini', 1.1, 4.4],
  ['o3-pro', 20, 80],
  ['o3-deep-research', 10, 40],
  ['o4-mini', 1.1, 4.4],
  ['o4-mini-deep-research', 2, 8],
  ['codex-mini', 1.5, 6],
  ['computer-use-preview', 3, 12],
  ['text-embedding-3-small', 0.02, 0],
  ['text-embedding-3-large', 0.13, 0],
  ['text-embedding-ada-002', 0.1, 0],
  // fine-tuned models: ft:<base>:<org>::<id>
  ['ft:gpt-4o', 3.75, 15],
  ['ft:gpt-4o-mini', 0.3, 1.2],
  ['ft:gpt-4.1', 3, 12],
  ['ft:gpt-4.1-mini', 0.8, 3.2],
  ['ft:gpt-4.1-nano', 0.2, 0.8],
  ['ft:gpt-3.5-turbo', 3, 6],
  ['ft:o4-mini', 4, 16],

  // ---- Anthropic (also on Bedrock as anthropic.<id>, and on Vertex as <id>@<date>) ----
  ['claude-opus-4-5', 5, 25],
  ['claude-opus-4-1', 15, 75],
  ['claude-opus-4', 15, 75], // claude-opus-4-20250514, claude-opus-4-0
  ['claude-sonnet-4-5', 3, 15],
  ['claude-sonnet-4', 3, 15],
  ['claude-haiku-4-5', 1, 5],
  ['claude-3-7-sonnet', 3, 15],
  ['claude-3-5-sonnet', 3, 15], // also claude-3-5-sonnet-v2@20241022
  ['claude-3-5-haiku', 0.8, 4],
  ['claude-3-opus', 15, 75],
  ['claude-3-sonnet', 3, 15],
  ['claude-3-haiku', 0.25, 1.25],
  ['claude-2.0', 8, 24],
  ['claude-2.1', 8, 24],
  ['claude-v2', 8, 24], // Bedrock anthropic.claude-v2, anthropic.claude-v2:1
  ['claude-instant', 0.8, 2.4],

  // ---- Google Gemini (AI Studio / Vertex, <=200k context) ----
  ['gemini-2.5-pro', 1.25, 10],
  ['gemini-2.5-flash', 0.3, 2.5],
  ['gemini-2.5-flash-lite', 0.1, 0.4],
  ['gemini-2.0-flash', 0.1, 0.4],
  ['gemini-2.0-flash-lite', 0.075, 0.3],
  ['gemini-1.5-pro', 1.25, 5],
  ['gemini-1.5-flash', 0.075, 0.3],

  // ---- Amazon Bedrock native model ids (us-east-1 on-demand) ----
  ['amazon.nova-premier', 2.5, 12.5],
  ['amazon.nova-pro', 0.8, 3.2],
  ['amazon.nova-lite', 0.06, 0.24],
  ['amazon.nova-micro', 0.035, 0.14],
  ['amazon.titan-text-premier', 0.5, 1.5],
  ['amazon.titan-text-express', 0.2, 0.6],
  ['amazon.titan-text-lite', 0.15, 0.2],
  ['amazon.titan-embed-text-v1', 0.1, 0],
  ['amazon.titan-embed-text-v2', 0.02, 0],
  ['meta.llama3-8b-instruct', 0.3, 0.6],
  ['meta.llama3-70b-instruct', 2.65, 3.5],
  ['meta.llama3-1-8b-instruct', 0.22, 0.22],
  ['meta.llama3-1-70b-instruct', 0.72, 0.72],
  ['meta.llama3-1-405b-instruct', 2.4, 2.4],
  ['meta.llama3-2-1b-instruct', 0.1, 0.1],
  ['meta.llama3-2-3b-instruct', 0.15, 0.15],
  ['meta.llama3-2-11b-instruct', 0.16, 0.16],
  ['meta.llama3-2-90b-instruct', 0.72, 0.72],
  ['meta.llama3-3-70b-instruct', 0.72, 0.72],
  ['meta.llama4-scout-17b-instruct', 0.17, 0.66],
  ['meta.llama4-maverick-17b-instruct', 0.24, 0.97],
  ['mistral.mistral-7b-instruct', 0.15, 0.2],
  ['mistral.mixtral-8x7b-instruct', 0.45, 0.7],
  ['mistral.mistral-small-2402', 1, 3],
  ['mistral.mistral-large-2402', 4, 12],
  ['mistral.mistral-large-2407', 2, 6],
  ['mistral.pixtral-large-2502', 2, 6],
  ['cohere.command-r', 0.5, 1.5],
  ['cohere.command-r-plus', 3, 15],
  ['ai21.jamba-1-5-mini', 0.2, 0.4],
  ['ai21.jamba-1-5-large', 2, 8],
  ['deepseek.r1', 1.35, 5.4],
  ['openai.gpt-oss-20b', 0.07, 0.3],
  ['openai.gpt-oss-120b', 0.15, 0.6],
];

/** The built-in price table, as override-shaped entries (patterns, not globs): for docs and the admin page. */
export const BUILTIN_PRICES: ReadonlyArray<Readonly<ModelPricing>> = Object.freeze(
  TABLE.map(([model, inputPerMTokUSD, outputPerMTokUSD]) => Object.freeze({ model, inputPerMTokUSD, outputPerMTokUSD })),
);

/**
 * [pattern, max output tokens]: the most a model can answer in one call (reasoning and thinking
 * tokens included), from the providers' model pages as of PRICES_AS_OF. The budget reserves this
 * much output for a call that names no output cap of its own. Matched like the price table.
 */
const MAX_OUTPUT_TABLE: ReadonlyArray<readonly [string, number]> = [
  // ---- OpenAI ----
  ['gpt-5.1', 128_000],
  ['gpt-5', 128_000],
  ['gpt-5-chat', 16_384],
  ['gpt-5-pro', 272_000],
  ['gpt-4.5', 16_384],
  ['gpt-4.1', 32_768],
  ['gpt-4o', 16_384],
  ['gpt-4o-2024-05-13', 4_096],
  ['gpt-4o-realtime', 4_096],
  ['gpt-4o-mini-realtime', 4_096],
  ['gpt-realtime', 32_768],
  ['chatgpt-4o', 16_384],
  ['gpt-4-turbo', 4_096],
  ['gpt-4-1106', 4_096],
  ['gpt-4-0125', 4_096],
  ['gpt-4-vision', 4_096],
  ['gpt-4', 8_192],
  ['gpt-4-32k', 32_768],
  ['gpt-3.5-turbo', 4_096],
  ['o1', 100_000],
  ['o1-mini', 65_536],
  ['o3', 100_000],
  ['o3-mini', 100_000],
  ['o4-mini', 100_000],
  ['codex-mini', 100_000],
  ['computer-use-preview', 1_024],
  ['text-embedding-3-small', 0],
  ['text-embedding-3-large', 0],
  ['text-embedding-ada-002', 0],
  ['ft:gpt-4o', 16_384],
  ['ft:gpt-4.1', 32_768],
  ['ft:gpt-3.5-turbo', 4_096],
  ['ft:o4-mini', 100_000],
  // ---- Anthropic ----
  ['claude-opus-4-5', 64_000],
  ['claude-opus-4-1', 32_000],
  ['claude-opus-4', 32_000],
  ['claude-sonnet-4-5', 64_000],
  ['claude-sonnet-4', 64_000],
  ['claude-haiku-4-5', 64_000],
  ['claude-3-7-sonnet', 64_000],
  ['claude-3-5-sonnet', 8_192],
  ['claude-3-5-haiku', 8_192],
  ['claude-3-opus', 4_096],
  ['claude-3-sonnet', 4_096],
  ['claude-3-haiku', 4_096],
  ['claude-2.0', 4_096],
  ['claude-2.1', 4_096],
  ['claude-v2', 4_096],
  ['claude-instant', 4_096],
  // ---- Google Gemini ----
  ['gemini-2.5-pro', 65_536],
  ['gemini-2.5-flash', 65_536],
  ['gemini-2.5-flash-lite', 65_536],
  ['gemini-2.0-flash', 8_192],
  ['gemini-2.0-flash-lite', 8_192],
  ['gemini-1.5-pro', 8_192],
  ['gemini-1.5-flash', 8_192],
  // ---- Amazon Bedrock native model ids ----
  ['amazon.nova-premier', 32_000],
  ['amazon.nova-pro', 10_000],
  ['amazon.nova-lite', 10_000],
  ['amazon.nova-micro', 10_000],
  ['amazon.titan-text-premier', 3_072],
  ['amazon.titan-text-express', 8_192],
  ['amazon.titan-text-lite', 4_096],
  ['amazon.titan-embed-text-v1', 0],
  ['amazon.titan-embed-text-v2', 0],
  ['meta.llama3', 2_048],
  ['meta.llama3-1', 8_192],
  ['meta.llama3-2', 8_192],
  ['meta.llama3-3', 8_192],
  ['meta.llama4-scout-17b-instruct', 8_192],
  ['meta.llama4-maverick-17b-instruct', 8_192],
  ['mistral.mistral-7b-instruct', 8_192],
  ['mistral.mixtral-8x7b-instruct', 4_096],
  ['mistral.mistral-small-2402', 8_192],
  ['mistral.mistral-large-2402', 8_192],
  ['mistral.mistral-large-2407', 8_192],
  ['cohere.command-r', 4_096],
  ['cohere.command-r-plus', 4_096],
  ['deepseek.r1', 32_768],
];

/**
 * Output tokens reserved for a priced model not in MAX_OUTPUT_TABLE (a policy's own pricing glob, a
 * model newer than the table): generous, so a budget errs on the side of refusing a parallel call.
 */
export const DEFAULT_MAX_OUTPUT_TOKENS = 32_768;

/** Characters after which a dated or versioned suffix may follow a pattern. */
const SEPARATORS = new Set(['-', ':', '@', '_']);
/** Bedrock cross-region inference-profile prefixes: us.anthropic.claude-..., global.anthropic.claude-... */
const GEO_PREFIX = /^(?:us|us-gov|eu|apac|ap|au|ca|jp|global)\.(?=[a-z0-9-]+\.)/;

/** The spellings of one model name to match against, from the raw (lower-cased) name to the bare id. */
export function modelCandidates(model: string): string[] {
  let s = model.trim().toLowerCase();
  if (s.includes('%')) {
    try {
      s = decodeURIComponent(s);
    } catch {
      // not URL-encoded after all
    }
  }
  const out = [s];
  const add = (v: string): void => {
    if (v && !out.includes(v)) out.push(v);
  };
  // ARNs (…:foundation-model/<id>, …:inference-profile/<profile id>) and provider/model paths.
  const slash = s.lastIndexOf('/');
  if (slash >= 0) s = s.slice(slash + 1);
  add(s);
  s = s.replace(GEO_PREFIX, '');
  add(s);
  if (s.startsWith('anthropic.')) add(s.slice('anthropic.'.length));
  return out;
}

function prefixMatches(pattern: string, id: string): boolean {
  if (!id.startsWith(pattern)) return false;
  if (id.length === pattern.length) return true;
  return SEPARATORS.has(id[pattern.length]!);
}

/** Bounded memo of built-in lookups: model names come from request bodies. */
const builtinCache = new Map<string, PriceMatch | null>();
const BUILTIN_CACHE_MAX = 2048;

function builtinPrice(model: string): PriceMatch | undefined {
  const cached = builtinCache.get(model);
  if (cached !== undefined) return cached ? { ...cached } : undefined;
  let best: readonly [string, number, number] | undefined;
  for (const id of modelCandidates(model)) {
    for (const entry of TABLE) {
      if ((!best || entry[0].length > best[0].length) && prefixMatches(entry[0], id)) best = entry;
    }
  }
  const found: PriceMatch | null = best
    ? { source: 'builtin', pattern: best[0], inputPerMTokUSD: best[1], outputPerMTokUSD: best[2] }
    : null;
  if (model.length <= 256) {
    if (builtinCache.size >= BUILTIN_CACHE_MAX) builtinCache.clear();
    builtinCache.set(model, found);
  }
  return found ? { ...found } : undefined;
}

/**
 * Does a policy's model glob (`*` for any run of characters, as in every policy glob) match the
 * whole name, raw or normalised? Case-insensitive. Linear in the name, which the agent controls.
 */
export function matchModelGlob(glob: string, model: string): boolean {
  return modelCandidates(model).some((c) => nameGlob(glob, c, true));
}

/**
 * The price of a model: the first override whose glob matches the name (raw or normalised), else
 * the most specific built-in pattern; undefined when neither knows the model.
 */
/** Override lookups per (immutable) override list and model: policies are snapshots, models repeat. */
const overrideCache = new WeakMap<readonly ModelPricing[], Map<string, PriceMatch | null>>();

export function priceFor(model: string | undefined, overrides?: readonly ModelPricing[]): PriceMatch | undefined {
  if (!model) return undefined;
  if (overrides && overrides.length > 0) {
    let perList = overrideCache.get(overrides);
    if (!perList) overrideCache.set(overrides, (perList = new Map()));
    let found = perList.get(model);
    if (found === undefined) {
      const o = overrides.find((p) => matchModelGlob(p.model, model));
      found = o ? { source: 'policy', pattern: o.model, inputPerMTokUSD: o.inputPerMTokUSD, outputPerMTokUSD: o.outputPerMTokUSD } : null;
      if (perList.size < 1_000) perList.set(model, found);
    }
    if (found) return { ...found };
  }
  return builtinPrice(model);
}

const tokens = (n: number | undefined): number => (typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0);

/** Cost of a number of tokens at a price, in USD (rounded to 1e-10 to keep float noise out of totals). */
export function priceTokens(price: Price, inputTokens: number, outputTokens: number): number {
  const usd = (tokens(inputTokens) * price.inputPerMTokUSD + tokens(outputTokens) * price.outputPerMTokUSD) / 1_000_000;
  return Math.round(usd * 1e10) / 1e10;
}

/** What a call with this usage cost, in USD; undefined when the model's price is unknown. */
export function costOf(model: string | undefined, usage: Usage, overrides?: readonly ModelPricing[]): number | undefined {
  const price = priceFor(model, overrides);
  return price ? priceTokens(price, usage.inputTokens, usage.outputTokens) : undefined;
}

/** What a call is expected to cost before it goes out (estimated input, output cap or default). */
export function estimateCost(call: Call, overrides?: readonly ModelPricing[]): number | undefined {
  const price = priceFor(call.model, overrides);
  return price ? priceTokens(price, estimateInputTokens(call), estimateOutputTokens(call)) : undefined;
}

/** Bounded memo of max-output lookups: model names come from request bodies. */
const maxOutputCache = new Map<string, number | null>();

/** The most output a model can produce in one call, when the table knows the model. */
export function knownMaxOutputTokens(model: string | undefined): number | undefined {
  if (!model) return undefined;
  const cached = maxOutputCache.get(model);
  if (cached !== undefined) return cached ?? undefined;
  let best: readonly [string, number] | undefined;
  for (const id of modelCandidates(model)) {
    for (const entry of MAX_OUTPUT_TABLE) {
      if ((!best || entry[0].length > best[0].length) && prefixMatches(entry[0], id)) best = entry;
    }
  }
  if (model.length <= 256) {
    if (maxOutputCache.size >= BUILTIN_CACHE_MAX) maxOutputCache.clear();
    maxOutputCache.set(model, best ? best[1] : null);
  }
  return best?.[1];
}

/**
 * The most a call can cost (USD), for a budget to reserve while it is in flight: estimated input
 * plus the caller's output cap, else the model's max output (DEFAULT_MAX_OUTPUT_TOKENS when the
 * table does not know it). Undefined when the model's price is unknown: such a call reserves nothing.
 */
export function worstCaseCost(call: Call, overrides?: readonly ModelPricing[]): number | undefined {
  const price = priceFor(call.model, overrides);
  if (!price) return undefined;
  const output = call.maxOutputTokens ?? knownMaxOutputTokens(call.model) ?? DEFAULT_MAX_OUTPUT_TOKENS;
  return priceTokens(price, estimateInputTokens(call), output);
}

/** USD for humans: at least two decimals, up to four when they matter ($50.02, $1.004, $0.0031). */
export function formatUsd(usd: number): string {
  const fixed = usd.toFixed(4).replace(/0{1,2}$/, '');
  return `$${fixed}`;
}
