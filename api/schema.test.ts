// The schema (schema.ts) and the hand-written types (types.ts) must describe the same object.
// `full` is typed DeepRequired<GovernancePolicy>, so the compiler makes it set every field of the
// types; validating it with zero errors (unknown fields are rejected) proves every type field is
// in the schema, and walking the schema proves every schema property is set in `full`.
import { describe, expect, it } from 'vitest';
import {
  governancePolicySchema, governancePolicySpecSchema, governancePolicyStatusSchema, validatePolicy, validateSchema,
  type GovernancePolicy, type SchemaNode,
} from './index.js';

type DeepRequired<T> = T extends (infer U)[]
  ? DeepRequired<U>[]
  : T extends object ? { [K in keyof T]-?: DeepRequired<T[K]> } : T;

// First list items are fully populated: the coverage walk looks at item [0].
const full: DeepRequired<GovernancePolicy> = {
  apiVersion: 'chaperone.dev/v1alpha1',
  kind: 'GovernancePolicy',
  metadata: {
    name: 'researcher',
    namespace: 'agents',
    generation: 3,
    labels: { team: 'research' },
    annotations: { 'example.com/owner': 'alice' },
    uid: '6b1f0c1e-8f0e-4c55-9a8e-2f9d0d3c1a77',
  },
  spec: {
    podSelector: {
      matchLabels: { app: 'researcher' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['gold', 'silver'] },
        { key: 'legacy', operator: 'DoesNotExist', values: [] },
      ],
    },
    mode: 'enforce',
    intercept: { hosts: ['mcp.internal.example.com', '*.tools.example.com'], passThrough: ['api.openai.com/v1/files*'], largeAnswers: 'checkPrefix' },
    egress: {
      mode: 'enforce',
      defaultAction: 'deny',
      rules: [
        {
          match: 'api.openai.com/v1/*',
          action: 'allow',
          reason: 'the model provider',
          rateLimit: { requestsPerMinute: 60, tokensPerMinute: 100000 },
          schedule: {
            mode: 'audit', days: ['Sat', 'Sun'], hours: { start: '22:00', end: '06:00' }, timezone: 'America/New_York',
          },
        },
        {
          match: '*.internal.example.com', action: 'deny', reason: 'internal APIs are off limits',
          rateLimit: { requestsPerMinute: 1, tokensPerMinute: 1 },
          schedule: { mode: 'off', days: ['Mon'], hours: { start: '00:00', end: '23:59' }, timezone: 'UTC' },
        },
      ],
    },
    schedule: {
      mode: 'enforce',
      days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'],
      hours: { start: '08:00', end: '20:00' },
      timezone: 'Europe/Berlin',
    },
    tools: {
      mode: 'enforce',
      defaultAction: 'deny',
      agents: [{ name: 'researcher', permitted: ['web_search', 'file_reader'], forbidden: ['shell_exec'] }],
      stripForbidden: true,
    },
    rateLimits: {
      mode: 'audit',
      requestsPerMinute: 60,
      tokensPerMinute: 100000,
      agents: [{ name: 'writer', requestsPerMinute: 10, tokensPerMinute: 5000 }],
      onStoreFailure: 'failClosed',
    },
    dlp: {
      mode: 'redact',
      sensitivity: 'high',
      detectors: ['ssn', 'credit_card', 'email', 'phone', 'iban', 'aws_access_key', 'api_key', 'private_key', 'jwt'],
      custom: [{ name: 'employee_id', pattern: 'EMP-[0-9]{6}' }],
      scanResponses: true,
    },
    threats: {
      mode: 'audit',
      sensitivity: 'high',
      categories: ['sql_injection', 'command_injection', 'path_traversal', 'ssrf', 'exfiltration'],
      clusterCidrs: ['10.96.0.0/12', 'fd00:10:96::/112'],
      clusterDomains: ['kubernetes.default', '*.svc', '*.cluster.example'],
      custom: [{ name: 'project_code', pattern: 'PRJ-[0-9]{4}', action: 'redact' }],
    },
    approvals: { mode: 'enforce', tools: ['send_email', 'execute_*'], timeoutSeconds: 600, timeoutAction: 'approve' },
    budget: {
      mode: 'enforce',
      maxCostPerRequestUSD: 1,
      maxCostPerAgentPerDayUSD: 50,
      maxCostPerSessionUSD: 5.5,
      pricing: [{ model: 'gpt-4o*', inputPerMTokUSD: 2.5, outputPerMTokUSD: 10 }],
      onStoreFailure: 'failOpen',
    },
    circuitBreaker: { mode: 'off', failureThreshold: 10, windowSeconds: 300, recoverySeconds: 60 },
    toolPinning: { mode: 'audit' },
  },
  status: {
    observedGeneration: 3,
    conditions: [{
      type: 'Ready', status: 'True', reason: 'Compiled', message: 'compiled into chaperone-config',
      observedGeneration: 3, lastTransitionTime: '2025-01-01T00:00:00Z',
    }],
    selectedPods: 2,
  },
};

