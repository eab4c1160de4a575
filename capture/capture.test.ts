// Transparent capture on the real kernel: the built `chaperone capture-init` run in a fresh network
// namespace standing in for a pod's, then connections made from it by an app's UID and by the
// proxy's UID, checking which listener each one reached. Needs root (as the rest of the suite), ip
// (iproute2), setpriv, iptables and ip6tables (scripts/ensure-tools.sh), and `make build`'s dist/.
//
//   pod namespace chap-cap-PID                     upstream namespace chap-cap-PID-up
//   lo  127.0.0.1, ::1                             eth0 192.0.2.10/24, 2001:db8::10/64
//     redirect listener 127.0.0.1:14002,             listeners 192.0.2.10:443, :8080, :8443,
//     [::1]:14002 (uid 14001)                        [2001:db8::10]:80
//     local listeners :443, [::]:80 (the pod's own)
//   eth0 192.0.2.2/24, 2001:db8::2/64  ──veth──▶
//   default routes via eth0
//
// The real destinations live in another namespace, not on a second address of the pod's own
// interface: a local address routes via lo, which the capture rules exempt on purpose (traffic that
// stays in the pod), so it could not show a captured connection.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHAPERONE_BIN } from '../e2e/harness/sidecar-process.js';

const POD = `chap-cap-${process.pid}`;
const UPSTREAM = `${POD}-up`;
const APP_UID = 65532;
const PROXY_UID = 14001;
const TO_PORT = 14002;
const STEP_TIMEOUT_MS = 10_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (bounded), never rejecting: the exit status is the caller's to check. */
function run(command: string, args: string[], env?: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: STEP_TIMEOUT_MS, ...(env ? { env } : {}) }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr: err && code === 1 && !stderr ? err.message : stderr });
    });
  });
}

async function must(command: string, args: string[]): Promise<string> {
  const r = await run(command, args);
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** setpriv's arguments to run the rest as `uid` (same gid, no supplementary groups). */
function as(uid: number): string[] {
  return ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'];
}

/** `chaperone capture-init ARGS` in the pod namespace, as root unless `uid` says otherwise. */
function captureInit(args: string[] = [], uid?: number, env?: NodeJS.ProcessEnv, ns = POD): Promise<Run> {
  return run('ip', ['netns', 'exec', ns, ...(uid === undefined ? [] : as(uid)), process.execPath, CHAPERONE_BIN, 'capture-init', ...args], env);
}

/** `iptables-save -t nat` (or ip6tables-save, or another table) of the pod namespace, without its dated comment lines. */
async function natTable(family: 4 | 6, table = 'nat'): Promise<string> {
  const out = await must('ip', ['netns', 'exec', POD, family === 4 ? 'iptables-save' : 'ip6tables-save', '-t', table]);
  return out
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('\n');
}

function ourChain(table: string): string[] {
  return table.split('\n').filter((l) => l.startsWith('-A CHAPERONE_OUTPUT '));
}

function jumps(table: string): string[] {
  return table.split('\n').filter((l) => l === '-A OUTPUT -p tcp -j CHAPERONE_OUTPUT');
}

// Listeners answer every connection with their name and the peer's address, then close it.
const LISTENER = `
const net = require('node:net');
const specs = JSON.parse(process.env.LISTEN);
let up = 0;
for (const [host, port, name] of specs) {
  net.createServer((c) => c.end(name + ' ' + c.remoteAddress + '\\n'))
    .on('error', (e) => { console.error(name + ': ' + e.message); process.exit(1); })
    .listen({ host, port }, () => { if (++up === specs.length) console.log('ready'); });
}`;

// A client: prints the first line the server says, or why there was none. Bounded by a timeout.
const CLIENT = `
const net = require('node:net');
const s = net.connect({ host: process.env.HOST, port: Number(process.env.PORT) });
const done = (m) => { console.log(m); process.exit(0); };
let got = '';
s.setTimeout(2000, () => done('timeout'));
s.on('data', (d) => (got += d));
s.on('end', () => done(got.trim()));
s.on('error', (e) => done('error ' + e.code));`;

const listeners: ChildProcess[] = [];

/** Starts listeners in `ns` as `uid`; resolves once every one listens. */
function listen(ns: string, uid: number, specs: [host: string, port: number, name: string][]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, ...as(uid), process.execPath, '-e', LISTENER], {
      env: { ...process.env, LISTEN: JSON.stringify(specs) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    listeners.push(child);
    let err = '';
    const timer = setTimeout(() => reject(new Error(`listeners ${JSON.stringify(specs)} not up: ${err}`)), STEP_TIMEOUT_MS);
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (d.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`listeners ${JSON.stringify(specs)} exited ${code}: ${err}`));
    });
  });
}

