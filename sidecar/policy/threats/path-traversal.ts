// Path traversal: a file name or path that leaves the directory a tool means to serve, or names a
// file no agent task needs (a password file, a private key, the pod's service-account token).
//
// Read in file names, paths and short values (leaves.ts roles path and value), in a URL's query
// parameters, and in a file: URL. Not in documents (source code is full of `../` imports) nor in
// shell commands and SQL (command-injection.ts reads the files a command touches).
//
//   low     ../ spelled to get past a filter: percent-encoded (`%2e%2e%2f`, `..%2f`), double-encoded
//           (`%252e`), overlong UTF-8 (`%c0%ae`, `%c0%af`), look-alike characters (`．．／`, `..∕`),
//           `....//`, `..;/`; a null byte (`report.pdf%00.png`); the most sensitive files
//           (/etc/shadow, /proc/*/environ, SSH private keys, cloud credentials, the service-account token)
//   medium  ../ climbing three or more levels above where the path starts (`../../../etc/passwd`), or
//           any climb out that lands on a sensitive file (`../../.env`); /etc/passwd, /proc/self/*,
//           /root, credential files (.kube/config, .docker/config.json, .git-credentials, .netrc...),
//           the container runtime socket, C:\Windows\System32, WEB-INF; a UNC path to another host
//   high    any climb out (`../x`); .env files, anything under /etc, /var/log, /proc, /sys
//
// A path that goes up and comes back down inside itself (`./docs/../README.md`, `a/b/../c`) never
// fires; a single `../` (`../package.json`, a monorepo's sibling) only at high.
import { SignalSet } from './signals.js';
import type { Detect, Level, LeafView } from './types.js';

// ------------------------------------------------------------------------------- sensitive files

interface Rule {
  level: Level;
  detail: string;
  test: (p: string) => boolean;
}

const prefix = (...ps: string[]) => (p: string): boolean => ps.some((x) => p === x.replace(/\/$/, '') || p.startsWith(x));
const suffix = (...ss: string[]) => (p: string): boolean => ss.some((x) => p === x.slice(1) || p.endsWith(x));
const PROC = /^\/proc\/(?:self|thread-self|\d+)\//;
const PROC_ENVIRON = /^\/proc\/(?:self|thread-self|\d+)\/(?:task\/\d+\/)?environ$/;
const SSH_KEY = /(?:^|\/)\.ssh\/id_[a-z0-9_]+$/;
const DOT_ENV = /(?:^|\/)\.env(?:\.(?:local|production|prod|development|dev|staging|test))?$/;