/** Schema property paths that `value` does not set (list items: the first item is inspected). */
function uncovered(schema: SchemaNode, value: unknown, path: string): string[] {
  const out: string[] = [];
  if (schema.type === 'object' && schema.properties) {
    for (const [k, s] of Object.entries(schema.properties)) {
      const v = (value as Record<string, unknown> | undefined)?.[k];
      if (v === undefined) out.push(`${path}.${k}`);
      else out.push(...uncovered(s, v, `${path}.${k}`));
    }
  }
  if (schema.type === 'array' && schema.items) {
    const first = (value as unknown[])[0];
    if (first === undefined) out.push(`${path}[0]`);
    else out.push(...uncovered(schema.items, first, `${path}[0]`));
  }
  return out;
}

function* nodes(schema: SchemaNode, path = '(root)'): Generator<[string, SchemaNode]> {
  yield [path, schema];
  for (const [k, s] of Object.entries(schema.properties ?? {})) yield* nodes(s, `${path}.${k}`);
  if (schema.items) yield* nodes(schema.items, `${path}[]`);
  if (schema.additionalProperties) yield* nodes(schema.additionalProperties, `${path}{}`);
}

describe('schema vs types', () => {
  it('a fully populated GovernancePolicy validates with zero errors and comes back unchanged', () => {
    const { policy, errors } = validatePolicy(full);
    expect(errors).toEqual([]);
    expect(policy).toEqual(full);
    expect(policy).not.toBe(full);
    expect(policy?.spec).not.toBe(full.spec); // a deep copy
  });

  it('the status part of the example fits the status schema', () => {
    const errors: string[] = [];
    validateSchema(governancePolicyStatusSchema, full.status, 'status', errors);
    expect(errors).toEqual([]);
  });

  it('every schema property is set in the fully populated example', () => {
    expect(uncovered(governancePolicySchema, full, '')).toEqual([]);
  });
});

describe('schema shape (it becomes the CRD openAPIV3Schema)', () => {
  it('is plain JSON data', () => {
    expect(JSON.parse(JSON.stringify(governancePolicySchema))).toEqual(governancePolicySchema);
  });

  it('gives every node a one-line description', () => {
    for (const [path, node] of nodes(governancePolicySchema)) {
      expect(node.description, path).toMatch(/^[^\n]{10,}$/);
    }
  });

  it('keys map lists by required fields and keeps set lists scalar', () => {
    for (const [path, node] of nodes(governancePolicySchema)) {
      const listType = node['x-kubernetes-list-type'];
      if (listType === 'map') {
        expect(node['x-kubernetes-list-map-keys']?.length, path).toBeGreaterThan(0);
        for (const k of node['x-kubernetes-list-map-keys'] ?? []) expect(node.items?.required, path).toContain(k);
      }
      if (listType === 'set') expect(['string', 'integer', 'number', 'boolean'], path).toContain(node.items?.type);
    }
  });

  it('only section modes lack a default; spec.mode defaults to enforce', () => {
    expect(governancePolicySpecSchema.properties?.mode?.default).toBe('enforce');
    for (const [name, section] of Object.entries(governancePolicySpecSchema.properties ?? {})) {
      const mode = section.properties?.mode;
      if (mode) expect(mode.default, name).toBeUndefined();
    }
  });

  it('defaults satisfy their own schema', () => {
    for (const [path, node] of nodes(governancePolicySchema)) {
      if (node.default === undefined) continue;
      const errors: string[] = [];
      validateSchema(node, node.default, path, errors);
      expect(errors).toEqual([]);
    }
  });
});
