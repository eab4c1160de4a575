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

  it('embeds the validator schema verbatim (metadata aside), so every field, enum and default is the same', () => {
    const crd = parse(governancePolicyCrdYaml()) as { spec: { versions: Array<{ schema: { openAPIV3Schema: { properties: Record<string, unknown> } } }> } };
    const served = crd.spec.versions[0]!.schema.openAPIV3Schema;
    expect(served.properties.metadata).toEqual({ type: 'object' });
    const { metadata: _served, ...rest } = served.properties;
    const { metadata: _ours, ...ourRest } = JSON.parse(JSON.stringify(governancePolicySchema.properties)) as Record<string, unknown>;
    expect(rest).toEqual(ourRest);
    expect({ ...served, properties: undefined }).toEqual({ ...JSON.parse(JSON.stringify(governancePolicySchema)), properties: undefined });
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
