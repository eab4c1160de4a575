import { describe, expect, it } from 'vitest';
import { compileCustom, customPatternError } from './custom.js';
import { matches } from './testing.js';

describe('custom detectors (re2js)', () => {
  it('finds matches of a JavaScript-syntax pattern', () => {
    const d = compileCustom('employee_id', 'EMP-[0-9]{6}');
    expect(matches(d, 'EMP-123456 and EMP-654321, not EMP-12345')).toEqual(['EMP-123456', 'EMP-654321']);
    expect(d.name).toBe('employee_id');
  });

  it('understands JavaScript syntax: \\d, \\b, named groups, \\u{...}', () => {
    expect(matches(compileCustom('t', String.raw`\b(?<proj>[A-Z]{3,5})-\d{4}\b`), 'see ABC-1234, XABCDEF-1234 and AB-1234')).toEqual(['ABC-1234']);
    expect(matches(compileCustom('e', String.raw`\u{1F511}[a-z]+`), 'key 🔑secret')).toEqual(['🔑secret']);
  });

  it('reports UTF-16 offsets, like JavaScript strings', () => {
    const d = compileCustom('id', 'ID-[0-9]+');
    const text = 'héllo 😀 ID-42';
    expect(d.find(text)).toEqual([{ start: text.indexOf('ID'), end: text.length }]);
  });

  it('runs hostile patterns in linear time', () => {
    const input = 'a'.repeat(50_000);
    for (const pattern of ['(a|aa)*b', '(a+)+$', '(a*)*b', '(?:a|a)*c']) {
      const d = compileCustom('x', pattern);
      const t0 = performance.now();
      d.find(input);
      d.find(`${input}!`);
      expect(performance.now() - t0, pattern).toBeLessThan(1000);
    }
    // And when it does match, finding where is linear too.
    const t0 = performance.now();
    expect(compileCustom('x', '(a|aa)*b').find(`${input}b`)).toEqual([{ start: 0, end: 50_001 }]);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('refuses what re2js cannot run, with a reason', () => {
    expect(() => compileCustom('bad', '(a)\\1')).toThrow(/dlp custom detector bad/);
    expect(customPatternError(String.raw`\p{Script=Latin}+`)).toMatch(/invalid/);
    expect(customPatternError(String.raw`EMP-\d{6}`)).toBeUndefined();
  });
});
