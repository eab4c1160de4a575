// Two ways a well-formed JSON request can still mean one thing to the sidecar and another to the
// provider, found in one linear pass over the text JSON.parse has already accepted:
//  - a key repeated in one object with a different value (`{"messages": [...], "messages": [...]}`,
//    or spelt `"mess\u0061ges"`): JSON.parse keeps the last copy, other parsers the first, so the
//    checks could read one copy while the provider reads the other;
//  - nesting deeper than any provider's format, which the recursive checks should never walk.
// Iterative, so no nesting can overflow the stack; string contents are skipped with indexOf, so the
// cost is mostly in the structure, not the text. Messages name keys (cut) and paths, never values.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
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

/** The end (index after the closing quote) of the string whose opening quote is at `start`; -1 when it is not closed. */
function stringEnd(text: string, start: number): number {
  let q = text.indexOf('"', start + 1);
  for (;;) {
    if (q === -1) return -1;
    let backslashes = 0;
    for (let k = q - 1; text.charCodeAt(k) === BACKSLASH; k--) backslashes++;
    if (backslashes % 2 === 0) return q + 1;
    q = text.indexOf('"', q + 1);
  }
}

/** A key as JSON.parse reads it: escapes decoded, so `"mess\u0061ges"` is `messages`. */
function keyAt(text: string, start: number, end: number): string {
  const raw = text.slice(start + 1, end - 1);
  return raw.includes('\\') ? (JSON.parse(text.slice(start, end)) as string) : raw;
}

/** Do two JSON value texts mean the same (insignificant whitespace and spelling aside)? */
function sameValue(a: string, b: string): boolean {
  return a === b || JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b));
}

/** Where the innermost of `frames` sits, e.g. `$."messages"[2]`. */
function pathOf(frames: readonly Frame[]): string {
  let path = '$';
  for (const frame of frames.slice(0, -1)) path += frame.keys ? `.${cut(frame.key)}` : `[${frame.index}]`;
  return path;
}

const cut = (key: string): string => JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key);

/**
 * Why this JSON text (already accepted by JSON.parse) must not be forwarded: a key repeated with
 * another value, or nesting deeper than `maxDepth`; undefined when neither.
 */
export function structuralProblem(text: string, maxDepth: number): string | undefined {
  const stack: Frame[] = [];
  let expectKey = false;
  /** Ends the value of `frame`'s current key at `end`; `frames` are the open ones, `frame` last. */
  const endValue = (frame: Frame, end: number, frames: readonly Frame[]): string | undefined => {
    const seen = frame.keys!.get(frame.key);
    if (!seen) {
      frame.keys!.set(frame.key, [frame.valueStart, end]);
      return undefined;
    }
    if (sameValue(text.slice(seen[0], seen[1]), text.slice(frame.valueStart, end))) return undefined;
    return `the JSON body repeats the key ${cut(frame.key)} in ${pathOf(frames)} with a different value: which copy a provider reads is not defined`;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (expectKey) stack[stack.length - 1]!.key = keyAt(text, i, end);
      expectKey = false;
      i = end - 1;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (stack.length >= maxDepth) return `the JSON body nests deeper than ${maxDepth} levels`;
      stack.push({ keys: c === OPEN_OBJECT ? new Map() : undefined, key: '', valueStart: 0, index: 0 });
      expectKey = c === OPEN_OBJECT;
    } else if (c === COLON) {
      stack[stack.length - 1]!.valueStart = i + 1;
    } else if (c === COMMA) {
      const top = stack[stack.length - 1]!;
      if (top.keys) {
        const problem = endValue(top, i, stack);
        if (problem) return problem;
        expectKey = true;
      } else top.index++;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      const top = stack.pop()!;
      // `{}` has no value to end; otherwise the last member's value ends here.
      if (top.keys && top.valueStart > 0) {
        const problem = endValue(top, i, [...stack, top]);
        if (problem) return problem;
      }
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
export function closedPrefix(text: string): string | undefined {
  const closers: number[] = [];
  // The last place the text can be cut, and how many containers are open there. Containers at or
  // below that depth cannot change after it: closing one of them would make a later cut.
  let cut = -1;
  let cutDepth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (end === -1) break;
      i = end - 1;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
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
