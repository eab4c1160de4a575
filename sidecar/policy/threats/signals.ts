// Signals: named patterns, each counting from a sensitivity level up, run on re2js (a linear-time
// automaton: RE2's semantics, no backtracking), so no argument, however hostile, makes a pattern
// slow. The patterns are RE2 syntax and read the leaf's lower-case `text`.
//
// A set is tested in one pass first (all its signals joined into one automaton, per level); only a
// leaf that matches is tested again signal by signal, to name the one that fired. Most leaves match
// nothing, so most leaves cost one pass per set.
import { RE2JS } from 're2js';
import type { Level } from './types.js';

export interface Signal {
  /** What it means, for the reason shown to the agent and the audit line. */
  detail: string;
  /** RE2 syntax, matched anywhere in the lower-case text. */
  pattern: string;
  /** The lowest sensitivity at which it counts (0 low, 1 medium, 2 high). */
  level: Level;
}

export class SignalSet {
  private readonly signals: ReadonlyArray<{ detail: string; re: RE2JS; level: Level }>;
  /** Per level: every signal counting at that level, joined; undefined when there is none. */
  private readonly any: ReadonlyArray<RE2JS | undefined>;

  constructor(signals: readonly Signal[]) {
    this.signals = signals.map((s) => ({ detail: s.detail, re: compile(s.pattern, s.detail), level: s.level }));
    this.any = ([0, 1, 2] as const).map((level) => {
      const at = signals.filter((s) => s.level <= level);
      return at.length === 0 ? undefined : compile(at.map((s) => `(?:${s.pattern})`).join('|'), 'combined');
    });
  }

  /** The detail of the first signal (in list order) that counts at `level` and matches `text`. */
  first(text: string, level: Level): string | undefined {
    const any = this.any[level];
    if (!any || text.length === 0 || !any.test(text)) return undefined;
    for (const s of this.signals) if (s.level <= level && s.re.test(text)) return s.detail;
    return undefined;
  }
}

function compile(pattern: string, name: string): RE2JS {
  try {
    return RE2JS.compile(pattern);
  } catch (err) {
    // A built-in pattern: a programming error, found by the first test that loads the module.
    throw new Error(`threat signal ${name}: ${(err as Error).message}`);
  }
}

/** A single pattern for a detector's own use (same engine, same rules). */
export function pattern(p: string): RE2JS {
  return compile(p, p);
}
