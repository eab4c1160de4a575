// IP addresses the way a client's resolver reads them, and which of them point inside: every spelling
// inet_aton(3) and the WHATWG URL parser accept (`2130706433`, `0x7f.1`, `017700000001`, `127.1`),
// IPv6 with its embedded IPv4 forms (`::ffff:127.0.0.1`, `::ffff:7f00:1`, NAT64, 6to4) and zone ids.
// Plain loops over short strings; no regular expressions.

/** An IPv4 address as a 32-bit unsigned number, from any form inet_aton accepts, or undefined. */
export function parseIPv4(host: string): number | undefined {
  if (host.length === 0 || host.length > 64) return undefined;
  const parts = host.split('.');
  if (parts.length > 4) return undefined;
  const nums: number[] = [];
  for (const p of parts) {
    const v = parsePart(p);
    if (v === undefined) return undefined;
    nums.push(v);
  }
  const last = nums.pop()!;
  let ip = 0;
  for (const n of nums) {
    if (n > 255) return undefined;
    ip = ip * 256 + n;
  }
  const rest = 4 - nums.length;
  if (last >= 256 ** rest) return undefined;
  return ip * 256 ** rest + last;
}

function parsePart(p: string): number | undefined {
  if (p === '') return undefined;
  let digits: string;
  let radix: number;
  if (p.startsWith('0x')) {
    digits = p.slice(2);
    radix = 16;
    if (digits === '') return 0;
  } else if (p.length > 1 && p.startsWith('0')) {
    digits = p.slice(1);
    radix = 8;
  } else {
    digits = p;
    radix = 10;
  }
  if (digits.length > 12) return undefined;
  let v = 0;
  for (const ch of digits) {
    const d = parseInt(ch, radix);
    if (Number.isNaN(d)) return undefined;
    v = v * radix + d;
  }
  return v;
}

