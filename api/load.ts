// Reading policies from YAML (kubectl-style files, the operator's ConfigMap) and writing the
// canonical form the operator stores in the ConfigMap and hashes.

import { LineCounter, parseAllDocuments, stringify } from 'yaml';
import { policyKey } from './policy.js';
import { KIND, LIST_KIND } from './schema.js';
import type { GovernancePolicy } from './types.js';
import { isPlainObject, validatePolicy } from './validate.js';

export interface LoadResult {
  /** The valid policies, in document order. Callers should treat any error as a failed load. */
  policies: GovernancePolicy[];
  /** Each prefixed "<source>: <kind>/<name or #index>: " (YAML errors: "<source>: line L, column C: "). */
  errors: string[];
}

/** The objects a document holds: a policy, a List / GovernancePolicyList's items, or a sequence. */
function objectsOf(value: unknown, where: string, errors: string[]): unknown[] {
  if (value === null || value === undefined) return []; // empty document
  if (Array.isArray(value)) return value;
  if (isPlainObject(value) && (value.kind === 'List' || value.kind === LIST_KIND)) {
    const items = value.items;
    if (items === undefined || items === null) return [];
    if (Array.isArray(items)) return items;
    errors.push(`${where}: ${value.kind}: items: must be a list`);
    return [];
  }
  return [value];
}

/**
 * Parses YAML text that may hold several documents (`---`), each a GovernancePolicy, a List or
 * GovernancePolicyList with `items`, or a YAML sequence of policies. Empty documents are ignored.
 * Every policy is validated; the same namespace/name twice in one text is an error.
 */
export function loadPolicies(text: string, source: string): LoadResult {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  const policies: GovernancePolicy[] = [];
  const errors: string[] = [];
  const seen = new Set<string>();
  let index = 0; // 1-based ordinal of the object within this text, for objects without a name

  docs.forEach((doc, docIndex) => {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const { line, col } = lineCounter.linePos(e.pos[0]);
        errors.push(`${source}: line ${line}, column ${col}: ${e.message}`);
      }
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      errors.push(`${source}: document ${docIndex + 1}: ${(err as Error).message}`);
      return;
    }
    for (const obj of objectsOf(value, source, errors)) {
      index++;
      const rec = isPlainObject(obj) ? obj : {};
      const kind = typeof rec.kind === 'string' && rec.kind !== '' ? rec.kind : KIND;
      const name = isPlainObject(rec.metadata) && typeof rec.metadata.name === 'string' && rec.metadata.name !== ''
        ? rec.metadata.name : `#${index}`;
      const prefix = `${source}: ${kind}/${name}: `;
      const result = validatePolicy(obj);
      for (const e of result.errors) errors.push(prefix + e);
      if (!result.policy) continue;
      const key = policyKey(result.policy);
      if (seen.has(key)) {
        errors.push(`${prefix}duplicate policy ${key} (an earlier document has the same namespace and name)`);
        continue;
      }
      seen.add(key);
      policies.push(result.policy);
    }
  });
  return { policies, errors };
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys); // list order is meaningful (egress rules)
  if (!isPlainObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) out[k] = sortKeys(v[k]);
  return out;
}

const byKey = (a: GovernancePolicy, b: GovernancePolicy): number => {
  const [na, nb] = [a.metadata.namespace ?? 'default', b.metadata.namespace ?? 'default'];
  if (na !== nb) return na < nb ? -1 : 1; // code-unit order, not locale order: must be stable anywhere
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
};

/**
 * The normalised multi-document YAML for a set of policies: defaults filled, keys sorted, policies
 * sorted by namespace/name, status left out (it is not configuration, and writing it must not
 * change the hash). Byte-for-byte stable for equal input. Throws on an invalid policy: callers
 * pass policies that already passed validatePolicy.
 */
export function canonicalPolicyYaml(policies: GovernancePolicy[]): string {
  const normalised = policies.map((p) => {
    const { policy, errors } = validatePolicy(p);
    if (!policy) throw new Error(`canonicalPolicyYaml: invalid policy ${policyKey(p)}: ${errors.join('; ')}`);
    delete policy.status;
    return policy;
  });
  normalised.sort(byKey);
  // version 1.1 makes the writer quote strings a YAML 1.1 reader would take for something else
  // ("off" -> false, "20:00" -> 1200), so every consumer reads the same values; we read it as 1.2.
  return normalised
    .map((p) => `---\n${stringify(sortKeys(p), { version: '1.1', lineWidth: 0, aliasDuplicateObjects: false })}`)
    .join('');
}