/** What makes a file sensitive, in order of how sure the signal is. Paths are normalised (normalisePath). */
const SENSITIVE: readonly Rule[] = [
  { level: 0, detail: 'the shadow password file', test: prefix('/etc/shadow', '/etc/gshadow', '/etc/master.passwd', '/etc/security/opasswd') },
  { level: 0, detail: 'a process environment (/proc/*/environ)', test: (p) => PROC_ENVIRON.test(p) },
  { level: 0, detail: 'an SSH private key', test: (p) => SSH_KEY.test(p) },
  { level: 0, detail: 'cloud credentials', test: (p) => suffix('/.aws/credentials', '/.config/gcloud/application_default_credentials.json', '/.config/gcloud/credentials.db', '/.config/gcloud/access_tokens.db', '/.azure/accesstokens.json', '/.azure/msal_token_cache.json')(p) },
  { level: 0, detail: "the pod's service-account token", test: prefix('/var/run/secrets/kubernetes.io/', '/run/secrets/kubernetes.io/', '/var/run/secrets/eks.amazonaws.com/', '/var/run/secrets/tokens/') },
  { level: 0, detail: 'the Windows SAM hive', test: (p) => /windows\/system32\/config\/(?:sam|system|security)$/.test(p) },
  { level: 0, detail: 'cluster admin credentials', test: (p) => p === '/etc/kubernetes/admin.conf' || p.startsWith('/etc/kubernetes/pki/') },
  { level: 1, detail: 'a system account file', test: prefix('/etc/passwd', '/etc/sudoers', '/etc/sudoers.d/', '/etc/group-') },
  { level: 1, detail: "a process's memory, command line or files (/proc)", test: (p) => PROC.test(p) },
  { level: 1, detail: "root's home directory", test: prefix('/root/') },
  { level: 1, detail: 'a credential file', test: suffix('/.kube/config', '/.docker/config.json', '/.git-credentials', '/.netrc', '/_netrc', '/.pgpass', '/.my.cnf', '/.npmrc', '/.pypirc', '/.bash_history', '/.zsh_history', '/.psql_history', '/.mysql_history', '/.ssh/authorized_keys', '/.vault-token', '/.terraform.d/credentials.tfrc.json') },
  { level: 1, detail: 'cloud credentials', test: (p) => p.includes('/.config/gcloud/') || p.includes('/.azure/') || p.includes('/.aws/') },
  { level: 1, detail: 'the container runtime socket', test: prefix('/var/run/docker.sock', '/run/docker.sock', '/run/containerd/containerd.sock', '/var/run/crio/crio.sock') },
  { level: 1, detail: 'the cluster configuration', test: prefix('/etc/kubernetes/', '/var/lib/kubelet/') },
  { level: 1, detail: 'Windows system files', test: (p) => /(?:^|\/)windows\/(?:system32|win\.ini|repair)/.test(p) || /(?:^|\/)(?:win\.ini|boot\.ini)$/.test(p) },
  { level: 1, detail: 'application server configuration (WEB-INF)', test: (p) => p.includes('web-inf/') },
  { level: 2, detail: 'an environment file (.env)', test: (p) => DOT_ENV.test(p) },
  { level: 2, detail: 'a git configuration', test: suffix('/.git/config') },
  { level: 2, detail: 'system files (/etc, /var/log, /proc, /sys)', test: prefix('/etc/', '/var/log/', '/proc/', '/sys/', '/boot/') },
];

