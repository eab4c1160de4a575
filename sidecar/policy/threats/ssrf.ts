// Server-side request forgery: a URL or host handed to a tool that fetches it, pointing back inside
// (the cloud's metadata service and its credentials, the pod itself and its sidecar, the cluster's
// API and services) or using a scheme that talks to more than web servers (gopher, dict, file...).
//
// Read in whole-URL leaves (role url), in host fields (`host`, `ip`, `server`... role host), in
// URLs nested in a URL's query (`/proxy?target=http://127.0.0.1/`), and in URLs embedded in other
// text. Hosts are read the way resolvers and URL parsers read them (addresses.ts), so every spelling
// of an address counts: decimal, octal and hex (`http://2130706433/`, `http://0x7f.1/`,
// `http://017700000001/`), short forms (`127.1`), IPv4-mapped IPv6 (`[::ffff:127.0.0.1]`), NAT64 and
// 6to4, zone ids, full-width and circled digits (NFKC), a trailing dot, userinfo in front
// (`http://good.com@169.254.169.254/`, read both ways when a backslash makes parsers disagree),
// wildcard-DNS names that embed an address (`127.0.0.1.nip.io`, `169-254-169-254.sslip.io`) and
// public names that resolve to loopback (`localtest.me`, `*.localhost`).
//
//   low     cloud metadata (169.254.169.254, fd00:ec2::254, metadata.google.internal, 100.100.100.200,
//           the ECS/EKS credential endpoints); gopher:, dict:, ldap:, tftp:, jar:, netdoc:, php:,
//           expect: URLs; file: URLs to sensitive files
//   medium  loopback (127.0.0.0/8, ::1, localhost, 0.0.0.0), link-local (169.254.0.0/16, fe80::/10),
//           the cluster (spec.threats.clusterCidrs and clusterDomains, and single-label names, which
//           resolve through the pod's search domains), any address written in an obfuscated form,
//           any file: URL
//   high    private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) and internal names
//           (.internal, .local, .lan, .corp, .home.arpa); userinfo that looks like a host name
//
// Embedded in other text (a message, a shell command) or nested in a redirect-like parameter
// (`redirect_uri=http://localhost:3000/cb` of an OAuth flow is the browser's business), only the
// metadata service and the Kubernetes API count below high: prose and shell commands name
// localhost and internal services all the time.
import { anyHostGlob } from '../../../api/host-glob.js';
import { classifyV4, classifyV6, dotted, parseIPv4, parseIPv6, type AddressClass, type Cidr } from './addresses.js';
import { normalisePath, sensitiveFile } from './path-traversal.js';
import type { Detect, Level, LeafView } from './types.js';

/** What an address class means for the reason, and the level it counts from. */
const CLASSES: Readonly<Record<Exclude<AddressClass, 'public'>, { level: Level; words: string }>> = {
  metadata: { level: 0, words: 'a cloud metadata address' },
  loopback: { level: 1, words: 'a loopback address (the pod itself)' },
  unspecified: { level: 1, words: 'the unspecified address 0.0.0.0 (the pod itself)' },
  link_local: { level: 1, words: 'a link-local address' },
  cluster: { level: 1, words: 'an address inside the cluster' },
  private: { level: 2, words: 'a private network address' },
};

