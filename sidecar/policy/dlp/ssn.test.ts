import { describe, expect, it } from 'vitest';
import { createSsn, validSsn } from './ssn.js';
import { matches } from './testing.js';

const dashed = createSsn({ undashed: false });
const eager = createSsn({ undashed: true });

describe('ssn', () => {
  it.each([
    ['SSN 123-45-6789.', ['123-45-6789']],
    ['ssn: 078-05-1120', ['078-05-1120']],
    ['spaced 123 45 6789 too', ['123 45 6789']],
    ['two: 123-45-6789, 234-56-7890', ['123-45-6789', '234-56-7890']],
    ['(665-12-3456)', ['665-12-3456']],
  ])('finds %j', (text, want) => {
    expect(matches(dashed, text)).toEqual(want);
  });

  it.each([
    ['area 000', '000-12-3456'],
    ['area 666', '666-12-3456'],
    ['area 900', '900-12-3456'],
    ['area 999', '999-12-3456'],
    ['group 00', '123-00-4567'],
    ['serial 0000', '123-45-0000'],
    ['longer serial', '123-45-67890'],
    ['chained before', '1-123-45-6789'],
    ['chained after', '123-45-6789-1'],
    ['inside a word', 'id123-45-6789'],
    ['mixed separators', '123-45 6789'],
    ['a date', '2024-01-15 and 1999-12-31'],
    ['a phone number', '415-555-2671'],
  ])('rejects %s', (_why, text) => {
    expect(matches(eager, text)).toEqual([]);
  });

  it('takes nine bare digits only when eager (high sensitivity)', () => {
    expect(matches(dashed, 'ssn 123456789')).toEqual([]);
    expect(matches(eager, 'ssn 123456789')).toEqual(['123456789']);
    expect(matches(eager, 'ssn 666456789, 1234567890, 12345678')).toEqual([]);
  });

  it('validates areas, groups and serials', () => {
    expect(validSsn('123456789')).toBe(true);
    expect(['000123456', '666123456', '912345678', '123004567', '123450000', '12345678', 'abcdefghi'].map(validSsn)).toEqual(Array(7).fill(false));
  });
});
