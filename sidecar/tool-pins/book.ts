// The data path's side of tool pinning: it looks a server's pins up (briefly cached, so a re-pin
// takes effect within seconds without a read per call), pins a server at its first tools/list,
// remembers what each server offered last, and reports a change once (metric and Event). The
// toolPinning check then compares, purely, with what it is given on the call (call.toolPins).
import { pathWithoutQuery } from '../audit.js';
import type { OfferedTool, ToolPinView } from '../call.js';
import { driftOf, hasDrift } from '../policy/tool-pin-drift.js';
import { PinStoreUnavailable, type PinnedServer, type ToolPinStore } from './store.js';

/** How long pins read from the store are trusted before they are read again. */
const PIN_CACHE_MS = 5_000;
/** Servers remembered (pins and what they offered last); bounded against a runaway. */
const MAX_SERVERS = 1_000;
/** Changes already announced, so each is reported once per sidecar. */
const MAX_ANNOUNCED = 10_000;

export interface ToolPinsOptions {
  clock?: () => Date;
  /** Counts each change found: `changed` or `added`. */
  onDrift?: (kind: 'changed' | 'added', tools: number) => void;
}

function remember<K, V>(map: Map<K, V>, key: K, value: V, bound: number): void {
  map.delete(key);
  if (map.size >= bound) map.delete(map.keys().next().value!);
  map.set(key, value);
}

export class ToolPins {
  private readonly cached = new Map<string, { pins: PinnedServer | undefined; at: number }>();
  private readonly current = new Map<string, Map<string, string>>();
  private readonly announced = new Set<string>();
  private readonly clock: () => Date;

  constructor(
    readonly store: ToolPinStore,
    private readonly options: ToolPinsOptions = {},
  ) {
    this.clock = options.clock ?? (() => new Date());
  }

  private async pinsOf(server: string): Promise<PinnedServer | undefined> {
    const now = this.clock().getTime();
    const hit = this.cached.get(server);
    if (hit && now - hit.at < PIN_CACHE_MS) return hit.pins;
    const pins = await this.store.read(server);
    remember(this.cached, server, { pins, at: now }, MAX_SERVERS);
    return pins;
  }

  private viewOf(server: string, pins: PinnedServer | undefined, unavailable?: string): ToolPinView {
    return {
      server,
      pinned: new Map(Object.entries(pins?.tools ?? {})),
      current: this.current.get(server) ?? new Map(),
      ...(unavailable !== undefined ? { unavailable } : {}),
      howToRepin: this.store.howToRepin(server),
    };
  }

  /** The pins a call to `server` is judged by (an MCP tools/call). */
  async view(server: string): Promise<ToolPinView> {
    try {
      return this.viewOf(server, await this.pinsOf(server));
    } catch (err) {
      if (!(err instanceof PinStoreUnavailable)) throw err;
      return this.viewOf(server, undefined, err.message);
    }
  }

  /**
   * A server offered these tools (a tools/list answer): pins them if the server was never pinned,
   * remembers them as what it offers now, and reports what differs from the pins, once.
   */
  async observe(server: string, offered: readonly OfferedTool[]): Promise<ToolPinView> {
    const current = new Map(offered.map((t) => [t.name, t.digest]));
    remember(this.current, server, current, MAX_SERVERS);
    try {
      let pins = await this.pinsOf(server);
      if (!pins) {
        pins = await this.store.pinIfAbsent({ server, pinnedAt: this.clock().toISOString(), tools: Object.fromEntries(current) });
        remember(this.cached, server, { pins, at: this.clock().getTime() }, MAX_SERVERS);
      }
      const view = this.viewOf(server, pins);
      this.report(server, view.pinned, offered);
      return view;
    } catch (err) {
      if (!(err instanceof PinStoreUnavailable)) throw err;
      return this.viewOf(server, undefined, err.message);
    }
  }

  private report(server: string, pinned: ReadonlyMap<string, string>, offered: readonly OfferedTool[]): void {
    const fresh = offered.filter((t) => pinned.get(t.name) !== t.digest && !this.announced.has(`${server}\n${t.name}\n${t.digest}`));
    const drift = driftOf(pinned, fresh);
    if (!hasDrift(drift)) return;
    for (const t of fresh) {
      if (this.announced.size >= MAX_ANNOUNCED) this.announced.clear();
      this.announced.add(`${server}\n${t.name}\n${t.digest}`);
    }
    if (drift.changed.length) this.options.onDrift?.('changed', drift.changed.length);
    if (drift.added.length) this.options.onDrift?.('added', drift.added.length);
    void this.store.announce(server, drift).catch(() => undefined);
  }
}

/** The pin key of the MCP endpoint a call goes to: host, port and path, without the query. */
export function mcpServerOf(host: string, port: number, path: string): string {
  return `${host}:${port}${pathWithoutQuery(path)}`;
}