/** A path with `\` as `/`, `$HOME` as `~`, `file://[localhost]` and a drive letter's colon kept, dot segments resolved. */
export function normalisePath(p: string): { path: string; escape: number; ups: number; absolute: boolean } {
  let s = p.trim().replace(/\\/g, '/');
  s = s.replace(/^file:\/\/(?:localhost)?/i, '');
  s = s.replace(/^(?:\$\{?home\}?|%userprofile%)(?=\/|$)/i, '~');
  const absolute = s.startsWith('/') || s.startsWith('~') || /^[a-z]:\//.test(s);
  const segs = s.split('/');
  const out: string[] = [];
  let depth = 0;
  let minDepth = 0;
  let ups = 0;
  for (let k = 0; k < segs.length; k++) {
    const seg = segs[k]!;
    if (seg === '' || seg === '.') {
      if (k === 0 && seg === '') out.push('');
      continue;
    }
    if (seg === '..') {
      ups++;
      depth--;
      if (depth < minDepth) minDepth = depth;
      // Above the root of an absolute path stays at the root, as the kernel resolves it.
      const last = out[out.length - 1];
      const root = out.length === 1 && (last === '' || last === '~' || /^[a-z]:$/.test(last!));
      if (last !== undefined && last !== '..' && !root) out.pop();
      else if (!absolute) out.push('..');
      continue;
    }
    depth++;
    out.push(seg);
  }
  let path = out.join('/');
  if (absolute && !path.startsWith('/') && !path.startsWith('~') && !/^[a-z]:/.test(path)) path = `/${path}`;
  // A Windows drive reads like the root for the rules below.
  path = path.replace(/^[a-z]:\//, '/');
  if (path.startsWith('~/')) path = path.slice(1); // ~/.ssh/id_rsa reads like /.ssh/id_rsa
  return { path, escape: minDepth === 0 ? 0 : -minDepth, ups, absolute };
}

/** Why this (normalised) path is sensitive, at this level, if it is. */
export function sensitiveFile(path: string, level: Level): string | undefined {
  for (const r of SENSITIVE) if (r.level <= level && r.test(path)) return r.detail;
  return undefined;
}

// ---------------------------------------------------------------------------------------- signals

/** Encodings of `../` that only a filter evasion would use (read on the leaf as sent, lower case). */
const ENCODED = new SignalSet([
  { level: 0, detail: 'an encoded ../ (percent-encoded, double-encoded or overlong UTF-8)', pattern: String.raw`%2e%2e(?:%2f|%5c|/|\\)|\.\.(?:%2f|%5c|%25(?:2f|5c)|%c0%af|%c1%9c|%e0%80%af|%c0%2f)|%2e\.[/\\]|\.%2e[/\\]|%25(?:25)?2e%25(?:25)?2e|(?:%c0%ae|%e0%80%ae|%c1%8e){2}|%u002e%u002e|%uff0e%uff0e|\.\.%u(?:2215|2216|ff0f)` },
  { level: 0, detail: 'a filter-evading ....// sequence', pattern: String.raw`\.\.\.\.(?://|\\\\|/\\|\\/)` },
  { level: 0, detail: 'a ..;/ traversal (path parameter)', pattern: String.raw`\.\.;[/\\]` },
  { level: 0, detail: 'a ../ spelled with look-alike slashes', pattern: '\\.\\.[\\x{2215}\\x{2044}\\x{29f8}\\x{2216}\\x{29f5}]' },
]);

/** Does the (readable) text climb with ../ that the text as sent did not spell plainly? */
function obfuscatedClimb(leaf: LeafView): boolean {
  return /\.\.[\\/]/.test(leaf.text) && !/\.\.[\\/]/.test(leaf.raw);
}

/** What a path-like candidate (readable text) shows, if anything. */
export function judgePath(candidate: string, level: Level): string | undefined {
  if (candidate.includes('\u0000')) return 'a null byte (truncates the path)';
  const t = candidate.trim();
  if (/^(?:\\\\|\/\/)[a-z0-9][a-z0-9.-]*[\\/]/.test(t) && !t.startsWith('//localhost') && level >= 1) return 'a UNC path to a remote host';
  const { path, escape, ups, absolute } = normalisePath(t);
  if (escape >= 1 && level >= 1) {
    // Where it lands, read from the root: `../../../etc/passwd` reaches /etc/passwd from any depth.
    const landing = sensitiveFile(`/${path.replace(/^(?:\.\.\/)+/, '').replace(/^\.\.$/, '')}`, 2);
    if (landing) return `climbs out with ../ to ${landing}`;
    if (escape >= 3) return `climbs ${escape} directories up with ../`;
  }
  if (absolute) {
    const own = sensitiveFile(path, level);
    if (own) return own;
    if (ups >= 3 && level >= 1) return `climbs ${ups} directories up with ../`;
  }
  if (escape >= 1 && level >= 2) return 'climbs out of its directory with ../';
  return undefined;
}

/** A URL's path and its query parameters' values (readable text), for the checks above. */
function urlParts(url: string): { path: string; params: string[] } {
  const rest = url.slice(url.indexOf(':') + 1).replace(/^\/\/[^/?#]*/, '');
  const q = rest.search(/[?#]/);
  const path = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? '' : rest.slice(q + 1);
  const params = query.split(/[&;#]/).map((kv) => {
    const eq = kv.indexOf('=');
    return eq < 0 ? kv : kv.slice(eq + 1);
  });
  return { path, params: params.filter((p) => p.length > 0) };
}

export const detectPathTraversal: Detect = (leaf: LeafView, { level }) => {
  const { roles } = leaf;
  if (roles.has('document') || roles.has('sql') || roles.has('shell')) return undefined;
  const encoded = ENCODED.first(leaf.raw.toLowerCase(), level) ?? ENCODED.first(leaf.text, level);
  if (encoded) return encoded;
  if (roles.has('url')) {
    const { path, params } = urlParts(leaf.text);
    if (leaf.text.startsWith('file:')) return judgePath(path, level);
    if (path.includes('\u0000')) return 'a null byte (truncates the path)';
    for (const p of params) {
      const why = /[\\/]/.test(p) || p.includes('\u0000') ? judgePath(p, level) : undefined;
      if (why) return `in a query parameter: ${why}`;
    }
    return undefined;
  }
  if (obfuscatedClimb(leaf) && level >= 0) return 'an obfuscated ../ (encoded or look-alike characters)';
  return judgePath(leaf.text, level);
};
