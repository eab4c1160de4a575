// Child processes of a benchmark run (fake upstream, floor proxy, sidecar, load generator) and the
// /proc sampling of their memory and CPU time. Every wait here is bounded.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

const live = new Set<ChildProcess>();
// A crash of the driver must not leave servers behind.
process.once('exit', () => {
  for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

export interface Server {
  proc: ChildProcess;
  pid: number;
  url: string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
  stderr(): string;
}

function track(proc: ChildProcess): { exited: Promise<void>; stderr: () => string } {
  live.add(proc);
  let err = '';
  proc.stderr?.setEncoding('utf8').on('data', (c: string) => {
    if (err.length < 64_000) err += c;
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => (live.delete(proc), resolve())));
  return { exited, stderr: () => err };
}

function stopper(proc: ChildProcess, exited: Promise<void>): (graceMs?: number) => Promise<void> {
  return async (graceMs = 5_000) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const timer = (ms: number) => new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref());
    if ((await Promise.race([exited.then(() => 'exited' as const), timer(graceMs)])) === 'timeout') {
      proc.kill('SIGKILL');
      await Promise.race([exited, timer(2_000)]);
    }
  };
}

/**
 * Starts `node ARGS` and waits (bounded) for a stdout line `{"url": ...}`, as printed by
 * bench/fake-upstream.js and bench/floor-proxy.js.
 */
export async function startUrlServer(name: string, args: string[], nodeFlags: string[] = [], timeoutMs = 15_000): Promise<Server> {
  const proc = spawn(process.execPath, [...nodeFlags, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const { exited, stderr } = track(proc);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${name}: no {"url"} line within ${timeoutMs} ms; stderr: ${stderr()}`)), timeoutMs);
    proc.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      try {
        resolve(String((JSON.parse(out.slice(0, nl)) as { url: string }).url));
      } catch {
        reject(new Error(`${name}: unexpected first line ${out.slice(0, nl)}`));
      }
    });
    void exited.then(() => (clearTimeout(timer), reject(new Error(`${name} exited early (${proc.exitCode}): ${stderr()}`))));
  });
  proc.stdout!.resume(); // nothing more is expected; never let a pipe fill up
  return { proc, pid: proc.pid!, url, stop: stopper(proc, exited), stderr };
}

/**
 * Starts `node [nodeFlags] dist/bin/chaperone.js sidecar ARGS` with stdout (its JSON log, one audit line
 * per call) going to `logFile`, as a pod's stdout goes to a file on the node, and waits for the
 * "sidecar listening" line. The load generator's own stream of audit lines never crosses this process.
 */
export async function startSidecar(
  bin: string,
  args: string[],
  logFile: string,
  opts: { nodeFlags?: string[]; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Server & { adminUrl: string; transparent: string[] }> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const fd = openSync(logFile, 'w');
  const proc = spawn(process.execPath, [...(opts.nodeFlags ?? []), bin, 'sidecar', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', ...args], {
    stdio: ['ignore', fd, 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  closeSync(fd);
  const { exited, stderr } = track(proc);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = readFileSync(logFile, 'utf8');
    for (const line of text.split('\n')) {
      if (!line.includes('sidecar listening')) continue;
      // `transparent`: the transparent listeners (tcp://127.0.0.1:PORT, tcp://[::1]:PORT) with --transparent-port.
      const l = JSON.parse(line) as { proxy: string; admin: string; transparent?: string[] };
      return { proc, pid: proc.pid!, url: l.proxy, adminUrl: l.admin, transparent: l.transparent ?? [], stop: stopper(proc, exited), stderr };
    }
    if (proc.exitCode !== null) throw new Error(`sidecar exited early (${proc.exitCode}): ${stderr()} ${text.slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`sidecar: not listening within ${timeoutMs} ms; stderr: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A free TCP port on 127.0.0.1 (bound, read, released: for servers that cannot report the port they got). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => (s.destroy(), resolve(ok));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(1_000, () => done(false));
  });
}

/**
 * Starts `cmd ARGS` (a peer proxy that does not print its address), stdout and stderr to `logFile`,
 * and waits (bounded) until 127.0.0.1:`port` accepts connections. `url` is http://127.0.0.1:PORT.
 */
export async function startPortServer(
  name: string,
  cmd: string,
  args: string[],
  port: number,
  logFile: string,
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<Server> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const fd = openSync(logFile, 'w');
  const proc = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...opts.env }, ...(opts.cwd ? { cwd: opts.cwd } : {}) });
  closeSync(fd);
  const { exited, stderr } = track(proc);
  const log = () => {
    try {
      return readFileSync(logFile, 'utf8').slice(-2000);
    } catch {
      return '';
    }
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${name} exited early (${proc.exitCode ?? proc.signalCode}): ${log()}`);
    if (await accepts(port)) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${name}: not listening on 127.0.0.1:${port} within ${timeoutMs} ms: ${log()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, pid: proc.pid!, url: `http://127.0.0.1:${port}`, stop: stopper(proc, exited), stderr: () => stderr() || log() };
}

export interface LoadgenRun<T> {
  result: T;
  stderr: string;
}

/**
 * Runs the load generator; `onEvent` sees its progress events ("measuring", "done") as they happen.
 * Killed after `timeoutMs` (then rejects).
 */
export function runLoadgen<T>(bin: string, args: string[], onEvent: (name: string) => void, timeoutMs: number): Promise<LoadgenRun<T>> {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(proc);
    let out = '';
    let err = '';
    let pending = '';
    proc.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    proc.stderr.setEncoding('utf8').on('data', (c: string) => {
      pending += c;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        const event = eventName(line);
        if (event !== undefined) onEvent(event);
        else if (err.length < 64_000) err += line + '\n';
      }
    });
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.once('error', (e) => (clearTimeout(timer), live.delete(proc), reject(e)));
    // 'close', not 'exit': only then have stdout and stderr been read to the end.
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(proc);
      if (code !== 0) return reject(new Error(`loadgen exited with ${code ?? signal}: ${err.trim()}`));
      try {
        resolve({ result: JSON.parse(out) as T, stderr: err });
      } catch {
        reject(new Error(`loadgen printed no JSON: ${out.slice(0, 500)} ${err}`));
      }
    });
  });
}

