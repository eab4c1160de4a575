// The operator's pure core for one namespace's sidecar config: the GovernancePolicies the API server
// holds in a namespace -> the ConfigMap `chaperone-config` the sidecars read, plus one result per
// policy for its status. No I/O: the controller feeds it what it observed and applies what it returns.

import { createHash } from 'node:crypto';
import { CONFIG_KEY, CONFIG_MAP_NAME, canonicalPolicyYaml, isPlainObject, validatePolicy, type GovernancePolicy } from '../api/index.js';

export const CONFIG_HASH_ANNOTATION = 'chaperone.dev/config-hash';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/** Labels on every object the operator writes (it finds its own objects by them for clean-up). */
export const MANAGED_LABELS: Readonly<Record<string, string>> = Object.freeze({
  [MANAGED_BY_LABEL]: 'chaperone-operator',
  'app.kubernetes.io/part-of': 'chaperone',
});
/** The label selector of the operator's own objects (its informers watch only those). */
export const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_LABELS[MANAGED_BY_LABEL]}`;

/** Does the object carry every one of the operator's labels? */
export const isManaged = (obj: { metadata?: { labels?: Record<string, string> | null } | null } | undefined): boolean =>
  Object.entries(MANAGED_LABELS).every(([k, v]) => obj?.metadata?.labels?.[k] === v);

export interface ConfigMap {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations?: Record<string, string>;
  };
  data: Record<string, string>;
}

export type PolicyReason = 'Compiled' | 'Invalid';

export interface PolicyResult {
  /** metadata.name as observed ("" when the object has none). */
  name: string;
  /** metadata.generation as observed (0 when the object has none). */
  generation: number;
  ready: boolean;
  reason: PolicyReason;
  /** For Invalid: the validator's errors ("<field path>: <problem>"), joined with "; ". */
  message: string;
}

export interface NamespaceConfig {
  configMap: ConfigMap;
  /** One per input object, in input order. */
  results: PolicyResult[];
}

/** The metadata fields that reach the sidecars: labels and annotations (for instance kubectl's bulky
 *  last-applied-configuration) change without a new generation and change nothing the sidecar does,
 *  so they are left out and cannot move the hash. */
function configMetadata(p: GovernancePolicy): GovernancePolicy['metadata'] {
  const { name, namespace, generation, uid } = p.metadata;
  return {
    name,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(generation !== undefined ? { generation } : {}),
    ...(uid !== undefined ? { uid } : {}),
  };
}

/** sha256 (hex) of a ConfigMap's data: keys in code-unit order, each key and value NUL-terminated. */
export function configHash(data: Record<string, string>): string {
  const hash = createHash('sha256');
  for (const key of Object.keys(data).sort()) hash.update(key).update('\0').update(data[key] ?? '').update('\0');
  return hash.digest('hex');
}

function observedName(obj: unknown): string {
  const md = isPlainObject(obj) && isPlainObject(obj.metadata) ? obj.metadata : undefined;
  return typeof md?.name === 'string' ? md.name : '';
}

function observedGeneration(obj: unknown): number {
  const md = isPlainObject(obj) && isPlainObject(obj.metadata) ? obj.metadata : undefined;
  const g = md?.generation;
  return typeof g === 'number' && Number.isInteger(g) && g >= 0 ? g : 0;
}

/**
 * The desired `chaperone-config` ConfigMap of `namespace` and a result per policy. Every policy is
 * validated; an invalid one is left out whole (never half-applied) and its result names the failing
 * fields. A policy from another namespace, or a second object with the same name, is invalid too.
 * Output is independent of input order and of the key order inside the input objects.
 */
export function desiredConfigMap(namespace: string, policies: unknown[]): NamespaceConfig {
  const valid: GovernancePolicy[] = [];
  const seen = new Set<string>();
  const results = policies.map((obj): PolicyResult => {
    const name = observedName(obj);
    const generation = observedGeneration(obj);
    const invalid = (errors: string[]): PolicyResult => ({ name, generation, ready: false, reason: 'Invalid', message: errors.join('; ') });

    // The API server always sets metadata.namespace; fill it when absent rather than let the
    // validator default it to "default".
    let input = obj;
    if (isPlainObject(obj) && isPlainObject(obj.metadata) && (obj.metadata.namespace === undefined || obj.metadata.namespace === null)) {
      input = { ...obj, metadata: { ...obj.metadata, namespace } };
    }
    const { policy, errors } = validatePolicy(input);
    if (!policy) return invalid(errors);
    if (policy.metadata.namespace !== namespace) {
      return invalid([`metadata.namespace: must be ${JSON.stringify(namespace)} (got ${JSON.stringify(policy.metadata.namespace)})`]);
    }
    if (seen.has(policy.metadata.name)) {
      return invalid([`metadata.name: duplicate policy ${namespace}/${policy.metadata.name}`]);
    }
    seen.add(policy.metadata.name);
    valid.push({ ...policy, metadata: configMetadata(policy) });
    return {
      name, generation, ready: true, reason: 'Compiled',
      message: `compiled into ConfigMap ${CONFIG_MAP_NAME}`,
    };
  });

  const data = { [CONFIG_KEY]: canonicalPolicyYaml(valid) };
  const configMap: ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: CONFIG_MAP_NAME,
      namespace,
      labels: { ...MANAGED_LABELS },
      annotations: { [CONFIG_HASH_ANNOTATION]: configHash(data) },
    },
    data,
  };
  return { configMap, results };
}
