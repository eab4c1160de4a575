import { describe, expect, it } from 'vitest';
import { createIban, validIban } from './iban.js';
import { matches } from './testing.js';

const iban = createIban();

describe('iban', () => {
  it.each([
    'DE89370400440532013000',
    'DE89 3704 0044 0532 0130 00',
    'GB82WEST12345698765432',
    'GB82 WEST 1234 5698 7654 32',
    'FR1420041010050500013M02606',
    'NL91ABNA0417164300',
    'NO9386011117947',
    'BE68539007547034',
    'CH9300762011623852957',
    'KZ86125KZT5004100100',
  ])('finds %s', (number) => {
    expect(matches(iban, `IBAN: ${number}.`)).toEqual([number]);
    expect(matches(iban, `"iban":"${number}"`)).toEqual([number]);
  });

  it.each([
    ['bad checksum', 'DE89370400440532013001'],
    ['bad check digits', 'DE88370400440532013000'],
    ['too short for the country', 'DE8937040044053201300'],
    ['too long for the country', 'DE893704004405320130001'],
    ['unknown country', 'XX89370400440532013000'],
    ['lower case', 'de89370400440532013000'],
    ['inside a word', 'ADE89370400440532013000'],
    ['odd grouping', 'DE893 70400 44053 20130 00'],
  ])('rejects %s', (_why, text) => {
    expect(matches(iban, `x ${text} x`)).toEqual([]);
  });

  it('validates', () => {
    expect(validIban('GB82WEST12345698765432')).toBe(true);
    expect(validIban('GB82WEST12345698765433')).toBe(false);
  });
});