const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata.goog', 'metadata', 'instance-data', 'instance-data.ec2.internal', 'metadata.tencentyun.com', 'metadata.platformequinix.com', 'metadata.azure.internal']);
/** Public names that resolve to 127.0.0.1, and the loopback names of /etc/hosts. */
const LOOPBACK_NAMES = ['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback', 'localtest.me', 'lvh.me', 'vcap.me', 'lacolhost.com'];
/** Wildcard DNS services: `<address>.nip.io` resolves to <address>. */
const WILDCARD_DNS = ['nip.io', 'sslip.io', 'xip.io', 'traefik.me', 'local.gd'];
const PRIVATE_SUFFIXES = ['.internal', '.local', '.lan', '.corp', '.home.arpa', '.intranet', '.localdomain'];
/** Schemes that speak raw protocols (Redis over gopher, memcached over dict) or read local files. */
const DANGEROUS_SCHEMES = new Set(['gopher', 'dict', 'ldap', 'ldaps', 'ldapi', 'tftp', 'jar', 'netdoc', 'php', 'phar', 'expect', 'ogg', 'rar', 'zip', 'glob', 'data-uri', 'ssh2', 'sftp']);
/** Schemes that name no host to fetch. */
const HOSTLESS = new Set(['mailto', 'data', 'tel', 'sms', 'urn', 'javascript', 'about', 'blob', 'magnet']);
/** Query parameters of redirects and callbacks: the browser follows them, the fetching server does not. */
const REDIRECT_PARAMS = new Set(['redirect', 'redirect_uri', 'redirect_url', 'redirecturi', 'return', 'return_to', 'returnto', 'return_url', 'callback', 'callback_url', 'next', 'continue', 'success_url', 'cancel_url', 'post_logout_redirect_uri', 'state', 'origin', 'referer', 'referrer']);

export interface ClusterConfig {
  cidrs: readonly Cidr[];
  /** Globs: `*.svc` (any name ending in .svc) or an exact name. */
  domains: readonly string[];
}

export interface HostVerdict {
  cls: AddressClass;
  /** How the address was written, when it was disguised. */
  how?: string;
}

/**
 * Where a host (as it appears in a URL or a host field, readable text) points. A single-label name
 * counts as a cluster service only in a URL (`bare`): in a host field it may be a remote's or an
 * environment's name ("origin", "staging").
 */
export function classifyHost(rawHost: string, cluster: ClusterConfig, bare = true): HostVerdict {
  let host = rawHost.trim();
  while (host.endsWith('.')) host = host.slice(0, -1);
  if (host === '') return { cls: 'public' };
  if (host.startsWith('[') || (host.match(/:/g)?.length ?? 0) >= 2) {
    const g = parseIPv6(host);
    if (!g) return { cls: 'public' };
    const cls = classifyV6(g, cluster.cidrs);
    const how = host.includes('.') ? 'written as IPv4-mapped IPv6' : host.includes('ffff') ? 'written as IPv6' : undefined;
    return how ? { cls, how } : { cls };
  }
  const v4 = parseIPv4(host);
  if (v4 !== undefined) {
    const cls = classifyV4(v4, cluster.cidrs);
    return host === dotted(v4) ? { cls } : { cls, how: 'written in an obfuscated numeric form' };
  }
  if (METADATA_NAMES.has(host)) return { cls: 'metadata' };
  if (LOOPBACK_NAMES.some((n) => host === n || host.endsWith(`.${n}`))) return { cls: 'loopback' };
  const wildcard = WILDCARD_DNS.find((d) => host.endsWith(`.${d}`));
  if (wildcard) {
    const inner = embeddedAddress(host.slice(0, -wildcard.length - 1));
    if (inner !== undefined) return { cls: classifyV4(inner, cluster.cidrs), how: `through ${wildcard}` };
  }
  // Cluster domains are host globs: `*.svc` is every name under svc.
  if (anyHostGlob(cluster.domains, host)) return { cls: 'cluster' };
  // A single label resolves through the pod's search domains: a service of the cluster.
  if (bare && !host.includes('.') && /^[a-z0-9_-]+$/.test(host)) return { cls: 'cluster', how: 'as a bare service name' };
  if (PRIVATE_SUFFIXES.some((s) => host.endsWith(s))) return { cls: 'private' };
  return { cls: 'public' };
}

/** The address a wildcard-DNS prefix spells: `127.0.0.1`, `app.127.0.0.1`, `169-254-169-254`, `7f000001`. */
function embeddedAddress(prefix: string): number | undefined {
  const labels = prefix.split('.');
  if (labels.length >= 4) {
    const v = parseIPv4(labels.slice(-4).join('.'));
    if (v !== undefined && labels.slice(-4).every((l) => /^\d{1,3}$/.test(l))) return v;
  }
  const last = labels[labels.length - 1]!;
  const dashed = last.split('-').slice(-4);
  if (dashed.length === 4 && dashed.every((l) => /^\d{1,3}$/.test(l))) return parseIPv4(dashed.join('.'));
  if (/^[0-9a-f]{8}$/.test(last)) return parseInt(last, 16);
  return undefined;
}

