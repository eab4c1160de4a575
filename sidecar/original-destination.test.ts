import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalAddress, findOriginalDestination, originalDestination, type Destination } from './original-destination.js';

// Lines as the kernel prints them (the IPv4 and IPv6 ones were copied from a REDIRECT on this
// machine's kernel; see the real-kernel test below for where they come from).
const V4 =
  'ipv4     2 tcp      6 431999 ESTABLISHED src=10.99.0.2 dst=1.2.3.4 sport=35572 dport=443 src=127.0.0.1 dst=10.99.0.2 sport=15001 dport=35572 [ASSURED] mark=0 zone=0 use=2';
const V4_ACCT =
  'ipv4     2 tcp      6 432000 ESTABLISHED src=10.99.0.2 dst=192.0.2.10 sport=34572 dport=443 packets=2 bytes=112 src=127.0.0.1 dst=10.99.0.2 sport=15001 dport=34572 packets=1 bytes=60 [ASSURED] mark=0 zone=0 delta-time=0 use=2';
const V6 =
  'ipv6     10 tcp      6 432000 ESTABLISHED src=fd00:0000:0000:0000:0000:0000:0000:0002 dst=2001:0db8:0000:0000:0000:0000:0000:0010 sport=35587 dport=443 src=0000:0000:0000:0000:0000:0000:0000:0001 dst=fd00:0000:0000:0000:0000:0000:0000:0002 sport=15001 dport=35587 [ASSURED] mark=0 zone=0 use=2';
const UDP =
  'ipv4     2 udp      17 29 src=10.99.0.2 dst=192.0.2.53 sport=35572 dport=53 [UNREPLIED] src=127.0.0.1 dst=10.99.0.2 sport=15001 dport=35572 mark=0 zone=0 use=2';
const ICMP = 'ipv4     2 icmp     1 29 src=10.99.0.2 dst=192.0.2.1 type=8 code=0 id=7 src=192.0.2.1 dst=10.99.0.2 type=0 code=0 id=7 mark=0 zone=0 use=2';
// A connection straight to the listener: nothing was NATed.
const DIRECT =
  'ipv4     2 tcp      6 431999 ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=40000 dport=15001 src=127.0.0.1 dst=127.0.0.1 sport=15001 dport=40000 [ASSURED] mark=0 zone=0 use=2';

const remote4: Destination = { address: '10.99.0.2', port: 35572 };
const local4: Destination = { address: '127.0.0.1', port: 15001 };

