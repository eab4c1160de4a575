// Metric label values that come from callers (agent ids, model names) must not grow without
// bound: the first `cap` distinct values are kept, the rest are reported as `other`.
export class BoundedLabels {
  private readonly seen = new Set<string>();

  constructor(private readonly cap: number) {}

  value(raw: string | undefined, fallback = 'unknown'): string {
    const v = raw && raw.length > 0 ? raw : fallback;
    if (this.seen.has(v)) return v;
    if (this.seen.size >= this.cap) return 'other';
    this.seen.add(v);
    return v;
  }
}
