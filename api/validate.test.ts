import { describe, expect, it } from 'vitest';
import { effectiveDlpMode, effectiveMode, policyKey, validatePolicy } from './index.js';

const policy = (spec: unknown, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'chaperone.dev/v1alpha1',
  kind: 'GovernancePolicy',
  metadata: { name: 'p', namespace: 'agents' },
  spec,
  ...extra,
});

const validRule = { match: 'api.openai.com/*', action: 'allow' };

describe('validatePolicy: defaults', () => {
  it('fills spec.mode and namespace, and leaves absent sections absent', () => {
    const { policy: p, errors } = validatePolicy({ apiVersion: 'chaperone.dev/v1alpha1', kind: 'GovernancePolicy', metadata: { name: 'p' } });
    expect(errors).toEqual([]);
    expect(p).toEqual({
      apiVersion: 'chaperone.dev/v1alpha1', kind: 'GovernancePolicy',
      metadata: { name: 'p', namespace: 'default' },
      spec: { mode: 'enforce' },
    });
  });

  it('fills defaults inside present sections only', () => {
    const { policy: p, errors } = validatePolicy(policy({
      podSelector: {}, intercept: {}, egress: { rules: [{ ...validRule, schedule: {} }] }, schedule: {}, tools: {},
      rateLimits: {}, dlp: {}, approvals: {}, budget: {}, circuitBreaker: {},
    }));
    expect(errors).toEqual([]);
    expect(p?.spec).toEqual({
      mode: 'enforce',
      podSelector: {},
      intercept: {},
      egress: { defaultAction: 'allow', rules: [{ ...validRule, schedule: { timezone: 'UTC' } }] },
      schedule: { timezone: 'UTC' },
      tools: { defaultAction: 'allow', stripForbidden: false },
      rateLimits: {},
      dlp: { sensitivity: 'medium', scanResponses: false },
      approvals: { timeoutSeconds: 1800, timeoutAction: 'reject' },
      budget: {},
      circuitBreaker: { failureThreshold: 5, windowSeconds: 60, recoverySeconds: 30 },
    });
  });

  it('treats null (an empty YAML value) as absent', () => {
    const { policy: p, errors } = validatePolicy(policy({ dlp: null, tools: { defaultAction: null } }));
    expect(errors).toEqual([]);
    expect(p?.spec).toEqual({ mode: 'enforce', tools: { defaultAction: 'allow', stripForbidden: false } });
  });

  it('does not modify its input', () => {
    const input = policy({ dlp: {} });
    const before = structuredClone(input);
    validatePolicy(input);
    expect(input).toEqual(before);
  });

  it('drops metadata fields it does not model and keeps status unvalidated', () => {
    const { policy: p, errors } = validatePolicy(policy({}, {
      metadata: { name: 'p', namespace: 'agents', resourceVersion: '12', managedFields: [] },
      status: { observedGeneration: 1, anything: true },
    }));
    expect(errors).toEqual([]);
    expect(p?.metadata).toEqual({ name: 'p', namespace: 'agents' });
    expect(p?.status).toEqual({ observedGeneration: 1, anything: true });
  });
});

