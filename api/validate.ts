// Validation: a generic walker over the declarative schema (schema.ts), light checks of the
// envelope (apiVersion, kind, metadata) and the semantic rules (semantics.ts).

import { API_VERSION, KIND, PATTERN_MESSAGES, governancePolicySpecSchema, type SchemaNode } from './schema.js';
import { checkSemantics } from './semantics.js';
import type { GovernancePolicy, GovernancePolicySpec, GovernancePolicyStatus, PolicyMetadata } from './types.js';

export interface ValidationResult {
  /** Deep copy with defaults filled; present only when errors is empty. */
  policy?: GovernancePolicy;
  /** Every problem found, each "<field path>: <message>". */
  errors: string[];
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `a.b`, or `a["app.kubernetes.io/name"]` when the key is not a plain identifier. */
export function joinPath(path: string, key: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path ? `${path}.${key}` : key;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return 'object';
  if (typeof v === 'number') return Number.isFinite(v) ? `number ${v}` : String(v);
  return typeof v;
}

const TYPE_WORDS: Record<SchemaNode['type'], string> = {
  object: 'an object', array: 'a list', string: 'a string', integer: 'an integer', number: 'a number', boolean: 'a boolean',
};

function hasType(schema: SchemaNode, v: unknown): boolean {
  switch (schema.type) {
    case 'object': return isPlainObject(v);
    case 'array': return Array.isArray(v);
    case 'string': return typeof v === 'string';
    case 'boolean': return typeof v === 'boolean';
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'integer': return typeof v === 'number' && Number.isInteger(v);
  }
}

/**
 * Checks `value` against `schema`, appending "<path>: <message>" errors, and returns a deep copy with
 * defaults filled. Where a value is invalid the copy holds undefined instead (list items keep their
 * positions), so later checks only ever see well-typed values.
 *
 * As in Kubernetes: null object properties count as absent (the API server prunes them), and a
 * default is applied only when the enclosing object is present.
 */
export function validateSchema(schema: SchemaNode, value: unknown, path: string, errors: string[]): unknown {
  if (!hasType(schema, value)) {
    errors.push(`${path}: must be ${TYPE_WORDS[schema.type]} (got ${describe(value)})`);
    return undefined;
  }
  switch (schema.type) {
    case 'object': return validateObject(schema, value as Record<string, unknown>, path, errors);
    case 'array': return validateArray(schema, value as unknown[], path, errors);
    default: return checkScalar(schema, value as string | number | boolean, path, errors) ? value : undefined;
  }
}

function validateObject(schema: SchemaNode, obj: Record<string, unknown>, path: string, errors: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const props = schema.properties ?? {};
  const required = new Set(schema.required ?? []);

  if (schema.additionalProperties) {
    // A string-keyed map (e.g. matchLabels): every value has the same schema. fromEntries keeps
    // even a "__proto__" key as a plain property.
    const entries: Array<[string, unknown]> = [];
    for (const [k, v] of Object.entries(obj)) {
      const copy = validateSchema(schema.additionalProperties, v, joinPath(path, k), errors);
      if (copy !== undefined) entries.push([k, copy]);
    }
    return Object.fromEntries(entries);
  }

  for (const [key, propSchema] of Object.entries(props)) {
    const p = joinPath(path, key);
    let v = obj[key];
    if (v === null) v = undefined;
    if (v === undefined) {
      if (required.has(key)) errors.push(`${p}: required`);
      // The default is itself validated so nested defaults (spec: {} -> spec.mode) are filled too.
      else if (propSchema.default !== undefined) out[key] = validateSchema(propSchema, structuredClone(propSchema.default), p, errors);
      continue;
    }
    const copy = validateSchema(propSchema, v, p, errors);
    if (copy !== undefined) out[key] = copy;
  }

  for (const key of Object.keys(obj)) {
    if (Object.hasOwn(props, key)) continue; // not `in`: "constructor" is no schema property
    const hint = closest(key, Object.keys(props));
    errors.push(`${joinPath(path, key)}: unknown field${hint ? ` (did you mean "${hint}"?)` : ''}`);
  }
  return out;
}

function validateArray(schema: SchemaNode, list: unknown[], path: string, errors: string[]): unknown[] {
  const items = schema.items;
  const out = items ? list.map((v, i) => validateSchema(items, v, `${path}[${i}]`, errors)) : structuredClone(list);
  if (schema.maxItems !== undefined && list.length > schema.maxItems) errors.push(`${path}: must have at most ${schema.maxItems} items`);

  // Uniqueness, as the API server enforces it for set and map lists.
  const listType = schema['x-kubernetes-list-type'];
  const keys = schema['x-kubernetes-list-map-keys'] ?? [];
  if (listType === 'set' || (listType === 'map' && keys.length > 0)) {
    const seen = new Set<string>();
    out.forEach((item, i) => {
      if (item === undefined) return;
      let where = `${path}[${i}]`;
      let shown: string;
      if (listType === 'set') shown = JSON.stringify(item);
      else {
        const rec = item as Record<string, unknown>;
        if (keys.some((k) => rec[k] === undefined)) return; // already reported as required
        if (keys.length === 1) {
          where = `${where}.${keys[0]}`;
          shown = JSON.stringify(rec[keys[0]!]);
        } else shown = keys.map((k) => `${k}=${JSON.stringify(rec[k])}`).join(', ');
      }
      if (seen.has(shown)) errors.push(`${where}: duplicate value ${shown}`);
      seen.add(shown);
    });
  }
  return out;
}

function checkScalar(schema: SchemaNode, v: string | number | boolean, path: string, errors: string[]): boolean {
  const before = errors.length;
  if (schema.enum && !schema.enum.includes(v as string)) {
    errors.push(`${path}: must be one of ${schema.enum.join(', ')}`);
  }
  if (typeof v === 'number') {
    if (schema.minimum !== undefined) {
      if (schema.exclusiveMinimum && v <= schema.minimum) errors.push(`${path}: must be > ${schema.minimum}`);
      else if (v < schema.minimum) errors.push(`${path}: must be >= ${schema.minimum}`);
    }
    if (schema.maximum !== undefined && v > schema.maximum) errors.push(`${path}: must be <= ${schema.maximum}`);
  }
  if (typeof v === 'string') {
    // Length in code points, as OpenAPI counts characters.
    const len = [...v].length;
    if (schema.minLength !== undefined && len < schema.minLength) {
      errors.push(`${path}: ${schema.minLength === 1 ? 'must not be empty' : `must be at least ${schema.minLength} characters`}`);
    } else if (schema.maxLength !== undefined && len > schema.maxLength) {
      errors.push(`${path}: must be at most ${schema.maxLength} characters`);
    } else if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(v)) {
      errors.push(`${path}: ${PATTERN_MESSAGES[schema.pattern] ?? `must match /${schema.pattern}/`} (got ${JSON.stringify(v)})`);
    }
  }
  return errors.length === before;
}

