// Where the serving certificate comes from, and how a new one reaches the running server without a
// restart: every source keeps the current pair and tells its listeners when it changes.
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';

export interface TlsPair {
  cert: string;
  key: string;
}

export interface TlsSource {
  current(): TlsPair | undefined;
  /** Called with every new pair (not for re-reads of the same one). */
  onChange(listener: (pair: TlsPair) => void): void;
  start(): Promise<void>;
  stop(): void;
}

/** Shared plumbing: remembers the pair and emits only real changes. */
export abstract class PairHolder implements TlsSource {
  private pair: TlsPair | undefined;
  private readonly events = new EventEmitter();

  current(): TlsPair | undefined {
    return this.pair;
  }

  onChange(listener: (pair: TlsPair) => void): void {
    this.events.on('change', listener);
  }

  protected offer(pair: TlsPair): void {
    if (this.pair && this.pair.cert === pair.cert && this.pair.key === pair.key) return;
    this.pair = pair;
    this.events.emit('change', pair);
  }

  abstract start(): Promise<void>;
  abstract stop(): void;
}

/**
 * A certificate someone else manages (cert-manager mounts it from a Secret). Kubernetes swaps the
 * mounted files atomically, so re-reading both on a timer is enough; a half-written pair cannot be seen.
 */
export class FileTlsSource extends PairHolder {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly certFile: string,
    private readonly keyFile: string,
    private readonly refreshMs = 10_000,
    private readonly onError: (err: Error) => void = () => {},
  ) {
    super();
  }

  async start(): Promise<void> {
    await this.read();
    this.timer = setInterval(() => void this.read().catch(this.onError), this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async read(): Promise<void> {
    const [cert, key] = await Promise.all([readFile(this.certFile, 'utf8'), readFile(this.keyFile, 'utf8')]);
    if (!/BEGIN CERTIFICATE/.test(cert)) throw new Error(`${this.certFile}: no PEM certificate`);
    if (!/PRIVATE KEY/.test(key)) throw new Error(`${this.keyFile}: no PEM private key`);
    this.offer({ cert, key });
  }
}
