import { describe, expect, it } from 'vitest';
import type { OfferedTool } from '../call.js';
import { mcpServerOf, ToolPins } from './book.js';
import { MemoryToolPins } from './memory.js';
import { PinStoreUnavailable, type PinnedServer, type ToolPinStore } from './store.js';

const tools = (t: Record<string, string>): OfferedTool[] => Object.entries(t).map(([name, digest]) => ({ name, digest }));
const SERVER = 'mcp.example.com:443/mcp';

function book(store: ToolPinStore = new MemoryToolPins(), now = { t: Date.parse('2026-12-02T10:00:00Z') }) {
  const drifts: Array<[string, number]> = [];
  const pins = new ToolPins(store, { clock: () => new Date(now.t), onDrift: (kind, n) => drifts.push([kind, n]) });
  return { pins, drifts, now, store };
}

describe('ToolPins', () => {
  it("pins a server's tools at its first listing, and judges later listings by those pins", async () => {
    const { pins, store } = book();
    const first = await pins.observe(SERVER, tools({ echo: 'd1', search: 'd2' }));
    expect(Object.fromEntries(first.pinned)).toEqual({ echo: 'd1', search: 'd2' });
    expect(await store.read(SERVER)).toEqual({ server: SERVER, pinnedAt: '2026-12-02T10:00:00.000Z', tools: { echo: 'd1', search: 'd2' } });
    const later = await pins.observe(SERVER, tools({ echo: 'd1', search: 'CHANGED' }));
    expect(Object.fromEntries(later.pinned)).toEqual({ echo: 'd1', search: 'd2' });
    expect(Object.fromEntries(later.current)).toEqual({ echo: 'd1', search: 'CHANGED' });
  });

  it('reports each change once (metric and announcement), however often the server lists it', async () => {
    const { pins, drifts, store } = book();
    await pins.observe(SERVER, tools({ echo: 'd1' }));
    for (let i = 0; i < 3; i++) await pins.observe(SERVER, tools({ echo: 'd9', extra: 'd3' }));
    expect(drifts).toEqual([['changed', 1], ['added', 1]]);
    expect((store as MemoryToolPins).announced).toEqual([{ server: SERVER, drift: { changed: ['echo'], added: ['extra'] } }]);
    // Another change of the same tool is news again.
    await pins.observe(SERVER, tools({ echo: 'd10', extra: 'd3' }));
    expect(drifts).toEqual([['changed', 1], ['added', 1], ['changed', 1]]);
  });

  it('reads pins again after a few seconds, so a re-pin takes effect without a restart', async () => {
    const { pins, store, now } = book();
    await pins.observe(SERVER, tools({ echo: 'd1' }));
    (store as MemoryToolPins).repin(SERVER);
    // Within the cache time the old pins still judge; after it, the next listing pins afresh.
    expect(Object.fromEntries((await pins.observe(SERVER, tools({ echo: 'd2' }))).pinned)).toEqual({ echo: 'd1' });
    now.t += 6_000;
    expect(Object.fromEntries((await pins.observe(SERVER, tools({ echo: 'd2' }))).pinned)).toEqual({ echo: 'd2' });
  });

  it('keeps the first pins when two sidecars pin one server at once', async () => {
    const store = new MemoryToolPins();
    const [a, b] = [book(store).pins, book(store).pins];
    const [va, vb] = await Promise.all([a.observe(SERVER, tools({ echo: 'first' })), b.observe(SERVER, tools({ echo: 'second' }))]);
    expect(Object.fromEntries(va.pinned)).toEqual({ echo: 'first' });
    expect(Object.fromEntries(vb.pinned)).toEqual({ echo: 'first' });
  });

  it('says the store is unavailable instead of throwing, so the check can fail closed', async () => {
    const broken: ToolPinStore = {
      read: async () => { throw new PinStoreUnavailable('the API server did not answer'); },
      pinIfAbsent: async (p: PinnedServer) => p,
      howToRepin: () => 'kubectl chaperone repin KEY',
      announce: async () => {},
    };
    const { pins } = book(broken);
    expect((await pins.view(SERVER)).unavailable).toBe('the API server did not answer');
    expect((await pins.observe(SERVER, tools({ echo: 'd1' }))).unavailable).toBe('the API server did not answer');
  });

  it('names a server by host, port and path, without the query', () => {
    expect(mcpServerOf('mcp.example.com', 443, '/mcp?session=1')).toBe('mcp.example.com:443/mcp');
    expect(mcpServerOf('10.0.0.7', 8080, '/')).toBe('10.0.0.7:8080/');
  });
});
