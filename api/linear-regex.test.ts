import { describe, expect, it } from 'vitest';
import { validatePolicy } from './index.js';

const withPattern = (pattern: string) =>
  validatePolicy({ apiVersion: 'chaperone.dev/v1alpha1', kind: 'GovernancePolicy', metadata: { name: 'p' }, spec: { dlp: { custom: [{ name: 'x', pattern }] } } }).errors;

describe('custom DLP patterns run in linear time', () => {
  it('accepts what re2js can run', () => {
    expect(withPattern('EMP-[0-9]{6}')).toEqual([]);
    expect(withPattern('(a|aa)*b')).toEqual([]);
  });
  it('rejects JavaScript-only forms with the field named', () => {
    expect(withPattern('\\p{Script=Latin}+')).toEqual([expect.stringMatching(/^spec\.dlp\.custom\[0\]\.pattern: cannot run in linear time/)]);
  });
  it('finishes a classic catastrophic case quickly', async () => {
    const { compileLinearPattern } = await import('./linear-regex.js');
    const started = Date.now();
    expect(compileLinearPattern('(a|aa)*b').test('a'.repeat(50_000))).toBe(false);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
