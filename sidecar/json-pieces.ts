// JSON read and written in pieces. One JSON.parse (or JSON.stringify) of a 32 MiB body holds the
// event loop 50-100 ms, and no request may stall it more than 50 ms: so a large text is parsed as
// many small JSON.parse calls, and a large value stringified member by member, with a pause (a
// setImmediate) whenever about `pieceChars` characters have been handled since the last one.
//
// Parsing is one linear scan of the text (strings skipped with indexOf, brackets counted) that
// finds the containers larger than pieceChars ("big" ones). A big container is cut at some of its
// commas into runs of members of about pieceChars, and each run is handed to JSON.parse wrapped in
// the container's brackets: JSON.parse itself checks every key, separator and value, and decodes
// every key and string, so the result is JSON.parse's own. A big member is cut out of its run, its
// place taken by `null` so JSON.parse still checks the key and separators around it. The scan
// closes big containers innermost first, so no part of the text is scanned or parsed twice however
// deep big containers nest, and nothing recurses. A string value longer than a piece stands in its
// run as a big member does, and is itself read in slices that never end inside an escape.
//
// Bounds (JSON_BOUNDS) keep each piece cheap: nesting, keys in one object, elements in one array.

import { runInPieces } from '../lib/steps.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

const DEFAULT_PIECE_CHARS = 256 * 1024;
/** How many characters a scanning loop passes between two looks at whether it is time to pause. */
const CHECK_EVERY = 4096;

/** JSON whitespace (RFC 8259): space, tab, LF, CR; nothing else, not even a BOM. */
const isWhitespace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** The end (index after the closing quote) of the string whose opening quote is at `start`; -1 when it is not closed. */
export function stringEnd(text: string, start: number): number {
  let q = text.indexOf('"', start + 1);
  for (;;) {
    if (q === -1) return -1;
    let backslashes = 0;
    for (let k = q - 1; text.charCodeAt(k) === BACKSLASH; k--) backslashes++;
    if (backslashes % 2 === 0) return q + 1;
    q = text.indexOf('"', q + 1);
  }
}

export interface PieceOptions {
  /** About how many characters are handled between two pauses (default 256 Ki). */
  pieceChars?: number;
  /** parseJson*: how deep containers larger than pieceChars may nest (default JSON_BOUNDS). */
  maxDepth?: number;
  /** parseJson*: how many keys an object larger than pieceChars may have (default JSON_BOUNDS); smaller ones are structuralProblem's to count. */
  maxKeys?: number;
  /** parseJson*: how many elements an array larger than pieceChars may have (default JSON_BOUNDS); smaller ones likewise. */
  maxItems?: number;
  /** Told how many characters each stretch between pauses handled (and the last one): for tests and metrics. */
  onStep?: (chars: number) => void;
}

/**
 * How far a JSON body may go before it is refused unread: far beyond any provider's format, and
 * well short of what makes reading it slow. Nesting: the recursive checks never walk deeper.
 * Keys in one object: V8 grows an object of 700 K keys for a second (JSON.parse alone), and so does
 * every walk of it after; no provider's format has an object of more than a few hundred.
 * Elements in one array: an array of 5 M numbers is built in copies of up to 40 MB as it grows; the
 * largest arrays a provider takes are embeddings inputs (OpenAI: at most 300 K tokens a request).
 */
export interface JsonBounds {
  maxDepth: number;
  maxKeys: number;
  maxItems: number;
}

export const JSON_BOUNDS: JsonBounds = { maxDepth: 128, maxKeys: 10_000, maxItems: 1_000_000 };

/** A JSON text beyond one of its bounds (JsonBounds): refused, not read. Messages say "the JSON body"; callers may put their own subject. */
export class JsonBeyondBounds extends Error {}

/** A JSON text whose containers larger than pieceChars nest deeper than maxDepth. */
export class JsonTooDeep extends JsonBeyondBounds {
  constructor(readonly maxDepth: number) {
    super(tooDeep(maxDepth));
    this.name = 'JsonTooDeep';
  }
}

/** A JSON text with an object of more than maxKeys keys, or an array of more than maxItems elements. */
export class JsonTooWide extends JsonBeyondBounds {
  constructor(message: string) {
    super(message);
    this.name = 'JsonTooWide';
  }
}

