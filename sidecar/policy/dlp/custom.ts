// Custom detectors: a policy's own regular expressions (dlp.custom[].pattern), run by re2js, a
// linear-time automaton engine (a pure JavaScript port of RE2), never by V8's backtracking engine:
// the policy author may not be the one whose prompts are scanned, and a pattern like (a|aa)*b must
// not let a hostile prompt stall the proxy. The validator already rejects backreferences and
// lookaround (api/semantics.ts), the features an automaton cannot run.
import type { RE2JS } from 're2js';
import { compileLinearPattern } from '../../../api/linear-regex.js';
import type { Span } from './types.js';

export interface CustomDetector {
  readonly name: string;
  find(text: string): Span[];
}

const compile = compileLinearPattern;

/**
 * Why re2js cannot run a pattern the JavaScript validator accepted, if it cannot: a few JavaScript
 * forms have no RE2 equivalent (`\p{Script=Latin}`, `[\b]`). For the policy validator to reject them
 * up front; compileDlp otherwise skips such a detector and lists it in its errors.
 */
export function customPatternError(pattern: string): string | undefined {
  try {
    compile(pattern);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Compiles a custom pattern (JavaScript syntax, as the policy validator checks it). Throws with a
 * one-line reason when re2js cannot run it.
 */
export function compileCustom(name: string, pattern: string, what = 'dlp custom detector'): CustomDetector {
  let re: RE2JS;
  try {
    re = compile(pattern);
  } catch (err) {
    throw new Error(`${what} ${name}: pattern cannot run in linear time: ${(err as Error).message}`);
  }
  return {
    name,
    find(text: string): Span[] {
      // test() runs the DFA without tracking positions: the fast answer for the common "nothing here".
      if (text.length === 0 || !re.test(text)) return [];
      const out: Span[] = [];
      const m = re.matcher(text);
      let from = 0;
      while (from <= text.length && m.find(from)) {
        const start = m.start();
        const end = m.end();
        if (end > start) out.push({ start, end });
        from = end > start ? end : start + 1;
      }
      return out;
    },
  };
}
