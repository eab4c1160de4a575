// The connection to the shared counter store (Redis or a protocol-compatible server): runs the
// bucket scripts (scripts.ts), knows whether the store is up, and counts its failures.
// - Commands are never queued while disconnected (disableOfflineQueue) and each has a deadline, so a
//   store that is away answers "unavailable" at once and the caller falls back (onStoreFailure).
// - The client reconnects by itself (backoff up to 2 s); counting resumes when it is back, without
//   a restart. The scripts are cached by SHA on the server (EVALSHA, EVAL when it forgot them).
// - The password is read from a file by the caller and never logged; the URL is logged without it.
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { createClient } from '@redis/client';
import type { ReserveResult, SharedCounterStore } from '../policy/shared-limits.js';
import { BUDGET_RESERVE_SCRIPT, BUDGET_SETTLE_SCRIPT } from './budget-scripts.js';
import { ADJUST_SCRIPT, RESERVE_SCRIPT } from './scripts.js';

export interface SharedStoreOptions {
  /** redis://host:port or rediss://host:port (TLS). */
  url: string;
  /** An ACL user (AUTH username password); default: the default user. */
  username?: string;
  password?: string;
  /** PEM CA for rediss:// besides the public roots. */
  caPem?: string;
  /** Deadline of one command. Default 1 s: a loaded store (or a loaded node) must not turn a fleet limit into a per-replica one. */
  commandTimeoutMs?: number;
  /** Called when the store comes up (true) or goes away (false). */
  onState?: (up: boolean) => void;
  /** Called for every failed command or connection error. */
  onError?: (err: Error) => void;
}

/** One spending total as the store holds it, in nano-USD (budget-scripts.ts). */
export interface StoredTotal {
  spent: number;
  reserved: number;
}

/** What a budget reservation answers: taken, or the index of the total that refused; every total read. */
export interface BudgetReserveResult {
  ok: boolean;
  refusedIndex: number;
  totals: StoredTotal[];
}

/** The store could not answer: the caller applies onStoreFailure. */
export class StoreUnavailable extends Error {}

const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex');

/** A total's hash as stored (budget-scripts.ts): spent, and the reservations not yet expired at `now`. */
function totalOf(fields: Record<string, string>, now: number): StoredTotal {
  let reserved = 0;
  for (const [name, value] of Object.entries(fields)) {
    if (!name.startsWith('r:')) continue;
    const [usd, expires] = value.split(' ').map(Number);
    if (usd !== undefined && expires !== undefined && expires > now) reserved += usd;
  }
  return { spent: Number(fields.spent ?? 0), reserved };
}

/** Builds the client options from the sidecar's flags (the password file is read here). */
export async function storeOptionsFromFlags(flags: { url: string; username?: string; passwordFile?: string; caFile?: string }): Promise<SharedStoreOptions> {
  const url = new URL(flags.url);
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error(`--shared-limits-url must be redis://HOST:PORT or rediss://HOST:PORT, not ${url.protocol}`);
  if (url.password) throw new Error('--shared-limits-url must not carry a password: use --shared-limits-password-file');
  if (url.username) throw new Error('--shared-limits-url must not carry a user: use --shared-limits-username');
  if (flags.username && !flags.passwordFile) throw new Error('--shared-limits-username needs --shared-limits-password-file');
  if (flags.caFile && url.protocol !== 'rediss:') throw new Error('--shared-limits-ca needs a rediss:// URL');
  const password = flags.passwordFile ? (await readFile(flags.passwordFile, 'utf8')).trim() : undefined;
  if (flags.passwordFile && !password) throw new Error(`--shared-limits-password-file ${flags.passwordFile} is empty`);
  const caPem = flags.caFile ? await readFile(flags.caFile, 'utf8') : undefined;
  return { url: flags.url, ...(flags.username ? { username: flags.username } : {}), ...(password ? { password } : {}), ...(caPem ? { caPem } : {}) };
}

/** The URL as it may be shown: without user info. */
export function displayUrl(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return u.toString();
}

export class SharedLimitStore implements SharedCounterStore {
  private readonly client;
  private readonly timeoutMs: number;
  private readonly reserveSha = sha1(RESERVE_SCRIPT);
  private readonly adjustSha = sha1(ADJUST_SCRIPT);
  private readonly budgetReserveSha = sha1(BUDGET_RESERVE_SCRIPT);
  private readonly budgetSettleSha = sha1(BUDGET_SETTLE_SCRIPT);
  private ready = false;
  private closed = false;
  private lastErrorText: string | undefined;

