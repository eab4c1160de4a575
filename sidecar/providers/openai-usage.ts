// Streams that report their usage only when asked (OpenAI's chat and legacy completions:
// stream_options.include_usage, answered by a last chunk with no choices). The sidecar asks when the
// agent did not, so that every stream is priced and settled, and withholds that chunk from the
// agent, whose SDK may not expect it (StreamFrame.sidecarOnly).
import type { StreamFrame } from '../call.js';
import type { RequestHead, StreamParser } from './adapter.js';
import { isObject, pathOnly } from './util.js';

/** Azure OpenAI api-versions from which stream_options is taken (older ones refuse unknown fields). */
const AZURE_STREAM_OPTIONS_SINCE = '2024-09-01';

/**
 * Does the service take stream_options? OpenAI and Azure OpenAI (its v1 API, or a recent enough
 * api-version) do. Look-alikes differ: Mistral refuses the field (422, extra inputs not permitted)
 * and reports usage anyway; others are not known, so they are not asked (a stream of theirs that
 * ends without usage is charged an estimate by the data path).
 */
function takesStreamOptions(head: RequestHead): boolean {
  const host = head.host.toLowerCase();
  if (host === 'api.openai.com') return true;
  if (!host.endsWith('.openai.azure.com')) return false;
  const query = head.path.includes('?') ? head.path.slice(head.path.indexOf('?') + 1) : '';
  const version = new URLSearchParams(query).get('api-version');
  if (version === null) return pathOnly(head.path).startsWith('/openai/v1/');
  return /^\d{4}-\d{2}-\d{2}/.test(version) && version.slice(0, 10) >= AZURE_STREAM_OPTIONS_SINCE;
}

/** Adds stream_options.include_usage to a streamed request that lacks it; true when it changed the body. */
export function askForStreamUsage(head: RequestHead, body: unknown): boolean {
  if (!isObject(body) || body.stream !== true || !takesStreamOptions(head)) return false;
  const options = body.stream_options;
  if (isObject(options) && options.include_usage === true) return false;
  body.stream_options = { ...(isObject(options) ? options : {}), include_usage: true };
  return true;
}

/** Is this chunk the usage-only one (usage, and an empty choices list)? */
export const isUsageOnlyChunk = (chunk: Record<string, unknown>): boolean => Array.isArray(chunk.choices) && chunk.choices.length === 0;

/** The parser's frames, with those whose bytes are in `sidecarOnly` marked so. */
export function markingSidecarOnly(parser: StreamParser, sidecarOnly: WeakSet<Buffer>): StreamParser {
  const mark = (frames: StreamFrame[]): StreamFrame[] => {
    for (const f of frames) if (sidecarOnly.has(f.bytes)) f.sidecarOnly = true;
    return frames;
  };
  return { push: (chunk) => mark(parser.push(chunk)), end: () => mark(parser.end()), facts: () => parser.facts() };
}
