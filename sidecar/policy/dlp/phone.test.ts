import { describe, expect, it } from 'vitest';
import { createPhone } from './phone.js';
import { matches } from './testing.js';

const phone = createPhone();

describe('phone', () => {
  it.each([
    '+1 415 555 2671',
    '+14155552671',
    '(415) 555-2671',
    '415-555-2671',
    '415.555.2671',
    '1 415 555 2671',
    '+44 20 7946 0958',
    '020 7946 0958',
    '07700 900123',
    '+33 1 23 45 67 89',
    '+49 (30) 901820',
  ])('finds %s', (number) => {
    expect(matches(phone, `call ${number} today`)).toEqual([number]);
  });

  it('gives back groups an international number does not need', () => {
    expect(matches(phone, 'call +1 415 555 2671 3943 times')).toEqual(['+1 415 555 2671']);
  });

  it.each([
    ['area code starting with 1', '123-456-7890'],
    ['exchange starting with 0', '415-055-2671'],
    ['bare digits', '4155552671'],
    ['a timestamp', '1700000000000'],
    ['a date', '2024-01-15'],
    ['chained', '415-555-2671-99'],
    ['too few digits after +', '+1 234'],
    ['a version', '1.22.3333.4444'],
  ])('rejects %s', (_why, text) => {
    expect(matches(phone, `x ${text} x`)).toEqual([]);
  });
});
