// The fuzz corpus (issue 15 item 6): a deterministic, seeded generator of hostile cases for the
// live sidecar. Three families:
//   request  hostile payload (every adapter) x body encoding x path spelling x mutation, sent
//            through one of the sidecar's ways in; each hides a forbidden thing the policy must stop;
//   framing  the same payloads behind HTTP framing and header tricks, written as raw bytes;
//   answer   a harmless request whose upstream answer is hostile (answers.ts).
// A case is data (bytes to write, how to end, which answer the upstream gives), so a failing case
// is reproduced from its id alone: caseById(id).
import { type AnswerFormat, type AnswerRecipe, ANSWER_FORMATS, threatsFor, wrappersFor } from './answers.js';
import { jsonAt, withAt, writeJson, type Json, type WriteStyle } from './json-writer.js';
import { benignRequest, buildPayload, HOSTS, PAYLOAD_KINDS, type Adapter, type Payload } from './payloads.js';
import { chunk, ENCODINGS, head, PATH_SPELLINGS, request, type EncodedBody, type Header } from './request-wire.js';
import { NAME_VARIANTS, SECRETS, SECRET_STYLES, spellSecret } from './threats.js';
import { SeededRandom } from '../../lib/seeded-random.js';

export const CORPUS_SEED = 0x15_0006;

/** The ways into the sidecar: forward proxy (absolute URI), base-URL route, CONNECT + TLS, CONNECT + plain HTTP. */
export type Entry = 'forward-http' | 'base-url' | 'connect-tls' | 'connect-plain';
export type Family = 'request' | 'framing' | 'answer';

/** How a case reaches the sidecar, as bytes. */
export interface Wire {
  entry: Entry;
  /** The intercepted host the case is for. */
  host: string;
  /** CONNECT target (connect-* entries); default host:443 (TLS) or host:80 (plain). */
  connectAuthority?: string;
  /** TLS server name (connect-tls); default the host. */
  servername?: string;
  /** Written in order; the client yields between pieces so they may arrive apart. */
  pieces: Buffer[];
  /** Write the first piece, wait for 100 Continue (or an answer), then the rest. */
  awaitContinue?: boolean;
  /** After writing: read the answers; half-close and read; reset; or keep the connection open and wait. */
  after: 'read' | 'end' | 'destroy' | 'stall';
  /** Answers expected on the connection (pipelining); fewer is fine when it closes. */
  answers: number;
  /** The case needs a connection of its own (its tricks may leave it unusable). */
  fresh: boolean;
}

export interface FuzzCase {
  id: string;
  family: Family;
  adapter: Adapter;
  /** One line, never a body: what the case is. */
  description: string;
  /** For breakdowns: the case's coordinates (encoding, mutation, path, entry, trick, wrapper...). */
  tags: Record<string, string>;
  wire: Wire;
  /** What the hostile upstream answers (answer cases). */
  answer?: AnswerRecipe;
  /** A check of its own, beyond the corpus-wide ones. */
  expect?: 'no-continue';
}

/** A case's place in the plan: materialised (bytes built) only when it runs. */
export interface CaseSpec {
  index: number;
  family: Family;
  /** Family-specific coordinates. */
  a: number;
  b: number;
  round: number;
  threat?: 'tool' | 'secret' | 'none';
}

/** Each case's own stream of choices, so one case is rebuilt from its index alone. */
const caseRand = (index: number): SeededRandom => new SeededRandom(Math.imul(CORPUS_SEED ^ (index + 1), 0x9e3779b1));

// ------------------------------------------------------------------------------------ plan

const ENCODING_NAMES = Object.keys(ENCODINGS);
/** Encodings too costly to repeat every round (a 12 MiB bomb each). */
const ONE_ROUND = new Set(['gzip-bomb']);
const REQUEST_ROUNDS = 6;