describe('validatePolicy: schema errors name the field', () => {
  const cases: Array<[string, unknown, string]> = [
    ['spec enum', { mode: 'block' }, 'spec.mode: must be one of enforce, audit, off'],
    ['dlp mode enum', { dlp: { mode: 'block' } }, 'spec.dlp.mode: must be one of audit, enforce, redact, off'],
    ['section mode enum', { egress: { mode: 'redact' } }, 'spec.egress.mode: must be one of enforce, audit, off'],
    ['egress default action', { egress: { defaultAction: 'block' } }, 'spec.egress.defaultAction: must be one of allow, deny, log'],
    ['rule match required', { egress: { rules: [validRule, validRule, { action: 'deny' }] } }, 'spec.egress.rules[2].match: required'],
    ['rule action required', { egress: { rules: [{ match: 'a.com' }] } }, 'spec.egress.rules[0].action: required'],
    ['rule action enum', { egress: { rules: [{ match: 'a.com', action: 'block' }] } }, 'spec.egress.rules[0].action: must be one of allow, deny, log'],
    ['rule match empty', { egress: { rules: [{ match: '', action: 'deny' }] } }, 'spec.egress.rules[0].match: must not be empty'],
    ['rule rate limit bound', { egress: { rules: [{ ...validRule, rateLimit: { requestsPerMinute: 0 } }] } }, 'spec.egress.rules[0].rateLimit.requestsPerMinute: must be >= 1'],
    ['rule rate limit integer', { egress: { rules: [{ ...validRule, rateLimit: { tokensPerMinute: 1.5 } }] } }, 'spec.egress.rules[0].rateLimit.tokensPerMinute: must be an integer (got number 1.5)'],
    ['rule schedule day', { egress: { rules: [{ ...validRule, schedule: { days: ['Sun', 'Xyz'] } }] } }, 'spec.egress.rules[0].schedule.days[1]: must be one of Mon, Tue, Wed, Thu, Fri, Sat, Sun'],
    ['rules not a list', { egress: { rules: validRule } }, 'spec.egress.rules: must be a list (got object)'],
    ['day enum', { schedule: { days: ['Mon', 'Funday'] } }, 'spec.schedule.days[1]: must be one of Mon, Tue, Wed, Thu, Fri, Sat, Sun'],
    ['days unique', { schedule: { days: ['Mon', 'Tue', 'Mon'] } }, 'spec.schedule.days[2]: duplicate value "Mon"'],
    ['hours end required', { schedule: { hours: { start: '08:00' } } }, 'spec.schedule.hours.end: required'],
    ['hours 24:00', { schedule: { hours: { start: '24:00', end: '08:00' } } }, 'spec.schedule.hours.start: must be "HH:MM" between 00:00 and 23:59 (got "24:00")'],
    ['hours H:MM', { schedule: { hours: { start: '07:00', end: '8:00' } } }, 'spec.schedule.hours.end: must be "HH:MM" between 00:00 and 23:59 (got "8:00")'],
    ['hours minutes', { schedule: { hours: { start: '07:60', end: '08:00' } } }, 'spec.schedule.hours.start: must be "HH:MM" between 00:00 and 23:59 (got "07:60")'],
    ['hours as number', { schedule: { hours: { start: 800, end: '09:00' } } }, 'spec.schedule.hours.start: must be a string (got number 800)'],
    ['timezone empty', { schedule: { timezone: '' } }, 'spec.schedule.timezone: must not be empty'],
    ['tools agent name required', { tools: { agents: [{ permitted: ['a'] }] } }, 'spec.tools.agents[0].name: required'],
    ['tools agents unique', { tools: { agents: [{ name: 'a' }, { name: 'b' }, { name: 'a' }] } }, 'spec.tools.agents[2].name: duplicate value "a"'],
    ['tools default action', { tools: { defaultAction: 'log' } }, 'spec.tools.defaultAction: must be one of allow, deny'],
    ['tools strip boolean', { tools: { stripForbidden: 'yes' } }, 'spec.tools.stripForbidden: must be a boolean (got string)'],
    ['tools empty name', { tools: { agents: [{ name: 'a', permitted: [''] }] } }, 'spec.tools.agents[0].permitted[0]: must not be empty'],
    ['rate limit bound', { rateLimits: { tokensPerMinute: 0 } }, 'spec.rateLimits.tokensPerMinute: must be >= 1'],
    ['rate limit agents unique', { rateLimits: { agents: [{ name: 'w' }, { name: 'w' }] } }, 'spec.rateLimits.agents[1].name: duplicate value "w"'],
    ['rate limit agent name', { rateLimits: { agents: [{ requestsPerMinute: 3 }] } }, 'spec.rateLimits.agents[0].name: required'],
    ['dlp sensitivity', { dlp: { sensitivity: 'extreme' } }, 'spec.dlp.sensitivity: must be one of low, medium, high'],
    ['dlp detector enum', { dlp: { detectors: ['ssn', 'passport'] } }, 'spec.dlp.detectors[1]: must be one of ssn, credit_card, email, phone, iban, aws_access_key, api_key, private_key, jwt'],
    ['dlp detectors unique', { dlp: { detectors: ['ssn', 'ssn'] } }, 'spec.dlp.detectors[1]: duplicate value "ssn"'],
    ['dlp custom pattern required', { dlp: { custom: [{ name: 'x' }] } }, 'spec.dlp.custom[0].pattern: required'],
    ['dlp custom name form', { dlp: { custom: [{ name: 'Employee-ID', pattern: 'E' }] } }, 'spec.dlp.custom[0].name: must be a lowercase identifier (a-z, 0-9 and _, starting with a letter) (got "Employee-ID")'],
    ['dlp custom unique', { dlp: { custom: [{ name: 'x', pattern: 'a' }, { name: 'x', pattern: 'b' }] } }, 'spec.dlp.custom[1].name: duplicate value "x"'],
    ['dlp scanResponses', { dlp: { scanResponses: 1 } }, 'spec.dlp.scanResponses: must be a boolean (got number 1)'],
    ['approvals lower bound', { approvals: { timeoutSeconds: 0 } }, 'spec.approvals.timeoutSeconds: must be >= 1'],
    ['approvals upper bound', { approvals: { timeoutSeconds: 86401 } }, 'spec.approvals.timeoutSeconds: must be <= 86400'],
    ['approvals timeout action', { approvals: { timeoutAction: 'allow' } }, 'spec.approvals.timeoutAction: must be one of reject, approve'],
    ['approvals tools list', { approvals: { tools: 'send_email' } }, 'spec.approvals.tools: must be a list (got string)'],
    ['budget > 0', { budget: { maxCostPerRequestUSD: 0 } }, 'spec.budget.maxCostPerRequestUSD: must be > 0'],
    ['budget per day > 0', { budget: { maxCostPerAgentPerDayUSD: -1 } }, 'spec.budget.maxCostPerAgentPerDayUSD: must be > 0'],
    ['budget infinite', { budget: { maxCostPerSessionUSD: Infinity } }, 'spec.budget.maxCostPerSessionUSD: must be a number (got Infinity)'],
    ['pricing required', { budget: { pricing: [{ model: 'm', outputPerMTokUSD: 1 }] } }, 'spec.budget.pricing[0].inputPerMTokUSD: required'],
    ['pricing >= 0', { budget: { pricing: [{ model: 'm', inputPerMTokUSD: -1, outputPerMTokUSD: 1 }] } }, 'spec.budget.pricing[0].inputPerMTokUSD: must be >= 0'],
    ['pricing unique', { budget: { pricing: [{ model: 'm', inputPerMTokUSD: 0, outputPerMTokUSD: 0 }, { model: 'm', inputPerMTokUSD: 1, outputPerMTokUSD: 1 }] } }, 'spec.budget.pricing[1].model: duplicate value "m"'],
    ['circuit breaker bound', { circuitBreaker: { failureThreshold: 0 } }, 'spec.circuitBreaker.failureThreshold: must be >= 1'],
    ['circuit breaker integer', { circuitBreaker: { windowSeconds: '60' } }, 'spec.circuitBreaker.windowSeconds: must be an integer (got string)'],
    ['intercept host form', { intercept: { hosts: ['https://x.com'] } }, 'spec.intercept.hosts[0]: must be a lowercase host name, optionally starting with "*." (got "https://x.com")'],
    ['intercept hosts list', { intercept: { hosts: 'x.com' } }, 'spec.intercept.hosts: must be a list (got string)'],
    ['matchLabels value', { podSelector: { matchLabels: { app: 1 } } }, 'spec.podSelector.matchLabels.app: must be a string (got number 1)'],
    ['matchLabels dotted key', { podSelector: { matchLabels: { 'app.kubernetes.io/name': true } } }, 'spec.podSelector.matchLabels["app.kubernetes.io/name"]: must be a string (got boolean)'],
    ['selector operator', { podSelector: { matchExpressions: [{ key: 'a', operator: 'Has' }] } }, 'spec.podSelector.matchExpressions[0].operator: must be one of In, NotIn, Exists, DoesNotExist'],
    ['selector key', { podSelector: { matchExpressions: [{ operator: 'Exists' }] } }, 'spec.podSelector.matchExpressions[0].key: required'],
    ['unknown spec field', { foo: 1 }, 'spec.foo: unknown field'],
    ['unknown field with hint', { dlp: { detector: ['ssn'] } }, 'spec.dlp.detector: unknown field (did you mean "detectors"?)'],
    ['unknown field named like an Object method', { tools: { constructor: 1 } }, 'spec.tools.constructor: unknown field'],
    ['unknown rule field', { egress: { rules: [{ ...validRule, host: 'x' }] } }, 'spec.egress.rules[0].host: unknown field'],
    ['section not an object', { tools: 'none' }, 'spec.tools: must be an object (got string)'],
    ['spec not an object', [], 'spec: must be an object (got list)'],
  ];
  it.each(cases)('%s', (_name, spec, expected) => {
    const { policy: p, errors } = validatePolicy(policy(spec));
    expect(errors).toEqual([expected]);
    expect(p).toBeUndefined();
  });

  it('reports every error, not just the first', () => {
    const { errors } = validatePolicy(policy({
      mode: 'x', dlp: { mode: 'y', custom: [{ name: 'a' }] }, egress: { rules: [{}] }, bogus: true,
    }));
    expect(errors).toEqual([
      'spec.mode: must be one of enforce, audit, off',
      'spec.egress.rules[0].match: required',
      'spec.egress.rules[0].action: required',
      'spec.dlp.mode: must be one of audit, enforce, redact, off',
      'spec.dlp.custom[0].pattern: required',
      'spec.bogus: unknown field',
    ]);
  });
});