export const tooDeep = (maxDepth: number): string => `the JSON body nests deeper than ${maxDepth} levels`;
export const tooWide = (maxKeys: number): string => `the JSON body has an object of more than ${maxKeys} keys`;
export const tooLong = (maxItems: number): string => `the JSON body has an array of more than ${maxItems} elements`;

/** JSON.parse's own message quotes the text around the error (a prompt, a key): this one names an offset only. */
const malformed = (offset: number): SyntaxError => new SyntaxError(`malformed JSON near character ${Math.max(0, offset)}`);

/** Characters handled since the last pause: says when the stretch is long enough to pause. */
class Stretch {
  private chars = 0;
  constructor(
    private readonly limit: number,
    private readonly onStep: ((chars: number) => void) | undefined,
  ) {}
  /** Counts `chars` more; true when it is time to pause (then call end()). */
  add(chars: number): boolean {
    this.chars += chars;
    return this.chars >= this.limit;
  }
  /** Ends the stretch, before a pause or at the very end. */
  end(): void {
    this.onStep?.(this.chars);
    this.chars = 0;
  }
}

// ------------------------------------------------------------------------------------ parse

/** JSON.parse(text), in pieces: the same value, or a SyntaxError for the same texts (JsonTooDeep aside). */
export async function parseJsonInPieces(text: string, pause: () => Promise<void>, options?: PieceOptions): Promise<unknown> {
  return runInPieces(parseJsonSteps(text, options), pause);
}

/** parseJsonInPieces as steps: yields where it would pause. */
export function* parseJsonSteps(text: string, options: PieceOptions = {}): Generator<void, unknown> {
  const limits: Limits = {
    pieceChars: Math.max(1, options.pieceChars ?? DEFAULT_PIECE_CHARS),
    maxDepth: options.maxDepth ?? JSON_BOUNDS.maxDepth,
    maxKeys: options.maxKeys ?? JSON_BOUNDS.maxKeys,
    maxItems: options.maxItems ?? JSON_BOUNDS.maxItems,
  };
  const stretch = new Stretch(limits.pieceChars, options.onStep);
  let value: unknown;
  if (text.length <= limits.pieceChars) {
    stretch.add(text.length);
    value = parsePiece(text, 0);
  } else {
    // Whitespace around the value is skipped here, counted: there may be megabytes of it.
    const start = yield* skipWhitespace(text, 0, stretch);
    const c = text.charCodeAt(start);
    let end: number;
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      ({ value, end } = yield* containerSteps(text, start, limits, stretch));
    } else {
      // A number, however long, is one piece; a string is read in slices.
      end = yield* scalarEnd(text, start, stretch);
      if (c === QUOTE && end - start > limits.pieceChars && stringEnd(text, start) === end) {
        value = yield* stringSteps(text, start, end, limits.pieceChars, stretch);
      } else {
        stretch.add(end - start);
        value = parsePiece(text.slice(start, end), start);
      }
    }
    const after = yield* skipWhitespace(text, end, stretch);
    if (after < text.length) throw malformed(after);
  }
  stretch.end();
  return value;
}

interface Limits extends JsonBounds {
  pieceChars: number;
}

/** Is the string ending at `end` a key (a ':' follows it)? */
function isKey(text: string, end: number): boolean {
  let i = end;
  while (i < text.length && isWhitespace(text.charCodeAt(i))) i++;
  return text.charCodeAt(i) === COLON;
}

/**
 * How long a slice of a long string is: small enough that each slice's JSON text and value stay in
 * V8's young generation (strings over 128 KB go to its large-object space, freed only by a full GC:
 * a 10 MiB string read in 256 K slices left 30 MiB there, and the fuzz corpus's peak RSS went past 256 MiB).
 */
const STRING_SLICE_CHARS = 32 * 1024;

/**
 * The string whose quotes are at `start` and `end - 1`, read in slices of about pieceChars (JSON.parse
 * of a 32 MiB string holds the event loop ~40 ms). A slice never ends inside an escape sequence, so
 * each is a valid JSON string when the whole is, and an invalid escape or control character fails
 * the slice it is in, as it fails the whole.
 */