export const MUTATIONS = [
  'none', 'pretty', 'dup-first', 'dup-last', 'json-escape', 'escape-keys', 'deep-nest', 'huge-string', 'lone-surrogate',
  'control-chars', 'agent-header', 'query-secret', 'truncated', 'trailing-garbage', 'extra-fields', 'dup-first-escaped',
] as const;

export const TRICKS = [
  'cl-dup-same', 'cl-dup-diff', 'cl-list', 'cl-te', 'te-cl-smuggle', 'te-variant', 'te-obs-fold', 'space-before-colon', 'expect-oversize',
  'expect-continue', 'truncated-end', 'truncated-destroy', 'truncated-chunked', 'stalled', 'pipelined', 'pipelined-reverse', 'header-nul',
  'header-no-colon', 'huge-header', 'lowercase-method', 'http10', 'absolute-userinfo', 'absolute-other-host', 'bare-lf', 'chunk-size-overflow',
  'connection-names-ce', 'duplicate-ce', 'duplicate-ct', 'connect-sni-mismatch', 'connect-garbage', 'connect-bad-authority', 'connect-absolute-other',
  'other-method', 'long-target',
] as const;
type Trick = (typeof TRICKS)[number];
/** Variants per trick; the slow ones (waiting for a timeout) get few. */
const TRICK_VARIANTS = (t: Trick): number => (t === 'stalled' ? 6 : 40);

const ANSWER_ROUNDS = 7;
/** Answer wrappers whose cases wait for a timeout or move tens of MiB: run in round 0 only. */
const ROUND_ZERO_ONLY = new Set(['cl-long-hang', 'stall-mid', 'huge', 'giant-event']);
const TWO_ROUNDS = new Set(['big-event']);

/** Every case, in a deterministic order that interleaves the families (so slow ones spread out). */
export function corpusPlan(): CaseSpec[] {
  const request: Omit<CaseSpec, 'index'>[] = [];
  for (let round = 0; round < REQUEST_ROUNDS; round++) {
    PAYLOAD_KINDS.forEach((_, a) =>
      ENCODING_NAMES.forEach((name, b) => {
        if (round > 0 && ONE_ROUND.has(name)) return;
        request.push({ family: 'request', a, b, round });
      }),
    );
  }
  const framing: Omit<CaseSpec, 'index'>[] = [];
  TRICKS.forEach((t, a) => {
    for (let b = 0; b < TRICK_VARIANTS(t); b++) framing.push({ family: 'framing', a, b, round: 0 });
  });
  const answer: Omit<CaseSpec, 'index'>[] = [];
  for (let round = 0; round < ANSWER_ROUNDS; round++) {
    ANSWER_FORMATS.forEach((format, a) =>
      wrappersFor(format).forEach((wrapper, b) => {
        if (round > 0 && ROUND_ZERO_ONLY.has(wrapper)) return;
        if (round > 1 && TWO_ROUNDS.has(wrapper)) return;
        if (wrapper === 'huge' && format !== 'chat-json' && format !== 'anthropic-json') return;
        for (const threat of threatsFor(format, wrapper)) answer.push({ family: 'answer', a, b, round, threat });
      }),
    );
  }
  return interleave([request, framing, answer]).map((s, index) => ({ ...s, index }));
}

/** Merges lists evenly, each keeping its order. */
function interleave<T>(lists: T[][]): T[] {
  const total = lists.reduce((n, l) => n + l.length, 0);
  const out: T[] = [];
  const taken = lists.map(() => 0);
  for (let i = 0; i < total; i++) {
    // Take from the list that is furthest behind its share.
    let best = 0;
    let lag = -Infinity;
    lists.forEach((l, k) => {
      const behind = (i + 1) * (l.length / total) - taken[k]!;
      if (taken[k]! < l.length && behind > lag) (lag = behind), (best = k);
    });
    out.push(lists[best]![taken[best]!++]!);
  }
  return out;
}

