import { describe, expect, it } from 'vitest';
import { RecentWrites } from './recent-writes.js';

const secret = (rv: string) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'chaperone-ca', namespace: 'team', resourceVersion: rv } });

describe('RecentWrites', () => {
  it('prefers what was written until the watch reports a change to it', () => {
    const recent = new RecentWrites();
    expect(recent.freshest('Secret', 'team', 'chaperone-ca', secret('1'))).toEqual(secret('1'));
    recent.remember(secret('2'));
    expect(recent.freshest('Secret', 'team', 'chaperone-ca', secret('1'))).toEqual(secret('2'));
    expect(recent.freshest('Secret', 'team', 'chaperone-ca', undefined)).toEqual(secret('2'));
    expect(recent.freshest('Secret', 'team', 'other', undefined)).toBeUndefined();
    // The watch delivered a change (ours, or a deletion after it): the cache is authoritative again.
    recent.observed({ metadata: { name: 'chaperone-ca', namespace: 'team' } }, 'Secret');
    expect(recent.freshest('Secret', 'team', 'chaperone-ca', undefined)).toBeUndefined();
  });

  it('forgets a namespace', () => {
    const recent = new RecentWrites();
    recent.remember(secret('2'));
    recent.forgetNamespace('team');
    expect(recent.freshest('Secret', 'team', 'chaperone-ca', secret('1'))).toEqual(secret('1'));
  });
});
