import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../lib/project.js';
import {
  APPROVAL_FINAL_PHASES,
  APPROVAL_OPTIONAL_SPEC_FIELDS,
  APPROVAL_SELECTABLE_FIELDS,
  approvalRequestCrd,
  approvalRequestCrdYaml,
  approvalRequestSchema,
  approvalRequestSpecSchema,
  approvalRequestStatusSchema,
} from './approval-crd.js';
import {
  APPROVAL_ACTIONS,
  APPROVAL_CRD_NAME,
  APPROVAL_HELD_AT,
  APPROVAL_PHASES,
  APPROVAL_PREVIEW_CHARS,
  type ApprovalRequestSpec,
  type ApprovalRequestStatus,
} from './approval-names.js';
import { CRD_YAML } from './crd.js';
import { APPROVAL_TIMEOUT_ACTIONS, type SchemaNode } from './schema.js';

// Compile-time twins of the TypeScript contract: adding a field to ApprovalRequestSpec (or making one
// optional) without touching the schema fails `tsc`, and the runtime checks below then fail too.
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
const SPEC_FIELDS: Record<keyof ApprovalRequestSpec, true> = {
  agent: true, pod: true, podUID: true, serviceAccount: true, tool: true, digest: true, argumentsDigest: true,
  argumentsPreview: true, argumentsTruncated: true, policy: true, policyGeneration: true, requestId: true,
  heldAt: true, provider: true, expiresAt: true, timeoutAction: true, decision: true,
};
const REQUIRED_SPEC_FIELDS: Record<RequiredKeys<ApprovalRequestSpec>, true> = {
  agent: true, tool: true, digest: true, argumentsDigest: true, argumentsPreview: true, argumentsTruncated: true,
  policy: true, policyGeneration: true, requestId: true, heldAt: true, provider: true, expiresAt: true, timeoutAction: true,
};
const STATUS_FIELDS: Record<keyof ApprovalRequestStatus, true> = {
  phase: true, decidedBy: true, decidedAt: true, usedAt: true, usedBy: true, message: true,
};

type Version = {
  subresources: unknown;
  selectableFields: Array<{ jsonPath: string }>;
  additionalPrinterColumns: Array<{ name: string; jsonPath: string; type: string; priority?: number }>;
  schema: { openAPIV3Schema: SchemaNode };
};
const crdSpec = (): { names: Record<string, unknown>; scope: string; versions: Version[] } =>
  approvalRequestCrd().spec as { names: Record<string, unknown>; scope: string; versions: Version[] };

const rules = (node: SchemaNode | undefined): string[] => (node?.['x-kubernetes-validations'] ?? []).map((v) => v.rule);

describe('the CRD files', () => {
  it('crds/ and the chart\'s crds/ hold exactly the generated CRDs, one file each (regenerate with: make crds)', async () => {
    for (const dir of [join(PROJECT_ROOT, 'crds'), join(PROJECT_ROOT, 'charts', 'chaperone', 'crds')]) {
      expect((await readdir(dir)).sort(), dir).toEqual(Object.keys(CRD_YAML).map((n) => `${n}.yaml`).sort());
      for (const [name, yaml] of Object.entries(CRD_YAML)) {
        expect(await readFile(join(dir, `${name}.yaml`), 'utf8'), `${dir}/${name}.yaml is stale: make crds`).toBe(yaml());
      }
    }
  });

  it('each generated file names the CRD it is stored under', () => {
    for (const [name, yaml] of Object.entries(CRD_YAML)) expect((parse(yaml()) as { metadata: { name: string } }).metadata.name).toBe(name);
    expect(CRD_YAML[APPROVAL_CRD_NAME]).toBe(approvalRequestCrdYaml);
  });
});

