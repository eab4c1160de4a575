// The environment every app container gets: the proxy, the switches that make some runtimes use it,
// and the CA bundle for the tools that ignore the system trust store. A value the user set is never
// overridden; NO_PROXY and JAVA_TOOL_OPTIONS are merged with it.
//
// Only `env` is visible at admission; values from `envFrom` (ConfigMaps, Secrets) are not. In
// Kubernetes an explicit `env` entry wins over `envFrom`, so ours would shadow such a value: users
// who set these variables themselves must set them in `env`.
import { isIP } from 'node:net';
import type { V1Container, V1EnvVar } from '@kubernetes/client-node';
import { BUILTIN_INTERCEPT_HOSTS } from '../api/intercept-hosts.js';
import { hostGlob } from '../api/host-glob.js';
import { PROXY_HOST, PROXY_PORT, PROXY_URL, TRUST_BUNDLE_FILE, TRUST_CA_FILE, TRUST_JKS_FILE } from '../api/pod-contract.js';
import { JAVA_OPTIONS_VAR, NO_PROXY_DEFAULTS, NODE_PROXY_SWITCH } from './names.js';

/**
 * Each pair is one setting spelt two ways. Tools disagree on which spelling wins (curl prefers the
 * lower case), so when the user set either, we set neither.
 */
const HTTP_PAIR = ['HTTP_PROXY', 'http_proxy'] as const;
const HTTPS_PAIR = ['HTTPS_PROXY', 'https_proxy'] as const;
/** HTTP_PROXY, https_proxy and the like: a variable that sends a container's calls to a proxy. */
export const isProxyVariable = (name: string): boolean => /^https?_proxy$/i.test(name);
const NO_PROXY_PAIR = ['NO_PROXY', 'no_proxy'] as const;

/** The replacing variables need the whole bundle; Node's appends to its own roots, so ours alone. */
export const TRUST_ENV: Readonly<Record<string, string>> = Object.freeze({
  SSL_CERT_FILE: TRUST_BUNDLE_FILE,
  REQUESTS_CA_BUNDLE: TRUST_BUNDLE_FILE,
  CURL_CA_BUNDLE: TRUST_BUNDLE_FILE,
  AWS_CA_BUNDLE: TRUST_BUNDLE_FILE,
  GIT_SSL_CAINFO: TRUST_BUNDLE_FILE,
  NODE_EXTRA_CA_CERTS: TRUST_CA_FILE,
});

/**
 * Java's system properties, in groups that only make sense whole (our port with the user's proxy
 * host would be wrong): a group the user set any property of is left to them. Java has no
 * https.nonProxyHosts; http.nonProxyHosts serves both schemes.
 */
type JavaProperty = readonly [name: string, value: string];

function javaPropertyGroups(http: boolean, https: boolean): JavaProperty[][] {
  const port = String(PROXY_PORT);
  const groups: JavaProperty[][] = [];
  if (http) groups.push([['http.proxyHost', PROXY_HOST], ['http.proxyPort', port]]);
  if (https) groups.push([['https.proxyHost', PROXY_HOST], ['https.proxyPort', port]]);
  if (http || https) groups.push([['http.nonProxyHosts', NO_PROXY_DEFAULTS.map((h) => (isIP(h) === 6 ? `[${h}]` : h)).join('|')]]);
  groups.push([['javax.net.ssl.trustStore', TRUST_JKS_FILE], ['javax.net.ssl.trustStoreType', 'JKS']]);
  return groups;
}

export interface EnvChanges {
  /** Appended, in order. */
  added: string[];
  /** Changed in place (NO_PROXY/no_proxy, JAVA_TOOL_OPTIONS): the user's original values. */
  merged: Record<string, string>;
  /** Left alone because the user set them. */
  skipped: string[];
  /** For the user (kubectl prints them), without the container's name. */
  warnings: string[];
}

const entries = (list: string | undefined): string[] => (list ?? '').split(',').map((e) => e.trim()).filter((e) => e !== '');

/**
 * The domain a NO_PROXY entry exempts, with its subdomains, as curl, Go and Python read it: `*` is
 * everything; `.example.com`, `*.example.com` and `example.com` all mean example.com and below; a port
 * (`example.com:443`) is ignored, i.e. taken as matching the host on every port. IP addresses and CIDR
 * ranges never match a host name: undefined.
 */
