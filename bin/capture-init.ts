// `chaperone capture-init`: the transparent-capture init container. Installs the nat rules of
// capture/rules.ts in the pod's network namespace, IPv4 and (when the namespace has it) IPv6, with
// iptables-restore --noflush; idempotent, as kubelet reruns init containers when it recreates the
// pod sandbox. Runs as root with only NET_ADMIN and NET_RAW.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { DEFAULT_CAPTURE_PORTS, PROXY_UID, TRANSPARENT_PORT } from '../api/pod-contract.js';
import { intFlag, parseFlags, UsageError } from '../lib/cli.js';
import {
  CAPTURE_CHAIN,
  CAPTURE_JUMP_SPEC,
  CaptureSettingsError,
  UDP_CHAIN,
  UDP_JUMP_SPEC,
  captureRules,
  countRules,
  validateCaptureSettings,
  type CaptureSettings,
} from '../capture/rules.js';

export const CAPTURE_INIT_HELP = `Usage: chaperone capture-init [--ports LIST] [--to-port N] [--proxy-uid UID]

Installs the transparent-capture rules in this network namespace (the pod's, run as an init
container: root, with the NET_ADMIN and NET_RAW capabilities): outbound TCP to the listed ports is
redirected to the sidecar's transparent listener on 127.0.0.1 / [::1], except connections made by
the proxy's UID, to loopback and to the pod's own addresses. IPv4 always; IPv6 when the namespace has
it. Only the ${CAPTURE_CHAIN} chain of the nat table (and one jump to it from OUTPUT) is written, so
running it again replaces the rules instead of adding to them.

  --ports LIST      destination ports to capture, comma-separated, at most 15 (default 80,443)
  --to-port N       the sidecar's transparent listener port (default ${TRANSPARENT_PORT})
  --proxy-uid UID   the sidecar's UID, whose connections are not captured; not 0 (default ${PROXY_UID})

Needs iptables-restore, ip6tables-restore, iptables and ip6tables on PATH.
`;

const DEFAULT_PORTS = [...DEFAULT_CAPTURE_PORTS];
const DEFAULT_TO_PORT = TRANSPARENT_PORT;
const DEFAULT_PROXY_UID = PROXY_UID;
/** No iptables call takes this long; a hung one should fail the init container, not wedge the pod. */
const COMMAND_TIMEOUT_MS = 30_000;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Raised for a command that could not run or failed; the message is the whole story for the user. */
class CaptureError extends Error {}

/** Runs a command found on PATH, with `input` on its stdin; rejects only when it cannot be started. */
function run(command: string, args: readonly string[], input?: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: COMMAND_TIMEOUT_MS });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'ENOENT'
          ? new CaptureError(`${command}: not found on PATH: the image needs Debian's iptables package (iptables, ip6tables, iptables-restore, ip6tables-restore)`)
          : new CaptureError(`${command}: ${err.message}`),
      );
    });
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr: signal ? `${stderr}killed by ${signal}` : stderr }));
    // A command that exits without reading its input (e.g. denied at start) closes the pipe: EPIPE
    // is its exit status's to report, not ours.
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

/** The failure as one line, saying what to change when it is the missing privilege. */
function failure(command: string, r: Result): CaptureError {
  const detail = r.stderr.trim().split('\n').filter((l) => l.trim() && !l.startsWith('Try `')).join('; ') || `exit status ${r.code}`;
  if (/permission denied|must be root|operation not permitted/i.test(r.stderr)) {
    return new CaptureError(
      `${command}: ${detail}: the init container needs the NET_ADMIN and NET_RAW capabilities ` +
        '(securityContext.capabilities.add) and to run as root (runAsUser: 0)',
    );
  }
  return new CaptureError(`${command} failed (exit status ${r.code}): ${detail}`);
}

