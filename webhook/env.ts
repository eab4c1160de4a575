// The environment every app container gets: the proxy, and the CA bundle for the tools that ignore
// the system trust store. A value the user set is never overridden.
//
// Only `env` is visible at admission; values from `envFrom` (ConfigMaps, Secrets) are not. In
// Kubernetes an explicit `env` entry wins over `envFrom`, so ours would shadow such a value: users
// who set these variables themselves must set them in `env`.
import type { V1Container, V1EnvVar } from '@kubernetes/client-node';
import { NO_PROXY_DEFAULTS, PROXY_URL, TRUST_BUNDLE_FILE, TRUST_CA_FILE } from './names.js';

/**
 * Each pair is one setting spelt two ways. Tools disagree on which spelling wins (curl prefers the
 * lower case), so when the user set either, we set neither.
 */
const PROXY_PAIRS: readonly (readonly [string, string])[] = [['HTTP_PROXY', 'http_proxy'], ['HTTPS_PROXY', 'https_proxy']];
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

export interface EnvChanges {
  /** Appended, in order. */
  added: string[];
  /** Changed in place (NO_PROXY/no_proxy): the user's original values. */
  merged: Record<string, string>;
  /** Left alone because the user set them. */
  skipped: string[];
}

const entries = (list: string | undefined): string[] => (list ?? '').split(',').map((e) => e.trim()).filter((e) => e !== '');

/**
 * Adds the proxy and trust variables, then `extra`, to `container` (which the caller owns) and says
 * what it did. NO_PROXY is the one variable merged: the user's hosts from either spelling, then ours.
 */
export function addAppEnv(container: V1Container, extra: Readonly<Record<string, string>> = {}): EnvChanges {
  const env = container.env ?? [];
  // When a name repeats, Kubernetes uses the last entry.
  const find = (name: string): V1EnvVar | undefined => env.findLast((e) => e.name === name);
  const changes: EnvChanges = { added: [], merged: {}, skipped: [] };
  const add = (name: string, value: string): void => {
    env.push({ name, value });
    changes.added.push(name);
  };

  for (const pair of PROXY_PAIRS) {
    if (pair.some((name) => find(name))) changes.skipped.push(...pair);
    else for (const name of pair) add(name, PROXY_URL);
  }

  const noProxy = NO_PROXY_PAIR.map(find);
  if (noProxy.some((e) => e?.valueFrom)) {
    changes.skipped.push(...NO_PROXY_PAIR);
  } else {
    const value = [...new Set([...noProxy.flatMap((e) => entries(e?.value)), ...NO_PROXY_DEFAULTS])].join(',');
    for (const [i, name] of NO_PROXY_PAIR.entries()) {
      const existing = noProxy[i];
      if (!existing) {
        add(name, value);
      } else {
        changes.merged[name] = existing.value ?? '';
        existing.value = value;
      }
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
