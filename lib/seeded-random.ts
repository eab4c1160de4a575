// A seeded pseudo-random stream (mulberry32) for tests, the fuzz corpus and the benchmarks: small,
// fast, the same numbers for the same seed on every machine, so a failing case is rebuilt from its seed.

export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A number in [0, 1). */
  next = (): number => {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };

  /** An integer in [0, n). */
  int = (n: number): number => Math.floor(this.next() * n);

  pick = <T>(list: readonly T[]): T => list[this.int(list.length)]!;

  /** One of the keys, by weight. */
  weighted = <K extends string>(weights: Partial<Record<K, number>>): K => {
    const entries = Object.entries(weights) as Array<[K, number]>;
    let r = this.next() * entries.reduce((s, [, w]) => s + w, 0);
    for (const [k, w] of entries) if ((r -= w) < 0) return k;
    return entries[entries.length - 1]![0];
  };
}
