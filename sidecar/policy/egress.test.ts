import { describe, expect, it } from 'vitest';
import { type EgressSpec } from '../../api/index.js';
import type { Call } from '../call.js';
import { egressCheck, firstMatchingRule } from './egress.js';
import { Pipeline } from './pipeline.js';
import { testCall, testPolicy } from './testing.js';

const policy = testPolicy;

const call = (host: string, path = '/v1/chat/completions', extra: Partial<Call> = {}): Call => testCall({ host, path, ...extra });
const tunnel = (host: string): Call => call(host, '', { method: 'CONNECT', operation: 'tunnel', provider: 'unknown' });

const SPEC: EgressSpec = {
  defaultAction: 'deny',
  rules: [
    { match: '*.internal.example.com/*', action: 'deny', reason: 'internal APIs are off limits' },
    { match: 'api.openai.com/v1/files*', action: 'deny' },
    { match: 'api.openai.com/v1/*', action: 'allow' },
    { match: 'api.anthropic.com', action: 'log' },
    { match: 'github.com/acme/*', action: 'allow' },
    { match: 'github.com', action: 'deny' },
  ],
};

describe('firstMatchingRule', () => {
  it.each<[string, string, number | undefined]>([
    ['a.internal.example.com', '/x', 0],
    ['A.Internal.Example.COM', '/x', 0], // hosts ignore case
    ['internal.example.com', '/x', undefined], // *. needs a label
    ['api.openai.com', '/v1/files', 1],
    ['api.openai.com', '/v1/files/abc', 1],
    ['api.openai.com', '/v1/chat/completions', 2], // first match wins: not the files rule
    ['api.openai.com', '/v1/chat/completions?x=/v1/files', 2], // the query is not the path
    ['api.openai.com', '/v2/chat', undefined],
    ['api.anthropic.com', '/v1/messages', 3], // no path part: any path
    ['github.com', '/acme/repo', 4],
    ['github.com', '/other/repo', 5],
    ['example.org', '/', undefined],
  ])('%s %s → rule %s', (host, path, want) => {
    expect(firstMatchingRule(SPEC, host, path)?.index).toBe(want);
  });

  it.each<[string, number | undefined]>([
    ['a.internal.example.com', 0], // "/*" covers every path: judged by host
    ['api.openai.com', undefined], // both openai rules have narrower paths: skipped
    ['api.anthropic.com', 3],
    ['github.com', 5], // the /acme/* rule cannot be decided by host: the host-only rule decides
  ])('tunnel to %s → rule %s', (host, want) => {
    expect(firstMatchingRule(SPEC, host, '')?.index).toBe(want);
    expect(firstMatchingRule(SPEC, host, undefined)?.index).toBe(want);
  });

  // Host globs (api/host-glob.ts): a leading `*.` holds at any depth, so one more label does not slip
  // past a deny rule; any other `*` stays in its label, so an allow rule opens no one else's domain.
  it.each<[string, number | undefined]>([
    ['a.b.internal.example.com', 0],
    ['api.eu.example.com', 1],
    ['api.eu.example.com.evil.net', undefined],
    ['api.a.b.example.com', undefined],
    ['api.openai.com', 2],
    ['api.openai.com.evil.net', undefined],
  ])('host globs: %s → rule %s', (host, want) => {
    const spec: EgressSpec = {
      rules: [{ match: '*.internal.example.com', action: 'deny' }, { match: 'api.*.example.com/v1/*', action: 'allow' }, { match: 'api.openai.*', action: 'allow' }],
    };
    expect(firstMatchingRule(spec, host, '/v1/x')?.index).toBe(want);
  });

  it('host glob `*` alone fits every host', () => {
    expect(firstMatchingRule({ rules: [{ match: '*', action: 'log' }] }, 'any.host.at.all', '/')?.index).toBe(0);
    expect(firstMatchingRule({ rules: [{ match: '*/v1/*', action: 'log' }] }, 'localhost', '/v1/x')?.index).toBe(0);
  });

  it('tolerates a spec without rules', () => {
    expect(firstMatchingRule({}, 'x.com', '/')).toBeUndefined();
  });

  it('reads a trailing slash (kept only for hosts not intercepted) as the same path', () => {
    const spec: EgressSpec = { rules: [{ match: 'plain.example.test/admin', action: 'deny' }, { match: 'plain.example.test/dir/', action: 'log' }] };
    expect(firstMatchingRule(spec, 'plain.example.test', '/admin')?.index).toBe(0);
    expect(firstMatchingRule(spec, 'plain.example.test', '/admin/')?.index).toBe(0);
    expect(firstMatchingRule(spec, 'plain.example.test', '/admin/?x=1')?.index).toBe(0);
    expect(firstMatchingRule(spec, 'plain.example.test', '/dir/')?.index).toBe(1);
    expect(firstMatchingRule(spec, 'plain.example.test', '/admin/x')).toBeUndefined();
    expect(firstMatchingRule(SPEC, 'api.openai.com', '/v1/files/')?.index).toBe(1);
  });
});

