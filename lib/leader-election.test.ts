import { describe, expect, it } from 'vitest';
import { expired } from './leader-election.js';

describe('lease expiry', () => {
  const t0 = Date.parse('2025-01-01T00:00:00.000Z');
  it('is expired once renewTime + leaseDurationSeconds has passed', () => {
    expect(expired(new Date(t0), 15, t0 + 14_999)).toBe(false);
    expect(expired(new Date(t0), 15, t0 + 15_000)).toBe(false);
    expect(expired(new Date(t0), 15, t0 + 15_001)).toBe(true);
  });
  it('treats a lease never renewed as expired, and accepts the string form the client returns', () => {
    expect(expired(undefined, 15, t0)).toBe(true);
    expect(expired('2025-01-01T00:00:00.000000Z' as unknown as Date, 15, t0 + 1000)).toBe(false);
  });
});
