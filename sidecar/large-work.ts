// How many large bodies are read at once. A large body is read in steps with the event loop let run
// between them (exchange.ts), so without a bound every large request and answer in flight would
// hold its text, its pieces and its parsed value at the same time: the fuzz corpus's hostile bodies
// took a sidecar past its 256 MiB limit that way. Taking turns keeps that to a few bodies' worth;
// the others wait with only their bytes read. Small bodies never wait.

/** Large bodies read at the same time: one per core of a typical sidecar's CPU limit. */
export const LARGE_BODIES_AT_ONCE = 2;

export class Turns {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  /** Waits for a turn; the returned function ends it (call it exactly once). */
  async take(): Promise<() => void> {
    if (this.active < this.limit) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      // The turn passes to the next waiter as is (active stays), else it is given back.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    };
  }

  /** Waiting for a turn (for tests and metrics). */
  get queued(): number {
    return this.waiting.length;
  }
}
