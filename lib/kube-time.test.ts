import { describe, expect, it } from 'vitest';
import { kubeTime } from './kube-time.js';

describe('kubeTime', () => {
  it('is RFC 3339 in UTC, cut to the whole second', () => {
    expect(kubeTime(new Date('2025-03-01T10:00:00.000Z'))).toBe('2025-03-01T10:00:00Z');
    expect(kubeTime(new Date('2025-03-01T10:00:00.999Z'))).toBe('2025-03-01T10:00:00Z');
    expect(kubeTime(new Date('2025-03-01T11:30:00.500+01:00'))).toBe('2025-03-01T10:30:00Z');
  });
});