/** The dotted-decimal form of an IPv4 number. */
export const dotted = (ip: number): string => `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;

/** An IPv6 address as eight 16-bit groups (brackets and a zone id allowed), or undefined. */
export function parseIPv6(host: string): number[] | undefined {
  let h = host;
  if (h.startsWith('[')) h = h.slice(1, h.endsWith(']') ? -1 : undefined);
  const zone = h.indexOf('%');
  if (zone >= 0) h = h.slice(0, zone);
  if (h.length < 2 || h.length > 64 || !h.includes(':')) return undefined;
  // An embedded IPv4 tail (::ffff:127.0.0.1) becomes two groups.
  let extra: number[] = [];
  const lastColon = h.lastIndexOf(':');
  const tail = h.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = parseStrictIPv4(tail);
    if (v4 === undefined) return undefined;
    extra = [v4 >>> 16, v4 & 0xffff];
    h = h.slice(0, lastColon + 1);
    if (!h.endsWith('::')) h = h.slice(0, -1);
  }
  const halves = h.split('::');
  if (halves.length > 2) return undefined;
  const head = groups(halves[0]!);
  const back = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !back) return undefined;
  (halves.length === 2 ? back : head).push(...extra);
  const total = head.length + back.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  return [...head, ...Array<number>(8 - total).fill(0), ...back];
}

/** Colon-separated groups of up to four hex digits ('' is none). */
function groups(s: string): number[] | undefined {
  if (s === '') return [];
  const out: number[] = [];
  for (const g of s.split(':')) {
    if (g.length === 0 || g.length > 4) return undefined;
    let v = 0;
    for (const ch of g) {
      const d = parseInt(ch, 16);
      if (Number.isNaN(d)) return undefined;
      v = v * 16 + d;
    }
    out.push(v);
  }
  return out;
}

/** Dotted decimal with four parts only (the form an IPv6 address may embed). */
function parseStrictIPv4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let ip = 0;
  for (const p of parts) {
    if (p.length === 0 || p.length > 3 || [...p].some((c) => c < '0' || c > '9') || Number(p) > 255) return undefined;
    ip = ip * 256 + Number(p);
  }
  return ip;
}

/** The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), if any. */
export function embeddedIPv4(g: readonly number[]): number | undefined {
  const v4 = (hi: number, lo: number): number => hi * 65536 + lo;
  const zeros = (n: number): boolean => g.slice(0, n).every((x) => x === 0);
  if (zeros(5) && g[5] === 0xffff) return v4(g[6]!, g[7]!); // ::ffff:a.b.c.d
  if (zeros(6) && (g[6]! !== 0 || g[7]! > 1)) return v4(g[6]!, g[7]!); // ::a.b.c.d (deprecated "compatible")
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0) return v4(g[6]!, g[7]!); // NAT64
  if (g[0] === 0x2002) return v4(g[1]!, g[2]!); // 6to4
  return undefined;
}

// ------------------------------------------------------------------------------------------ ranges

export interface Cidr {
  v6: boolean;
  /** IPv4: the network as a number. IPv6: eight groups. */
  net: number | number[];
  bits: number;
}

/** "10.96.0.0/12", "fd00::/8", or a single address; undefined when malformed. */
export function parseCidr(s: string): Cidr | undefined {
  const slash = s.indexOf('/');
  const addr = slash < 0 ? s : s.slice(0, slash);
  const bitsText = slash < 0 ? undefined : s.slice(slash + 1);
  if (bitsText !== undefined && (bitsText.length === 0 || bitsText.length > 3 || [...bitsText].some((c) => c < '0' || c > '9'))) return undefined;
  const v4 = parseStrictIPv4(addr);
  if (v4 !== undefined) {
    const bits = bitsText === undefined ? 32 : Number(bitsText);
    return bits <= 32 ? { v6: false, net: v4, bits } : undefined;
  }
  const v6 = parseIPv6(addr);
  if (v6 !== undefined && !addr.includes('%')) {
    const bits = bitsText === undefined ? 128 : Number(bitsText);
    return bits <= 128 ? { v6: true, net: v6, bits } : undefined;
  }
  return undefined;
}

export function inV4(ip: number, net: number, bits: number): boolean {
  if (bits === 0) return true;
  const mask = bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
  return ((ip & mask) >>> 0) === ((net & mask) >>> 0);
}

export function inV6(g: readonly number[], net: readonly number[], bits: number): boolean {
  for (let i = 0; i < 8 && bits > 0; i++, bits -= 16) {
    const mask = bits >= 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
    if ((g[i]! & mask) !== (net[i]! & mask)) return false;
  }
  return true;
}

export function inCidr(addr: { v4?: number; v6?: readonly number[] }, c: Cidr): boolean {
  if (!c.v6 && addr.v4 !== undefined) return inV4(addr.v4, c.net as number, c.bits);
  if (c.v6 && addr.v6 !== undefined) return inV6(addr.v6, c.net as number[], c.bits);
  return false;
}

// ------------------------------------------------------------------------------ what lies inside

/** Where an address points, from the most to the least sensitive. */
export type AddressClass = 'metadata' | 'loopback' | 'unspecified' | 'link_local' | 'cluster' | 'private' | 'public';

const V4 = (s: string): number => parseStrictIPv4(s)!;
/** Cloud instance metadata services: AWS/GCP/Azure/Oracle/DigitalOcean (169.254.169.254), ECS and EKS credentials, Alibaba. */
const METADATA_V4 = new Set([V4('169.254.169.254'), V4('169.254.170.2'), V4('169.254.170.23'), V4('100.100.100.200')]);
const METADATA_V6 = ['fd00:ec2::254', 'fd00:ec2::23'].map((s) => parseIPv6(s)!.join(':'));

const PRIVATE_V4: ReadonlyArray<[number, number]> = [[V4('10.0.0.0'), 8], [V4('172.16.0.0'), 12], [V4('192.168.0.0'), 16], [V4('100.64.0.0'), 10], [V4('198.18.0.0'), 15]];

export function classifyV4(ip: number, cluster: readonly Cidr[]): AddressClass {
  if (METADATA_V4.has(ip)) return 'metadata';
  if (inV4(ip, V4('127.0.0.0'), 8)) return 'loopback';
  if (inV4(ip, 0, 8)) return 'unspecified';
  if (inV4(ip, V4('169.254.0.0'), 16)) return 'link_local';
  if (cluster.some((c) => inCidr({ v4: ip }, c))) return 'cluster';
  if (PRIVATE_V4.some(([net, bits]) => inV4(ip, net, bits))) return 'private';
  return 'public';
}

export function classifyV6(g: readonly number[], cluster: readonly Cidr[]): AddressClass {
  if (METADATA_V6.includes(g.join(':'))) return 'metadata';
  const v4 = embeddedIPv4(g);
  if (v4 !== undefined) return classifyV4(v4, cluster);
  if (g.slice(0, 7).every((x) => x === 0)) return g[7] === 1 ? 'loopback' : 'unspecified';
  if ((g[0]! & 0xffc0) === 0xfe80) return 'link_local';
  if (cluster.some((c) => inCidr({ v6: g }, c))) return 'cluster';
  if ((g[0]! & 0xfe00) === 0xfc00) return 'private';
  return 'public';
}
