import { describe, expect, it } from 'vitest';
import { goUnquote, parseDownwardApiLabels, selectorMatches, type LabelSelector } from './index.js';

describe('selectorMatches', () => {
  const pod = { app: 'researcher', tier: 'gold', 'app.kubernetes.io/part-of': 'agents' };
  const cases: Array<[string, LabelSelector | undefined, Record<string, string>, boolean]> = [
    ['absent selector', undefined, pod, true],
    ['empty selector', {}, pod, true],
    ['empty selector, unlabelled pod', {}, {}, true],
    ['empty lists', { matchLabels: {}, matchExpressions: [] }, pod, true],
    ['matchLabels equal', { matchLabels: { app: 'researcher' } }, pod, true],
    ['matchLabels all must match', { matchLabels: { app: 'researcher', tier: 'silver' } }, pod, false],
    ['matchLabels missing label', { matchLabels: { team: 'x' } }, pod, false],
    ['matchLabels empty value vs missing', { matchLabels: { team: '' } }, pod, false],
    ['matchLabels empty value present', { matchLabels: { team: '' } }, { team: '' }, true],
    ['In', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['gold', 'silver'] }] }, pod, true],
    ['In, other value', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['bronze'] }] }, pod, false],
    ['In, label missing', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, pod, false],
    ['NotIn', { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['bronze'] }] }, pod, true],
    ['NotIn, value listed', { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['gold'] }] }, pod, false],
    ['NotIn, label missing', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, pod, true],
    ['Exists', { matchExpressions: [{ key: 'app.kubernetes.io/part-of', operator: 'Exists' }] }, pod, true],
    ['Exists, missing', { matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, pod, false],
    ['DoesNotExist', { matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, pod, true],
    ['DoesNotExist, present', { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, pod, false],
    ['combo, all hold', {
      matchLabels: { app: 'researcher' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['gold'] },
        { key: 'legacy', operator: 'DoesNotExist' },
        { key: 'tier', operator: 'NotIn', values: ['bronze'] },
      ],
    }, pod, true],
    ['combo, one expression fails', {
      matchLabels: { app: 'researcher' },
      matchExpressions: [{ key: 'tier', operator: 'Exists' }, { key: 'app', operator: 'NotIn', values: ['researcher'] }],
    }, pod, false],
    ['combo, labels fail', { matchLabels: { app: 'writer' }, matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, pod, false],
    ['unknown operator selects nothing', { matchExpressions: [{ key: 'app', operator: 'Has' as 'In' }] }, pod, false],
  ];
  it.each(cases)('%s', (_name, selector, labels, expected) => {
    expect(selectorMatches(selector, labels)).toBe(expected);
  });
});

describe('parseDownwardApiLabels', () => {
  it('parses the kubelet format with Go escapes', () => {
    const text = [
      'app="researcher"',
      'app.kubernetes.io/name="chaperone"',
      'chaperone.dev/agent="say \\"hi\\""',
      'path="C:\\\\tmp"',
      'multi="line1\\nline2\\ttab"',
      'unicode="café ü 😀"',
      'escaped="caf\\u00e9 \\xc3\\xa9 \\U0001F600 \\101"',
      'empty=""',
      '',
    ].join('\n');
    expect(parseDownwardApiLabels(text)).toEqual({
      app: 'researcher',
      'app.kubernetes.io/name': 'chaperone',
      'chaperone.dev/agent': 'say "hi"',
      path: 'C:\\tmp',
      multi: 'line1\nline2\ttab',
      unicode: 'café ü 😀',
      escaped: 'café é 😀 A',
      empty: '',
    });
  });

  it('handles CRLF and skips malformed lines', () => {
    expect(parseDownwardApiLabels('a="1"\r\nnot a label\nb=unquoted\nc="open\n="x"\nd="bad \\q escape"\ne="2"')).toEqual({ a: '1', e: '2' });
  });

  it('goUnquote rejects what Go would', () => {
    expect(goUnquote('"a"b"')).toBeUndefined();
    expect(goUnquote('"\\x4"')).toBeUndefined();
    expect(goUnquote('"trailing\\"')).toBeUndefined();
    expect(goUnquote('"\\a\\b\\f\\v"')).toBe('\x07\b\f\v');
  });
});