/** Connects from the pod namespace as `uid` to host:port; the first line of whoever answered. */
async function connect(uid: number, host: string, port: number): Promise<string> {
  const r = await run('ip', ['netns', 'exec', POD, ...as(uid), process.execPath, '-e', CLIENT], { ...process.env, HOST: host, PORT: String(port) });
  if (r.code !== 0) throw new Error(`client exited ${r.code}: ${r.stderr}`);
  return r.stdout.trim();
}

describe('chaperone capture-init on a real network namespace', () => {
  beforeAll(async () => {
    if (!existsSync(CHAPERONE_BIN.replace(/chaperone\.js$/, 'capture-init.js'))) {
      throw new Error(`${CHAPERONE_BIN} has no capture-init next to it: run make build first`);
    }
    for (const ns of [POD, UPSTREAM]) await run('ip', ['netns', 'del', ns]); // a leftover of a crashed run with this PID
    for (const ns of [POD, UPSTREAM]) {
      await must('ip', ['netns', 'add', ns]);
      await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    await must('ip', ['-n', POD, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', UPSTREAM]);
    for (const [ns, host] of [[POD, 2], [UPSTREAM, 10]] as const) {
      await must('ip', ['-n', ns, 'addr', 'add', `192.0.2.${host}/24`, 'dev', 'eth0']);
      await must('ip', ['-n', ns, '-6', 'addr', 'add', `2001:db8::${host}/64`, 'dev', 'eth0', 'nodad']);
      await must('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    }
    await must('ip', ['-n', POD, 'route', 'add', 'default', 'dev', 'eth0']);
    await must('ip', ['-n', POD, '-6', 'route', 'add', 'default', 'dev', 'eth0']);
    // Someone else's rule in the nat table (a CNI's, say): --noflush must leave it alone.
    await must('ip', ['netns', 'exec', POD, 'iptables', '-t', 'nat', '-A', 'OUTPUT', '-p', 'udp', '--dport', '53', '-j', 'RETURN']);
    await Promise.all([
      listen(POD, PROXY_UID, [['127.0.0.1', TO_PORT, 'redirect'], ['::1', TO_PORT, 'redirect6']]),
      listen(POD, 0, [['0.0.0.0', 443, 'pod-local'], ['::', 80, 'pod-local6']]),
      listen(UPSTREAM, 0, [
        ['192.0.2.10', 443, 'upstream'],
        ['192.0.2.10', 8080, 'upstream'],
        ['192.0.2.10', 8443, 'upstream'],
        ['2001:db8::10', 80, 'upstream6'],
      ]),
    ]);
  });

  afterAll(async () => {
    for (const l of listeners) l.kill('SIGKILL');
    for (const ns of [POD, UPSTREAM]) await run('ip', ['netns', 'del', ns]);
  });

  it('--help prints usage; bad flags fail with a one-line reason and exit 2', async () => {
    const help = await captureInit(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: chaperone capture-init/);
    expect((await run(process.execPath, [CHAPERONE_BIN, '--help'])).stdout).toMatch(/^ {2}capture-init {14}install the transparent-capture rules/m);
    for (const [args, reason] of [
      [['--ports', '80,http'], /--ports 80,http: "http" is not a port number/],
      [['--ports', '80,80'], /--ports: 80 is listed twice/],
      [['--ports', ''], /--ports: at least one port is required/],
      [['--ports', '70000'], /--ports: 70000 is not a port/],
      [['--ports', Array.from({ length: 16 }, (_, i) => 1000 + i).join(',')], /--ports: 16 ports, at most 15/],
      [['--to-port', '443'], /--to-port: 443 is also a captured port/],
      [['--proxy-uid', '0'], /--proxy-uid: 0 \(root\) cannot be the proxy/],
      [['--nope'], /Unknown option '--nope'/],
    ] as const) {
      const r = await captureInit([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(reason);
    }
    // Nothing was written by the refused runs.
    expect(ourChain(await natTable(4))).toEqual([]);
  });

  it('without NET_ADMIN (not root) it fails saying the init container needs NET_ADMIN and NET_RAW', async () => {
    const r = await captureInit([], APP_UID);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/Permission denied \(you must be root\).*needs the NET_ADMIN and NET_RAW capabilities/);
  });

  it('installs the chain and one jump for IPv4 and IPv6, leaving the rest of the nat table alone', async () => {
    const r = await captureInit(['--ports', '80,443', '--to-port', String(TO_PORT), '--proxy-uid', String(PROXY_UID)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      `capture-init: IPv4: CHAPERONE_OUTPUT written with 4 rules (tcp ports 80,443 -> 127.0.0.1:${TO_PORT}; uid ${PROXY_UID} and loopback exempt), OUTPUT jump added; CHAPERONE_UDP refuses udp ports 80,443 (HTTP/3 falls back to TCP), jump added`,
      `capture-init: IPv6: CHAPERONE_OUTPUT written with 4 rules (tcp ports 80,443 -> [::1]:${TO_PORT}; uid ${PROXY_UID} and loopback exempt), OUTPUT jump added; CHAPERONE_UDP refuses udp ports 80,443 (HTTP/3 falls back to TCP), jump added`,
    ]);
    const v4 = await natTable(4);
    expect(jumps(v4)).toHaveLength(1);
    expect(v4).toContain('-A OUTPUT -p udp -m udp --dport 53 -j RETURN');
    expect(ourChain(v4)).toEqual([
      `-A CHAPERONE_OUTPUT -m owner --uid-owner ${PROXY_UID} -j RETURN`,
      '-A CHAPERONE_OUTPUT -o lo -j RETURN',
      '-A CHAPERONE_OUTPUT -d 127.0.0.0/8 -j RETURN',
      `-A CHAPERONE_OUTPUT -p tcp -m multiport --dports 80,443 -j REDIRECT --to-ports ${TO_PORT}`,
    ]);
    const v6 = await natTable(6);
    expect(jumps(v6)).toHaveLength(1);
    expect(ourChain(v6)).toEqual(ourChain(v4).map((l) => l.replace('127.0.0.0/8', '::1/128')));
  });

  it("captures an app's connections to the governed ports, IPv4 and IPv6, whatever address it dialled", async () => {
    expect(await connect(APP_UID, '192.0.2.10', 443)).toBe('redirect 192.0.2.2');
    expect(await connect(APP_UID, '2001:db8::10', 80)).toBe('redirect6 2001:db8::2');
    // An address nothing answers at: captured all the same (the sidecar would refuse or forward it).
    expect(await connect(APP_UID, '198.51.100.7', 80)).toBe('redirect 192.0.2.2');
  });

  it("does not capture the proxy's own connections: they reach the real destination", async () => {
    expect(await connect(PROXY_UID, '192.0.2.10', 443)).toBe('upstream 192.0.2.2');
    expect(await connect(PROXY_UID, '2001:db8::10', 80)).toBe('upstream6 2001:db8::2');
  });

  it('does not capture other ports, loopback, or the pod talking to itself', async () => {
    expect(await connect(APP_UID, '192.0.2.10', 8080)).toBe('upstream 192.0.2.2');
    expect(await connect(APP_UID, '192.0.2.10', 8443)).toBe('upstream 192.0.2.2');
    expect(await connect(APP_UID, '127.0.0.1', 443)).toBe('pod-local 127.0.0.1');
    expect(await connect(APP_UID, '::1', 80)).toBe('pod-local6 ::1');
    expect(await connect(APP_UID, '192.0.2.2', 443)).toBe('pod-local 192.0.2.2');
    expect(await connect(APP_UID, '2001:db8::2', 80)).toBe('pod-local6 2001:db8::2');
  });

  it("refuses the app's UDP to the governed ports (HTTP/3), not the proxy's", async () => {
    /** Packets the REJECT rule has matched so far. */
    const rejected = async (family: 4 | 6): Promise<number> => {
      const out = await must('ip', ['netns', 'exec', POD, family === 4 ? 'iptables' : 'ip6tables', '-t', 'filter', '-L', 'CHAPERONE_UDP', '-v', '-n', '-x']);
      return Number(out.split('\n').find((l) => / REJECT /.test(l))!.trim().split(/\s+/)[0]);
    };
    const send = (uid: number, host: string, port: number) =>
      must('ip', ['netns', 'exec', POD, ...as(uid), process.execPath, '-e',
        `const s = require('node:dgram').createSocket('${host.includes(':') ? 'udp6' : 'udp4'}'); s.send('quic', ${port}, '${host}', () => s.close());`]);
    for (const [family, host] of [[4, '192.0.2.10'], [6, '2001:db8::10']] as const) {
      const before = await rejected(family);
      await send(APP_UID, host, 443);
      expect(await rejected(family)).toBe(before + 1);
      await send(PROXY_UID, host, 443);
      await send(APP_UID, host, 53); // not a governed port
      expect(await rejected(family)).toBe(before + 1);
    }
  });

  it('a rerun (kubelet reruns init containers) leaves the nat and filter tables exactly as they were', async () => {
    const before = [await natTable(4), await natTable(6), await natTable(4, 'filter'), await natTable(6, 'filter')];
    const r = await captureInit(['--ports', '80,443', '--to-port', String(TO_PORT), '--proxy-uid', String(PROXY_UID)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/IPv4: .*OUTPUT jump already present/);
    expect(r.stdout).toMatch(/IPv6: .*OUTPUT jump already present/);
    expect(r.stdout).toMatch(/IPv4: .*CHAPERONE_UDP .* jump already present/);
    const after = [await natTable(4), await natTable(6), await natTable(4, 'filter'), await natTable(6, 'filter')];
    expect(after).toEqual(before.map((t) => t.replace(/\[\d+:\d+\]/g, (c) => c))); // counters aside, identical
    for (const t of after.slice(0, 2)) expect(jumps(t)).toHaveLength(1);
    for (const t of after.slice(2)) expect(t.split('\n').filter((l) => l === '-A OUTPUT -p udp -j CHAPERONE_UDP')).toHaveLength(1);
    expect(await connect(APP_UID, '192.0.2.10', 443)).toBe('redirect 192.0.2.2');
  });

  it('a rerun with other ports replaces the chain: 8443 is captured now, still one jump', async () => {
    const r = await captureInit(['--ports', '80,443,8443', '--to-port', String(TO_PORT), '--proxy-uid', String(PROXY_UID)]);
    expect(r.code).toBe(0);
    for (const family of [4, 6] as const) {
      const t = await natTable(family);
      expect(jumps(t)).toHaveLength(1);
      expect(ourChain(t)).toHaveLength(4);
      expect(ourChain(t)[3]).toBe(`-A CHAPERONE_OUTPUT -p tcp -m multiport --dports 80,443,8443 -j REDIRECT --to-ports ${TO_PORT}`);
    }
    expect(await natTable(4)).toContain('-A OUTPUT -p udp -m udp --dport 53 -j RETURN');
    expect(await connect(APP_UID, '192.0.2.10', 8443)).toBe('redirect 192.0.2.2');
    expect(await connect(APP_UID, '192.0.2.10', 8080)).toBe('upstream 192.0.2.2');
    expect(await connect(PROXY_UID, '192.0.2.10', 8443)).toBe('upstream 192.0.2.2');
  });

  it('skips IPv6 with a log line, not an error, in a namespace without it', async () => {
    // No IPv6 address (lo down: /proc/net/if_inet6 is empty) and an ip6tables that cannot use the
    // nat table, as on a node booted with ipv6.disable=1.
    const ns = `${POD}-v4`;
    const bin = await mkdtemp(join(tmpdir(), 'chap-cap-bin-'));
    try {
      await run('ip', ['netns', 'del', ns]);
      await must('ip', ['netns', 'add', ns]);
      await writeFile(
        join(bin, 'ip6tables'),
        "#!/bin/sh\necho \"ip6tables v1.8.9 (nf_tables): can't initialize ip6tables table \\`nat': Address family not supported by protocol\" >&2\nexit 3\n",
        { mode: 0o755 },
      );
      const r = await captureInit([], undefined, { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` }, ns);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/^capture-init: IPv4: CHAPERONE_OUTPUT written with 4 rules .* OUTPUT jump added; CHAPERONE_UDP .* jump added$/);
      expect(lines[1]).toMatch(/^capture-init: IPv6: skipped \(no IPv6 address in this network namespace and ip6tables -t nat fails: .*Address family not supported/);
      expect(ourChain(await must('ip', ['netns', 'exec', ns, 'iptables-save', '-t', 'nat']))).toHaveLength(4);
      expect(ourChain(await must('ip', ['netns', 'exec', ns, 'ip6tables-save', '-t', 'nat']))).toEqual([]);
    } finally {
      await run('ip', ['netns', 'del', ns]);
      await rm(bin, { recursive: true, force: true });
    }
  });
});