/** The property name within edit distance 2 of a misspelt key, if there is exactly one best. */
function closest(key: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDist = 3;
  for (const c of candidates) {
    const d = editDistance(key.toLowerCase(), c.toLowerCase());
    if (d < bestDist) [best, bestDist] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

// ---- the envelope ----------------------------------------------------------------------------

const TOP_LEVEL = ['apiVersion', 'kind', 'metadata', 'spec', 'status'];
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Is this a Kubernetes object name (a DNS-1123 subdomain of at most 253 characters)? */
export const isObjectName = (name: string): boolean => name.length <= 253 && DNS1123_SUBDOMAIN.test(name);
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Light checks only: the API server owns metadata. Unknown metadata fields are dropped, not rejected. */
function validateMetadata(raw: unknown, errors: string[]): PolicyMetadata | undefined {
  if (raw === undefined || raw === null) {
    errors.push('metadata.name: required');
    return undefined;
  }
  if (!isPlainObject(raw)) {
    errors.push(`metadata: must be an object (got ${describe(raw)})`);
    return undefined;
  }
  const md: Partial<PolicyMetadata> = {};
  const { name, namespace, generation, labels, annotations, uid } = raw;
  if (name === undefined || name === null || name === '') errors.push('metadata.name: required');
  else if (typeof name !== 'string') errors.push(`metadata.name: must be a string (got ${describe(name)})`);
  else if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    errors.push(`metadata.name: must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters) (got ${JSON.stringify(name)})`);
  } else md.name = name;

  if (namespace === undefined || namespace === null) md.namespace = 'default';
  else if (typeof namespace !== 'string') errors.push(`metadata.namespace: must be a string (got ${describe(namespace)})`);
  else if (namespace.length > 63 || !DNS1123_LABEL.test(namespace)) {
    errors.push(`metadata.namespace: must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters) (got ${JSON.stringify(namespace)})`);
  } else md.namespace = namespace;

  if (generation !== undefined && generation !== null) {
    if (typeof generation !== 'number' || !Number.isInteger(generation) || generation < 0) {
      errors.push(`metadata.generation: must be a non-negative integer (got ${describe(generation)})`);
    } else md.generation = generation;
  }
  for (const [field, map] of [['labels', labels], ['annotations', annotations]] as const) {
    if (map === undefined || map === null) continue;
    if (!isPlainObject(map)) {
      errors.push(`metadata.${field}: must be an object (got ${describe(map)})`);
      continue;
    }
    for (const [k, v] of Object.entries(map)) {
      if (typeof v !== 'string') errors.push(`${joinPath(`metadata.${field}`, k)}: must be a string (got ${describe(v)})`);
    }
    md[field] = Object.fromEntries(Object.entries(map).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
  }
  if (uid !== undefined && uid !== null) {
    if (typeof uid !== 'string') errors.push(`metadata.uid: must be a string (got ${describe(uid)})`);
    else md.uid = uid;
  }
  return md as PolicyMetadata;
}

/**
 * Validates one GovernancePolicy object (as parsed from YAML or read from the API server).
 * Reports every error, not just the first. On success returns a deep copy with defaults filled;
 * status is carried over unvalidated.
 */
export function validatePolicy(obj: unknown): ValidationResult {
  if (!isPlainObject(obj)) return { errors: [`policy: must be an object (got ${describe(obj)})`] };
  const errors: string[] = [];

  if (obj.apiVersion === undefined || obj.apiVersion === null) errors.push('apiVersion: required');
  else if (obj.apiVersion !== API_VERSION) errors.push(`apiVersion: must be ${API_VERSION} (got ${JSON.stringify(obj.apiVersion)})`);
  if (obj.kind === undefined || obj.kind === null) errors.push('kind: required');
  else if (obj.kind !== KIND) errors.push(`kind: must be ${KIND} (got ${JSON.stringify(obj.kind)})`);

  const metadata = validateMetadata(obj.metadata, errors);

  // spec defaults to {} (as in the CRD schema), which then gets spec.mode filled in.
  const rawSpec = obj.spec === undefined || obj.spec === null ? {} : obj.spec;
  const spec = validateSchema(governancePolicySpecSchema, rawSpec, 'spec', errors) as GovernancePolicySpec | undefined;
  if (spec) checkSemantics(spec, errors);

  for (const key of Object.keys(obj)) {
    if (!TOP_LEVEL.includes(key)) errors.push(`${joinPath('', key)}: unknown field`);
  }

  if (errors.length > 0 || !metadata || !spec) return { errors };
  const policy: GovernancePolicy = { apiVersion: API_VERSION, kind: KIND, metadata, spec };
  if (isPlainObject(obj.status)) policy.status = structuredClone(obj.status) as GovernancePolicyStatus;
  return { policy, errors };
}
