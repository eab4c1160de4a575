// Two ways a well-formed JSON request can still mean one thing to the sidecar and another to the
// provider, found in one linear pass over the text JSON.parse has already accepted:
//  - a key repeated in one object with a different value (`{"messages": [...], "messages": [...]}`,
//    or spelt `"mess\u0061ges"`): JSON.parse keeps the last copy, other parsers the first, so the
//    checks could read one copy while the provider reads the other;
//  - nesting deeper than any provider's format, which the recursive checks should never walk.
// Iterative, so no nesting can overflow the stack; string contents are skipped with indexOf, so the
// cost is mostly in the structure, not the text. Messages name keys (cut) and paths, never values.
// The pass is a generator that yields every ~256 K characters (read, or compared for a repeated
// key), so a large body is checked in steps with the event loop let run between them.

import { runInPieces, runToEnd } from '../lib/steps.js';
import { JSON_BOUNDS, parseJsonSteps, stringEnd, stringifySteps, tooDeep, tooLong, tooWide, type JsonBounds } from './json-pieces.js';

const QUOTE = 0x22;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

/** One open object or array: for an object, its keys so far and where the current value starts. */
interface Frame {
  /** Keys seen in this object -> [start, end) of their value's text; undefined for an array. */
  keys: Map<string, [number, number]> | undefined;
  key: string;
  valueStart: number;
  /** Elements seen so far (arrays), for the path in a message. */
  index: number;
}

/** A key as JSON.parse reads it: escapes decoded, so `"mess\u0061ges"` is `messages`. */
function keyAt(text: string, start: number, end: number): string {
  const raw = text.slice(start + 1, end - 1);
  return raw.includes('\\') ? (JSON.parse(text.slice(start, end)) as string) : raw;
}

/** Do two JSON value texts mean the same (insignificant whitespace and spelling aside)? Large ones are compared in steps. */
function* sameValue(a: string, b: string, stepChars: number): Generator<void, boolean> {
  if (a === b) return true;
  if (a.length + b.length <= stepChars) return JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b));
  // Both texts were accepted by JSON.parse (as part of the body), so neither can throw; the body's
  // own nesting is checked by the scan, not here.
  const options = { pieceChars: stepChars, maxDepth: Infinity };
  const left = yield* stringifySteps(yield* parseJsonSteps(a, options), options);
  const right = yield* stringifySteps(yield* parseJsonSteps(b, options), options);
  return left.equals(right);
}

/** Where the innermost of `frames` sits, e.g. `$."messages"[2]`. */
function pathOf(frames: readonly Frame[]): string {
  let path = '$';
  for (const frame of frames.slice(0, -1)) path += frame.keys ? `.${cut(frame.key)}` : `[${frame.index}]`;
  return path;
}

const cut = (key: string): string => JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key);

/** How many characters of the text structuralProblemSteps reads (or values it compares) between two yields. */
const STEP_CHARS = 256 * 1024;

/**
 * Why this JSON text (already accepted by JSON.parse) must not be forwarded: a key repeated with
 * another value, nesting deeper than `bounds.maxDepth`, an object of more than `bounds.maxKeys` keys
 * or an array of more than `bounds.maxItems` elements; undefined when none.
 */
export function structuralProblem(text: string, bounds: JsonBounds = JSON_BOUNDS): string | undefined {
  return runToEnd(structuralProblemSteps(text, bounds));
}

/** structuralProblem, pausing every ~256 K characters: a 30 MiB body is not read in one go. */
export function structuralProblemInPieces(text: string, bounds: JsonBounds, pause: () => Promise<void>): Promise<string | undefined> {
  return runInPieces(structuralProblemSteps(text, bounds), pause);
}

/** What one key costs the scan, counted as characters: a Map of many short keys grows slowly. */
const KEY_COST = 32;

