// The GovernancePolicy CRD on a real API server: valid examples accepted, invalid objects rejected
// with the field named (and by our own validator, for the same reason), columns and explain.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { validatePolicy } from '../api/index.js';
import { PROJECT_ROOT } from '../lib/project.js';
import { kubectl, kubectlOk, installCrd } from './harness/kubectl.js';

const NS = 'chaperone-e2e-crd';

const policy = (name: string, spec: object) => ({ apiVersion: 'chaperone.dev/v1alpha1', kind: 'GovernancePolicy', metadata: { name, namespace: NS }, spec });

beforeAll(async () => {
  await installCrd();
  await kubectl(['create', 'namespace', NS]);
  await kubectl(['create', 'namespace', 'agents']);
});
// The examples live in namespace agents; leave nothing behind for the suites that follow.
afterAll(async () => {
  await kubectl(['delete', 'namespace', 'agents', '--ignore-not-found', '--wait=false']);
});


describe('GovernancePolicy CRD', () => {
  it('accepts every example in examples/policies', async () => {
    const dir = join(PROJECT_ROOT, 'examples', 'policies');
    for (const file of await readdir(dir)) {
      const out = await kubectlOk(['apply', '-f', join(dir, file)]);
      expect(out).toMatch(/governancepolicy\.chaperone\.dev\/\S+ (created|configured|unchanged)/);
    }
  });

  it('fills defaults on the server the way the validator does', async () => {
    await kubectlOk(['apply', '-f', '-'], JSON.stringify(policy('defaults', { dlp: {}, schedule: { days: ['Mon'] }, circuitBreaker: {} })));
    const stored = JSON.parse(await kubectlOk(['get', 'gp', 'defaults', '-n', NS, '-o', 'json'])) as { spec: unknown };
    const ours = validatePolicy(policy('defaults', { dlp: {}, schedule: { days: ['Mon'] }, circuitBreaker: {} })).policy!;
    expect(stored.spec).toEqual(ours.spec);
  });

  const invalid: Array<[string, object, RegExp]> = [
    ['an unknown mode', { mode: 'loud' }, /spec\.mode/],
    ['an unknown DLP mode', { dlp: { mode: 'shout' } }, /spec\.dlp\.mode/],
    ['an unknown detector', { dlp: { detectors: ['dna'] } }, /spec\.dlp\.detectors\[0\]/],
    ['hours that are not HH:MM', { schedule: { hours: { start: '25:00', end: '08:00' } } }, /spec\.schedule\.hours\.start/],
    ['a window that starts where it ends', { schedule: { hours: { start: '08:00', end: '08:00' } } }, /spec\.schedule\.hours/],
    ['an egress rule without match', { egress: { rules: [{ action: 'deny' }] } }, /spec\.egress\.rules\[0\]\.match/],
    ['an egress action that does not exist', { egress: { rules: [{ match: 'x.example.com', action: 'maybe' }] } }, /spec\.egress\.rules\[0\]\.action/],
    ['a tool both permitted and forbidden', { tools: { agents: [{ name: 'a', permitted: ['x'], forbidden: ['x'] }] } }, /spec\.tools\.agents\[0\]/],
    ['two entries for one agent', { tools: { agents: [{ name: 'a' }, { name: 'a' }] } }, /spec\.tools\.agents\[1\]/],
    ['a negative rate limit', { rateLimits: { requestsPerMinute: -1 } }, /spec\.rateLimits\.requestsPerMinute/],
    ['an approval timeout past a day', { approvals: { timeoutSeconds: 999999 } }, /spec\.approvals\.timeoutSeconds/],
    ['an unknown field', { dlp: { detector: ['email'] } }, /spec\.dlp\.detector/],
  ];

  it.each(invalid)('rejects %s, naming the field (and so does the validator)', async (_what, spec, field) => {
    const r = await kubectl(['apply', '-f', '-'], JSON.stringify(policy('invalid', spec)));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(field);
    const ours = validatePolicy(policy('invalid', spec));
    expect(ours.errors.join('\n')).toMatch(field);
  });

  it('shows Mode, Ready, Reason, Pods and Age in kubectl get gp', async () => {
    const out = await kubectlOk(['get', 'gp', '-n', NS]);
    const header = out.split('\n')[0]!;
    for (const column of ['NAME', 'MODE', 'READY', 'REASON', 'PODS', 'AGE']) expect(header).toContain(column);
    expect(out).toMatch(/^defaults\s+enforce\s/m);
    const wide = await kubectlOk(['get', 'gp', '-n', NS, '-o', 'wide']);
    expect(wide.split('\n')[0]).toContain('DLP');
  });

  it('documents the spec in kubectl explain', async () => {
    const out = await kubectlOk(['explain', 'governancepolicy.spec.dlp']);
    expect(out).toMatch(/sensitivity/);
    expect(out).toMatch(/scanResponses/);
    expect(out).toMatch(/custom/);
    const mode = await kubectlOk(['explain', 'gp.spec.dlp.mode']);
    expect(mode).toMatch(/audit|redact/);
  });

  it('keeps status in a subresource: a spec write cannot set it', async () => {
    const doc = policy('status-probe', {}) as Record<string, unknown>;
    doc.status = { observedGeneration: 99 };
    await kubectlOk(['apply', '-f', '-'], JSON.stringify(doc));
    const stored = JSON.parse(await kubectlOk(['get', 'gp', 'status-probe', '-n', NS, '-o', 'json'])) as { status?: unknown };
    expect(stored.status).toBeUndefined();
  });
});

describe('the examples are valid for the offline validator too', () => {
  it('validates every document', async () => {
    const dir = join(PROJECT_ROOT, 'examples', 'policies');
    for (const file of await readdir(dir)) {
      for (const doc of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) {
        expect(validatePolicy(doc.toJSON()).errors).toEqual([]);
      }
    }
  });
});
