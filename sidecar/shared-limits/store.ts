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
import { ADJUST_SCRIPT, RESERVE_SCRIPT } from './scripts.js';

export interface SharedStoreOptions {
  /** redis://host:port or rediss://host:port (TLS). */
  url: string;
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

/** The store could not answer: the caller applies onStoreFailure. */
export class StoreUnavailable extends Error {}

const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex');

/** Builds the client options from the sidecar's flags (the password file is read here). */
export async function storeOptionsFromFlags(flags: { url: string; passwordFile?: string; caFile?: string }): Promise<SharedStoreOptions> {
  const url = new URL(flags.url);
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error(`--shared-limits-url must be redis://HOST:PORT or rediss://HOST:PORT, not ${url.protocol}`);
  if (url.password) throw new Error('--shared-limits-url must not carry a password: use --shared-limits-password-file');
  if (flags.caFile && url.protocol !== 'rediss:') throw new Error('--shared-limits-ca needs a rediss:// URL');
  const password = flags.passwordFile ? (await readFile(flags.passwordFile, 'utf8')).trim() : undefined;
  if (flags.passwordFile && !password) throw new Error(`--shared-limits-password-file ${flags.passwordFile} is empty`);
  const caPem = flags.caFile ? await readFile(flags.caFile, 'utf8') : undefined;
  return { url: flags.url, ...(password ? { password } : {}), ...(caPem ? { caPem } : {}) };
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
  private ready = false;
  private closed = false;
  private lastErrorText: string | undefined;

  constructor(private readonly options: SharedStoreOptions) {
    this.timeoutMs = options.commandTimeoutMs ?? 1_000;
    const tls = options.url.startsWith('rediss:');
    this.client = createClient({
      url: options.url,
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
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new StoreUnavailable(`the shared limits store did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      return await Promise.race([call(), deadline]);
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