  constructor(private readonly options: SharedStoreOptions) {
    this.timeoutMs = options.commandTimeoutMs ?? 1_000;
    const tls = options.url.startsWith('rediss:');
    this.client = createClient({
      url: options.url,
      ...(options.username ? { username: options.username } : {}),
      ...(options.password ? { password: options.password } : {}),
      disableOfflineQueue: true,
      socket: {
        connectTimeout: 2_000,
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 6), 2_000),
        ...(tls ? { tls: true as const, ...(options.caPem ? { ca: [options.caPem] } : {}) } : {}),
      },
    });
    this.client.on('ready', () => this.setState(true));
    this.client.on('end', () => this.setState(false));
    this.client.on('reconnecting', () => this.setState(false));
    this.client.on('error', (err: Error) => {
      this.setState(false);
      this.failed(err);
    });
  }

  /** Connects in the background: the sidecar starts (and counts locally) while the store is away. */
  start(): void {
    this.client.connect().catch((err: Error) => this.failed(err));
  }

  /** Whether the store answers now. */
  get up(): boolean {
    return this.ready && !this.closed;
  }

  /** The last error, for /status (never the password: node-redis does not put it in messages). */
  get lastError(): string | undefined {
    return this.lastErrorText;
  }

  /** Atomically takes 1 request (rpm) and `tokens` (tpm) when they fit, else nothing. */
  async reserve(requestsKey: string, tokensKey: string, rpm: number | undefined, tpm: number | undefined, tokens: number): Promise<ReserveResult> {
    const reply = (await this.run(this.reserveSha, RESERVE_SCRIPT, [requestsKey, tokensKey], [String(rpm ?? -1), String(tpm ?? -1), String(tokens)])) as [number, number];
    return { ok: Number(reply[0]) === 1, waitMs: Number(reply[1]) };
  }

  /** Moves a bucket's level by delta (refund > 0, charge < 0), within [-capacity, capacity]. */
  async adjust(key: string, capacity: number, delta: number): Promise<void> {
    await this.run(this.adjustSha, ADJUST_SCRIPT, [key], [String(capacity), String(delta)]);
  }

  /**
   * Reserves a call's worst-case cost (nano-USD) against spending totals when each has room under
   * its cap (budget-scripts.ts); every total is read either way.
   */
  async reserveSpend(callId: string, worstNanoUsd: number, reservationTtlMs: number, totals: ReadonlyArray<{ key: string; capNanoUsd: number; ttlMs: number }>): Promise<BudgetReserveResult> {
    const args = [callId, String(worstNanoUsd), String(reservationTtlMs)];
    for (const t of totals) args.push(String(t.capNanoUsd), String(t.ttlMs));
    const reply = (await this.run(this.budgetReserveSha, BUDGET_RESERVE_SCRIPT, totals.map((t) => t.key), args)) as number[];
    const read: StoredTotal[] = [];
    for (let i = 2; i + 1 < reply.length; i += 2) read.push({ spent: Number(reply[i]), reserved: Number(reply[i + 1]) });
    return { ok: Number(reply[0]) === 1, refusedIndex: Number(reply[1]) - 1, totals: read };
  }

  /** Deletes a call's reservation from `reservedKeys` and adds its cost to `charge`; answers the new totals. */
  async settleSpend(callId: string, reservedKeys: readonly string[], nanoUsd: number, charge: ReadonlyArray<{ key: string; ttlMs: number }>): Promise<number[]> {
    const args = [callId, String(reservedKeys.length), String(nanoUsd), ...charge.map((c) => String(c.ttlMs))];
    const reply = (await this.run(this.budgetSettleSha, BUDGET_SETTLE_SCRIPT, [...reservedKeys, ...charge.map((c) => c.key)], args)) as number[];
    return reply.map(Number);
  }

  /**
   * Every total whose key matches `pattern` (SCAN, at most `limit` keys), with live reservations
   * summed: for /status. Read-only and not atomic across keys; a moment's snapshot.
   */
  async readTotals(pattern: string, limit: number): Promise<Map<string, StoredTotal>> {
    if (!this.up) throw new StoreUnavailable('the shared limits store is not connected');
    const read = async (): Promise<Map<string, StoredTotal>> => {
      const out = new Map<string, StoredTotal>();
      let cursor = '0';
      do {
        const page = await this.client.scan(cursor, { MATCH: pattern, COUNT: 500 });
        cursor = String(page.cursor);
        const keys = page.keys.slice(0, limit - out.size);
        const hashes = await Promise.all(keys.map((key) => this.client.hGetAll(key)));
        const now = Date.now();
        keys.forEach((key, i) => out.set(key, totalOf(hashes[i]!, now)));
      } while (cursor !== '0' && out.size < limit);
      return out;
    };
    // A SCAN walks the whole key space: it gets a few commands' time, not one's.
    return this.withDeadline(read(), this.timeoutMs * 5);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.setState(false);
    try {
      if (this.client.isOpen) await this.client.close();
      else this.client.destroy();
    } catch {
      // Closing a client that never connected.
    }
  }

  private async run(sha: string, script: string, keys: string[], args: string[]): Promise<unknown> {
    if (!this.up) throw new StoreUnavailable('the shared limits store is not connected');
    const call = async (): Promise<unknown> => {
      try {
        return await this.client.evalSha(sha, { keys, arguments: args });
      } catch (err) {
        if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
        return await this.client.eval(script, { keys, arguments: args });
      }
    };
    return this.withDeadline(call(), this.timeoutMs);
  }

  /** Fails with StoreUnavailable when `work` takes longer than `ms`, or fails itself. */
  private async withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new StoreUnavailable(`the shared limits store did not answer within ${ms} ms`)), ms);
    });
    try {
      return await Promise.race([work, deadline]);
    } catch (err) {
      this.failed(err as Error);
      throw err instanceof StoreUnavailable ? err : new StoreUnavailable(`the shared limits store failed: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  private failed(err: Error): void {
    this.lastErrorText = err.message;
    this.options.onError?.(err);
  }

  private setState(up: boolean): void {
    if (this.closed) up = false;
    if (up === this.ready) return;
    this.ready = up;
    this.options.onState?.(up);
  }
}