export function noProxyDomain(entry: string): string | undefined {
  let e = entry.trim().toLowerCase();
  if (e === '*') return '*';
  if (e.startsWith('[') || e.includes('/') || isIP(e) !== 0) return undefined; // [v6]:port, CIDR, address
  const port = /^([^:]*):\d+$/.exec(e);
  if (port) e = port[1]!;
  if (isIP(e) !== 0) return undefined;
  e = e.replace(/^\*\./, '.').replace(/^\.+/, '').replace(/\.$/, '');
  return e === '' ? undefined : e;
}

/**
 * Whether exempting `domain` (from noProxyDomain) and its subdomains lets some host that `pattern`
 * intercepts bypass the sidecar. `*.example.com` is exempted by example.com, by a parent domain and by
 * any one of its subdomains; a pattern with `*` inside a label by a domain its trailing labels admit.
 */
export function exemptsIntercepted(domain: string, pattern: string): boolean {
  if (domain === '*') return true;
  let p = pattern.toLowerCase().replace(/\.$/, '');
  const anyPrefix = p.startsWith('*.');
  if (anyPrefix) p = p.slice(2);
  const patternLabels = p.split('.');
  const domainLabels = domain.split('.');
  if (domainLabels.length <= patternLabels.length) {
    // Some intercepted host is the domain or lies below it when the pattern's last labels admit the domain's.
    const tail = patternLabels.slice(patternLabels.length - domainLabels.length);
    return tail.every((label, i) => hostGlob(label, domainLabels[i]!));
  }
  return anyPrefix && hostGlob(pattern, domain); // a subdomain of the pattern's base that it matches
}

const list = (items: readonly string[], max = 3): string =>
  items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;

/**
 * The merged NO_PROXY: the user's entries of both spellings, in order, once, less those that would
 * exempt an intercepted host; then ours. Says what it removed.
 */
function mergeNoProxy(user: readonly string[], intercepted: readonly string[]): { value: string; warning?: string } {
  const removed: string[] = [];
  const exempted = new Set<string>();
  const kept = [...new Set(user)].filter((entry) => {
    const domain = noProxyDomain(entry);
    const hit = domain === undefined ? [] : intercepted.filter((pattern) => exemptsIntercepted(domain, pattern));
    if (hit.length === 0) return true;
    removed.push(entry);
    for (const h of hit) exempted.add(h);
    return false;
  });
  const value = [...new Set([...kept, ...NO_PROXY_DEFAULTS])].join(',');
  if (removed.length === 0) return { value };
  const [entryWord, verb] = removed.length === 1 ? ['entry', 'it'] : ['entries', 'they'];
  const hostWord = exempted.size === 1 ? 'host' : 'hosts';
  return { value, warning: `NO_PROXY ${entryWord} ${removed.join(', ')} removed: ${verb} would exempt intercepted ${hostWord} ${list([...exempted])}` };
}

/** The -D properties in a JAVA_TOOL_OPTIONS value, split on whitespace as the JVM does. */
function javaProperties(value: string): Map<string, string> {
  const props = new Map<string, string>();
  for (const word of value.split(/\s+/)) {
    const m = /^-D([^=]+)=(.*)$/.exec(word);
    if (m) props.set(m[1]!, m[2]!);
  }
  return props;
}

/**
 * The user's JAVA_TOOL_OPTIONS with the property groups they did not set appended (undefined when
 * they set them all). A property counts as set when `-D<name>=` is one of its words. A quoted value
 * with spaces (rare in practice) is not understood: its words are read as options of their own.
 */
function mergeJavaOptions(user: string, groups: readonly JavaProperty[][]): string | undefined {
  const set = javaProperties(user);
  const missing = groups.filter((group) => group.every(([name]) => !set.has(name)));
  if (missing.length === 0) return undefined;
  const ours = missing.flat().map(([name, value]) => `-D${name}=${value}`).join(' ');
  return user.trim() === '' ? ours : `${user.trimEnd()} ${ours}`;
}

/**
 * Adds the proxy, the runtime switches and the trust variables, then `extra`, to `container` (which
 * the caller owns) and says what it did. Merged: NO_PROXY (the user's hosts from either spelling,
 * less those that would exempt a built-in provider host or one of `interceptHosts`, then ours) and
 * JAVA_TOOL_OPTIONS (the properties the user did not set appended).
 */