/** structuralProblem as steps: yields every ~stepChars characters read or compared, returns the problem. */
export function* structuralProblemSteps(text: string, bounds: JsonBounds, stepChars = STEP_CHARS): Generator<void, string | undefined> {
  const { maxDepth, maxKeys, maxItems } = bounds;
  const stack: Frame[] = [];
  let expectKey = false;
  /** Characters read or compared since the last yield, up to `mark`. */
  let work = 0;
  let mark = 0;
  /** Ends the value of the innermost frame's current key at `end` (that frame still on the stack). */
  function* endValue(end: number): Generator<void, string | undefined> {
    const frame = stack[stack.length - 1]!;
    const seen = frame.keys!.get(frame.key);
    if (!seen) {
      if (frame.keys!.size >= maxKeys) return tooWide(maxKeys);
      frame.keys!.set(frame.key, [frame.valueStart, end]);
      work += KEY_COST;
      return undefined;
    }
    work += seen[1] - seen[0] + end - frame.valueStart;
    if (yield* sameValue(text.slice(seen[0], seen[1]), text.slice(frame.valueStart, end), stepChars)) return undefined;
    return `the JSON body repeats the key ${cut(frame.key)} in ${pathOf(stack)} with a different value: which copy a provider reads is not defined`;
  }
  for (let i = 0; i < text.length; i++) {
    if (work + i - mark >= stepChars) {
      yield;
      work = 0;
      mark = i;
    }
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (expectKey) stack[stack.length - 1]!.key = keyAt(text, i, end);
      expectKey = false;
      i = end - 1;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (stack.length >= maxDepth) return tooDeep(maxDepth);
      stack.push({ keys: c === OPEN_OBJECT ? new Map() : undefined, key: '', valueStart: 0, index: 0 });
      expectKey = c === OPEN_OBJECT;
    } else if (c === COLON) {
      stack[stack.length - 1]!.valueStart = i + 1;
    } else if (c === COMMA) {
      const top = stack[stack.length - 1]!;
      if (top.keys) {
        const problem = yield* endValue(i);
        if (problem) return problem;
        expectKey = true;
      } else if (++top.index >= maxItems) return tooLong(maxItems);
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      const top = stack[stack.length - 1]!;
      // `{}` has no value to end; otherwise the last member's value ends here.
      if (top.keys && top.valueStart > 0) {
        const problem = yield* endValue(i);
        if (problem) return problem;
      }
      stack.pop();
      expectKey = false;
    }
  }
  return undefined;
}

/**
 * The first bytes of a JSON text too large to hold, made whole: cut after its last complete member
 * or element and closed, so `{"choices": [{"message": {"tool_calls": [{"function": {"name": "x", "argu`
 * reads as `{"choices": [{"message": {"tool_calls": [{"function": {"name": "x"}}]}}]}`. Checks can then
 * read every call the prefix names. Undefined when not even the first container opened.
 */
export function closedPrefix(text: string, maxDepth = JSON_BOUNDS.maxDepth): string | undefined {
  return runToEnd(closedPrefixSteps(text, maxDepth));
}

/** closedPrefix, pausing every ~256 K characters (an answer's prefix is up to --max-response-bytes). */
export function closedPrefixInPieces(text: string, maxDepth: number, pause: () => Promise<void>): Promise<string | undefined> {
  return runInPieces(closedPrefixSteps(text, maxDepth), pause);
}

/** closedPrefix as steps; undefined too when containers nest deeper than `maxDepth` (a reader would refuse it anyway). */
function* closedPrefixSteps(text: string, maxDepth: number, stepChars = STEP_CHARS): Generator<void, string | undefined> {
  const closers: number[] = [];
  // The last place the text can be cut, and how many containers are open there. Containers at or
  // below that depth cannot change after it: closing one of them would make a later cut.
  let cut = -1;
  let cutDepth = 0;
  let mark = 0;
  for (let i = 0; i < text.length; i++) {
    if (i - mark >= stepChars) {
      yield;
      mark = i;
    }
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (end === -1) break;
      i = end - 1;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (closers.length >= maxDepth) return undefined;
      closers.push(c === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY);
      cut = i + 1;
      cutDepth = closers.length;
    } else if (c === COMMA) {
      cut = i;
      cutDepth = closers.length;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      closers.pop();
      cut = i + 1;
      cutDepth = closers.length;
    }
  }
  if (cut === -1) return undefined;
  return text.slice(0, cut) + String.fromCharCode(...closers.slice(0, cutDepth).reverse());
}
