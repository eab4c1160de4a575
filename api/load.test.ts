import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { canonicalPolicyYaml, loadPolicies, policyKey, validatePolicy, type GovernancePolicy } from './index.js';

const doc = (name: string, spec = '{}', ns?: string) => `apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata:
  name: ${name}${ns ? `\n  namespace: ${ns}` : ''}
spec: ${spec}
`;

const names = (ps: GovernancePolicy[]) => ps.map(policyKey);

describe('loadPolicies', () => {
  it('reads multi-document YAML in document order, ignoring empty documents', () => {
    const text = `---\n${doc('b')}---\n---\n# only a comment\n---\n${doc('a', '{mode: audit}', 'agents')}`;
    const { policies, errors } = loadPolicies(text, 'p.yaml');
    expect(errors).toEqual([]);
    expect(names(policies)).toEqual(['default/b', 'agents/a']);
    expect(policies[1]?.spec.mode).toBe('audit');
  });

  it('reads List, GovernancePolicyList and plain sequences', () => {
    const list = (kind: string, ...items: string[]) =>
      `apiVersion: v1\nkind: ${kind}\nitems:\n${items.map((i) => `- ${i.trimEnd().replace(/\n/g, '\n  ')}`).join('\n')}\n`;
    const text = [
      list('List', doc('one'), doc('two')),
      list('GovernancePolicyList', doc('three')),
      `- ${doc('four').trimEnd().replace(/\n/g, '\n  ')}\n- ${doc('five').trimEnd().replace(/\n/g, '\n  ')}\n`,
      'apiVersion: v1\nkind: List\nitems: []\n',
      doc('six'),
    ].join('---\n');
    const { policies, errors } = loadPolicies(text, 'p.yaml');
    expect(errors).toEqual([]);
    expect(policies.map((p) => p.metadata.name)).toEqual(['one', 'two', 'three', 'four', 'five', 'six']);
  });

  it('accepts empty input', () => {
    expect(loadPolicies('', 'e.yaml')).toEqual({ policies: [], errors: [] });
    expect(loadPolicies('# nothing\n', 'e.yaml')).toEqual({ policies: [], errors: [] });
  });

  it('reports YAML syntax errors with line numbers, keeping the other documents', () => {
    const text = `${doc('ok')}---\napiVersion: chaperone.dev/v1alpha1\nkind: GovernancePolicy: extra\nmetadata: {name: bad}\n`;
    const { policies, errors } = loadPolicies(text, 'broken.yaml');
    expect(names(policies)).toEqual(['default/ok']);
    expect(errors).toEqual(['broken.yaml: line 8, column 7: Nested mappings are not allowed in compact mappings']);
  });

  it('reports an unterminated flow map', () => {
    const { errors } = loadPolicies('metadata: {name: bad\nspec: {}\n', 'flow.yaml');
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect(e).toMatch(/^flow\.yaml: line \d+, column \d+: \S/);
  });

  it('reports duplicate keys as YAML errors', () => {
    const { errors } = loadPolicies(`${doc('p')}spec: {}\n`, 'dup.yaml');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^dup\.yaml: line 6, column 1: .*unique/i);
  });

  it('prefixes validation errors with source, kind and name (or #index)', () => {
    const text = [
      doc('good'),
      doc('bad', '{mode: block, dlp: {mode: nope}}'),
      'apiVersion: chaperone.dev/v1alpha1\nkind: GovernancePolicy\nspec: {}\n',
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n',
      '"just a string"\n',
    ].join('---\n');
    const { policies, errors } = loadPolicies(text, 'src.yaml');
    expect(names(policies)).toEqual(['default/good']);
    expect(errors).toEqual([
      'src.yaml: GovernancePolicy/bad: spec.mode: must be one of enforce, audit, off',
      'src.yaml: GovernancePolicy/bad: spec.dlp.mode: must be one of audit, enforce, redact, off',
      'src.yaml: GovernancePolicy/#3: metadata.name: required',
      'src.yaml: Deployment/web: apiVersion: must be chaperone.dev/v1alpha1 (got "apps/v1")',
      'src.yaml: Deployment/web: kind: must be GovernancePolicy (got "Deployment")',
      'src.yaml: GovernancePolicy/#5: policy: must be an object (got string)',
    ]);
  });

  it('rejects the same namespace/name twice', () => {
    const { policies, errors } = loadPolicies([doc('p'), doc('p', '{}', 'other'), doc('p', '{}', 'default')].join('---\n'), 'd.yaml');
    expect(names(policies)).toEqual(['default/p', 'other/p']);
    expect(errors).toEqual(['d.yaml: GovernancePolicy/p: duplicate policy default/p (an earlier document has the same namespace and name)']);
  });

  it('rejects a List whose items are not a list', () => {
    expect(loadPolicies('apiVersion: v1\nkind: List\nitems: {a: 1}\n', 'l.yaml').errors).toEqual(['l.yaml: List: items: must be a list']);
  });
});