export function addAppEnv(
  container: V1Container,
  extra: Readonly<Record<string, string>> = {},
  interceptHosts: readonly string[] = [],
  proxied = true,
): EnvChanges {
  const env = container.env ?? [];
  // When a name repeats, Kubernetes uses the last entry.
  const find = (name: string): V1EnvVar | undefined => env.findLast((e) => e.name === name);
  const changes: EnvChanges = { added: [], merged: {}, skipped: [], warnings: [] };
  const add = (name: string, value: string): void => {
    env.push({ name, value });
    changes.added.push(name);
  };
  const fromElsewhere = (names: readonly string[]): string[] => names.filter((name) => find(name)?.valueFrom);

  /** Whether the pair now sends the calls to the sidecar (ours, or the user's value equal to ours). */
  const proxyPair = (pair: readonly string[]): boolean => {
    const set = pair.map(find).filter((e) => e !== undefined);
    if (set.length === 0) {
      for (const name of pair) add(name, PROXY_URL);
      return true;
    }
    changes.skipped.push(...pair);
    return set.every((e) => e.value === PROXY_URL);
  };
  // Transparent capture needs no proxy settings: the pod's own rules bring every call to the sidecar.
  const http = proxied && proxyPair(HTTP_PAIR);
  const https = proxied && proxyPair(HTTPS_PAIR);

  if (proxied) {
    const noProxy = NO_PROXY_PAIR.map(find);
    const noProxyElsewhere = fromElsewhere(NO_PROXY_PAIR);
    if (noProxyElsewhere.length > 0) {
      changes.skipped.push(...NO_PROXY_PAIR);
      changes.warnings.push(`${noProxyElsewhere.join('/')} comes from valueFrom: it cannot be checked for entries that exempt intercepted hosts`);
    } else {
      const merge = mergeNoProxy(noProxy.flatMap((e) => entries(e?.value)), [...BUILTIN_INTERCEPT_HOSTS, ...interceptHosts]);
      if (merge.warning) changes.warnings.push(merge.warning);
      for (const [i, name] of NO_PROXY_PAIR.entries()) {
        const existing = noProxy[i];
        if (!existing) {
          add(name, merge.value);
        } else {
          changes.merged[name] = existing.value ?? '';
          existing.value = merge.value;
        }
      }
    }
  }

  // Only when a proxy variable leads to the sidecar: with the user's own proxies it is not ours to switch on.
  if (http || https) {
    if (find(NODE_PROXY_SWITCH)) changes.skipped.push(NODE_PROXY_SWITCH);
    else add(NODE_PROXY_SWITCH, '1');
  }

  const java = find(JAVA_OPTIONS_VAR);
  const groups = javaPropertyGroups(http, https);
  if (!java) {
    add(JAVA_OPTIONS_VAR, mergeJavaOptions('', groups)!);
  } else if (java.valueFrom) {
    changes.skipped.push(JAVA_OPTIONS_VAR);
    changes.warnings.push(`${JAVA_OPTIONS_VAR} comes from valueFrom: Java gets no proxy or trust-store properties`);
  } else {
    const ownProxy = ['http', 'https'].filter((scheme) => {
      const host = javaProperties(java.value ?? '').get(`${scheme}.proxyHost`);
      return host !== undefined && host !== PROXY_HOST;
    });
    if (ownProxy.length > 0) {
      changes.warnings.push(`${JAVA_OPTIONS_VAR} sets ${ownProxy.map((s) => `${s}.proxyHost`).join('/')} itself: Java's ${ownProxy.join('/')} calls do not go through the sidecar`);
    }
    const merged = mergeJavaOptions(java.value ?? '', groups);
    if (merged === undefined) {
      changes.skipped.push(JAVA_OPTIONS_VAR);
    } else {
      changes.merged[JAVA_OPTIONS_VAR] = java.value ?? '';
      java.value = merged;
    }
  }

  for (const [name, value] of Object.entries({ ...TRUST_ENV, ...extra })) {
    if (find(name)) changes.skipped.push(name);
    else add(name, value);
  }
  if (env.length > 0) container.env = env;
  return changes;
}

/** Undoes addAppEnv: removes what it added and restores what it merged. */
export function removeAppEnv(container: V1Container, added: readonly string[], merged: Readonly<Record<string, string>>): void {
  const env = (container.env ?? []).filter((e) => !added.includes(e.name));
  for (const [name, value] of Object.entries(merged)) {
    const existing = env.findLast((e) => e.name === name);
    if (existing) existing.value = value;
  }
  if (env.length > 0) container.env = env;
  else delete container.env;
}