describe('the ApprovalRequest CRD', () => {
  it('is namespaced, short name ar, category chaperone, with the status subresource', () => {
    const spec = crdSpec();
    expect(spec.scope).toBe('Namespaced');
    expect(spec.names).toMatchObject({ kind: 'ApprovalRequest', plural: 'approvalrequests', shortNames: ['ar'], categories: ['chaperone'] });
    expect(spec.versions).toHaveLength(1);
    expect(spec.versions[0]!.subresources).toEqual({ status: {} });
  });

  it('answers field selectors on the digest (the sidecar\'s lookup), the agent and the phase', () => {
    expect(crdSpec().versions[0]!.selectableFields).toEqual([{ jsonPath: '.spec.digest' }, { jsonPath: '.spec.agent' }, { jsonPath: '.status.phase' }]);
    expect([...APPROVAL_SELECTABLE_FIELDS]).toEqual(['.spec.digest', '.spec.agent', '.status.phase']);
  });

  it('has the printer columns a person scanning kubectl get ar needs; Args only with -o wide', () => {
    const cols = crdSpec().versions[0]!.additionalPrinterColumns;
    expect(cols.map((c) => [c.name, c.jsonPath, c.type, c.priority ?? 0])).toEqual([
      ['Phase', '.status.phase', 'string', 0],
      ['Agent', '.spec.agent', 'string', 0],
      ['Tool', '.spec.tool', 'string', 0],
      ['Args', '.spec.argumentsPreview', 'string', 1],
      ['Decided-By', '.status.decidedBy', 'string', 0],
      // kubectl shows a future date column as <invalid>.
      ['Expires', '.spec.expiresAt', 'string', 0],
      ['Age', '.metadata.creationTimestamp', 'date', 0],
    ]);
  });

  it('every printer column and selectable field points at a field the schema has', () => {
    const v = crdSpec().versions[0]!;
    const resolve = (path: string): SchemaNode | undefined =>
      path.split('.').slice(1).reduce<SchemaNode | undefined>((n, k) => n?.properties?.[k], approvalRequestSchema);
    for (const p of [...v.additionalPrinterColumns.map((c) => c.jsonPath), ...v.selectableFields.map((s) => s.jsonPath)]) {
      if (p.startsWith('.metadata.')) continue;
      expect(resolve(p), p).toBeDefined();
    }
  });

  it('is a structural schema: every node has a type and a description; every string is bounded (CEL cost)', () => {
    const problems: string[] = [];
    const walk = (node: SchemaNode, path: string): void => {
      if (!node.type) problems.push(`${path}: no type`);
      if (!node.description) problems.push(`${path}: no description`);
      if (node.type === 'string' && !node.enum && node.maxLength === undefined && !['.apiVersion', '.kind'].includes(path)) problems.push(`${path}: no maxLength`);
      for (const [k, v] of Object.entries(node.properties ?? {})) walk(v, `${path}.${k}`);
      if (node.items) walk(node.items, `${path}[]`);
      if (node.additionalProperties) walk(node.additionalProperties, `${path}{}`);
    };
    walk(approvalRequestSchema, '');
    expect(problems).toEqual([]);
    const served = crdSpec().versions[0]!.schema.openAPIV3Schema;
    expect(served.properties!.metadata).toEqual({ type: 'object' });
  });

  it('has exactly the fields of ApprovalRequestSpec and ApprovalRequestStatus, and requires the ones TypeScript requires', () => {
    expect(Object.keys(approvalRequestSpecSchema.properties!).sort()).toEqual(Object.keys(SPEC_FIELDS).sort());
    expect([...approvalRequestSpecSchema.required!].sort()).toEqual(Object.keys(REQUIRED_SPEC_FIELDS).sort());
    expect(Object.keys(approvalRequestStatusSchema.properties!).sort()).toEqual(Object.keys(STATUS_FIELDS).sort());
    const optional = Object.keys(SPEC_FIELDS).filter((f) => !(f in REQUIRED_SPEC_FIELDS) && f !== 'decision');
    expect(optional.sort()).toEqual([...APPROVAL_OPTIONAL_SPEC_FIELDS].sort());
    expect(approvalRequestSchema.required).toEqual(['spec']);
  });

  it('makes every spec field but decision immutable, and stops optional ones being added or removed', () => {
    const spec = approvalRequestSpecSchema;
    for (const [field, node] of Object.entries(spec.properties!)) {
      if (field === 'decision') continue;
      expect(rules(node), `spec.${field}`).toContain('self == oldSelf');
    }
    for (const f of APPROVAL_OPTIONAL_SPEC_FIELDS) expect(rules(spec), `spec.${f}`).toContain(`has(self.${f}) == has(oldSelf.${f})`);
    // A required field cannot be removed (the schema requires it), so it needs no presence rule.
    for (const f of spec.required!) expect(rules(spec).some((r) => r.includes(`self.${f})`)), `spec.${f}`).toBe(false);
  });

  it('lets decision be added once, then neither changed nor removed', () => {
    const decision = approvalRequestSpecSchema.properties!.decision!;
    expect(rules(decision)).toEqual(['self == oldSelf']);
    expect(rules(approvalRequestSpecSchema)).toContain('!has(oldSelf.decision) || has(self.decision)');
    expect(decision.required).toEqual(['action', 'by']);
    expect(decision.properties!.by!.minLength).toBe(1);
  });

  it('uses the shared enums: phases, actions, where held, timeout actions', () => {
    expect(approvalRequestStatusSchema.properties!.phase!.enum).toEqual([...APPROVAL_PHASES]);
    expect(approvalRequestSpecSchema.properties!.decision!.properties!.action!.enum).toEqual([...APPROVAL_ACTIONS]);
    expect(approvalRequestSpecSchema.properties!.heldAt!.enum).toEqual([...APPROVAL_HELD_AT]);
    expect(approvalRequestSpecSchema.properties!.timeoutAction!.enum).toEqual([...APPROVAL_TIMEOUT_ACTIONS]);
  });

  it('holds digests as 64 lowercase hex characters and the preview to APPROVAL_PREVIEW_CHARS', () => {
    for (const f of ['digest', 'argumentsDigest']) {
      const node = approvalRequestSpecSchema.properties![f]!;
      expect(node.pattern, f).toBe('^[0-9a-f]{64}$');
      expect([node.minLength, node.maxLength], f).toEqual([64, 64]);
      const re = new RegExp(node.pattern!);
      expect(re.test('a'.repeat(64))).toBe(true);
      expect(re.test('A'.repeat(64))).toBe(false);
      expect(re.test('a'.repeat(65))).toBe(false);
    }
    expect(approvalRequestSpecSchema.properties!.argumentsPreview!.maxLength).toBe(APPROVAL_PREVIEW_CHARS);
  });

  it('keeps a Denied, Expired or Used phase final (a Used approval set back would pass twice)', () => {
    expect([...APPROVAL_FINAL_PHASES].every((p) => (APPROVAL_PHASES as readonly string[]).includes(p))).toBe(true);
    const rule = rules(approvalRequestStatusSchema)[0]!;
    for (const p of APPROVAL_FINAL_PHASES) expect(rule).toContain(`"${p}"`);
    expect(rule).not.toContain('"Pending"');
    expect(rule).not.toContain('"Approved"');
  });
});
