import { describe, expect, it } from 'vitest';
import { cardBrand, createCreditCard, luhn, validCard } from './credit-card.js';
import { matches, withLuhn } from './testing.js';

const cards = createCreditCard();

describe('credit_card', () => {
  it.each([
    ['visa', '4111111111111111'],
    ['visa', '4012888888881881'],
    ['visa 13', '4222222222222'],
    ['mastercard', '5555555555554444'],
    ['mastercard 2-series', '2223003122003222'],
    ['amex', '378282246310005'],
    ['amex', '371449635398431'],
    ['discover', '6011111111111117'],
    ['diners', '30569309025904'],
    ['jcb', '3530111333300000'],
    ['unionpay', '6200000000000005'],
  ])('finds a %s number', (_brand, number) => {
    expect(matches(cards, `card ${number} ok`)).toEqual([number]);
  });

  it.each([
    ['4111 1111 1111 1111'],
    ['4111-1111-1111-1111'],
    ['3782 822463 10005'],
  ])('finds grouped %j', (number) => {
    expect(matches(cards, `pay with ${number}, exp 12/27`)).toEqual([number]);
  });

  it('finds a card followed or preceded by other numbers', () => {
    expect(matches(cards, 'card 4111 1111 1111 1111 2027 cvv 123')).toEqual(['4111 1111 1111 1111']);
    expect(matches(cards, 'order 12 4111 1111 1111 1111')).toEqual(['4111 1111 1111 1111']);
  });

  it.each([
    ['Luhn-invalid', '4111111111111112'],
    ['Luhn-invalid grouped', '5555 5555 5555 4445'],
    ['unknown issuer (timestamp-like)', withLuhn('170000000000')],
    ['unknown issuer 9', withLuhn('900000000000000')],
    ['wrong length for the brand', withLuhn('3400000000000')], // amex is 15
    ['too long', '41111111111111111111'],
    ['mixed separators', '4111 1111-1111 1111'],
    ['inside a word', 'x4111111111111111'],
    ['inside a longer number', '94111111111111111'],
  ])('rejects %s', (_why, text) => {
    expect(matches(cards, `n ${text} n`)).toEqual([]);
  });

  it('knows Luhn and issuer prefixes', () => {
    expect(luhn('79927398713')).toBe(true);
    expect(luhn('79927398710')).toBe(false);
    expect(cardBrand('4111111111111111')).toBe('visa');
    expect(cardBrand('2720990000000007')).toBe('mastercard');
    expect(cardBrand('2721000000000000')).toBeUndefined();
    expect(validCard('4111111111111111')).toBe(true);
  });
});
