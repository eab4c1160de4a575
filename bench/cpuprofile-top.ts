// Summarises a V8 .cpuprofile (node --cpu-prof): where the time went, by function (self time), by
// package/file (self time), and by the project's own functions (inclusive time).
//   node dist/bench/cpuprofile-top.js FILE.cpuprofile [--top N] [--requests N]
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Row {
  name: string;
  ms: number;
  pct: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Time not idle, not GC, not "(program)": JavaScript and the native code it calls. */
  busyMs: number;
  bySelf: Row[];
  byArea: Row[];
  projectInclusive: Row[];
  /** Time with at least one frame of the area on the stack (a package's whole cost, callbacks included). */
  areaInclusive: Row[];
}

/** Short location: project files relative to dist/, packages by name, node internals as node:... */
function where(url: string): string {
  if (!url) return '(native)';
  const path = url.replace(/^file:\/\//, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(path);
  if (pkg) return `${pkg[1]}/${pkg[2]}`;
  const dist = /\/dist\/(.*)$/.exec(path);
  if (dist) return dist[1]!;
  return path;
}

/** The area a frame belongs to: a package, the project's directory, node core, or V8's pseudo-frames. */
function area(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native/builtin)';
  const path = url.replace(/^file:\/\//, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
  if (pkg) return `npm:${pkg[1]}`;
  const dist = /\/dist\/([^/]+(?:\/[^/]+)?)\//.exec(path);
  if (dist) return `project:${dist[1]}`;
  if (path.startsWith('node:')) return path.split('/').slice(0, 2).join('/');
  return path;
}

export function summarise(profile: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    // timeDeltas[i] is the time before sample i; attribute the interval after it instead.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  }
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idle = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);
  let busyUs = 0;
  const self = new Map<string, number>();
  const areas = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const areaIncl = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const f = n.callFrame;
    if (!idle.has(f.functionName)) busyUs += us;
    const key = `${f.functionName || '(anonymous)'} ${where(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + us);
    const a = area(f);
    areas.set(a, (areas.get(a) ?? 0) + us);
    // Inclusive time of project functions: every distinct project frame on this sample's stack.
    const seen = new Set<string>();
    const seenAreas = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur)!.callFrame;
      const ca = area(cf);
      if (!seenAreas.has(ca) && !ca.startsWith('(')) {
        seenAreas.add(ca);
        areaIncl.set(ca, (areaIncl.get(ca) ?? 0) + us);
      }
      if (!/\/dist\/(sidecar|lib|api)\//.test(cf.url)) continue;
      const k = `${cf.functionName || '(anonymous)'} ${where(cf.url)}:${cf.lineNumber + 1}`;
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
  }
  const rows = (m: Map<string, number>): Row[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: Math.round(us / 100) / 10, pct: Math.round((1000 * us) / totalUs) / 10 }));
  return { totalMs: Math.round(totalUs / 1000), busyMs: Math.round(busyUs / 1000), bySelf: rows(self), byArea: rows(areas), projectInclusive: rows(inclusive), areaInclusive: rows(areaIncl) };
}

/** `requests`: how many requests the profiled process served, to show µs per request. */
export function formatSummary(s: ProfileSummary, requests?: number): string {
  const per = (ms: number) => (requests ? `  ${((ms * 1000) / requests).toFixed(1).padStart(6)} µs/req` : '');
  const table = (title: string, rows: Row[]) =>
    [`${title}`, ...rows.map((r) => `  ${r.pct.toFixed(1).padStart(5)}%  ${r.ms.toFixed(1).padStart(8)} ms${per(r.ms)}  ${r.name}`)].join('\n');
  return [
    `profile: ${s.totalMs} ms sampled, ${s.busyMs} ms busy (not idle/GC/program)` +
      (requests ? `, ${requests} requests: ${((s.busyMs * 1000) / requests).toFixed(1)} µs busy per request` : ''),
    table('top self time, by function:', s.bySelf),
    table('self time, by area:', s.byArea),
    table('inclusive time, project functions (dist/sidecar, lib, api):', s.projectInclusive),
    table('inclusive time, by area (any frame of it on the stack):', s.areaInclusive),
  ].join('\n\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values, positionals } = parseArgs({
    options: { top: { type: 'string', default: '25' }, requests: { type: 'string' } },
    allowPositionals: true,
  });
  if (positionals.length === 0) {
    process.stderr.write('usage: node dist/bench/cpuprofile-top.js FILE.cpuprofile... [--top N]\n');
    process.exit(2);
  }
  for (const file of positionals) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const requests = values.requests ? Number(values.requests) : undefined;
    process.stdout.write(`== ${file}\n${formatSummary(summarise(profile, Number(values.top)), requests)}\n\n`);
  }
}
