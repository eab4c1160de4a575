import { describe, expect, it } from 'vitest';
import { isKnownTimeZone, nonLinearRegexFeature, validatePolicy } from './index.js';

const errorsOf = (spec: unknown) =>
  validatePolicy({ apiVersion: 'chaperone.dev/v1alpha1', kind: 'GovernancePolicy', metadata: { name: 'p' }, spec }).errors;

const custom = (pattern: string, name = 'x') => ({ dlp: { custom: [{ name, pattern }] } });
const rule = (match: string) => ({ egress: { rules: [{ match, action: 'deny' }] } });
const expr = (operator: string, values?: string[]) => ({ podSelector: { matchExpressions: [{ key: 'k', operator, values }] } });

describe('semantic rules', () => {
  const linear = '(custom patterns must run in linear time)';
  const cases: Array<[string, unknown, string[]]> = [
    // schedule
    ['hours crossing midnight', { schedule: { hours: { start: '22:00', end: '06:00' } } }, []],
    ['hours 00:00-23:59', { schedule: { hours: { start: '00:00', end: '23:59' } } }, []],
    ['empty hours window', { schedule: { hours: { start: '08:00', end: '08:00' } } }, ['spec.schedule.hours: start and end must differ (omit hours to allow the whole day)']],
    ['known time zone', { schedule: { timezone: 'Europe/Berlin' } }, []],
    ['unknown time zone', { schedule: { timezone: 'Mars/Base' } }, ['spec.schedule.timezone: unknown time zone "Mars/Base"']],
    ['rule schedule time zone', { egress: { rules: [{ match: 'a.com', action: 'deny', schedule: { timezone: 'Nowhere/City' } }] } }, ['spec.egress.rules[0].schedule.timezone: unknown time zone "Nowhere/City"']],
    // tools
    ['permitted and forbidden', { tools: { agents: [{ name: 'r', permitted: ['web_search', 'shell_exec'], forbidden: ['shell_exec', 'shell_exec'] }] } }, ['spec.tools.agents[0]: "shell_exec" is both permitted and forbidden']],
    ['disjoint tool lists', { tools: { agents: [{ name: 'r', permitted: ['a'], forbidden: ['b'] }] } }, []],
    // DLP custom patterns
    ['plain pattern', custom('EMP-[0-9]{6}'), []],
    ['unicode property', custom('\\p{Lu}{3}-\\d+'), []],
    ['named group is fine', custom('(?<id>EMP)-\\d+'), []],
    ['escaped backslash then digit', custom('a\\\\1'), []],
    ['lookahead chars in a class', custom('[(?=!]+x'), []],
    ['backreference', custom('(a)\\1'), [`spec.dlp.custom[0].pattern: backreference \\1 is not allowed ${linear}`]],
    ['backreference 9', custom('(a)(b)(c)(d)(e)(f)(g)(h)(i)\\9'), [`spec.dlp.custom[0].pattern: backreference \\9 is not allowed ${linear}`]],
    ['named backreference', custom('(?<q>a)\\k<q>'), [`spec.dlp.custom[0].pattern: named backreference \\k<...> is not allowed ${linear}`]],
    ['lookahead', custom('a(?=b)'), [`spec.dlp.custom[0].pattern: lookahead (?= is not allowed ${linear}`]],
    ['negative lookahead', custom('a(?!b)'), [`spec.dlp.custom[0].pattern: negative lookahead (?! is not allowed ${linear}`]],
    ['lookbehind', custom('(?<=a)b'), [`spec.dlp.custom[0].pattern: lookbehind (?<= is not allowed ${linear}`]],
    ['negative lookbehind', custom('(?<!a)b'), [`spec.dlp.custom[0].pattern: negative lookbehind (?<! is not allowed ${linear}`]],
    ['does not compile', custom('(EMP'), [expect.stringMatching(/^spec\.dlp\.custom\[0\]\.pattern: invalid regular expression: .*Unterminated group/)]],
    ['needs the u flag', custom('EMP\\-1'), [expect.stringMatching(/^spec\.dlp\.custom\[0\]\.pattern: invalid regular expression: /)]],
    ['matches empty', custom('[0-9]*'), ['spec.dlp.custom[0].pattern: must not match the empty string']],
    ['built-in name', custom('x+', 'email'), ['spec.dlp.custom[0].name: "email" is a built-in detector; choose another name']],
    // egress match globs
    ['match host', rule('api.openai.com'), []],
    ['match wildcard host and path', rule('*.example.com/v1/*'), []],
    ['match everything', rule('*'), []],
    ['match ip', rule('10.0.0.1/*'), []],
    ['match with scheme', rule('https://api.openai.com/*'), ['spec.egress.rules[0].match: must not include a scheme (write "host/path", got "https://api.openai.com/*")']],
    ['match path only', rule('/v1/*'), ['spec.egress.rules[0].match: must start with a host, e.g. "*.example.com/v1/*" (got "/v1/*")']],
    ['match with space', rule('api.openai.com /v1'), ['spec.egress.rules[0].match: must not contain whitespace (got "api.openai.com /v1")']],
    ['match with port', rule('api.openai.com:443'), ["spec.egress.rules[0].match: host \"api.openai.com:443\" may only contain lowercase letters, digits, '-', '.' and '*' (form: host[/path])"]],
    ['match upper case', rule('API.openai.com'), ["spec.egress.rules[0].match: host \"API.openai.com\" may only contain lowercase letters, digits, '-', '.' and '*' (form: host[/path])"]],
    // podSelector expressions
    ['In with values', expr('In', ['a']), []],
    ['NotIn with values', expr('NotIn', ['a', 'b']), []],
    ['Exists without values', expr('Exists'), []],
    ['DoesNotExist with empty values', expr('DoesNotExist', []), []],
    ['In without values', expr('In'), ['spec.podSelector.matchExpressions[0].values: must be non-empty when operator is In']],
    ['NotIn with empty values', expr('NotIn', []), ['spec.podSelector.matchExpressions[0].values: must be non-empty when operator is NotIn']],
    ['Exists with values', expr('Exists', ['a']), ['spec.podSelector.matchExpressions[0].values: must be empty when operator is Exists']],
    ['DoesNotExist with values', expr('DoesNotExist', ['a']), ['spec.podSelector.matchExpressions[0].values: must be empty when operator is DoesNotExist']],
  ];
  it.each(cases)('%s', (_name, spec, expected) => {
    expect(errorsOf(spec)).toEqual(expected);
  });

  it('checks every list item and reports all problems', () => {
    expect(errorsOf({
      egress: { rules: [{ match: 'ok.com', action: 'allow' }, { match: 'http://x', action: 'deny' }] },
      tools: { agents: [{ name: 'a' }, { name: 'b', permitted: ['t'], forbidden: ['t'] }] },
      dlp: { custom: [{ name: 'fine', pattern: 'x' }, { name: 'bad', pattern: '(?=x)' }] },
    })).toEqual([
      'spec.egress.rules[1].match: must not include a scheme (write "host/path", got "http://x")',
      'spec.tools.agents[1]: "t" is both permitted and forbidden',
      'spec.dlp.custom[1].pattern: lookahead (?= is not allowed (custom patterns must run in linear time)',
    ]);
  });

  it('nonLinearRegexFeature and isKnownTimeZone work standalone', () => {
    expect(nonLinearRegexFeature('[\\]](?!x)')).toBe('negative lookahead (?!');
    expect(nonLinearRegexFeature('[\\1]')).toBeUndefined(); // inside a class: left to the compiler
    expect(isKnownTimeZone('UTC')).toBe(true);
    expect(isKnownTimeZone('Mars/Base')).toBe(false);
  });
});
