// The shared-limits tests' fixture: a real redis-server (e2e/harness/redis.ts) and a store client
// connected to it.
import { expect } from 'vitest';
import { startRedis, type RedisServer } from '../../e2e/harness/redis.js';
import { SharedLimitStore } from './store.js';

/** Waits (up to 5 s) until the client is connected, and says so. */
export async function waitUp(store: { up: boolean }): Promise<void> {
  for (let i = 0; i < 200 && !store.up; i++) await new Promise((r) => setTimeout(r, 25));
  expect(store.up).toBe(true);
}

export interface StoreFixture {
  redis: RedisServer;
  store: SharedLimitStore;
  stop(): Promise<void>;
}

/** A redis-server and a connected client; stop() closes both. */
export async function startStore(): Promise<StoreFixture> {
  const redis = await startRedis();
  const store = new SharedLimitStore({ url: redis.url });
  store.start();
  await waitUp(store);
  return {
    redis,
    store,
    async stop() {
      await store.close();
      await redis.stop();
    },
  };
}