describe('validatePolicy: envelope', () => {
  const base = { apiVersion: 'chaperone.dev/v1alpha1', kind: 'GovernancePolicy', metadata: { name: 'p' } };
  const cases: Array<[string, unknown, string]> = [
    ['not an object', 'hello', 'policy: must be an object (got string)'],
    ['apiVersion required', { ...base, apiVersion: undefined }, 'apiVersion: required'],
    ['apiVersion value', { ...base, apiVersion: 'chaperone.dev/v1' }, 'apiVersion: must be chaperone.dev/v1alpha1 (got "chaperone.dev/v1")'],
    ['kind value', { ...base, kind: 'Policy' }, 'kind: must be GovernancePolicy (got "Policy")'],
    ['metadata required', { ...base, metadata: undefined }, 'metadata.name: required'],
    ['name required', { ...base, metadata: { namespace: 'a' } }, 'metadata.name: required'],
    ['name DNS-1123', { ...base, metadata: { name: 'Bad_Name' } }, "metadata.name: must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters) (got \"Bad_Name\")"],
    ['namespace DNS-1123 label', { ...base, metadata: { name: 'p', namespace: 'a.b' } }, "metadata.namespace: must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters) (got \"a.b\")"],
    ['generation', { ...base, metadata: { name: 'p', generation: -1 } }, 'metadata.generation: must be a non-negative integer (got number -1)'],
    ['label value', { ...base, metadata: { name: 'p', labels: { 'a/b': 1 } } }, 'metadata.labels["a/b"]: must be a string (got number 1)'],
    ['unknown top-level field', { ...base, specs: {} }, 'specs: unknown field'],
  ];
  it.each(cases)('%s', (_name, obj, expected) => {
    expect(validatePolicy(obj).errors).toEqual([expected]);
  });

  it('accepts a dotted DNS-1123 subdomain name', () => {
    expect(validatePolicy({ ...base, metadata: { name: 'team-a.researcher' } }).errors).toEqual([]);
  });
});

describe('helpers', () => {
  it('policyKey is namespace/name', () => {
    expect(policyKey({ metadata: { name: 'p', namespace: 'agents' } })).toBe('agents/p');
    expect(policyKey({ metadata: { name: 'p' } })).toBe('default/p');
  });

  it('section modes inherit spec.mode; dlp maps it', () => {
    expect(effectiveMode({ mode: 'audit' }, 'egress')).toBe('audit');
    expect(effectiveMode({ mode: 'audit', egress: { mode: 'enforce' } }, 'egress')).toBe('enforce');
    expect(effectiveMode({}, 'tools')).toBe('enforce');
    expect(effectiveMode({ mode: 'off', tools: {} }, 'tools')).toBe('off');
    expect(effectiveMode({ mode: 'audit', dlp: { mode: 'redact' } }, 'dlp')).toBe('enforce'); // redact enforces
    expect(effectiveMode({ mode: 'off', dlp: {} }, 'dlp')).toBe('off');
    expect(effectiveDlpMode({ mode: 'off', dlp: {} })).toBe('off');
    expect(effectiveDlpMode({ mode: 'audit', dlp: { mode: 'redact' } })).toBe('redact');
  });
});
