// The fuzz oracle: what got through, read as leniently as any reader might (every content coding,
// a BOM, UTF-16, JSON escapes, NFKC look-alikes, invisibles, unicode dashes), and whether it holds
// a forbidden thing. Used on both sides of the sidecar: on what the upstream received (nothing
// forbidden may arrive, and it must be the UTF-8 JSON the sidecar checked) and on what the agent
// received (no forbidden tool call proposed by the model, no planted secret, no forged
// X-Chaperone-* header, no 5xx of the sidecar's own but 502/503/504 in the provider's shape).
import { brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import { FORBIDDEN_TOOL, SECRETS } from './threats.js';

const MAX_DECODED = 64 * 1024 * 1024;
const INVISIBLE = /[\p{Cf}\u034f\ufe00-\ufe0f\u180b-\u180f]/gu;
const DASHES = /[\u2010-\u2015\u2043\u2212\ufe58\ufe63\uff0d]/g;

/** Text folded the way DLP reads it, and further: NFKC, invisibles dropped, dashes unified. */
export function fold(text: string): string {
  return text.normalize('NFKC').replace(INVISIBLE, '').replace(DASHES, '-');
}

/** JSON string escapes undone in place, without parsing (a lone \uD800 stays a lone surrogate). */
export function unescapeJson(text: string): string {
  if (!text.includes('\\')) return text;
  return text.replace(/\\u([0-9a-fA-F]{4})|\\(["\\/bfnrt])/g, (_, hex: string | undefined, c: string | undefined) => {
    if (hex) return String.fromCharCode(parseInt(hex, 16));
    return ({ b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' } as Record<string, string>)[c!] ?? c!;
  });
}

/** Percent-escapes undone where valid, '+' read as a space (a query string). */
export function unescapeUrl(text: string): string {
  return text.replace(/\+/g, ' ').replace(/(?:%[0-9a-fA-F]{2})+/g, (m) => {
    try {
      return decodeURIComponent(m);
    } catch {
      return m;
    }
  });
}

function tryDecode(fn: () => Buffer): Buffer | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

/** Undoes the content codings a header names (last applied first); unknown or broken ones are left. */
export function undoCodings(bytes: Buffer, contentEncoding: string | undefined): Buffer {
  const codings = (contentEncoding ?? '').toLowerCase().split(',').map((c) => c.trim()).filter(Boolean).reverse();
  let out = bytes;
  for (const c of codings) {
    const opts = { maxOutputLength: MAX_DECODED };
    const decoded =
      c === 'gzip' || c === 'x-gzip' ? tryDecode(() => gunzipSync(out, opts))
      : c === 'deflate' ? (tryDecode(() => inflateSync(out, opts)) ?? tryDecode(() => inflateRawSync(out, opts)))
      : c === 'br' ? tryDecode(() => brotliDecompressSync(out, opts))
      : undefined;
    if (decoded) out = decoded;
  }
  return out;
}

/** Undoes codings recognised by their magic bytes (gzip, zlib), whatever the headers said. */
function sniffCodings(bytes: Buffer): Buffer {
  let out = bytes;
  for (let i = 0; i < 3; i++) {
    const opts = { maxOutputLength: MAX_DECODED };
    const next =
      out[0] === 0x1f && out[1] === 0x8b ? tryDecode(() => gunzipSync(out, opts))
      : out[0] === 0x78 && [0x01, 0x5e, 0x9c, 0xda].includes(out[1]!) ? tryDecode(() => inflateSync(out, opts))
      : undefined;
    if (!next) break;
    out = next;
  }
  return out;
}

/** Bytes as text: a BOM says the charset; UTF-16 without one is told by its NUL bytes; else UTF-8. */
export function bytesToText(bytes: Buffer): string {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return bytes.subarray(3).toString('utf8');
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return bytes.subarray(2).toString('utf16le');
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return Buffer.from(bytes.subarray(2)).swap16().toString('utf16le');
  const sample = bytes.subarray(0, 512);
  let evenNul = 0;
  let oddNul = 0;
  for (let i = 0; i < sample.length; i++) if (sample[i] === 0) i % 2 === 0 ? evenNul++ : oddNul++;
  // ASCII-heavy UTF-16 has a NUL in every other byte (a few strays elsewhere: a NUL or a surrogate's low byte).
  const quarter = sample.length / 4;
  if (sample.length >= 4 && oddNul > quarter && evenNul * 8 < oddNul) return bytes.toString('utf16le');
  if (sample.length >= 4 && evenNul > quarter && oddNul * 8 < evenNul) return Buffer.from(bytes.subarray(0, bytes.length & ~1)).swap16().toString('utf16le');
  return bytes.toString('utf8');
}

/**
 * Everything a lenient reader could get from these bytes: codings the header names, then any
 * recognised by magic bytes (`sniff`), then the text by BOM or UTF-16 shape, with JSON escapes undone.
 */
export function lenientText(bytes: Buffer, contentEncoding: string | undefined, sniff: boolean): string {
  return unescapeJson(decodedText(bytes, contentEncoding, sniff));
}

/** lenientText without undoing JSON escapes: still parseable when it was JSON. */
export function decodedText(bytes: Buffer, contentEncoding: string | undefined, sniff: boolean): string {
  let decoded = undoCodings(bytes, contentEncoding);
  if (sniff) {
    decoded = sniffCodings(decoded);
    if (decoded === bytes && contentEncoding === undefined && !isUtf8(bytes)) decoded = tryDecode(() => brotliDecompressSync(bytes, { maxOutputLength: MAX_DECODED })) ?? bytes;
  }
  return bytesToText(decoded);
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });
export function isUtf8(bytes: Buffer): boolean {
  try {
    UTF8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Each planted secret, found with one optional space or dash between any two digits. */
const SECRET_PATTERNS = SECRETS.map((s) => ({ name: `${s.kind} ${s.digits.slice(0, 4)}...`, re: new RegExp(s.digits.split('').join('[\\s-]?')) }));

/**
 * The sidecar's own words when it refuses a tool ("tool X is forbidden for agent Y", "the model
 * called tool X, which is forbidden..."): they name the tool, and are not a call of it.
 */
const OWN_REFUSAL = /\btool ([^\s,"\\]+)(,? (?:which )?is (?:forbidden|not among|not permitted))/gi;

/** The forbidden things a text holds: the forbidden tool's name, a planted secret. */
export function findThreats(text: string): string[] {
  const folded = fold(text);
  const found: string[] = [];
  if (folded.replace(OWN_REFUSAL, 'tool <named>$2').toLowerCase().includes(FORBIDDEN_TOOL)) found.push(`the forbidden tool ${FORBIDDEN_TOOL}`);
  for (const s of SECRET_PATTERNS) if (s.re.test(folded)) found.push(`planted secret ${s.name}`);
  return found;
}

/** Every string leaf and number of parsed JSON (keys too), joined by spaces: a secret sent as a JSON number is seen. */
export function jsonLeaves(value: unknown): string {
  const out: string[] = [];
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') out.push(v);
    else if (typeof v === 'number') out.push(String(v));
    else if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) stack.push(v[i]);
    else if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i--) stack.push(entries[i]![1], entries[i]![0]);
    }
  }
  return out.join(' ');
}

/** Keys whose string values are text a person or a model wrote (not roles, ids, types). */
export const TEXT_KEYS: ReadonlySet<string> = new Set(['content', 'text', 'input', 'instructions', 'system', 'description', 'user', 'name', 'output', 'arguments', 'q', 'topic', 'ref', 'user_id', 'data']);

/**
 * The text fields of parsed JSON in document order, joined by spaces: a secret split over two
 * messages ("... 4111 1111" | "1111 1111 ...") meets again, as it does for the provider's model.
 */
export function textValues(value: unknown, glue = ' '): string {
  const out: string[] = [];
  const walk = (v: unknown, key: string | undefined): void => {
    if (typeof v === 'string') {
      if (key !== undefined && TEXT_KEYS.has(key)) out.push(v);
    } else if (Array.isArray(v)) v.forEach((x) => walk(x, key));
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  walk(value, undefined);
  return out.join(glue);
}

/**
 * What a streaming SDK shows of an answer's text: the text pieces of every frame (SSE data or AWS
 * event-stream payloads alike: "text", "content" and "delta" string values), in order, joined as
 * the SDK joins deltas. A secret cut over two deltas is whole again here.
 */
const STREAM_TEXT_KEYS: ReadonlySet<string> = new Set(['text', 'content', 'delta']);
export function streamedText(raw: string): string {
  return keyedStrings(raw, STREAM_TEXT_KEYS, '');
}

/**
 * The string values of the given keys in JSON text, read without parsing (so in broken JSON and in
 * a repeated key's hidden copy too), in order, joined by `glue`.
 */
export function keyedStrings(raw: string, keys: ReadonlySet<string>, glue: string): string {
  const out: string[] = [];
  let key: string | undefined;
  let afterColon = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x3a /* : */) {
      afterColon = key !== undefined;
      continue;
    }
    if (c !== 0x22 /* " */) {
      if (c > 0x20) (key = undefined), (afterColon = false);
      continue;
    }
    // A string literal: scanned by hand (a regular expression backtracks too deep on a MiB-long one).
    let end = i + 1;
    while (end < raw.length && raw.charCodeAt(end) !== 0x22) end += raw.charCodeAt(end) === 0x5c ? 2 : 1;
    const literal = unescapeJson(raw.slice(i + 1, end));
    if (afterColon && keys.has(key!)) out.push(literal);
    key = afterColon ? undefined : literal;
    afterColon = false;
    i = end;
  }
  return out.join(glue);
}

// ------------------------------------------------------------------------- upstream side

export interface ReceivedRequest {
  method: string;
  /** The request target as received. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** What is wrong with a request the upstream of an intercepted host received. */
export function receivedViolations(r: ReceivedRequest): string[] {
  const problems: string[] = [];
  const coding = header(r.headers, 'content-encoding');
  if (coding !== undefined && coding.toLowerCase() !== 'identity') problems.push(`forwarded with content-encoding ${JSON.stringify(coding.slice(0, 40))}`);
  let parsed: unknown;
  if (r.body.length > 0) {
    if (!isUtf8(r.body)) problems.push('forwarded a body that is not UTF-8');
    else {
      try {
        parsed = JSON.parse(r.body.toString('utf8'));
      } catch {
        problems.push('forwarded a body that is not JSON');
      }
    }
  }
  const seen = new Set<string>();
  const note = (where: string, threats: string[]): void => {
    for (const t of threats) if (!seen.has(t)) seen.add(t), problems.push(`forwarded ${t} (${where})`);
  };
  note('in the request target', findThreats(unescapeUrl(r.path)));
  if (r.body.length > 0) {
    const decoded = decodedText(r.body, coding, true);
    note('in the body', [unescapeJson(decoded), keyedStrings(decoded, TEXT_KEYS, ' '), keyedStrings(decoded, TEXT_KEYS, '')].flatMap(findThreats));
  }
  // Two fields read as one, joined as they are and by a space (as DLP reads the junction of two fields).
  if (parsed !== undefined) note('across fields of the body', [jsonLeaves(parsed), textValues(parsed), textValues(parsed, '')].flatMap(findThreats));
  return problems;
}

// ---------------------------------------------------------------------------- agent side

export interface ReceivedAnswer {
  status: number;
  /** Header lines as received (names as sent, in order). */
  headers: ReadonlyArray<[string, string]>;
  body: Buffer;
}

export function header(headers: Record<string, string | string[] | undefined> | ReadonlyArray<[string, string]>, name: string): string | undefined {
  if (Array.isArray(headers)) return (headers as ReadonlyArray<[string, string]>).find(([n]) => n.toLowerCase() === name)?.[1];
  const v = (headers as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Decisions whose answer the sidecar wrote itself (not the upstream's, relayed). */
const OWN_ANSWER = new Set(['deny', 'error', 'hold', 'rate_limited', 'circuit_open']);

/** Did the sidecar write this answer itself (an error, a refusal), rather than relay the upstream's? */
export function sidecarWrote(a: ReceivedAnswer): boolean {
  const decision = header(a.headers, 'x-chaperone-decision');
  return decision === undefined || OWN_ANSWER.has(decision);
}

/**
 * Tool names an SDK would assemble from an OpenAI chat stream: the Python SDK and LangChain add
 * the string pieces of one call (same choice, same index) together, name included.
 */
export function streamedToolNames(text: string): string[] {
  const names = new Map<string, string>();
  for (const line of text.split(/\r\n|\r|\n/)) {
    const m = /^data:\s?(.*)$/.exec(line);
    if (!m) continue;
    let chunk: unknown;
    try {
      chunk = JSON.parse(m[1]!);
    } catch {
      continue;
    }
    const choices = (chunk as { choices?: unknown }).choices;
    if (!Array.isArray(choices)) continue;
    choices.forEach((c: { index?: unknown; delta?: { tool_calls?: unknown } }, ci) => {
      const calls = c?.delta?.tool_calls;
      if (!Array.isArray(calls)) return;
      calls.forEach((tc: { index?: unknown; function?: { name?: unknown } }, ti) => {
        const name = tc?.function?.name;
        if (typeof name !== 'string') return;
        const key = `${typeof c.index === 'number' ? c.index : ci}:${typeof tc.index === 'number' ? tc.index : ti}`;
        names.set(key, (names.get(key) ?? '') + name);
      });
    });
  }
  return [...names.values()];
}

/** The error shape each host's SDK reads. */
function providerShaped(host: string, a: ReceivedAnswer): boolean {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(a.body.toString('utf8')) as Record<string, unknown>;
  } catch {
    return false;
  }
  const error = body.error as Record<string, unknown> | undefined;
  if (host === 'api.anthropic.com') return body.type === 'error' && typeof error?.type === 'string' && typeof error.message === 'string';
  if (host.startsWith('bedrock-runtime')) return typeof body.message === 'string' && header(a.headers, 'x-amzn-errortype') !== undefined;
  if (host === 'mcp.tools.example.com') return body.jsonrpc === '2.0' && typeof error?.code === 'number' && typeof error.message === 'string';
  return typeof error?.message === 'string';
}

/**
 * What is wrong with one answer the agent received from the sidecar for a call to `host`. A 5xx of
 * the sidecar's own is a fault, except 502/503/504 when the upstream was hostile (`upstreamHostile`),
 * and those must come in the provider's error shape.
 */
export function answerViolations(a: ReceivedAnswer, host: string, upstreamHostile: boolean): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(a.status) || a.status < 100 || a.status > 599) problems.push(`invalid status ${a.status}`);
  const own = sidecarWrote(a);
  const gateway = [502, 503, 504].includes(a.status);
  if (own && a.status >= 500 && !(gateway && upstreamHostile)) problems.push(`the sidecar answered ${a.status}${gateway ? ' though the upstream was not hostile' : ''}`);
  if (own && gateway && upstreamHostile && header(a.headers, 'x-chaperone-request-id') !== undefined && !providerShaped(host, a)) {
    problems.push(`the sidecar's ${a.status} is not in the provider's error shape`);
  }
  const chaperone = a.headers.filter(([n]) => n.toLowerCase().startsWith('x-chaperone-'));
  if (chaperone.some(([n, v]) => v.includes('FORGED') || n.toLowerCase() === 'x-chaperone-forged')) problems.push('relayed a forged X-Chaperone-* header');
  const names = chaperone.map(([n]) => n.toLowerCase());
  if (names.length !== new Set(names).size) problems.push('an X-Chaperone-* header appears twice');
  const decoded = decodedText(a.body, header(a.headers, 'content-encoding'), false);
  const text = unescapeJson(decoded);
  for (const t of new Set([...findThreats(text), ...findThreats(streamedText(decoded))])) problems.push(`the agent received ${t}`);
  if (streamedToolNames(text).some((n) => fold(n).toLowerCase().includes(FORBIDDEN_TOOL))) problems.push('the agent received a streamed call of the forbidden tool, its name in pieces');
  return problems;
}