/** Whether OUTPUT already jumps to our chain (`-C`: 0 it does; 1 no such rule; 2 no such chain yet). */
async function jumpPresent(iptables: string, table: 'nat' | 'filter', spec: readonly string[]): Promise<boolean> {
  const args = ['-t', table, '-C', 'OUTPUT', ...spec];
  const r = await run(iptables, args);
  if (r.code === 0) return true;
  if (r.code === 1 && !/permission denied|must be root/i.test(r.stderr)) return false;
  // nf_tables: "Chain 'CHAPERONE_OUTPUT' does not exist"; legacy: "Couldn't load target `CHAPERONE_OUTPUT'".
  if (r.code === 2 && /does not exist|couldn't load target/i.test(r.stderr)) return false;
  throw failure(`${iptables} ${args.join(' ')}`, r);
}

/** Installs one family's rules; returns the line that says what it did. */
async function applyFamily(settings: CaptureSettings, family: 4 | 6): Promise<string> {
  const iptables = family === 4 ? 'iptables' : 'ip6tables';
  const restore = `${iptables}-restore`;
  const present = await jumpPresent(iptables, 'nat', CAPTURE_JUMP_SPEC);
  const udpPresent = await jumpPresent(iptables, 'filter', UDP_JUMP_SPEC);
  const text = captureRules(settings, family, { jump: !present, udpJump: !udpPresent });
  const r = await run(restore, ['--noflush'], text);
  if (r.code !== 0) throw failure(`${restore} --noflush`, r);
  const natText = text.slice(0, text.indexOf('*filter'));
  const chainRules = countRules(natText) - (present ? 0 : 1);
  const listener = family === 4 ? `127.0.0.1:${settings.toPort}` : `[::1]:${settings.toPort}`;
  return (
    `IPv${family}: ${CAPTURE_CHAIN} written with ${chainRules} rules (tcp ports ${settings.ports.join(',')} -> ${listener}; ` +
    `uid ${settings.proxyUid} and loopback exempt), OUTPUT jump ${present ? 'already present' : 'added'}; ` +
    `${UDP_CHAIN} refuses udp ports ${settings.ports.join(',')} (HTTP/3 falls back to TCP), jump ${udpPresent ? 'already present' : 'added'}`
  );
}

/** IPv6 is there when some interface has an IPv6 address, or, failing that, ip6tables' nat table works. */
async function ipv6Available(): Promise<{ available: boolean; why: string }> {
  const inet6 = await readFile('/proc/net/if_inet6', 'utf8').catch(() => '');
  if (inet6.trim() !== '') return { available: true, why: '' };
  try {
    const r = await run('ip6tables', ['-t', 'nat', '-S', 'OUTPUT']);
    if (r.code === 0) return { available: true, why: '' };
    return { available: false, why: `no IPv6 address in this network namespace and ip6tables -t nat fails: ${r.stderr.trim().split('\n')[0] ?? ''}` };
  } catch (err) {
    return { available: false, why: `no IPv6 address in this network namespace and ${(err as Error).message}` };
  }
}

function portList(value: string): number[] {
  if (value.trim() === '') return [];
  return value.split(',').map((p) => {
    const s = p.trim();
    if (!/^\d+$/.test(s)) throw new UsageError(`--ports ${value}: "${s}" is not a port number`);
    return Number(s);
  });
}

export async function captureInitCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { ports: { type: 'string' }, 'to-port': { type: 'string' }, 'proxy-uid': { type: 'string' } });
  if (values.help) {
    process.stdout.write(CAPTURE_INIT_HELP);
    return 0;
  }
  const settings: CaptureSettings = {
    ports: values.ports === undefined ? DEFAULT_PORTS : portList(values.ports),
    toPort: intFlag(values['to-port'], 'to-port', DEFAULT_TO_PORT),
    proxyUid: intFlag(values['proxy-uid'], 'proxy-uid', DEFAULT_PROXY_UID, 0),
  };
  try {
    validateCaptureSettings(settings);
  } catch (err) {
    if (err instanceof CaptureSettingsError) throw new UsageError(`--${err.message}`);
    throw err;
  }
  try {
    process.stdout.write(`capture-init: ${await applyFamily(settings, 4)}\n`);
    const v6 = await ipv6Available();
    if (v6.available) process.stdout.write(`capture-init: ${await applyFamily(settings, 6)}\n`);
    else process.stdout.write(`capture-init: IPv6: skipped (${v6.why})\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof CaptureError)) throw err;
    process.stderr.write(`chaperone capture-init: ${err.message}\n`);
    return 1;
  }
}