/** The adapter a request or answer case speaks, read off the plan (framing cases pick theirs when built). */
export function specAdapter(spec: CaseSpec): Adapter | undefined {
  if (spec.family === 'request') return PAYLOAD_KINDS[spec.a]!.adapter;
  if (spec.family === 'answer') return FORMAT_ADAPTER[ANSWER_FORMATS[spec.a]!];
  return undefined;
}

export const caseId = (spec: CaseSpec): string => `${spec.family[0]}${String(spec.index).padStart(5, '0')}`;

export function caseById(id: string, plan: CaseSpec[] = corpusPlan()): FuzzCase | undefined {
  const spec = plan[Number(id.slice(1))];
  return spec && caseId(spec) === id ? materialise(spec) : undefined;
}

export function materialise(spec: CaseSpec): FuzzCase {
  const rand = caseRand(spec.index);
  if (spec.family === 'request') return requestCase(spec, rand);
  if (spec.family === 'framing') return framingCase(spec, rand);
  return answerCase(spec, rand);
}

// ------------------------------------------------------------------------- shared pieces

const AGENT = 'fuzzer';

function plantFor(rand: SeededRandom): Parameters<typeof buildPayload>[2] {
  const secret = rand.pick(SECRETS);
  return {
    tool: rand.next() < 0.6 ? NAME_VARIANTS[0] : rand.pick(NAME_VARIANTS),
    secret: spellSecret(secret, rand.pick(SECRET_STYLES), rand.int),
    secretNumber: Number(secret.digits),
  };
}

function pickEntry(adapter: Adapter, rand: SeededRandom): Entry {
  const entry = rand.weighted<Entry>({ 'forward-http': 40, 'connect-tls': 25, 'connect-plain': 15, 'base-url': 20 });
  return entry === 'base-url' && !['openai-chat', 'openai-responses', 'anthropic'].includes(adapter) ? 'forward-http' : entry;
}

/** The request target for an entry (and the Host header it goes with). */
function targetFor(entry: Entry, adapter: Adapter, host: string, path: string, rand: SeededRandom): { target: string; hostHeader: string } {
  switch (entry) {
    case 'forward-http': {
      const authority = rand.pick([host, host, host.toUpperCase(), `${host}.`, `${host}:80`]);
      return { target: `http://${authority}${path}`, hostHeader: authority };
    }
    case 'base-url':
      return { target: `${adapter === 'anthropic' ? '/anthropic' : '/openai'}${path}`, hostHeader: '127.0.0.1' };
    case 'connect-tls':
      return { target: rand.next() < 0.15 ? `https://${host}${rand.pick(['', ':443'])}${path}` : path, hostHeader: host };
    case 'connect-plain':
      return { target: rand.next() < 0.15 ? `http://${host}${path}` : path, hostHeader: host };
  }
}

const baseHeaders = (hostHeader: string, id: string): Header[] => [
  ['Host', hostHeader],
  ['User-Agent', 'chaperone-fuzz'],
  ['Accept', '*/*'],
  ['X-Chaperone-Agent', AGENT],
  ['X-Fuzz-Case', id],
];

// ----------------------------------------------------------------------------- mutations

const FILLER = 'lorem ipsum dolor sit amet consectetur ';

/** Filler text of `bytes` characters: a slice of one long string made once (slicing a flat string copies nothing). */
let fillerText = '';
function filler(bytes: number): string {
  if (fillerText.length < bytes) fillerText = FILLER.repeat(Math.ceil(bytes / FILLER.length) + 1);
  return fillerText.slice(0, bytes);
}

/** Adds a member to the body's object (the first message of a batch). */
function addMember(body: Json, key: string, value: Json): Json {
  if (Array.isArray(body)) return body.map((m, i) => (i === 0 && m !== null && typeof m === 'object' && !Array.isArray(m) ? { ...m, [key]: value } : m));
  if (body !== null && typeof body === 'object') return { ...body, [key]: value };
  return body;
}

