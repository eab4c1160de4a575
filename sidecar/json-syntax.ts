// Where and how a JSON body is broken, in words that never quote it. JSON.parse's own message
// quotes the text around the error (`Unexpected token 'a', "sk-live-ab"... is not valid JSON`),
// which would carry a prompt or a key into the 400 answer and the audit line. This scanner runs
// only after JSON.parse has refused a body: linear, iterative (no recursion however deep the
// nesting), and it names a byte offset and a kind of problem, never a byte of the body.

import { runInPieces, runToEnd } from '../lib/steps.js';

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const ESCAPES = new Set([...'"\\/bfnrtu'].map((c) => c.charCodeAt(0)));
const LITERALS: Record<number, number[]> = {
  0x74: [...'true'].map((c) => c.charCodeAt(0)),
  0x66: [...'false'].map((c) => c.charCodeAt(0)),
  0x6e: [...'null'].map((c) => c.charCodeAt(0)),
};
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const QUOTE = 0x22;

const isDigit = (b: number | undefined): boolean => b !== undefined && b >= 0x30 && b <= 0x39;
const isHex = (b: number | undefined): boolean => b !== undefined && (isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66));

/**
 * Describes the first syntax error in a JSON text, e.g. "unexpected character at byte 17" (the
 * offset counts bytes of `bytes`, from 0); undefined when none is found (JSON.parse may still have
 * refused it, e.g. for nesting deeper than it can go).
 */
export function jsonSyntaxError(bytes: Uint8Array): string | undefined {
  return runToEnd(jsonSyntaxErrorSteps(bytes));
}

/** How many bytes the scan reads between two yields (a large body is scanned in steps). */
const STEP_BYTES = 256 * 1024;

/** jsonSyntaxError as steps: yields every STEP_BYTES or so (a string is read in one step), then returns the problem. */
function* jsonSyntaxErrorSteps(bytes: Uint8Array): Generator<void, string | undefined> {
  const n = bytes.length;
  let nextYield = STEP_BYTES;
  const stack: number[] = [];
  let i = 0;
  // What comes next: a value; a key or, right after '{', the '}'; a value or, right after '[', the ']';
  // the ':' after a key; what follows a value (',' or the container's end, or nothing at the top).
  let want: 'value' | 'key' | 'firstKey' | 'firstValue' | 'colon' | 'after' = 'value';
  const at = (problem: string, offset = i): string => `${problem} at byte ${offset}`;
  const unexpected = (): string => (i >= n ? at('unexpected end of the body') : at('unexpected character'));

  /** Skips a string starting at its quote; returns an error, or undefined with `i` after it. */
  const string = (): string | undefined => {
    const start = i++;
    for (;;) {
      if (i >= n) return `unterminated string (opened at byte ${start}): the body ends at byte ${n}`;
      const b = bytes[i]!;
      if (b === QUOTE) return void i++;
      if (b < 0x20) return at('control character in a string');
      if (b === 0x5c) {
        i++;
        if (i >= n) return unexpected();
        if (!ESCAPES.has(bytes[i]!)) return at('invalid escape');
        if (bytes[i] === 0x75) {
          for (let k = 1; k <= 4; k++) if (!isHex(bytes[i + k])) return i + k >= n ? at('unexpected end of the body', n) : at('invalid \\u escape', i + k);
          i += 4;
        }
      }
      i++;
    }
  };

  /** Skips a number; returns an error, or undefined with `i` after it. */
  const number = (): string | undefined => {
    if (bytes[i] === 0x2d) i++;
    if (bytes[i] === 0x30) i++;
    else if (isDigit(bytes[i])) while (isDigit(bytes[i])) i++;
    else return i >= n ? unexpected() : at('invalid number');
    if (bytes[i] === 0x2e) {
      i++;
      if (!isDigit(bytes[i])) return i >= n ? unexpected() : at('invalid number');
      while (isDigit(bytes[i])) i++;
    }
    if (bytes[i] === 0x65 || bytes[i] === 0x45) {
      i++;
      if (bytes[i] === 0x2b || bytes[i] === 0x2d) i++;
      if (!isDigit(bytes[i])) return i >= n ? unexpected() : at('invalid number');
      while (isDigit(bytes[i])) i++;
    }
    return undefined;
  };

  for (;;) {
    if (i >= nextYield) {
      yield;
      nextYield = i + STEP_BYTES;
    }
    while (i < n && WS.has(bytes[i]!)) i++;
    if (i >= n) return want === 'after' && stack.length === 0 ? undefined : unexpected();
    const c = bytes[i]!;
    const top = stack[stack.length - 1];
    if ((want === 'firstKey' && c === 0x7d) || (want === 'firstValue' && c === 0x5d)) {
      stack.pop();
      i++;
      want = 'after';
      continue;
    }
    if (want === 'key' || want === 'firstKey') {
      if (c !== QUOTE) return at('expected a property name');
      const err = string();
      if (err) return err;
      want = 'colon';
    } else if (want === 'colon') {
      if (c !== 0x3a) return at("expected ':'");
      i++;
      want = 'value';
    } else if (want === 'after') {
      if (top === undefined) return at('unexpected data after the value');
      if (c === 0x2c) {
        i++;
        want = top === OPEN_OBJECT ? 'key' : 'value';
      } else if ((c === 0x7d && top === OPEN_OBJECT) || (c === 0x5d && top === OPEN_ARRAY)) {
        stack.pop();
        i++;
      } else {
        return at(top === OPEN_OBJECT ? "expected ',' or '}'" : "expected ',' or ']'");
      }
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      stack.push(c);
      i++;
      want = c === OPEN_OBJECT ? 'firstKey' : 'firstValue';
    } else {
      const err = c === QUOTE ? string() : c === 0x2d || isDigit(c) ? number() : literal();
      if (err) return err;
      want = 'after';
    }
  }

  function literal(): string | undefined {
    const word = LITERALS[bytes[i]!];
    if (!word) return at('unexpected character');
    for (const b of word) {
      if (i >= n) return unexpected();
      if (bytes[i] !== b) return at('unexpected character');
      i++;
    }
    return undefined;
  }
}

/**
 * The words for a body JSON.parse refused: a kind and a byte offset, never the body's bytes. With
 * `pause`, a large body is scanned in steps with the event loop let run between them.
 */
export async function malformedJsonMessage(bytes: Uint8Array, pause: () => Promise<void> = () => Promise.resolve()): Promise<string> {
  const problem = await runInPieces(jsonSyntaxErrorSteps(bytes), pause);
  return problem ? `malformed JSON body: ${problem}` : 'malformed JSON body';
}
