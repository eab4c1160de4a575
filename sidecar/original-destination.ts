// The original destination of a connection that iptables REDIRECTed to the sidecar's listener, read
// from the kernel's conntrack table as text (/proc/net/nf_conntrack: the pod's own network
// namespace, mode 0440 root:root, so readable with group 0). No native addon, no SO_ORIGINAL_DST.
//
// A line (tcp, IPv4; `packets=`/`bytes=` follow each tuple when nf_conntrack_acct is on):
//   ipv4     2 tcp      6 431999 ESTABLISHED src=10.99.0.2 dst=1.2.3.4 sport=35572 dport=443
//     src=127.0.0.1 dst=10.99.0.2 sport=15001 dport=35572 [ASSURED] mark=0 zone=0 use=2
// The first src/dst/sport/dport are the original direction (what the client asked for), the second
// the reply direction (after NAT: the listener answering the client). The accepted socket sees the
// reply tuple: local = reply src:sport, remote = reply dst:dport (= original src:sport, no SNAT).
// IPv6 addresses are printed fully expanded (%pI6: 0000:0000:...:0001).
import { readFile } from 'node:fs/promises';
import net from 'node:net';

export interface Destination {
  address: string;
  port: number;
}

/**
 * An IP address in Node's usual form, so that two spellings of one address compare equal: IPv4
 * dotted, IPv6 compressed and lower-case, IPv4-mapped IPv6 (::ffff:10.0.0.5, what a dual-stack
 * listener reports for IPv4 peers) as plain IPv4. A zone (fe80::1%eth0) is dropped: conntrack
 * prints none. Undefined when it is not an IP address.
 */
export function canonicalAddress(address: string): string | undefined {
  const family = net.isIP(address);
  if (family === 0) return undefined;
  let canonical: string;
  try {
    // SocketAddress goes through inet_pton/inet_ntop, as Node's own socket addresses do (and drops a zone).
    canonical = new net.SocketAddress({ address, family: family === 4 ? 'ipv4' : 'ipv6' }).address;
  } catch {
    return undefined;
  }
  return /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(canonical)?.[1] ?? canonical;
}

interface Tuple {
  src: string;
  dst: string;
  sport: number;
  dport: number;
}

/** The original and reply tuples of a tcp line; undefined for other protocols or malformed lines. */
function parseLine(line: string): { original: Tuple; reply: Tuple } | undefined {
  const fields = line.trim().split(/\s+/);
  // <l3 name> <l3 number> <l4 name> <l4 number> <timeout> <tcp state> key=value...
  if ((fields[0] !== 'ipv4' && fields[0] !== 'ipv6') || fields[2] !== 'tcp') return undefined;
  const values = new Map<string, string[]>([['src', []], ['dst', []], ['sport', []], ['dport', []]]);
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq > 0) values.get(field.slice(0, eq))?.push(field.slice(eq + 1));
  }
  // Exactly two of each, original then reply: anything else is not a line we understand.
  if (![...values.values()].every((v) => v.length === 2)) return undefined;
  const tuple = (i: 0 | 1): Tuple | undefined => {
    const src = canonicalAddress(values.get('src')![i]!);
    const dst = canonicalAddress(values.get('dst')![i]!);
    const sport = port(values.get('sport')![i]!);
    const dport = port(values.get('dport')![i]!);
    return src && dst && sport !== undefined && dport !== undefined ? { src, dst, sport, dport } : undefined;
  };
  const original = tuple(0);
  const reply = tuple(1);
  return original && reply ? { original, reply } : undefined;
}

function port(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 65535 ? n : undefined;
}

/** Finds the original destination of the connection from `remote` to `local` in conntrack text; undefined when no line matches. */
export function findOriginalDestination(conntrack: string, remote: Destination, local: Destination): Destination | undefined {
  const remoteAddress = canonicalAddress(remote.address);
  const localAddress = canonicalAddress(local.address);
  if (!remoteAddress || !localAddress) return undefined;
  const found = new Set<string>();
  let result: Destination | undefined;
  for (const line of conntrack.split('\n')) {
    const entry = parseLine(line);
    if (!entry) continue;
    const { original, reply } = entry;
    // The reply tuple is the accepted socket's own four-tuple, which the kernel keeps unique; the
    // original source must be the client too (no SNAT between a pod's app and its sidecar).
    const matches =
      reply.src === localAddress && reply.sport === local.port && reply.dst === remoteAddress && reply.dport === remote.port &&
      original.src === remoteAddress && original.sport === remote.port;
    if (!matches) continue;
    // Not NATed: the client connected to the listener itself, so there is no other destination.
    const direct = original.dst === reply.src && original.dport === reply.sport;
    const answer = direct ? 'direct' : `${original.dst} ${original.dport}`;
    found.add(answer);
    if (!direct) result = { address: original.dst, port: original.dport };
  }
  // One answer, or none: should two lines disagree (a table read while it changed), fail closed.
  return found.size === 1 ? result : undefined;
}

/** Reads the table (default '/proc/net/nf_conntrack') and looks it up; undefined when the file cannot be read or nothing matches (the caller fails closed). Never throws. */
export async function originalDestination(remote: Destination, local: Destination, file = '/proc/net/nf_conntrack'): Promise<Destination | undefined> {
  try {
    return findOriginalDestination(await readFile(file, 'utf8'), remote, local);
  } catch {
    return undefined;
  }
}
