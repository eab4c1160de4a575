// Watches the live sidecar during the fuzz run: its RSS (/proc/PID/status, every 100 ms), its
// /healthz (every 250 ms, one probe at a time), and for a written report its heap as /metrics says
// and what was in flight when the RSS peaked. Cheap enough to run always; the detail only on demand.
import { readFileSync } from 'node:fs';

const MiB = 2 ** 20;

export function rssOf(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** utime + stime of a process, in seconds. */
export function cpuOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Heap figures (MiB) from the sidecar's own Prometheus metrics. */
export async function heapOf(adminUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  const out: Record<string, number> = {};
  for (const name of ['nodejs_heap_size_used_bytes', 'nodejs_heap_size_total_bytes', 'nodejs_external_memory_bytes']) {
    const m = new RegExp(`^${name} (\\S+)`, 'm').exec(text);
    if (m) out[name.replace(/^nodejs_|_bytes$/g, '')] = Math.round(Number(m[1]) / MiB);
  }
  return out;
}

export class SidecarMonitor {
  readonly rss = { afterWarmUp: 0, peak: 0, end: 0, samples: 0 };
  readonly health = { probes: 0, failures: [] as string[] };
  /** Cases in flight, id -> description (the runner keeps it). */
  readonly inFlight = new Map<string, string>();
  /** Cases done (the runner counts). */
  done = 0;
  /** With `detailed`: [cases done, RSS MiB] twice a second, the heap after warm-up and at the end, the cases in flight at the peak. */
  readonly detail = { series: [] as Array<[number, number]>, heap: {} as Record<string, Record<string, number>>, peakInFlight: [] as string[] };
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly pid: number,
    private readonly adminUrl: string,
    private readonly detailed: boolean,
  ) {}

  start(): void {
    this.timers.push(setInterval(() => this.sample(), 100));
    let probing = false;
    this.timers.push(
      setInterval(() => {
        if (probing) return;
        probing = true;
        this.health.probes++;
        fetch(`${this.adminUrl}/healthz`, { signal: AbortSignal.timeout(5_000) })
          .then((r) => (r.status === 200 ? undefined : this.health.failures.push(`/healthz answered ${r.status}`)))
          .catch((err: Error) => this.health.failures.push(`/healthz: ${err.message}`))
          .finally(() => (probing = false));
      }, 250),
    );
  }

  private sample(): void {
    const rss = rssOf(this.pid);
    this.rss.samples++;
    if (rss > this.rss.peak && this.detailed) this.detail.peakInFlight = [...this.inFlight.values()];
    this.rss.peak = Math.max(this.rss.peak, rss);
    if (this.detailed && this.rss.samples % 5 === 0) this.detail.series.push([this.done, Math.round(rss / MiB)]);
  }

  /** The after-warm-up point: every kind of case has run by now, the heavy first round included. */
  async warmedUp(): Promise<void> {
    this.rss.afterWarmUp = rssOf(this.pid);
    if (this.detailed) this.detail.heap.afterWarmUp = await heapOf(this.adminUrl);
  }

  /** Stops watching; after a moment of idleness takes the settled RSS. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await new Promise((r) => setTimeout(r, 1_500));
    this.rss.end = rssOf(this.pid);
    this.rss.peak = Math.max(this.rss.peak, this.rss.end);
    if (this.detailed) this.detail.heap.end = await heapOf(this.adminUrl);
  }
}
