// Tool pins of a standalone sidecar (no cluster): kept in memory, gone at restart, which re-pins.
import type { Drift } from '../policy/tool-pin-drift.js';
import type { PinnedServer, ToolPinStore } from './store.js';

/** Servers it keeps pins for at most: a bound, not a limit anyone reaches. */
const MAX_SERVERS = 10_000;

export class MemoryToolPins implements ToolPinStore {
  private readonly pins = new Map<string, PinnedServer>();
  readonly announced: Array<{ server: string; drift: Drift }> = [];

  async read(server: string): Promise<PinnedServer | undefined> {
    return this.pins.get(server);
  }

  async pinIfAbsent(pins: PinnedServer): Promise<PinnedServer> {
    const kept = this.pins.get(pins.server);
    if (kept) return kept;
    if (this.pins.size >= MAX_SERVERS) this.pins.delete(this.pins.keys().next().value!);
    this.pins.set(pins.server, pins);
    return pins;
  }

  /** Forgets a server's pins: its next tools/list pins it again. */
  repin(server: string): boolean {
    return this.pins.delete(server);
  }

  howToRepin(server: string): string {
    return `pins of a standalone sidecar live in its memory: restart it to re-pin ${server}`;
  }

  async announce(server: string, drift: Drift): Promise<void> {
    this.announced.push({ server, drift });
    if (this.announced.length > 100) this.announced.shift();
  }
}
