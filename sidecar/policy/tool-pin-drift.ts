// One definition of "what changed since pinning", used by the toolPinning check (its verdict) and
// by the pin book (its metric and Event).
import type { OfferedTool } from '../call.js';

/** What changed in a server's tool list since it was pinned. */
export interface Drift {
  /** Pinned tools whose definition is now different. */
  changed: string[];
  /** Tools the server offers that were not pinned. */
  added: string[];
}

/** The offered tools that differ from the pins: changed definitions, and tools that were never pinned. */
export function driftOf(pinned: ReadonlyMap<string, string>, offered: readonly OfferedTool[]): Drift {
  const changed = new Set<string>();
  const added = new Set<string>();
  for (const tool of offered) {
    const pin = pinned.get(tool.name);
    if (pin === undefined) added.add(tool.name);
    else if (pin !== tool.digest) changed.add(tool.name);
  }
  return { changed: [...changed], added: [...added] };
}

export const hasDrift = (d: Drift): boolean => d.changed.length > 0 || d.added.length > 0;