describe('egressCheck', () => {
  let now = new Date('2024-01-15T12:00:00Z'); // Monday noon UTC
  const pipeline = new Pipeline([egressCheck], () => now);
  const run = (spec: object, c: Call) => pipeline.evaluateRequest(c, [policy({ egress: spec })]).final;

  it.each<[string, Call, object]>([
    ['deny rule with its reason', call('x.internal.example.com'), { decision: 'deny', rule: 'egress', policy: 'ns/p', reason: 'internal APIs are off limits' }],
    ['deny rule without a reason', call('api.openai.com', '/v1/files'), { decision: 'deny', rule: 'egress', reason: 'egress to api.openai.com is denied by rule 2' }],
    ['allow rule', call('api.openai.com'), { decision: 'allow' }],
    ['log rule: allowed, recorded', call('api.anthropic.com', '/v1/messages'), { decision: 'audit', rule: 'egress', policy: 'ns/p', reason: 'egress to api.anthropic.com is logged by rule 4' }],
    ['default deny', call('example.org', '/'), { decision: 'deny', rule: 'egress', reason: 'egress to example.org is denied by default' }],
    ['tunnel judged by a host-wide rule', tunnel('x.internal.example.com'), { decision: 'deny', rule: 'egress' }],
    ['tunnel skips path rules, falls to default', tunnel('api.openai.com'), { decision: 'deny', reason: 'egress to api.openai.com is denied by default' }],
    ['tunnel to a logged host', tunnel('api.anthropic.com'), { decision: 'audit', rule: 'egress' }],
  ])('%s', (_name, c, want) => {
    expect(run(SPEC, c)).toMatchObject(want);
  });

  it('applies defaultAction allow and log', () => {
    expect(run({ defaultAction: 'allow' }, call('example.org')).decision).toBe('allow');
    expect(run({}, call('example.org')).decision).toBe('allow'); // schema default
    expect(run({ defaultAction: 'log' }, call('example.org'))).toMatchObject({ decision: 'audit', rule: 'egress', reason: 'egress to example.org is logged by default' });
  });

  it('turns a deny into an audit note in audit mode', () => {
    expect(run({ ...SPEC, mode: 'audit' }, call('example.org'))).toMatchObject({ decision: 'audit', rule: 'egress' });
  });

  describe('rule schedules', () => {
    const spec = {
      defaultAction: 'allow',
      rules: [
        { match: 'api.openai.com', action: 'allow', schedule: { days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], hours: { start: '08:00', end: '18:00' } } },
        { match: 'files.example.com', action: 'deny', schedule: { hours: { start: '00:00', end: '06:00' } } },
        { match: 'files.example.com', action: 'log' },
        { match: 'soft.example.com', action: 'allow', schedule: { mode: 'audit', hours: { start: '08:00', end: '09:00' } } },
      ],
    };
    it('allows an allow rule inside its schedule', () => {
      now = new Date('2024-01-15T12:00:00Z');
      expect(run(spec, call('api.openai.com')).decision).toBe('allow');
    });
    it('denies an allow rule outside its schedule, under rule schedule', () => {
      now = new Date('2024-01-13T12:00:00Z'); // Saturday
      expect(run(spec, call('api.openai.com'))).toEqual({
        decision: 'deny', rule: 'schedule', policy: 'ns/p', reason: 'outside the allowed schedule for egress to api.openai.com (Mon-Fri 08:00-18:00 UTC)',
      });
    });
    it('keeps a deny rule in force only inside its schedule', () => {
      now = new Date('2024-01-15T03:00:00Z');
      expect(run(spec, call('files.example.com')).decision).toBe('deny');
      now = new Date('2024-01-15T12:00:00Z');
      expect(run(spec, call('files.example.com'))).toMatchObject({ decision: 'audit', reason: 'egress to files.example.com is logged by rule 3' });
    });
    it('honours a mode on the rule schedule', () => {
      now = new Date('2024-01-15T12:00:00Z');
      expect(run(spec, call('soft.example.com'))).toMatchObject({ decision: 'audit', rule: 'schedule' });
    });
  });
});