interface Mutated {
  text: string;
  /** Headers replacing the case's X-Chaperone-Agent (agent-header mutation). */
  agentHeaders?: Header[];
  query?: string;
}

const DEEP = '"__DEEP__"';

/** Applies a mutation to a payload: the JSON text to encode, and what else changes. */
function mutate(p: Payload, plant: { tool: string; secret: string }, mutation: string, round: number, rand: SeededRandom): Mutated {
  let body: Json = p.body;
  const style: WriteStyle = {};
  const hides = (s: string): boolean => s.includes(plant.tool) || s.includes(plant.secret);
  let deep = 0;
  let after = (t: string): string => t;
  const out: Omit<Mutated, 'text'> = {};
  switch (mutation) {
    case 'pretty':
      style.space = rand.pick([' ', '\n', '\t', '\r\n  ', ' \n\t ']);
      break;
    case 'dup-first':
    case 'dup-first-escaped': {
      // The threat is written first, a harmless value last: a last-wins reader sees only the latter.
      const threat = jsonAt(p.body, p.carrier) ?? null;
      body = withAt(p.body, p.carrier, p.harmless);
      style.duplicate = { path: p.carrier, first: threat, escapeFirstKey: mutation === 'dup-first-escaped' };
      break;
    }
    case 'dup-last':
      style.duplicate = { path: p.carrier, first: p.harmless };
      break;
    case 'json-escape':
      style.escapeString = hides;
      break;
    case 'escape-keys':
      style.escapeKeys = true;
      if (rand.next() < 0.5) style.escapeString = hides;
      break;
    case 'deep-nest':
      deep = rand.pick([8, 64, 127, 128, 129, 1000, 100_000]);
      body = addMember(body, 'x_fuzz', '__DEEP__');
      break;
    case 'huge-string': {
      // Mostly tens of KiB; a few MiB now and then; over the 10 MiB limit in the first round only.
      const big = round === 0 && rand.int(4) === 0 ? rand.pick([3072, 11_264]) : undefined;
      const size = (big ?? rand.pick([16, 16, 16, 64, 64, 64, 256, 256, 1024])) * 1024;
      const text = jsonAt(body, p.textPath);
      if (typeof text === 'string') body = withAt(body, p.textPath, `${filler(size)} ${text}`);
      break;
    }
    case 'lone-surrogate':
      body = addMember(body, 'x_note', '\ud800 lone \udfff and \udbff');
      break;
    case 'control-chars':
      body = addMember(body, 'x_note', '\u0000\u0001\u001f\u007f\u2028\u2029\u200e ok');
      break;
    case 'agent-header':
      out.agentHeaders = rand.pick<Header[]>([
        [],
        [['X-Chaperone-Agent', 'unknown']],
        [['X-Chaperone-Agent', 'admin']],
        [['X-Chaperone-Agent', 'FUZZER']],
        [['X-Chaperone-Agent', ' fuzzer\t']],
        [['X-Chaperone-Agent', 'x'.repeat(5000)]],
        [['X-Chaperone-Agent', AGENT], ['X-Chaperone-Agent', 'admin']],
        [['x-chaperone-agent', 'r\u00f6ot']],
      ]);
      break;
    case 'query-secret':
      // The secret only in the query string (the provider reads it too): the body is harmless.
      if (p.threat === 'secret') {
        body = withAt(p.body, p.carrier, p.harmless);
        out.query = `ref=${encodeURIComponent(plant.secret).replace(/%20/g, rand.pick(['+', '%20']))}`;
      } else out.query = 'x=1';
      break;
    case 'truncated':
      after = (t) => t.slice(0, 1 + rand.int(t.length - 1));
      break;
    case 'trailing-garbage':
      after = (t) => t + rand.pick([' x', '{}', '\u0000', '\n{"a":1}', ',', ']', ' // comment']);
      break;
    case 'extra-fields':
      body = addMember(body, 'x_extra', { a: [1, 2, { b: 'c' }], emoji: '\u{1f600}', big: 1e308, neg: -0, nul: null });
      break;
  }
  let text = after(writeJson(body, style));
  if (deep > 0) text = text.replace(DEEP, `${'['.repeat(deep)}${']'.repeat(deep)}`);
  return { ...out, text };
}