function* stringSteps(text: string, start: number, end: number, pieceChars: number, stretch: Stretch): Generator<void, string> {
  const parts: string[] = [];
  const last = end - 1;
  /** The next backslash at or after where the walk is (-1: none to the end), searched for again only once passed. */
  let backslash = text.indexOf('\\', start + 1);
  for (let at = start + 1; at < last; ) {
    let cut = Math.min(at + Math.min(pieceChars, STRING_SLICE_CHARS), last);
    // Escapes are 2 characters, or 6 for \uXXXX; walking from `at`, which starts no escape's middle.
    while (backslash !== -1 && backslash < cut) {
      const length = text.charCodeAt(backslash + 1) === 0x75 ? 6 : 2;
      if (backslash + length > cut) {
        cut = backslash > at ? backslash : Math.min(backslash + length, last);
        break;
      }
      backslash = text.indexOf('\\', backslash + length);
    }
    parts.push(parsePiece(`"${text.slice(at, cut)}"`, at - 1) as string);
    if (stretch.add(cut - at)) yield stretch.end();
    at = cut;
  }
  return parts.join('');
}

/** JSON.parse of one piece; `offset` is where the piece's first character sits in the whole text. */
function parsePiece(source: string, offset: number): unknown {
  try {
    return JSON.parse(source);
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    // V8 names a position in most messages ("... in JSON at position 12"); only the number is kept.
    const position = /at position (\d+)/.exec(err.message);
    throw malformed(offset + (position ? Number(position[1]) : 0));
  }
}

/** The first index at or after `i` that is not JSON whitespace. */
function* skipWhitespace(text: string, i: number, stretch: Stretch): Generator<void, number> {
  let mark = i;
  for (; i < text.length && isWhitespace(text.charCodeAt(i)); i++) {
    if (i - mark >= CHECK_EVERY) {
      if (stretch.add(i - mark)) yield stretch.end();
      mark = i;
    }
  }
  stretch.add(i - mark);
  return i;
}

/** Where the string, number or literal starting at `start` ends (for a malformed one: somewhere JSON.parse will refuse). */
function* scalarEnd(text: string, start: number, stretch: Stretch): Generator<void, number> {
  if (text.charCodeAt(start) === QUOTE) {
    const end = stringEnd(text, start);
    return end === -1 ? text.length : end;
  }
  let mark = start;
  let i = start;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isWhitespace(c) || c === QUOTE || c === COMMA || c === OPEN_ARRAY || c === CLOSE_ARRAY || c === OPEN_OBJECT || c === CLOSE_OBJECT) break;
    if (i - mark >= CHECK_EVERY) {
      if (stretch.add(i - mark)) yield stretch.end();
      mark = i;
    }
  }
  return i;
}

/** A container the scan has opened and not yet closed. */
interface Frame {
  /** Index of its '{' or '['. */
  start: number;
  /** The last comma directly in it (not in a member), or -1. */
  lastComma: number;
  /** Where the run being gathered starts: its opening bracket or the comma that ended the last run. */
  lastCut: number;
  /** The commas that end runs (only a big container gets any). */
  cuts: number[] | undefined;
  /** Its big members, in order. */
  bigs: Big[] | undefined;
  /** Runs of whitespace longer than pieceChars, as [start, end) pairs: left out of what JSON.parse reads. */
  gaps: number[] | undefined;
  /** How deep big containers nest in its big members (0: it has none). */
  height: number;
}

/** A container larger than pieceChars, already parsed. */
interface Big {
  start: number;
  end: number;
  value: unknown;
  height: number;
}

const newFrame = (start: number): Frame => ({ start, lastComma: -1, lastCut: start, cuts: undefined, bigs: undefined, gaps: undefined, height: 0 });

/**
 * The object or array whose opening bracket is at `start`, and the index after its closing one.
 * One pass: a container that closes within pieceChars is left to the JSON.parse of the run (or
 * piece) it is in; a bigger one is assembled from its runs right when it closes.
 */
