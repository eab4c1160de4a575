// The bucket scripts and the store client against a real redis-server (e2e/harness/redis.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisCommand, startRedis, type RedisServer } from '../../e2e/harness/redis.js';
import { agentDayKey, sharedKeys } from '../policy/shared-limit-keys.js';
import { BUCKET_TTL_MS } from './scripts.js';
import { displayUrl, SharedLimitStore, storeOptionsFromFlags, StoreUnavailable } from './store.js';
import { startStore, waitUp, type StoreFixture } from './testing.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let redis: RedisServer;
let store: SharedLimitStore;
let n = 0;
const keys = () => sharedKeys('ns/p', 'rateLimits', `agent-${++n}`, 'test:rl:');

let fixture: StoreFixture | undefined;
beforeAll(async () => {
  fixture = await startStore();
  ({ redis, store } = fixture);
});
afterAll(async () => {
  await fixture?.stop();
});

describe('shared buckets in redis-server', () => {
  it('admits exactly the limit under 60 concurrent reservations from 3 clients', async () => {
    const others = [new SharedLimitStore({ url: redis.url }), new SharedLimitStore({ url: redis.url })];
    for (const o of others) o.start();
    await Promise.all(others.map(waitUp));
    const k = keys();
    const clients = [store, ...others];
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => clients[i % 3]!.reserve(k.requests, k.tokens, 10, undefined, 0)));
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    // The 11th waits for one request's refill: 6 s at 10 per minute.
    const refused = results.filter((r) => !r.ok);
    expect(Math.min(...refused.map((r) => r.waitMs))).toBeGreaterThan(5_000);
    expect(Math.max(...refused.map((r) => r.waitMs))).toBeLessThanOrEqual(6_000);
    await Promise.all(others.map((o) => o.close()));
  });

  it('reserves tokens at admit and settles the difference', async () => {
    const k = keys();
    expect((await store.reserve(k.requests, k.tokens, undefined, 1000, 800)).ok).toBe(true);
    // 200 left: a call estimated at 300 does not fit...
    expect((await store.reserve(k.requests, k.tokens, undefined, 1000, 300)).ok).toBe(false);
    // ...until the first settles at 100 real tokens (refund 700).
    await store.adjust(k.tokens, 1000, 800 - 100);
    expect((await store.reserve(k.requests, k.tokens, undefined, 1000, 300)).ok).toBe(true);
    // A charge beyond the estimate drives the bucket down (never below -capacity).
    await store.adjust(k.tokens, 1000, -5000);
    const level = Number(await hget(k.tokens));
    expect(level).toBeGreaterThanOrEqual(-1000);
    expect(level).toBeLessThan(-999);
  });

  it('a request and its tokens are taken together or not at all', async () => {
    const k = keys();
    expect((await store.reserve(k.requests, k.tokens, 5, 100, 100)).ok).toBe(true);
    expect((await store.reserve(k.requests, k.tokens, 5, 100, 50)).ok).toBe(false);
    // The refused reservation took no request: 4 are left.
    const level = Number(await hget(k.requests));
    expect(level).toBeGreaterThan(3.99);
    expect(level).toBeLessThan(4.01);
  });

  it('sets a TTL on every bucket it writes', async () => {
    const k = keys();
    await store.reserve(k.requests, k.tokens, 10, 1000, 10);
    for (const key of [k.requests, k.tokens]) {
      const ttl = Number((await redisCommand(redis.port, 'PTTL', key)).slice(1));
      expect(ttl).toBeGreaterThan(BUCKET_TTL_MS - 5_000);
      expect(ttl).toBeLessThanOrEqual(BUCKET_TTL_MS);
    }
  });

  it('answers unavailable at once while the store is away, and resumes when it is back', async () => {
    const errors: string[] = [];
    const states: boolean[] = [];
    const own = new SharedLimitStore({ url: redis.url, onError: (e) => errors.push(e.message), onState: (up) => states.push(up) });
    own.start();
    await waitUp(own);
    await redis.kill();
    for (let i = 0; i < 200 && own.up; i++) await new Promise((r) => setTimeout(r, 10));
    expect(own.up).toBe(false);
    const k = keys();
    const started = Date.now();
    await expect(own.reserve(k.requests, k.tokens, 10, undefined, 0)).rejects.toBeInstanceOf(StoreUnavailable);
    expect(Date.now() - started).toBeLessThan(100);
    await redis.restart();
    await waitUp(own);
    expect((await own.reserve(k.requests, k.tokens, 10, undefined, 0)).ok).toBe(true);
    expect(states).toEqual([true, false, true]);
    expect(errors.length).toBeGreaterThan(0);
    await own.close();
    // The shared client of the other tests reconnects too.
    await waitUp(store);
  });

  it('authenticates with the password (from a file), and without it stays down', async () => {
    const secured = await startRedis(['--requirepass', 's3cret-pass']);
    const dir = mkdtempSync(join(tmpdir(), 'chaperone-pw-'));
    try {
      writeFileSync(join(dir, 'password'), 's3cret-pass\n');
      const options = await storeOptionsFromFlags({ url: secured.url, passwordFile: join(dir, 'password') });
      const good = new SharedLimitStore(options);
      good.start();
      await waitUp(good);
      const k = keys();
      expect((await good.reserve(k.requests, k.tokens, 1, undefined, 0)).ok).toBe(true);
      await good.close();
      const errors: string[] = [];
      const bad = new SharedLimitStore({ url: secured.url, onError: (e) => errors.push(e.message) });
      bad.start();
      await new Promise((r) => setTimeout(r, 300));
      expect(bad.up).toBe(false);
      await expect(bad.reserve(k.requests, k.tokens, 1, undefined, 0)).rejects.toBeInstanceOf(StoreUnavailable);
      await bad.close();
      expect(errors.join(' ')).not.toContain('s3cret-pass');
      await expect(storeOptionsFromFlags({ url: 'redis://:pw@127.0.0.1:1' })).rejects.toThrow(/must not carry a password/);
      await expect(storeOptionsFromFlags({ url: 'http://127.0.0.1:1' })).rejects.toThrow(/redis:\/\/HOST:PORT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await secured.stop();
    }
  });

  it('as a per-namespace ACL user: its own namespace\'s keys only', async () => {
    const acl = await startRedis();
    const dir = mkdtempSync(join(tmpdir(), 'chaperone-acl-'));
    try {
      // What an operator of the store runs once per namespace (docs/security.md).
      expect(await redisCommand(acl.port, 'ACL', 'SETUSER', 'chaperone-team-a', 'on', '>pw-a', '~chaperone:rl:team-a/*', '~chaperone:budget:team-a/*', '+@all', '-@dangerous')).toBe('+OK');
      writeFileSync(join(dir, 'password'), 'pw-a\n');
      const options = await storeOptionsFromFlags({ url: acl.url, username: 'chaperone-team-a', passwordFile: join(dir, 'password') });
      const errors: string[] = [];
      const a = new SharedLimitStore({ ...options, onError: (e) => errors.push(e.message) });
      a.start();
      await waitUp(a);
      const own = sharedKeys('team-a/p', 'rateLimits', 'writer');
      expect((await a.reserve(own.requests, own.tokens, 5, undefined, 0)).ok).toBe(true);
      const spend = await a.reserveSpend('c1', 1_000, 60_000, [{ key: agentDayKey('team-a/p', 'writer', '2026-12-02'), capNanoUsd: 10_000, ttlMs: 60_000 }]);
      expect(spend.ok).toBe(true);
      expect((await a.readTotals('chaperone:budget:team-a/*', 10)).size).toBe(1);
      // Another namespace's buckets and totals are out of reach.
      const theirs = sharedKeys('team-b/p', 'rateLimits', 'writer');
      await expect(a.reserve(theirs.requests, theirs.tokens, 5, undefined, 0)).rejects.toBeInstanceOf(StoreUnavailable);
      await expect(a.reserveSpend('c2', 1, 60_000, [{ key: agentDayKey('team-b/p', 'writer', '2026-12-02'), capNanoUsd: 10, ttlMs: 60_000 }])).rejects.toThrow(/NOPERM|permission/i);
      expect(errors.join(' ')).toMatch(/NOPERM|permission/i);
      expect(errors.join(' ')).not.toContain('pw-a');
      await a.close();
      await expect(storeOptionsFromFlags({ url: acl.url, username: 'chaperone-team-a' })).rejects.toThrow(/--shared-limits-username needs --shared-limits-password-file/);
      await expect(storeOptionsFromFlags({ url: 'redis://someone@127.0.0.1:1' })).rejects.toThrow(/must not carry a user/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await acl.stop();
    }
  });

  it('never shows a password in the URL it displays', () => {
    expect(displayUrl('redis://user:secret@h:6379')).toBe('redis://h:6379');
  });
});

async function hget(key: string): Promise<string> {
  // A bulk reply: $len, then the value on the next line.
  return new Promise((resolve, reject) => {
    void import('node:net').then(({ connect }) => {
      const s = connect(redis.port, '127.0.0.1');
      let data = '';
      s.setEncoding('utf8');
      s.on('connect', () => s.write(`HGET ${key} level\r\n`));
      s.on('data', (c: string) => {
        data += c;
        const lines = data.split('\r\n');
        if (lines.length >= 3) {
          s.end();
          resolve(lines[1]!);
        }
      });
      s.on('error', reject);
    });
  });
}