describe('examples/policies', () => {
  for (const file of ['researcher.yaml', 'minimal.yaml']) {
    it(`${file} validates`, () => {
      const path = fileURLToPath(new URL(`../examples/policies/${file}`, import.meta.url));
      const { policies, errors } = loadPolicies(readFileSync(path, 'utf8'), file);
      expect(errors).toEqual([]);
      expect(policies).toHaveLength(1);
    });
  }
});

describe('canonicalPolicyYaml', () => {
  const a = { apiVersion: 'chaperone.dev/v1alpha1', kind: 'GovernancePolicy', metadata: { name: 'a', namespace: 'ns2' },
    spec: { dlp: { mode: 'redact', custom: [{ name: 'x', pattern: 'y' }] }, egress: { rules: [{ match: 'b.com', action: 'deny' }, { match: 'a.com', action: 'allow' }] } } };
  const b = { kind: 'GovernancePolicy', apiVersion: 'chaperone.dev/v1alpha1', metadata: { namespace: 'ns1', name: 'z' }, spec: { mode: 'audit' } };
  const c = { metadata: { name: 'b', namespace: 'ns2' }, spec: {}, apiVersion: 'chaperone.dev/v1alpha1', kind: 'GovernancePolicy' };

  /** The same object with its keys inserted in reverse order, at every level. */
  const reversed = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(reversed);
    if (typeof v !== 'object' || v === null) return v;
    return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reversed(x)]));
  };

  it('is stable under key reordering and input order', () => {
    const one = canonicalPolicyYaml([a, b, c] as GovernancePolicy[]);
    const two = canonicalPolicyYaml([c, reversed(a), reversed(b)] as GovernancePolicy[]);
    expect(two).toBe(one);
  });

  it('sorts policies by namespace/name, sorts keys, fills defaults, keeps list order and drops status', () => {
    const withStatus = { ...c, status: { observedGeneration: 7 } };
    const out = canonicalPolicyYaml([a, b, withStatus] as GovernancePolicy[]);
    expect(out.match(/^ {2}name: .*$/gm)).toEqual(['  name: z', '  name: a', '  name: b']);
    expect(out.startsWith('---\napiVersion: chaperone.dev/v1alpha1\nkind: GovernancePolicy\nmetadata:\n')).toBe(true);
    expect(out).toContain('sensitivity: medium');
    expect(out.indexOf('match: b.com')).toBeLessThan(out.indexOf('match: a.com'));
    expect(out).not.toContain('status');
    expect(out).not.toContain('observedGeneration');
  });

  it('round-trips through loadPolicies', () => {
    const out = canonicalPolicyYaml([a, b, c] as GovernancePolicy[]);
    const { policies, errors } = loadPolicies(out, 'canonical');
    expect(errors).toEqual([]);
    expect(canonicalPolicyYaml(policies)).toBe(out);
    expect(policies.map((p) => p.metadata.name)).toEqual(['z', 'a', 'b']);
    expect(policies[1]).toEqual(validatePolicy(a).policy);
  });

  it('is empty for no policies and throws on an invalid one', () => {
    expect(canonicalPolicyYaml([])).toBe('');
    expect(() => canonicalPolicyYaml([{ ...c, spec: { mode: 'x' } } as unknown as GovernancePolicy]))
      .toThrow('invalid policy ns2/b: spec.mode: must be one of enforce, audit, off');
  });
});