function* containerSteps(text: string, start: number, limits: Limits, stretch: Stretch): Generator<void, { value: unknown; end: number }> {
  const { pieceChars, maxDepth } = limits;
  const stack: Frame[] = [];
  let mark = start;
  let whitespaceFrom = -1;
  for (let i = start; ; ) {
    if (i - mark >= CHECK_EVERY) {
      if (stretch.add(i - mark)) yield stretch.end();
      mark = i;
    }
    if (i >= text.length) throw malformed(text.length);
    const c = text.charCodeAt(i);
    if (isWhitespace(c)) {
      if (whitespaceFrom < 0) whitespaceFrom = i;
      i++;
      continue;
    }
    if (whitespaceFrom >= 0) {
      // JSON.parse walks whitespace fast, but 30 MiB of it still takes 40 ms.
      if (i - whitespaceFrom > pieceChars) (stack[stack.length - 1]!.gaps ??= []).push(whitespaceFrom, i);
      whitespaceFrom = -1;
    }
    switch (c) {
      case QUOTE: {
        const end = stringEnd(text, i);
        if (end === -1) throw malformed(i);
        // A string value longer than a piece is read in slices, and stands in its run as a big member does.
        if (end - i > pieceChars && stack.length > 0 && !isKey(text, end)) {
          const full = stretch.add(i - mark);
          mark = end;
          if (full) yield stretch.end();
          addBig(stack[stack.length - 1]!, { start: i, end, value: yield* stringSteps(text, i, end, pieceChars, stretch), height: 0 });
        }
        i = end;
        continue;
      }
      case OPEN_OBJECT:
      case OPEN_ARRAY:
        // maxDepth + 1 containers open for longer than pieceChars: all big, one inside the other.
        // Said now rather than when they close, so the stack stays small (a body of 30 MiB of '[').
        if (stack.length > maxDepth && i - stack[maxDepth]!.start >= pieceChars) throw new JsonTooDeep(maxDepth);
        stack.push(newFrame(i));
        break;
      case COMMA:
        comma(stack[stack.length - 1]!, i, pieceChars);
        break;
      case CLOSE_OBJECT:
      case CLOSE_ARRAY: {
        const frame = stack.pop()!;
        const end = i + 1;
        const full = stretch.add(end - mark);
        mark = end;
        if (full) yield stretch.end();
        if (end - frame.start > pieceChars) {
          const big = yield* assemble(text, frame, end, limits, stretch);
          if (stack.length === 0) return { value: big.value, end };
          addBig(stack[stack.length - 1]!, big);
        } else if (stack.length === 0) {
          stretch.add(end - frame.start);
          return { value: parsePiece(text.slice(frame.start, end), frame.start), end };
        }
        break;
      }
    }
    i++;
  }
}

/**
 * A comma directly in `frame`: it ends the run when the run is long enough. So the comma after a
 * big member always ends the run that member is in (the member alone is longer than pieceChars).
 */
function comma(frame: Frame, at: number, pieceChars: number): void {
  frame.lastComma = at;
  if (at - frame.lastCut > pieceChars) {
    (frame.cuts ??= []).push(at);
    frame.lastCut = at;
  }
}

/** A big member of `frame` closed: it gets a run of its own, from the comma before it to the one after. */
function addBig(frame: Frame, big: Big): void {
  if (frame.lastComma > frame.lastCut) {
    (frame.cuts ??= []).push(frame.lastComma);
    frame.lastCut = frame.lastComma;
  }
  (frame.bigs ??= []).push(big);
  frame.height = Math.max(frame.height, big.height);
}