// --------------------------------------------------------------------------- request cases

function requestCase(spec: CaseSpec, rand: SeededRandom): FuzzCase {
  const id = caseId(spec);
  const kind = PAYLOAD_KINDS[spec.a]!;
  const encoding = ENCODING_NAMES[spec.b]!;
  const plant = plantFor(rand);
  const payload = buildPayload(kind.adapter, kind.name, plant);
  // The mutation rotates with the coordinates, so every payload meets every mutation across rounds.
  const mutation = MUTATIONS[(spec.a * 7 + spec.b * 3 + spec.round * 5) % MUTATIONS.length]!;
  const mutated = mutate(payload, plant, mutation, spec.round, rand);
  const encoded: EncodedBody = ENCODINGS[encoding]!(mutated.text);
  const spelling = rand.weighted<string>({
    canonical: 30, 'dot-segment': 8, 'dot-dot': 8, 'encoded-dot': 5, 'double-slash': 8, 'trailing-slash': 8, 'pct-unreserved': 8,
    'encoded-slash': 6, query: 6, mixed: 6, 'bad-escape': 2, backslash: 2,
  });
  const host = HOSTS[kind.adapter];
  const entry = pickEntry(kind.adapter, rand);
  let path = PATH_SPELLINGS[spelling]!(payload.path, rand.int);
  if (mutated.query) path += `${path.includes('?') ? '&' : '?'}${mutated.query}`;
  const { target, hostHeader } = targetFor(entry, kind.adapter, host, path, rand);
  const headers = baseHeaders(hostHeader, id).filter(([n]) => !(mutated.agentHeaders && n === 'X-Chaperone-Agent'));
  headers.push(...(mutated.agentHeaders ?? []));
  const bytes = request('POST', target, headers, encoded, rand.int);
  return {
    id,
    family: 'request',
    adapter: kind.adapter,
    description: `${payload.name} (${payload.threat}) x ${encoding} x ${spelling} x ${mutation} via ${entry}`,
    tags: { adapter: kind.adapter, payload: payload.name, threat: payload.threat, encoding, spelling, mutation, entry },
    wire: { entry, host, pieces: [bytes], after: 'read', answers: 1, fresh: false },
  };
}

// --------------------------------------------------------------------------- framing cases

interface TrickContext {
  target: string;
  hostHeader: string;
  headers: Header[];
  /** The hostile body (compact JSON, identity encoding). */
  body: Buffer;
  /** A whole harmless request on the same target (pipelining). */
  benign: Buffer;
  /** A whole hostile request on the same target (pipelining, smuggling). */
  hostile: Buffer;
  rand: SeededRandom;
}

const JSON_CT: Header = ['Content-Type', 'application/json'];
const len = (b: Buffer): Header => ['Content-Length', String(b.length)];
const half = (b: Buffer): Buffer => b.subarray(0, Math.max(1, b.length >> 1));