interface ParsedUrl {
  scheme: string;
  /** Hosts the URL may reach: the host parsers agree on, and the other reading when they do not. */
  hosts: string[];
  userinfo?: string;
  path: string;
  query: string;
  /** For jar:http://... and friends: the URL inside. */
  inner?: string;
}

/** A URL's parts, leniently (readable text: decoded, lower case). */
export function parseUrl(u: string): ParsedUrl | undefined {
  const colon = u.indexOf(':');
  if (colon < 1 || colon > 16) return undefined;
  const scheme = u.slice(0, colon);
  if (!/^[a-z][a-z0-9+.-]*$/.test(scheme)) return undefined;
  const rest = u.slice(colon + 1);
  if (!rest.startsWith('//')) {
    // jar:http://evil/x.jar!/ and the like wrap another URL.
    return { scheme, hosts: [], path: rest, query: '', ...(/^[a-z][a-z0-9+.-]*:\/\//.test(rest) ? { inner: rest } : {}) };
  }
  const afterSlashes = rest.slice(2);
  // Browsers read '\' as '/' in http(s) URLs, curl does not: take both readings.
  const endStrict = firstOf(afterSlashes, '/?#');
  const endLoose = firstOf(afterSlashes, '/?#\\');
  const hosts: string[] = [];
  let userinfo: string | undefined;
  for (const end of new Set([endStrict, endLoose])) {
    const authority = afterSlashes.slice(0, end);
    const at = authority.lastIndexOf('@');
    if (at >= 0) userinfo = authority.slice(0, at);
    hosts.push(hostOf(authority.slice(at + 1)));
  }
  const tail = afterSlashes.slice(endLoose);
  const q = firstOf(tail, '?#');
  return { scheme, hosts, ...(userinfo !== undefined ? { userinfo } : {}), path: tail.slice(0, q), query: tail.slice(q + 1) };
}

function firstOf(s: string, chars: string): number {
  for (let i = 0; i < s.length; i++) if (chars.includes(s[i]!)) return i;
  return s.length;
}

/** The host of `host[:port]` or `[v6]:port`. */
function hostOf(hostPort: string): string {
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    return close < 0 ? hostPort : hostPort.slice(0, close + 1);
  }
  const colons = hostPort.split(':').length - 1;
  if (colons >= 2) return hostPort; // a bare IPv6 address (invalid in a URL, but resolvers take it)
  const c = hostPort.lastIndexOf(':');
  return c < 0 ? hostPort : hostPort.slice(0, c);
}

/** The query's parameters as name and value. */
function params(query: string): Array<[string, string]> {
  return query.split('&').map((kv) => {
    const eq = kv.indexOf('=');
    return eq < 0 ? [kv, ''] : [kv.slice(0, eq), kv.slice(eq + 1)];
  });
}

type Scope = 'full' | 'narrow';

/** What a URL reaches that it should not, at this level; `narrow` only counts metadata and the Kubernetes API. */
export function judgeUrl(url: string, level: Level, cluster: ClusterConfig, scope: Scope = 'full', depth = 0): string | undefined {
  const p = parseUrl(url);
  if (!p || HOSTLESS.has(p.scheme)) return undefined;
  if (p.inner && depth < 2) {
    if (DANGEROUS_SCHEMES.has(p.scheme)) return `a ${p.scheme}: URL`;
    return judgeUrl(p.inner, level, cluster, scope, depth + 1);
  }
  if (p.scheme === 'file') {
    const local = normalisePath(p.path).path;
    const sensitive = sensitiveFile(local, level);
    if (sensitive) return `a file: URL to ${sensitive}`;
    if (level >= 1 && scope === 'full') return 'a file: URL (reads local files)';
    return undefined;
  }
  if (DANGEROUS_SCHEMES.has(p.scheme)) return `a ${p.scheme}: URL (speaks raw protocols to internal services)`;
  for (const host of p.hosts) {
    const why = judgeHost(host, level, cluster, scope);
    if (why) return why;
  }
  if (level >= 2 && p.userinfo && /^[a-z0-9-]+(?:\.[a-z0-9-]+)+$/.test(p.userinfo)) return 'a host name in the userinfo (http://good.example@other/)';
  // A URL in the query: fetched by the server behind this one when it is a proxy or an importer.
  if (depth < 2 && p.query.includes('://')) {
    for (const [name, value] of params(p.query)) {
      if (!/^[a-z][a-z0-9+.-]*:\/\//.test(value)) continue;
      const why = judgeUrl(value, level, cluster, REDIRECT_PARAMS.has(name) || scope === 'narrow' ? 'narrow' : 'full', depth + 1);
      if (why) return `in the query parameter ${name}: ${why}`;
    }
  }
  return undefined;
}

const KUBE_API = /^kubernetes(?:\.default(?:\.svc(?:\.[a-z0-9.-]+)?)?)?$/;

/** What a host reaches that it should not, at this level. */
export function judgeHost(host: string, level: Level, cluster: ClusterConfig, scope: Scope = 'full', bare = true): string | undefined {
  const v = classifyHost(host, cluster, bare);
  if (v.cls === 'public') return level >= 1 && scope === 'full' && v.how ? `an address ${v.how}` : undefined;
  const c = CLASSES[v.cls];
  if (scope === 'narrow' && v.cls !== 'metadata' && !(v.cls === 'cluster' && KUBE_API.test(host.replace(/\.$/, ''))) && level < 2) return undefined;
  if (c.level > level && !(v.how && level >= 1 && v.how !== 'as a bare service name')) return undefined;
  return `SSRF to ${c.words}${v.how ? ` (${v.how})` : ''}`;
}

/** At most this many embedded URLs are read per leaf. */
const MAX_EMBEDDED = 64;
const SCHEME_CHAR = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 46 || c === 45;
/** Where an embedded URL ends: whitespace, quotes, angle brackets, a backtick or a backslash. */
const URL_END = new Set([32, 9, 10, 13, 12, 11, 34, 39, 60, 62, 96, 92]);

/** URLs inside other text (`scheme://...`), found from their `://` with plain loops. */
export function* embeddedUrls(text: string): Generator<string> {
  let at = text.indexOf('://');
  for (let n = 0; at >= 0 && n < MAX_EMBEDDED; n++) {
    let start = at;
    while (start > 0 && at - start < 16 && SCHEME_CHAR(text.charCodeAt(start - 1))) start--;
    let end = at + 3;
    while (end < text.length && !URL_END.has(text.charCodeAt(end))) end++;
    // A scheme starts with a letter; `://` with none before it is not a URL.
    while (start < at && !(text.charCodeAt(start) >= 97 && text.charCodeAt(start) <= 122)) start++;
    if (start < at) yield text.slice(start, end);
    at = text.indexOf('://', end);
  }
}

export function detectSsrfWith(cluster: ClusterConfig): Detect {
  return (leaf: LeafView, { level }) => {
    const { roles, text } = leaf;
    const whole = text.trim();
    if (roles.has('url')) {
      const why = judgeUrl(whole, level, cluster);
      if (why || !roles.has('host')) return why;
    }
    if (roles.has('host')) {
      const why = judgeHost(hostOf(whole), level, cluster, 'full', false);
      if (why) return why;
    }
    // URLs inside other text: a message, a shell command, a query (ClickHouse's url(), COPY), a document (metadata only).
    for (const url of embeddedUrls(text)) {
      const why = judgeUrl(url, roles.has('document') ? (level >= 2 ? 1 : 0) : level, cluster, 'narrow');
      if (why) return why;
    }
    return undefined;
  };
}
