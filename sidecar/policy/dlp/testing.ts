// Test helpers for the detectors (not used by the sidecar).
import type { Detector } from './types.js';

/** The substrings a detector finds in text. */
export function matches(detector: Pick<Detector, 'find'>, text: string): string[] {
  return detector.find(text).map((s) => text.slice(s.start, s.end));
}

/** A Luhn-valid number: `body` digits plus the check digit that makes it pass. */
export function withLuhn(body: string): string {
  for (let d = 0; d <= 9; d++) {
    const n = body + d;
    let sum = 0;
    for (let i = 0; i < n.length; i++) {
      let x = Number(n[n.length - 1 - i]);
      if (i % 2 === 1) x = x * 2 > 9 ? x * 2 - 9 : x * 2;
      sum += x;
    }
    if (sum % 10 === 0) return n;
  }
  throw new Error('unreachable');
}
