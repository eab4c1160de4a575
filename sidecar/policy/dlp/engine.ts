// The shared scanner: one pass per distinct gate search over a text, each hit validated by the
// detector(s) owning the gate, then overlaps resolved.
import type { Detector, Finder, Finding, Gate, Span } from './types.js';

/** A function that appends the validated findings of a text to out (unsorted, possibly overlapping). */
export type Scan = (text: string, out: Finding[]) => void;

interface Pass {
  finder: Finder;
  handlers: Array<{ detector: string; validate: Gate['validate'] }>;
}

/**
 * Builds one scan over the gates of these detectors. Gates with the same key search once and every
 * owner validates each hit. Passes run in the detectors' order, fallback gates last, so that among
 * equal findings resolve() keeps the more specific detector's.
 */
export function buildScan(detectors: readonly Pick<Detector, 'name' | 'gates'>[]): Scan {
  const gates = detectors.flatMap((d) => d.gates.map((g) => ({ name: d.name, g })));
  gates.sort((a, b) => Number(a.g.fallback ?? false) - Number(b.g.fallback ?? false)); // stable
  const passes: Pass[] = [];
  const byKey = new Map<string, Pass>();
  for (const { name, g } of gates) {
    let pass = byKey.get(g.key);
    if (!pass) {
      pass = { finder: g.finder, handlers: [] };
      byKey.set(g.key, pass);
      passes.push(pass);
    }
    pass.handlers.push({ detector: name, validate: g.validate });
  }
  const hit: Span = { start: 0, end: 0 };
  const spans: Span[] = [];
  return (text, out) => {
    for (const pass of passes) {
      let pos = 0;
      while (pass.finder(text, pos, hit)) {
        const from = hit.start;
        const to = hit.end;
        let next = to;
        for (const h of pass.handlers) {
          h.validate(text, from, to, spans);
          if (spans.length === 0) continue;
          for (const s of spans) {
            out.push({ detector: h.detector, start: s.start, end: s.end });
            if (s.end > next) next = s.end;
          }
          spans.length = 0;
        }
        // A hit inside a finding of this pass could only make an overlapping finding: skip it.
        pos = next;
      }
    }
  };
}

/** Sorts findings and drops overlaps: the earliest start wins, then the longest, then the first found. */
export function resolve<T extends Span>(findings: T[]): T[] {
  if (findings.length < 2) return findings;
  const order = findings.map((f, i) => ({ f, i }));
  order.sort((a, b) => a.f.start - b.f.start || b.f.end - a.f.end || a.i - b.i);
  const kept: T[] = [];
  let end = -1;
  for (const { f } of order) {
    if (f.start < end) continue;
    kept.push(f);
    end = f.end;
  }
  return kept;
}

/** A detector from its gates: find() runs the shared scanner over just these gates. */
export function defineDetector(name: string, gates: readonly Gate[]): Detector {
  const scan = buildScan([{ name, gates }]);
  return {
    name,
    gates,
    find(text: string): Span[] {
      const out: Finding[] = [];
      scan(text, out);
      return resolve(out).map(({ start, end }) => ({ start, end }));
    },
  };
}