/** A big container's value, from its runs: each parsed by JSON.parse (a big member's run with `null` in its place). */
function* assemble(text: string, frame: Frame, end: number, limits: Limits, stretch: Stretch): Generator<void, Big> {
  const isObject = text.charCodeAt(frame.start) === OPEN_OBJECT;
  if (text.charCodeAt(end - 1) !== (isObject ? CLOSE_OBJECT : CLOSE_ARRAY)) throw malformed(end - 1);
  const height = frame.height + 1;
  if (height > limits.maxDepth) throw new JsonTooDeep(limits.maxDepth);
  const [open, close] = isObject ? ['{', '}'] : ['[', ']'];
  const cuts = frame.cuts ?? [];
  const bigs = frame.bigs ?? [];
  const value: unknown[] | Record<string, unknown> = isObject ? {} : [];
  /** Members so far, counted before they are added: growing a huge object or array is the slow part. */
  let members = 0;
  const count = (more: number): void => {
    members += more;
    if (isObject && members > limits.maxKeys) throw new JsonTooWide(tooWide(limits.maxKeys));
    if (!isObject && members > limits.maxItems) throw new JsonTooWide(tooLong(limits.maxItems));
  };
  let next = 0;
  for (let k = 0; k <= cuts.length; k++) {
    const from = k === 0 ? frame.start + 1 : cuts[k - 1]! + 1;
    const to = k === cuts.length ? end - 1 : cuts[k]!;
    const big = next < bigs.length && bigs[next]!.start < to ? bigs[next++] : undefined;
    let source: string;
    if (big) {
      // Two big members with no comma between them: said here, not after JSON.parse reads the second.
      if (next < bigs.length && bigs[next]!.start < to) throw malformed(bigs[next]!.start);
      // The run holds no comma but around the big member, so when JSON.parse accepts it, it is that
      // one member: `null` as an element, or `"key": null`.
      source = open + piece(text, from, big.start, frame.gaps) + 'null' + piece(text, big.end, to, frame.gaps) + close;
      const run = parsePiece(source, from - 1);
      count(1);
      if (isObject) setMember(value as Record<string, unknown>, Object.keys(run as object)[0]!, big.value);
      else (value as unknown[]).push(big.value);
    } else {
      source = open + piece(text, from, to, frame.gaps) + close;
      const run = parsePiece(source, from - 1);
      // Only a container with no commas to cut at may be empty: `[1, ,2]` cut at both commas is not.
      if (cuts.length > 0 && isEmpty(run)) throw malformed(from);
      count(isObject ? Object.keys(run as object).length : (run as unknown[]).length);
      merge(value, run);
    }
    if (stretch.add(source.length)) yield stretch.end();
  }
  return { start: frame.start, end, value, height };
}

/** text[from, to), each long run of whitespace in it (`gaps`) cut down to one space. */
function piece(text: string, from: number, to: number, gaps: number[] | undefined): string {
  if (!gaps) return text.slice(from, to);
  let out = '';
  let at = from;
  for (let g = 0; g < gaps.length; g += 2) {
    const [gapStart, gapEnd] = [gaps[g]!, gaps[g + 1]!];
    // A run of whitespace never holds a comma or a bracket, so it is wholly inside the piece or outside.
    if (gapStart < from || gapEnd > to) continue;
    out += `${text.slice(at, gapStart)} `;
    at = gapEnd;
  }
  return out + text.slice(at, to);
}

const isEmpty = (run: unknown): boolean => (Array.isArray(run) ? run.length === 0 : Object.keys(run as object).length === 0);

/** Adds one run's members, as JSON.parse would have: a repeated key keeps its first place and takes the last value. */
function merge(value: unknown[] | Record<string, unknown>, run: unknown): void {
  if (Array.isArray(value)) {
    for (const item of run as unknown[]) value.push(item);
    return;
  }
  const members = run as Record<string, unknown>;
  for (const key of Object.keys(members)) setMember(value, key, members[key]);
}

/** An own data property, as JSON.parse makes it: `object.__proto__ = v` would set the prototype instead. */
function setMember(object: Record<string, unknown>, key: string, member: unknown): void {
  if (key === '__proto__') Object.defineProperty(object, key, { value: member, writable: true, enumerable: true, configurable: true });
  else object[key] = member;
}

// ------------------------------------------------------------------------------------ stringify

/** Buffer.from(JSON.stringify(value)), made in pieces with pauses between them. */
export async function stringifyInPieces(value: unknown, pause: () => Promise<void>, options?: PieceOptions): Promise<Buffer> {
  return runInPieces(stringifySteps(value, options), pause);
}

type Walkable = unknown[] | Record<string, unknown>;

