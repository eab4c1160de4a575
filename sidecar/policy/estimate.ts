// Token estimates made before a call goes out, for rate limits and per-request cost caps. Real
// usage from the answer settles them afterwards, so a rough estimate only shifts the timing.
import type { Call } from '../call.js';

/** ~4 characters per token for the languages and code agents send. */
const CHARS_PER_TOKEN = 4;
/** Output assumed when the caller sets no cap: enough to matter, not enough to starve a limit. */
export const DEFAULT_OUTPUT_ESTIMATE = 512;

export function estimateInputTokens(call: Call): number {
  let chars = 0;
  for (const t of call.texts) chars += t.text.length;
  return Math.ceil(chars / CHARS_PER_TOKEN);
}

export function estimateOutputTokens(call: Call): number {
  return call.maxOutputTokens ?? DEFAULT_OUTPUT_ESTIMATE;
}

/** Input plus expected output: what a call may spend of a tokens-per-minute budget. */
export function estimateTotalTokens(call: Call): number {
  return estimateInputTokens(call) + estimateOutputTokens(call);
}

/**
 * Tokens of text a model produced, estimated from its length (~4 characters per token): what a
 * stream that ended without reporting its usage (cut short by the client, the upstream or a check)
 * is charged for, rather than nothing.
 */
export function estimateTokensOfText(chars: number): number {
  return Math.ceil(Math.max(0, chars) / CHARS_PER_TOKEN);
}
