import { describe, expect, it } from 'vitest';
import { CallMemos } from './call-memos.js';

describe('CallMemos', () => {
  it('keeps a memo per call and owner until taken', () => {
    const memos = new CallMemos<{ at: number; v: string }>();
    memos.set('c1', 'rateLimits ns/p', { at: 0, v: 'a' });
    memos.set('c1', 'budget ns/p', { at: 0, v: 'b' });
    expect(memos.get('c1', 'budget ns/p')?.v).toBe('b');
    expect(memos.take('c1', 'rateLimits ns/p')?.v).toBe('a');
    expect(memos.get('c1', 'rateLimits ns/p')).toBeUndefined();
    expect(memos.size).toBe(1);
  });

  it('forgets memos older than the TTL at the next sweep', () => {
    const memos = new CallMemos<{ at: number }>(1_000, 100);
    memos.set('old', 'o', { at: 0 });
    memos.set('new', 'o', { at: 900 });
    memos.set('later', 'o', { at: 1_500 }); // sweeps: `old` is 1.5 s old
    expect(memos.get('old', 'o')).toBeUndefined();
    expect(memos.get('new', 'o')).toBeDefined();
  });

  it('never holds more than its maximum: calls that are never settled (tunnels) cannot grow it', () => {
    const memos = new CallMemos<{ at: number }>(60_000, 60_000, 1_000);
    for (let i = 0; i < 5_000; i++) memos.set(`c${i}`, 'o', { at: 1 });
    expect(memos.size).toBe(1_000);
    expect(memos.get('c0', 'o')).toBeUndefined();
    expect(memos.get('c4999', 'o')).toBeDefined();
  });
});
