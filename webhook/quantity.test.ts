import { describe, expect, it } from 'vitest';
import { isQuantity, quantityValue } from './quantity.js';

describe('quantities', () => {
  it.each(['1', '0', '50m', '1.5', '.5', '2.', '64Mi', '1Gi', '1Ei', '500k', '1M', '100n', '3u', '1e3', '1E-2', '2E'])('%s is a quantity', (q) => {
    expect(isQuantity(q)).toBe(true);
  });

  it.each(['', '-1', '+1', 'lots', '1 Gi', '1gi', '1KB', '1mi', 'Mi', '1.2.3', '1e', '0x10', '1m ', ' 1'])('%j is not', (q) => {
    expect(isQuantity(q)).toBe(false);
    expect(quantityValue(q)).toBeNaN();
  });

  it.each<[string, number]>([['50m', 0.05], ['1', 1], ['64Mi', 64 * 2 ** 20], ['1G', 1e9], ['1e3', 1000], ['2E', 2e18], ['1.5Ki', 1536]])('%s = %d', (q, v) => {
    expect(quantityValue(q)).toBeCloseTo(v);
  });

  it('compares across suffixes', () => {
    expect(quantityValue('1500m')).toBeGreaterThan(quantityValue('1'));
    expect(quantityValue('1Gi')).toBeGreaterThan(quantityValue('1G'));
    expect(quantityValue('1000m')).toBe(quantityValue('1'));
  });
});
