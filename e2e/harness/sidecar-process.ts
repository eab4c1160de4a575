// Runs the real `chaperone sidecar` binary (dist/) as a child process for integration tests,
// and collects its JSON log lines (audit lines included).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../lib/project.js';

export const CHAPERONE_BIN = join(PROJECT_ROOT, 'dist', 'bin', 'chaperone.js');

export interface LogLine {
  level: string;
  msg: string;
  audit?: boolean;
  [key: string]: unknown;
}

/** A running `chaperone COMMAND` child process and its JSON log lines. */
export interface ChaperoneProcess {
  proc: ChildProcess;
  /** Every JSON line printed so far. */
  lines: LogLine[];
  /** Resolves with the first line (already printed or future) matching the predicate. */
  waitForLine(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  stderr(): string;
}

export interface SidecarProcess extends ChaperoneProcess {
  proxyUrl: string;
  adminUrl: string;
  /** The transparent listeners (tcp://127.0.0.1:PORT first), with --transparent-port. */
  transparent: string[];
  audits(): LogLine[];
}

/**
 * Starts `chaperone ARGS...` from dist/ and collects its log lines. `wrap` runs it through another
 * command (e.g. `ip netns exec NS setpriv --reuid N ...`, which must exec what follows it).
 */
export function spawnChaperone(args: string[], env: NodeJS.ProcessEnv = {}, wrap: readonly string[] = []): ChaperoneProcess {
  if (!existsSync(CHAPERONE_BIN)) throw new Error(`${CHAPERONE_BIN} is missing: run "make build" first`);
  return spawnLogging([...wrap, process.execPath, CHAPERONE_BIN, ...args], env, `chaperone ${args[0] ?? ''}`);
}

/** Runs `command` and collects the JSON lines it prints (the fake provider prints them too). */
export function spawnLogging(command: readonly string[], env: NodeJS.ProcessEnv = {}, label = command.join(' ')): ChaperoneProcess {
  const proc = spawn(command[0]!, command.slice(1), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  const waiters: Array<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  let stderr = '';
  let buffered = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const text = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (!text.trim()) continue;
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { level: 'raw', msg: text };
      }
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.match(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));

  const waitForLine = (match: (l: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> => {
    const found = lines.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
      waiters.push({ match, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      void exited.then((code) => reject(new Error(`${label} exited with ${code}: ${stderr}`)));
    });
  };

  return {
    proc,
    lines,
    waitForLine,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
    stderr: () => stderr,
  };
}

export async function spawnSidecar(args: string[], env: NodeJS.ProcessEnv = {}, wrap: readonly string[] = []): Promise<SidecarProcess> {
  const child = spawnChaperone(['sidecar', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', ...args], env, wrap);
  const listening = await child.waitForLine((l) => l.msg === 'sidecar listening');
  return {
    ...child,
    proxyUrl: String(listening.proxy),
    adminUrl: String(listening.admin),
    transparent: (listening.transparent as string[] | undefined) ?? [],
    audits: () => child.lines.filter((l) => l.audit === true),
  };
}
