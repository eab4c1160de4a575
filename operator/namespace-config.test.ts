import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalPolicyYaml, loadPolicies, validatePolicy } from '../api/index.js';
import { CONFIG_KEY } from '../api/pod-contract.js';
import { CONFIG_HASH_ANNOTATION, configHash, desiredConfigMap } from './namespace-config.js';

const NS = 'agents';

/** A policy as the API server returns it: server-set metadata, a status, an annotation. */
function served(name: string, spec: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'chaperone.dev/v1alpha1',
    kind: 'GovernancePolicy',
    metadata: {
      name,
      namespace: NS,
      generation: 3,
      uid: `uid-${name}`,
      resourceVersion: '12345',
      creationTimestamp: '2025-01-01T00:00:00Z',
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"huge":"json"}' },
      managedFields: [{ manager: 'kubectl' }],
    },
    spec,
    status: { observedGeneration: 2, conditions: [{ type: 'Ready', status: 'True', reason: 'Compiled' }] },
    ...extra,
  };
}

const researcher = () => served('researcher', {
  podSelector: { matchLabels: { app: 'researcher' } },
  egress: { defaultAction: 'deny', rules: [{ match: 'api.openai.com/*', action: 'allow' }] },
  dlp: { mode: 'redact', custom: [{ name: 'employee_id', pattern: 'EMP-[0-9]{6}' }] },
  schedule: { timezone: 'Europe/Berlin', hours: { start: '08:00', end: '20:00' } },
});
const writer = () => served('writer', { mode: 'audit', podSelector: { matchExpressions: [{ key: 'team', operator: 'In', values: ['a', 'b'] }] } });

/** Rebuilds every plain object with its keys in reverse order (lists keep their order). */
function reverseKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reverseKeys);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)]));
}

const hashOf = (policies: unknown[]) => desiredConfigMap(NS, policies).configMap.metadata.annotations?.[CONFIG_HASH_ANNOTATION];
const yamlOf = (policies: unknown[]) => desiredConfigMap(NS, policies).configMap.data[CONFIG_KEY] ?? '';