function eventName(line: string): string | undefined {
  if (!line.startsWith('{"event"')) return undefined;
  try {
    return (JSON.parse(line) as { event?: string }).event;
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------------------------ /proc sampling

let clockTicks = 100;
/** sysconf(_SC_CLK_TCK), set once by the driver (`getconf CLK_TCK`). */
export function setClockTicks(n: number): void {
  if (Number.isFinite(n) && n > 0) clockTicks = n;
}

/** utime + stime of a process, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "pid (comm) ": state is field 3, utime 14, stime 15 (1-based).
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / clockTicks;
}

function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Samples a process's resident memory while it runs: the peak of VmRSS samples and the kernel's VmHWM. */
export class ProcSampler {
  private peakRss = 0;
  private timer: NodeJS.Timeout;

  constructor(readonly pid: number, intervalMs = 100) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    try {
      this.peakRss = Math.max(this.peakRss, statusKiB(this.pid, 'VmRSS'));
    } catch {
      // exited
    }
  }

  /** Stops sampling; peak resident set in MiB (VmHWM when the kernel reports a higher one). */
  stop(): { peakRssMiB: number; rssSampledMiB: number } {
    this.sample();
    clearInterval(this.timer);
    let hwm = 0;
    try {
      hwm = statusKiB(this.pid, 'VmHWM');
    } catch {
      // exited
    }
    return { peakRssMiB: Math.max(hwm, this.peakRss) / 1024, rssSampledMiB: this.peakRss / 1024 };
  }
}
