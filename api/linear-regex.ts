// Custom DLP patterns run on re2js, a linear-time automaton engine (a pure JavaScript port of RE2),
// never on V8's backtracking engine: a hostile prompt must not stall the proxy. The validator and
// the sidecar compile patterns the same way, so a pattern that validates is a pattern that runs.
import { RE2JS } from 're2js';

/** Compiles a JavaScript-syntax pattern for re2js; throws with the engine's reason when it cannot run. */
export function compileLinearPattern(pattern: string): RE2JS {
  return RE2JS.compile(RE2JS.translateRegExp(pattern));
}