/** An array or plain object JSON.stringify would walk itself (no toJSON): members can be written one by one. */
function isWalkable(value: unknown): value is Walkable {
  if (value === null || typeof value !== 'object' || typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
  if (Array.isArray(value)) return true;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * About how many characters JSON.stringify(value) makes, counting no further than just past `cap`:
 * a cheap walk that stops as soon as the value is known to be big. Strings count their length
 * (escapes can make them up to 6 times longer, which only makes a piece that much longer).
 */
function sizeUpTo(value: unknown, cap: number): number {
  let size = 0;
  const pending: unknown[] = [value];
  while (pending.length > 0 && size <= cap) {
    const v = pending.pop();
    if (typeof v === 'string') size += v.length + 2;
    else if (v === null || typeof v !== 'object') size += 8;
    else if (Array.isArray(v)) {
      size += 1 + v.length;
      if (size > cap) break;
      for (let i = 0; i < v.length; i++) pending.push(v[i]);
    } else {
      const keys = Object.keys(v);
      size += 1 + 4 * keys.length;
      if (size > cap) break;
      for (const key of keys) {
        size += key.length;
        pending.push((v as Record<string, unknown>)[key]);
      }
    }
  }
  return size;
}

/** Output text, encoded a piece at a time: the pieces are well-formed (JSON.stringify escapes lone surrogates). */
class Output {
  private parts: string[] = [];
  private chars = 0;
  readonly buffers: Buffer[] = [];
  bytes = 0;
  constructor(private readonly pieceChars: number) {}
  write(text: string): void {
    this.parts.push(text);
    this.chars += text.length;
    if (this.chars >= this.pieceChars) this.flush();
  }
  flush(): void {
    const buffer = Buffer.from(this.parts.join(''));
    this.buffers.push(buffer);
    this.bytes += buffer.length;
    this.parts = [];
    this.chars = 0;
  }
}

/**
 * The pieces in one Buffer, copied a few at a time: Buffer.concat of 30 MiB is one copy into fresh
 * memory, and touching that much fresh memory at once takes tens of milliseconds.
 */
function* joinBuffers(out: Output, stretch: Stretch): Generator<void, Buffer> {
  out.flush();
  const joined = Buffer.allocUnsafe(out.bytes);
  let at = 0;
  for (const buffer of out.buffers) {
    at += buffer.copy(joined, at);
    if (stretch.add(buffer.length)) yield stretch.end();
  }
  return joined;
}

/** A container being written, or a string too long for one piece, and where in it. */
type Open = { array: unknown[]; next: number } | { object: Record<string, unknown>; keys: string[]; next: number; wrote: boolean } | { string: string; at: number };

/** What is written over several steps: a big container, or a string longer than a piece. */
type Written = Walkable | string;

/** Would cutting `text` at `at` part a surrogate pair? */
export function splitsPair(text: string, at: number): boolean {
  const before = text.charCodeAt(at - 1);
  const after = text.charCodeAt(at);
  return before >= 0xd800 && before <= 0xdbff && after >= 0xdc00 && after <= 0xdfff;
}

const isBigString = (value: unknown, pieceChars: number): value is string => typeof value === 'string' && value.length > pieceChars;

/**
 * The next slice of a long string, escaped as JSON.stringify escapes it: a cut never falls between
 * the two halves of a surrogate pair (each half alone would be escaped as a lone surrogate).
 */
function stringSlice(top: { string: string; at: number }, out: Output, stretch: Stretch, pieceChars: number): boolean {
  const { string } = top;
  let end = Math.min(top.at + pieceChars, string.length);
  // (With a one-character slice, the pair goes whole.)
  if (splitsPair(string, end)) end += end - 1 > top.at ? -1 : 1;
  const escaped = JSON.stringify(string.slice(top.at, end)).slice(1, -1);
  out.write(escaped);
  stretch.add(escaped.length);
  top.at = end;
  return top.at >= string.length;
}

/** stringifyInPieces as steps: yields where it would pause. */
export function* stringifySteps(value: unknown, options: PieceOptions = {}): Generator<void, Buffer> {
  const pieceChars = Math.max(1, options.pieceChars ?? DEFAULT_PIECE_CHARS);
  const stretch = new Stretch(pieceChars, options.onStep);
  if (!isBigString(value, pieceChars) && (!isWalkable(value) || sizeUpTo(value, pieceChars) <= pieceChars)) {
    const text = JSON.stringify(value);
    stretch.add(text?.length ?? 0);
    stretch.end();
    // As Buffer.from(JSON.stringify(undefined)) does, this throws for a value JSON cannot spell.
    return Buffer.from(text as string);
  }
  const out = new Output(pieceChars);
  const stack: Open[] = [];
  const writing = new Set<object>();
  const enter = (container: Written): void => {
    if (typeof container === 'string') {
      out.write('"');
      stack.push({ string: container, at: 0 });
      return;
    }
    if (writing.has(container)) throw new TypeError('Converting circular structure to JSON');
    writing.add(container);
    if (Array.isArray(container)) {
      out.write('[');
      stack.push({ array: container, next: 0 });
    } else {
      out.write('{');
      const keys = Object.keys(container);
      stretch.add(keys.length);
      stack.push({ object: container, keys, next: 0, wrote: false });
    }
  };
  enter(value);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if ('string' in top) {
      if (stringSlice(top, out, stretch, pieceChars)) {
        out.write('"');
        stack.pop();
      }
      if (stretch.add(0)) yield stretch.end();
      continue;
    }
    const big = 'array' in top ? arraySteps(top, out, stretch, pieceChars) : objectSteps(top, out, stretch, pieceChars);
    if (big) enter(big);
    else if (big === undefined) {
      const container = 'array' in top ? top.array : top.object;
      out.write('array' in top ? ']' : '}');
      writing.delete(container);
      stack.pop();
    }
    if (stretch.add(0)) yield stretch.end();
  }
  const bytes = yield* joinBuffers(out, stretch);
  stretch.end();
  return bytes;
}

/**
 * Writes the next elements of an array, small ones a run at a time (one JSON.stringify of a
 * slice); stops at a big one (returned, its comma written) or when the stretch is full (false).
 * Undefined when the array is done.
 */
function arraySteps(top: { array: unknown[]; next: number }, out: Output, stretch: Stretch, pieceChars: number): Written | false | undefined {
  const items = top.array;
  if (top.next >= items.length) return undefined;
  let j = top.next;
  let size = 0;
  let big: Written | undefined;
  for (; j < items.length && size < pieceChars; j++) {
    const item = items[j];
    const itemSize = typeof item === 'string' ? item.length + 2 : item !== null && typeof item === 'object' ? sizeUpTo(item, pieceChars) : 8;
    if (itemSize > pieceChars && (isWalkable(item) || isBigString(item, pieceChars))) {
      big = item;
      break;
    }
    size += itemSize;
  }
  if (j > top.next) {
    const run = JSON.stringify(items.slice(top.next, j)).slice(1, -1);
    out.write(top.next > 0 ? `,${run}` : run);
    stretch.add(size + run.length);
    top.next = j;
  }
  if (!big) return false;
  if (top.next > 0) out.write(',');
  top.next++;
  return big;
}

/** Writes the next members of an object; stops at a big one (returned, its key written) or when the stretch is full (false). Undefined when done. */
function objectSteps(top: { object: Record<string, unknown>; keys: string[]; next: number; wrote: boolean }, out: Output, stretch: Stretch, pieceChars: number): Written | false | undefined {
  if (top.next >= top.keys.length) return undefined;
  while (top.next < top.keys.length) {
    const key = top.keys[top.next++]!;
    const member = top.object[key];
    const prefix = `${top.wrote ? ',' : ''}${JSON.stringify(key)}:`;
    if (isBigString(member, pieceChars)) {
      out.write(prefix);
      top.wrote = true;
      return member;
    }
    if (isWalkable(member)) {
      const size = sizeUpTo(member, pieceChars);
      stretch.add(size);
      if (size > pieceChars) {
        out.write(prefix);
        top.wrote = true;
        return member;
      }
    }
    const text = JSON.stringify(member);
    // JSON.stringify leaves out a member it cannot spell (undefined, a function).
    if (text === undefined) continue;
    out.write(prefix + text);
    top.wrote = true;
    if (stretch.add(prefix.length + text.length)) return false;
  }
  return false;
}
