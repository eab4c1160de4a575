import { describe, expect, it } from 'vitest';
import { Turns } from './large-work.js';

describe('Turns', () => {
  it('lets `limit` take a turn at once; the rest wait in order and go as turns end', async () => {
    const turns = new Turns(2);
    const order: string[] = [];
    const a = await turns.take();
    const b = await turns.take();
    const waiting = ['c', 'd'].map((name) => turns.take().then((end) => (order.push(name), end)));
    await Promise.resolve();
    expect(order).toEqual([]);
    expect(turns.queued).toBe(2);
    a();
    const c = await waiting[0]!;
    expect(order).toEqual(['c']);
    // Ending a turn twice passes on nothing more.
    a();
    await Promise.resolve();
    expect(order).toEqual(['c']);
    b();
    const d = await waiting[1]!;
    expect(order).toEqual(['c', 'd']);
    c();
    d();
    // All ended: two may take a turn at once again.
    const e = await turns.take();
    const f = await turns.take();
    expect(turns.queued).toBe(0);
    let third = false;
    void turns.take().then(() => (third = true));
    await Promise.resolve();
    expect(third).toBe(false);
    e();
    f();
  });
});
