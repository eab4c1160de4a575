import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../lib/project.js';
import { governancePolicyCrd, governancePolicyCrdYaml } from './crd.js';
import { governancePolicySchema, type SchemaNode } from './schema.js';

describe('the CRD', () => {
  it('is exactly what crds/ holds (regenerate with: make crds)', async () => {
    const file = await readFile(join(PROJECT_ROOT, 'crds', 'governancepolicies.chaperone.dev.yaml'), 'utf8');
    expect(file).toBe(governancePolicyCrdYaml());
  });

  // The API server gets what kubectl and Helm read from the committed file, as YAML 1.1
  // (sigs.k8s.io/yaml): an unquoted `off` there is `false`, and `mode: "off"` would fail the enum.
  it.each(['governancepolicies.chaperone.dev.yaml', 'approvalrequests.chaperone.dev.yaml'])('crds/%s reads the same as YAML 1.1 (kubectl, Helm) and 1.2', async (file) => {
    const text = await readFile(join(PROJECT_ROOT, 'crds', file), 'utf8');
    expect(parse(text, { version: '1.1' })).toEqual(parse(text, { version: '1.2' }));
  });

  it('serves, as kubectl reads crds/, the validator schema (metadata aside): every field, enum and default', async () => {
    const file = await readFile(join(PROJECT_ROOT, 'crds', 'governancepolicies.chaperone.dev.yaml'), 'utf8');
    const crd = parse(file, { version: '1.1' }) as { spec: { versions: Array<{ schema: { openAPIV3Schema: SchemaNode } }> } };
    const served = crd.spec.versions[0]!.schema.openAPIV3Schema;
    const ours = JSON.parse(JSON.stringify(governancePolicySchema)) as SchemaNode;
    expect(served.properties!.metadata).toEqual({ type: 'object' });
    expect({ ...served, properties: { ...served.properties, metadata: ours.properties!.metadata } }).toEqual(ours);
    expect(served.properties!.spec!.properties!.mode!.enum).toEqual(['enforce', 'audit', 'off']);
  });

  it('is a structural schema: every node has a type and a description, metadata aside', () => {
    const problems: string[] = [];
    const walk = (node: SchemaNode, path: string): void => {
      if (!node.type) problems.push(`${path}: no type`);
      if (!node.description) problems.push(`${path}: no description`);
      for (const [k, v] of Object.entries(node.properties ?? {})) walk(v, `${path}.${k}`);
      if (node.items) walk(node.items, `${path}[]`);
      if (node.additionalProperties) walk(node.additionalProperties, `${path}{}`);
    };
    walk(governancePolicySchema, '');
    expect(problems).toEqual([]);
  });

  it('has the status subresource, the short name and the printer columns', () => {
    const v = (governancePolicyCrd().spec as { versions: Array<Record<string, unknown>>; names: { shortNames: string[] } });
    expect(v.names.shortNames).toEqual(['gp']);
    expect(v.versions[0]!.subresources).toEqual({ status: {} });
    expect((v.versions[0]!.additionalPrinterColumns as Array<{ name: string }>).map((c) => c.name)).toEqual(['Mode', 'Ready', 'Reason', 'Pods', 'DLP', 'Age']);
  });
});