describe('canonicalAddress', () => {
  const cases: [string, string | undefined][] = [
    ['10.0.0.5', '10.0.0.5'],
    ['::ffff:10.0.0.5', '10.0.0.5'],
    ['::FFFF:a00:5', '10.0.0.5'],
    ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
    ['fd00:0000:0000:0000:0000:0000:0000:0002', 'fd00::2'],
    ['2001:0DB8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['', undefined],
    ['example.com', undefined],
    ['010.0.0.1', undefined],
    ['1.2.3.4.5', undefined],
    ['[::1]', undefined],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} → ${expected ?? 'undefined'}`, () => {
      expect(canonicalAddress(input)).toBe(expected);
    });
  }
});

describe('findOriginalDestination', () => {
  it('IPv4: the original destination of the redirected connection', () => {
    expect(findOriginalDestination(V4, remote4, local4)).toEqual({ address: '1.2.3.4', port: 443 });
  });

  it('IPv4 with accounting on (packets= and bytes= after each tuple)', () => {
    expect(findOriginalDestination(V4_ACCT, { address: '10.99.0.2', port: 34572 }, local4)).toEqual({ address: '192.0.2.10', port: 443 });
  });

  it('IPv4 seen through a dual-stack listener (::ffff: addresses on both ends)', () => {
    expect(findOriginalDestination(V4, { address: '::ffff:10.99.0.2', port: 35572 }, { address: '::ffff:127.0.0.1', port: 15001 })).toEqual({
      address: '1.2.3.4',
      port: 443,
    });
  });

  it('IPv6: expanded addresses in the table, compressed ones from the socket and in the answer', () => {
    const remote = { address: 'fd00::2', port: 35587 };
    expect(findOriginalDestination(V6, remote, { address: '::1', port: 15001 })).toEqual({ address: '2001:db8::10', port: 443 });
    // any spelling of the socket's addresses
    expect(findOriginalDestination(V6, { address: 'FD00:0:0::2', port: 35587 }, { address: '0:0:0:0:0:0:0:1', port: 15001 })).toEqual({
      address: '2001:db8::10',
      port: 443,
    });
  });

  it('picks its line among unrelated ones', () => {
    const table = [
      V6,
      V4.replace('sport=35572', 'sport=35573').replace('dport=35572', 'dport=35573').replace('1.2.3.4', '5.6.7.8'),
      V4.replace('1.2.3.4', '9.9.9.9').replace('sport=15001', 'sport=15002'), // another listener port
      V4,
      ICMP,
      '',
    ].join('\n');
    expect(findOriginalDestination(table, remote4, local4)).toEqual({ address: '1.2.3.4', port: 443 });
    expect(findOriginalDestination(table, { address: '10.99.0.2', port: 35573 }, local4)).toEqual({ address: '5.6.7.8', port: 443 });
    expect(findOriginalDestination(table, remote4, { address: '127.0.0.1', port: 15002 })).toEqual({ address: '9.9.9.9', port: 443 });
  });

  it('no line for the connection → undefined', () => {
    expect(findOriginalDestination(V4, { address: '10.99.0.2', port: 1 }, local4)).toBeUndefined();
    expect(findOriginalDestination(V4, { address: '10.99.0.3', port: 35572 }, local4)).toBeUndefined();
    expect(findOriginalDestination(V4, remote4, { address: '127.0.0.1', port: 15002 })).toBeUndefined();
    expect(findOriginalDestination(V4, remote4, { address: '127.0.0.2', port: 15001 })).toBeUndefined();
    expect(findOriginalDestination('', remote4, local4)).toBeUndefined();
  });

  it('skips UDP and ICMP lines with the same addresses and ports', () => {
    expect(findOriginalDestination([UDP, ICMP].join('\n'), remote4, local4)).toBeUndefined();
    expect(findOriginalDestination([UDP, V4].join('\n'), remote4, local4)).toEqual({ address: '1.2.3.4', port: 443 });
  });

  it('a direct connection to the listener (not NATed) → undefined', () => {
    expect(findOriginalDestination(DIRECT, { address: '127.0.0.1', port: 40000 }, local4)).toBeUndefined();
  });

  it('a reply tuple that is not the socket (source NAT on the way) → undefined', () => {
    const snat = V4.replace('dst=10.99.0.2 sport=15001', 'dst=10.99.0.9 sport=15001');
    expect(findOriginalDestination(snat, remote4, local4)).toBeUndefined();
  });

  it('an original source that is not the socket\'s peer (source NAT before the redirect) → undefined', () => {
    const snat = V4.replace('src=10.99.0.2 dst=1.2.3.4 sport=35572', 'src=10.99.0.7 dst=1.2.3.4 sport=35572');
    expect(findOriginalDestination(snat, remote4, local4)).toBeUndefined();
    const portChanged = V4.replace('sport=35572 dport=443', 'sport=35570 dport=443');
    expect(findOriginalDestination(portChanged, remote4, local4)).toBeUndefined();
  });

  it('the same line twice is one answer; two lines that disagree are none', () => {
    expect(findOriginalDestination([V4, V4].join('\n'), remote4, local4)).toEqual({ address: '1.2.3.4', port: 443 });
    expect(findOriginalDestination([V4, V4.replace('dst=1.2.3.4', 'dst=4.3.2.1')].join('\n'), remote4, local4)).toBeUndefined();
    expect(findOriginalDestination([V4, V4.replace('dst=1.2.3.4 sport=35572 dport=443', 'dst=127.0.0.1 sport=35572 dport=15001')].join('\n'), remote4, local4)).toBeUndefined();
  });

  it('skips malformed lines', () => {
    const malformed = [
      V4.slice(0, V4.indexOf(' src=127.0.0.1')), // cut after the original tuple
      V4.replace('dport=443', 'dport=99999'),
      V4.replace('dport=443', 'dport=https'),
      V4.replace('dst=1.2.3.4', 'dst=1.2.3.256'),
      V4.replace('src=127.0.0.1', 'src=localhost'),
      V4.replace(' dport=443', ''),
      `${V4} src=10.0.0.1`, // a third src
      V4.replace('ipv4     2 tcp', 'ipv4     2 xyz'),
      V4.replace('ipv4', 'ipv9'),
      'tcp      6 431999 ESTABLISHED src=10.99.0.2 dst=1.2.3.4 sport=35572 dport=443', // the old ip_conntrack format, truncated
      '\0\0garbage ===== = =',
      'ipv4 2 tcp',
    ];
    for (const line of malformed) expect(findOriginalDestination(line, remote4, local4), line).toBeUndefined();
    expect(findOriginalDestination([...malformed, V4, ...malformed].join('\n'), remote4, local4)).toEqual({ address: '1.2.3.4', port: 443 });
    // unknown fields are ignored, whatever their names
    expect(findOriginalDestination(`${V4} constructor=1 __proto__=2 toString=3`, remote4, local4)).toEqual({ address: '1.2.3.4', port: 443 });
  });

  it('a socket without addresses (already closed) → undefined', () => {
    expect(findOriginalDestination(V4, { address: '', port: 0 }, local4)).toBeUndefined();
    expect(findOriginalDestination(V4, remote4, { address: '', port: 0 })).toBeUndefined();
  });
});

describe('originalDestination', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'chap-odst-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the table from a file', async () => {
    const file = path.join(dir, 'nf_conntrack');
    await writeFile(file, `${UDP}\n${V4}\n`);
    expect(await originalDestination(remote4, local4, file)).toEqual({ address: '1.2.3.4', port: 443 });
    expect(await originalDestination({ address: '10.99.0.2', port: 1 }, local4, file)).toBeUndefined();
  });

  it('undefined when the file is missing or not a file', async () => {
    await expect(originalDestination(remote4, local4, path.join(dir, 'absent'))).resolves.toBeUndefined();
    await expect(originalDestination(remote4, local4, dir)).resolves.toBeUndefined();
  });
});

// The real thing: a network namespace whose OUTPUT chain REDIRECTs port 443 to a local listener,
// a client in it connecting to a documentation address, and the listener reading the kernel's
// conntrack table while the connection is open. Needs root, ip and iptables.
const IPTABLES = '/usr/sbin/iptables';
const IP6TABLES = '/usr/sbin/ip6tables';

// Run inside the namespace: listen on [::]:15001, connect to each target in turn, and print, for
// each accepted connection, the socket's addresses and the conntrack table as it was then.
const LISTENER = `
import fs from 'node:fs';
import net from 'node:net';
const targets = JSON.parse(process.argv[1]);
const results = [];
const server = net.createServer();
server.listen(15001, '::', async () => {
  for (const target of targets) {
    await new Promise((resolve, reject) => {
      server.once('connection', (s) => {
        const conntrack = fs.readFileSync('/proc/net/nf_conntrack', 'utf8');
        results.push({ target, remote: { address: s.remoteAddress, port: s.remotePort }, local: { address: s.localAddress, port: s.localPort }, conntrack });
        s.destroy();
        resolve();
      });
      // (an error after the listener hung up comes after resolve(): no effect)
      net.connect(target).on('error', reject).setTimeout(5000, () => reject(new Error('connect timeout')));
    });
  }
  server.close();
  process.stdout.write(JSON.stringify(results));
});
`;

interface Observed {
  target: { host: string; port: number };
  remote: Destination;
  local: Destination;
  conntrack: string;
}

// Root, ip and iptables come with `make test` (CI runs as root; scripts/ensure-tools.sh installs them).
describe('on the real kernel: iptables REDIRECT in a network namespace', () => {
  const ns = `chap-odst-${process.pid}`;

  function run(cmd: string, args: string[]): string {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ').slice(0, 200)}: ${r.error?.message ?? r.stderr}`);
    return r.stdout;
  }
  const inNs = (cmd: string, ...args: string[]): string => run('ip', ['netns', 'exec', ns, cmd, ...args]);
  const observe = (targets: { host: string; port: number }[]): Observed[] =>
    JSON.parse(inNs(process.execPath, '--input-type=module', '-e', LISTENER, JSON.stringify(targets))) as Observed[];

  let observed: Observed[];

  beforeAll(() => {
    spawnSync('ip', ['netns', 'del', ns]); // a leftover of a crashed run with this pid
    run('ip', ['netns', 'add', ns]);
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    run('ip', ['-n', ns, 'addr', 'add', '10.99.0.2/32', 'dev', 'lo']);
    run('ip', ['-n', ns, 'route', 'add', 'default', 'dev', 'lo']);
    inNs(IPTABLES, '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '--dport', '443', '-j', 'REDIRECT', '--to-ports', '15001');
    run('ip', ['-n', ns, '-6', 'addr', 'add', 'fd00:99::2/128', 'dev', 'lo', 'nodad']);
    run('ip', ['-n', ns, '-6', 'route', 'add', 'default', 'dev', 'lo']);
    inNs(IP6TABLES, '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '--dport', '443', '-j', 'REDIRECT', '--to-ports', '15001');
    observed = observe([
      { host: '192.0.2.10', port: 443 },
      { host: '127.0.0.1', port: 15001 }, // straight to the listener
      { host: '2001:db8::10', port: 443 },
    ]);
  });

  afterAll(() => {
    spawnSync('ip', ['netns', 'del', ns]);
  });

  it('IPv4: finds 192.0.2.10:443 for the redirected connection (Node reports ::ffff: addresses)', async () => {
    const { remote, local, conntrack } = observed[0]!;
    expect(remote.address).toBe('::ffff:10.99.0.2');
    expect(local).toEqual({ address: '::ffff:127.0.0.1', port: 15001 });
    expect(conntrack).toMatch(/^ipv4 +2 tcp +6 \d+ ESTABLISHED src=10\.99\.0\.2 dst=192\.0\.2\.10 /m);
    expect(findOriginalDestination(conntrack, remote, local)).toEqual({ address: '192.0.2.10', port: 443 });

    // and through the file reader
    const dir = await mkdtemp(path.join(os.tmpdir(), 'chap-odst-'));
    try {
      await writeFile(path.join(dir, 'nf_conntrack'), conntrack);
      expect(await originalDestination(remote, local, path.join(dir, 'nf_conntrack'))).toEqual({ address: '192.0.2.10', port: 443 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a direct connection to the listener has a conntrack line but no original destination', () => {
    const { remote, local, conntrack } = observed[1]!;
    expect(conntrack).toContain(`sport=${remote.port} dport=15001 src=127.0.0.1 dst=127.0.0.1 sport=15001 dport=${remote.port}`);
    expect(findOriginalDestination(conntrack, remote, local)).toBeUndefined();
  });

  it('IPv6: finds 2001:db8::10 from the kernel’s fully expanded addresses', () => {
    const { remote, local, conntrack } = observed[2]!;
    expect(local).toEqual({ address: '::1', port: 15001 });
    expect(conntrack).toContain('dst=2001:0db8:0000:0000:0000:0000:0000:0010');
    expect(findOriginalDestination(conntrack, remote, local)).toEqual({ address: '2001:db8::10', port: 443 });
  });

  it('with accounting and timestamps on (extra fields in each line)', () => {
    inNs('sh', '-c', 'echo 1 > /proc/sys/net/netfilter/nf_conntrack_acct && echo 1 > /proc/sys/net/netfilter/nf_conntrack_timestamp');
    const [{ remote, local, conntrack }] = observe([{ host: '192.0.2.11', port: 443 }]) as [Observed];
    expect(conntrack).toMatch(/dst=192\.0\.2\.11 sport=\d+ dport=443 packets=\d+ bytes=\d+ src=/);
    expect(conntrack).toContain('delta-time=');
    expect(findOriginalDestination(conntrack, remote, local)).toEqual({ address: '192.0.2.11', port: 443 });
  });
});