describe('desiredConfigMap', () => {
  it('builds chaperone-config with the managed labels and the hash of its data', () => {
    const { configMap, results } = desiredConfigMap(NS, [researcher(), writer()]);
    expect(configMap.apiVersion).toBe('v1');
    expect(configMap.kind).toBe('ConfigMap');
    expect(configMap.metadata.name).toBe('chaperone-config');
    expect(configMap.metadata.namespace).toBe(NS);
    expect(configMap.metadata.labels).toEqual({
      'app.kubernetes.io/managed-by': 'chaperone-operator',
      'app.kubernetes.io/part-of': 'chaperone',
    });
    expect(Object.keys(configMap.data)).toEqual(['policies.yaml']);
    const hash = configMap.metadata.annotations?.[CONFIG_HASH_ANNOTATION];
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).toBe(configHash(configMap.data));
    const manual = createHash('sha256').update('policies.yaml\0').update(configMap.data['policies.yaml']!).update('\0').digest('hex');
    expect(hash).toBe(manual);
    expect(results).toEqual([
      { name: 'researcher', generation: 3, ready: true, reason: 'Compiled', message: 'compiled into ConfigMap chaperone-config' },
      { name: 'writer', generation: 3, ready: true, reason: 'Compiled', message: 'compiled into ConfigMap chaperone-config' },
    ]);
  });

  it('keeps name, namespace, generation and podSelector; drops status, annotations and server fields', () => {
    const text = yamlOf([researcher()]);
    expect(text).toContain('name: researcher');
    expect(text).toContain('namespace: agents');
    expect(text).toContain('generation: 3');
    expect(text).toContain('podSelector:');
    expect(text).toContain('app: researcher');
    for (const gone of ['status', 'observedGeneration', 'last-applied', 'resourceVersion', 'managedFields', 'creationTimestamp']) {
      expect(text).not.toContain(gone);
    }
  });

  it('round-trips through the sidecar loader to the same policies', () => {
    const inputs = [writer(), researcher()];
    const text = yamlOf(inputs);
    const { policies, errors } = loadPolicies(text, 'policies.yaml');
    expect(errors).toEqual([]);
    const expected = [researcher(), writer()].map((raw) => {
      const p = validatePolicy(raw).policy!;
      delete p.status;
      return { ...p, metadata: { name: p.metadata.name, namespace: NS, generation: 3, uid: p.metadata.uid } };
    });
    expect(policies).toEqual(expected);
    expect(policies[0]?.spec.podSelector).toEqual({ matchLabels: { app: 'researcher' } });
    expect(policies[1]?.spec.podSelector?.matchExpressions?.[0]?.values).toEqual(['a', 'b']);
    // Defaults are filled in the stored form, and reading then writing again changes no byte.
    expect(policies[0]?.spec.mode).toBe('enforce');
    expect(canonicalPolicyYaml(policies)).toBe(text);
  });

  describe('the hash', () => {
    const base = hashOf([researcher(), writer()]);
    it.each<[string, unknown[], boolean]>([
      ['same input', [researcher(), writer()], true],
      ['input order swapped', [writer(), researcher()], true],
      ['object keys reordered', [reverseKeys(researcher()), reverseKeys(writer())], true],
      ['status changed', [served('researcher', researcher().spec as Record<string, unknown>, { status: { observedGeneration: 9 } }), writer()], true],
      ['annotation changed', [{ ...researcher(), metadata: { ...(researcher().metadata as object), annotations: { x: 'y' } } }, writer()], true],
      ['defaults written out explicitly', [served('researcher', { ...(researcher().spec as object), mode: 'enforce', dlp: { mode: 'redact', sensitivity: 'medium', custom: [{ name: 'employee_id', pattern: 'EMP-[0-9]{6}' }] } }), writer()], true],
      ['section added', [researcher(), served('writer', { ...(writer().spec as object), egress: { defaultAction: 'allow' } })], false],
      ['spec changed', [researcher(), served('writer', { mode: 'enforce', podSelector: (writer().spec as Record<string, unknown>).podSelector })], false],
      ['generation changed', [researcher(), { ...writer(), metadata: { ...(writer().metadata as object), generation: 4 } }], false],
      ['policy removed', [researcher()], false],
    ])('%s -> unchanged: %s', (_label, input, same) => {
      expect(hashOf(input) === base).toBe(same);
    });

    it('is stable for an empty namespace', () => {
      const { configMap } = desiredConfigMap(NS, []);
      expect(configMap.data[CONFIG_KEY]).toBe('');
      expect(hashOf([])).toBe(configHash({ [CONFIG_KEY]: '' }));
    });
  });

  describe('invalid policies are left out whole and reported with the field', () => {
    it.each<[string, Record<string, unknown>, RegExp]>([
      ['custom DLP pattern with a backreference', served('bad', { dlp: { custom: [{ name: 'x', pattern: '(a)\\1' }] } }), /^spec\.dlp\.custom\[0\]\.pattern: /],
      ['unknown time zone', served('bad', { schedule: { timezone: 'Mars/Olympus' } }), /^spec\.schedule\.timezone: unknown time zone "Mars\/Olympus"/],
      ['enum value', served('bad', { mode: 'block' }), /^spec\.mode: must be one of enforce, audit, off$/],
      ['misspelt field', served('bad', { egres: {} }), /^spec\.egres: unknown field \(did you mean "egress"\?\)$/],
      ['other namespace', { ...served('bad', {}), metadata: { name: 'bad', namespace: 'other', generation: 3 } }, /^metadata\.namespace: must be "agents" \(got "other"\)$/],
    ])('%s', (_label, bad, message) => {
      const { configMap, results } = desiredConfigMap(NS, [researcher(), bad, writer()]);
      expect(results.map((r) => [r.name, r.ready, r.reason])).toEqual([
        ['researcher', true, 'Compiled'], ['bad', false, 'Invalid'], ['writer', true, 'Compiled'],
      ]);
      expect(results[1]?.generation).toBe(3);
      expect(results[1]?.message).toMatch(message);
      const text = configMap.data[CONFIG_KEY] ?? '';
      expect(text).not.toContain('name: bad');
      // Exactly the valid ones, as if the bad one had never been there.
      expect(text).toBe(yamlOf([researcher(), writer()]));
      expect(loadPolicies(text, 'p').policies.map((p) => p.metadata.name)).toEqual(['researcher', 'writer']);
    });

    it('reports every error of a policy, not just the first', () => {
      const { results } = desiredConfigMap(NS, [served('bad', { mode: 'block', schedule: { timezone: 'Nowhere/Land' } })]);
      expect(results[0]?.message.split('; ')).toEqual([
        'spec.mode: must be one of enforce, audit, off',
        'spec.schedule.timezone: unknown time zone "Nowhere/Land"',
      ]);
    });

    it('reports objects that are not policies at all', () => {
      const { configMap, results } = desiredConfigMap(NS, [null, { kind: 'GovernancePolicy', metadata: { generation: 'x' } }]);
      expect(configMap.data[CONFIG_KEY]).toBe('');
      expect(results[0]).toEqual({ name: '', generation: 0, ready: false, reason: 'Invalid', message: 'policy: must be an object (got null)' });
      expect(results[1]?.message).toContain('apiVersion: required');
      expect(results[1]?.message).toContain('metadata.name: required');
      expect(results[1]?.message).toContain('metadata.generation: must be a non-negative integer');
    });

    it('rejects a second object with the same name, keeping the first', () => {
      const second = served('researcher', { mode: 'off' });
      const { results, configMap } = desiredConfigMap(NS, [researcher(), second]);
      expect(results[1]).toMatchObject({ ready: false, reason: 'Invalid', message: 'metadata.name: duplicate policy agents/researcher' });
      expect(configMap.data[CONFIG_KEY]).toBe(yamlOf([researcher()]));
    });
  });

  it('fills a missing metadata.namespace with the namespace, not "default"', () => {
    const p = researcher();
    const { namespace: _omit, ...md } = p.metadata as Record<string, unknown>;
    const { results, configMap } = desiredConfigMap(NS, [{ ...p, metadata: md }]);
    expect(results[0]?.ready).toBe(true);
    expect(configMap.data[CONFIG_KEY]).toBe(yamlOf([researcher()]));
  });

  it('does not modify its input', () => {
    const input = [researcher(), writer()];
    const copy = structuredClone(input);
    desiredConfigMap(NS, input);
    expect(input).toEqual(copy);
  });
});