/** Each trick: the bytes it writes and how the client behaves (connect tricks also set up the connection). */
const TRICK_WIRES: Record<Trick, (c: TrickContext) => Partial<Wire>> = {
  'cl-dup-same': (c) => ({ pieces: [Buffer.concat([head('POST', c.target, [...c.headers, JSON_CT, len(c.body), len(c.body)]), c.body])] }),
  'cl-dup-diff': (c) => ({ pieces: [Buffer.concat([head('POST', c.target, [...c.headers, JSON_CT, ['Content-Length', '5'], len(c.body)]), c.body])] }),
  'cl-list': (c) => ({ pieces: [Buffer.concat([head('POST', c.target, [...c.headers, JSON_CT, ['Content-Length', `${c.body.length}, ${c.body.length}`]]), c.body])] }),
  'cl-te': (c) => ({ pieces: [Buffer.concat([head('POST', c.target, [...c.headers, JSON_CT, len(c.body), ['Transfer-Encoding', 'chunked']]), chunk(c.body, c.rand.int)])] }),
  'te-cl-smuggle': (c) => {
    const smuggled = Buffer.concat([Buffer.from('0\r\n\r\n'), c.hostile]);
    return { pieces: [Buffer.concat([head('POST', c.target, [...c.headers, JSON_CT, ['Content-Length', '4'], ['Transfer-Encoding', 'chunked']]), smuggled])], answers: 2 };
  },
  'te-variant': (c) => {
    const te = c.rand.pick(['xchunked', ' chunked', 'chunked, identity', 'Chunked', 'chunked\t', 'identity, chunked', 'gzip, chunked']);
    const withLength = c.rand.next() < 0.5;
    return { pieces: [Buffer.concat([head('POST', c.target, [...c.headers, JSON_CT, ['Transfer-Encoding', te], ...(withLength ? [len(c.body)] : [])]), chunk(c.body, c.rand.int)])] };
  },
  'te-obs-fold': (c) => ({ pieces: [Buffer.concat([head('POST', c.target, [...c.headers, JSON_CT, ['Transfer-Encoding', '\r\n chunked']]), chunk(c.body, c.rand.int)])] }),
  'space-before-colon': (c) => ({ pieces: [Buffer.concat([head('POST', c.target, [...c.headers, JSON_CT, ['Content-Length ', String(c.body.length)]]), c.body])] }),
  'expect-oversize': (c) => ({ pieces: [head('POST', c.target, [...c.headers, JSON_CT, ['Expect', '100-continue'], ['Content-Length', String(20 * 1024 * 1024)]])] }),
  'expect-continue': (c) => ({ pieces: [head('POST', c.target, [...c.headers, JSON_CT, ['Expect', '100-continue'], len(c.body)]), c.body], awaitContinue: true }),
  'truncated-end': (c) => ({ pieces: [head('POST', c.target, [...c.headers, JSON_CT, len(c.body)]), half(c.body)], after: 'end' }),
  'truncated-destroy': (c) => ({ pieces: [head('POST', c.target, [...c.headers, JSON_CT, len(c.body)]), half(c.body)], after: 'destroy' }),
  'truncated-chunked': (c) => ({ pieces: [head('POST', c.target, [...c.headers, JSON_CT, ['Transfer-Encoding', 'chunked']]), chunk(half(c.body), c.rand.int, false)], after: 'end' }),
  stalled: (c) => ({ pieces: [head('POST', c.target, [...c.headers, JSON_CT, len(c.body)]), half(c.body)], after: 'stall' }),
  pipelined: (c) => ({ pieces: [Buffer.concat([c.benign, c.hostile])], answers: 2 }),
  'pipelined-reverse': (c) => ({ pieces: [Buffer.concat([c.hostile, c.benign])], answers: 2 }),
  'header-nul': (c) => ({ pieces: [Buffer.concat([head('POST', c.target, [...c.headers, JSON_CT, ['X-Note', 'a\u0000b'], len(c.body)]), c.body])] }),
  'header-no-colon': (c) => ({ pieces: [Buffer.concat([Buffer.from(`POST ${c.target} HTTP/1.1\r\nHost: ${c.hostHeader}\r\nX-Header-Without-Colon\r\nContent-Length: ${c.body.length}\r\n\r\n`), c.body])] }),
  'huge-header': (c) => ({ pieces: [Buffer.concat([head('POST', c.target, [...c.headers, JSON_CT, ['X-Big', 'a'.repeat(20_000 + c.rand.int(50_000))], len(c.body)]), c.body])] }),
  'lowercase-method': (c) => ({ pieces: [Buffer.concat([head('post', c.target, [...c.headers, JSON_CT, len(c.body)]), c.body])] }),
  http10: (c) => ({ pieces: [Buffer.concat([head('POST', c.target, [...c.headers, JSON_CT, len(c.body)], 'HTTP/1.0'), c.body])] }),
  'absolute-userinfo': (c) => ({ pieces: [Buffer.concat([head('POST', c.target.replace('http://', 'http://user:pw@'), [...c.headers, JSON_CT, len(c.body)]), c.body])] }),
  'absolute-other-host': (c) => ({ pieces: [Buffer.concat([head('POST', `${c.target.startsWith('/') ? 'https://evil.example.test' : ''}${c.target}`.replace(/\/\/[^/]+\//, '//evil.example.test/'), [...c.headers, JSON_CT, len(c.body)]), c.body])] }),
  'bare-lf': (c) => ({ pieces: [Buffer.concat([Buffer.from(head('POST', c.target, [...c.headers, JSON_CT, len(c.body)]).toString('latin1').replace(/\r\n/g, '\n'), 'latin1'), c.body])] }),
  'chunk-size-overflow': (c) => ({ pieces: [Buffer.concat([head('POST', c.target, [...c.headers, JSON_CT, ['Transfer-Encoding', 'chunked']]), Buffer.from('ffffffffffffffffff\r\n'), c.body, Buffer.from('\r\n0\r\n\r\n')])] }),
  'connection-names-ce': (c) => {
    const gz = ENCODINGS.gzip!(c.body.toString());
    return { pieces: [request('POST', c.target, [...c.headers, ['Connection', 'keep-alive, content-encoding, content-type']], gz, c.rand.int)] };
  },
  'duplicate-ce': (c) => {
    const gz = ENCODINGS.gzip!(c.body.toString());
    const order: Header[] = c.rand.next() < 0.5 ? [['Content-Encoding', 'identity'], ['Content-Encoding', 'gzip']] : [['Content-Encoding', 'gzip'], ['Content-Encoding', 'identity']];
    return { pieces: [Buffer.concat([head('POST', c.target, [...c.headers, JSON_CT, ...order, len(gz.body)]), gz.body])] };
  },
  'duplicate-ct': (c) => {
    const u16 = ENCODINGS['utf16le-charset']!(c.body.toString());
    return { pieces: [Buffer.concat([head('POST', c.target, [...c.headers, ['Content-Type', 'application/json'], ...u16.headers, len(u16.body)]), u16.body])] };
  },
  'connect-sni-mismatch': () => ({ entry: 'connect-tls', servername: 'evil.example.test', pieces: [], after: 'read' }),
  'connect-garbage': (c) => ({ entry: 'connect-plain', pieces: [Buffer.from(Array.from({ length: 8 + c.rand.int(64) }, () => 1 + c.rand.int(31)))], after: 'read' }),
  'connect-bad-authority': (c) => ({ entry: 'connect-plain', connectAuthority: c.rand.pick(['api.openai.com:99999', '/v1/chat/completions', 'user@api.openai.com:443', '[::1', '']), pieces: [] }),
  'other-method': (c) => ({ pieces: [Buffer.concat([head(c.rand.pick(['PUT', 'PATCH', 'DELETE', 'OPTIONS']), c.target, [...c.headers, JSON_CT, len(c.body)]), c.body])] }),
  'long-target': (c) => ({ pieces: [Buffer.concat([head('POST', `${c.target}?pad=${'a'.repeat(8_000 + c.rand.int(60_000))}`, [...c.headers, JSON_CT, len(c.body)]), c.body])] }),
  'connect-absolute-other': (c) => ({ entry: 'connect-plain', pieces: [Buffer.concat([head('POST', 'http://evil.example.test/v1/chat/completions', [...c.headers, JSON_CT, len(c.body)]), c.body])] }),
};

function framingCase(spec: CaseSpec, rand: SeededRandom): FuzzCase {
  const id = caseId(spec);
  const trick = TRICKS[spec.a]!;
  const kind = rand.pick(PAYLOAD_KINDS);
  const plant = plantFor(rand);
  const payload = buildPayload(kind.adapter, kind.name, plant);
  const host = HOSTS[kind.adapter];
  let entry = rand.weighted<Entry>({ 'forward-http': 50, 'connect-plain': 25, 'connect-tls': 25 });
  if (trick === 'absolute-userinfo') entry = 'forward-http';
  if (trick === 'absolute-other-host' && entry === 'forward-http') entry = 'connect-tls';
  const { target, hostHeader } = targetFor(entry, kind.adapter, host, payload.path, rand);
  const headers = baseHeaders(hostHeader, id);
  const body = Buffer.from(writeJson(payload.body));
  const json = ENCODINGS.json!;
  const benignGet = head('GET', target.replace(/\/[^/?]*(\?.*)?$/, '/models'), headers);
  const c: TrickContext = { target, hostHeader, headers, body, benign: benignGet, hostile: request('POST', target, headers, json(body.toString()), rand.int), rand };
  const wire: Wire = { entry, host, pieces: [], after: 'read', answers: 1, fresh: true, ...TRICK_WIRES[trick](c) };
  const method = /^[A-Za-z]+/.exec(wire.pieces[0]?.toString('latin1', 0, 8) ?? '')?.[0];
  return {
    id,
    family: 'framing',
    adapter: kind.adapter,
    description: `${trick}${trick === 'other-method' ? ` (${method})` : ''} hiding ${payload.name} (${payload.threat}) via ${wire.entry}`,
    tags: { adapter: kind.adapter, trick, payload: payload.name, threat: payload.threat, entry: wire.entry },
    wire,
    ...(trick === 'expect-oversize' ? { expect: 'no-continue' as const } : {}),
  };
}

// ---------------------------------------------------------------------------- answer cases

const FORMAT_ADAPTER: Record<AnswerFormat, Adapter> = {
  'chat-json': 'openai-chat', 'chat-sse': 'openai-chat', 'responses-json': 'openai-responses', 'responses-sse': 'openai-responses',
  'anthropic-json': 'anthropic', 'anthropic-sse': 'anthropic', 'bedrock-json': 'bedrock', 'bedrock-es': 'bedrock', 'mcp-json': 'mcp', 'mcp-sse': 'mcp',
};

function answerCase(spec: CaseSpec, rand: SeededRandom): FuzzCase {
  const id = caseId(spec);
  const format = ANSWER_FORMATS[spec.a]!;
  const wrapper = wrappersFor(format)[spec.b]!;
  const adapter = FORMAT_ADAPTER[format];
  const stream = !format.endsWith('-json');
  const plant = plantFor(rand);
  const recipe: AnswerRecipe = { format, wrapper, threat: spec.threat ?? 'none', tool: plant.tool, secret: plant.secret, seed: rand.int(2 ** 31) };
  const { path, body } = benignRequest(adapter, stream);
  const host = HOSTS[adapter];
  const entry = pickEntry(adapter, rand);
  const spelling = rand.weighted<string>({ canonical: 70, 'dot-segment': 10, 'double-slash': 10, 'pct-unreserved': 10 });
  const { target, hostHeader } = targetFor(entry, adapter, host, PATH_SPELLINGS[spelling]!(path, rand.int), rand);
  const headers: Header[] = [...baseHeaders(hostHeader, id), ...(format === 'mcp-sse' ? [['Accept', 'application/json, text/event-stream'] as Header] : [])];
  const bytes = request('POST', target, headers, ENCODINGS.json!(writeJson(body)), rand.int);
  return {
    id,
    family: 'answer',
    adapter,
    description: `answer ${format} ${wrapper} (${recipe.threat}) via ${entry}`,
    tags: { adapter, format, wrapper, threat: recipe.threat, entry },
    wire: { entry, host, pieces: [bytes], after: 'read', answers: 1, fresh: false },
    answer: recipe,
  };
}
