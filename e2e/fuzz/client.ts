// A raw HTTP/1.1 client for the fuzz run: it writes a case's exact bytes on a connection to the
// sidecar (plain to the proxy port, or inside a CONNECT tunnel, in TLS or not) and reads back
// whatever comes (interim answers, whole answers, truncated ones, a close), with keep-alive pools
// so ten thousand cases do not cost ten thousand handshakes. No HTTP library: they would refuse to
// send half of what the cases send, and would read answers less literally than the oracle needs.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Wire } from './corpus.js';

export interface Answer {
  status: number;
  headers: Array<[string, string]>;
  body: Buffer;
  /** Interim (1xx) statuses before it. */
  interim: number[];
  /** The body arrived whole (by its length or chunked framing); false when the connection ended first. */
  complete: boolean;
  /** The connection may carry another request. */
  reusable: boolean;
}

export interface Outcome {
  answers: Answer[];
  /** The connection ended (or failed) before all expected answers arrived. */
  closed: boolean;
  /** The case's deadline passed while waiting. */
  timedOut: boolean;
  /** The connection could not be set up (CONNECT refused and answered is an answer, not this). */
  error?: string;
}

class Timeout extends Error {}

/** A socket's incoming bytes, read by the parser as they come. */
class Conn {
  private buf = Buffer.alloc(0);
  private pos = 0;
  ended = false;
  private wake: (() => void) | undefined;

  constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.pos > 0 ? Buffer.concat([this.buf.subarray(this.pos), d]) : Buffer.concat([this.buf, d]);
      this.pos = 0;
      this.poke();
    });
    const end = (): void => {
      this.ended = true;
      this.poke();
    };
    socket.on('end', end).on('close', end).on('error', end);
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  get available(): number {
    return this.buf.length - this.pos;
  }

  /** Waits for more bytes; false when the connection ended with nothing new. */
  private async more(deadline: number): Promise<boolean> {
    if (this.ended) return false;
    const left = deadline - Date.now();
    if (left <= 0) throw new Timeout();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        reject(new Timeout());
      }, left);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    return true;
  }

  /** Bytes up to and including `delim`; undefined when the connection ends first. */
  async until(delim: string, deadline: number): Promise<Buffer | undefined> {
    for (;;) {
      const i = this.buf.indexOf(delim, this.pos, 'latin1');
      if (i >= 0) {
        const out = this.buf.subarray(this.pos, i + delim.length);
        this.pos = i + delim.length;
        return out;
      }
      const before = this.available;
      if (!(await this.more(deadline)) && this.available === before) return undefined;
    }
  }

  /** Exactly n bytes, or fewer when the connection ends first. */
  async take(n: number, deadline: number): Promise<Buffer> {
    while (this.available < n) {
      const before = this.available;
      if (!(await this.more(deadline)) && this.available === before) break;
    }
    const out = this.buf.subarray(this.pos, this.pos + Math.min(n, this.available));
    this.pos += out.length;
    return out;
  }

  /** Everything until the connection ends. */
  async rest(deadline: number): Promise<Buffer> {
    for (;;) {
      const before = this.available;
      if (!(await this.more(deadline)) && this.available === before) break;
    }
    const out = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return out;
  }

  /** Has an answer's head (an interim one included) begun to arrive? */
  hasBytes(): boolean {
    return this.available > 0;
  }

  /** Gives back the last n bytes read (an answer's head that was peeked at). */
  unread(n: number): void {
    this.pos -= n;
  }

  async waitBytes(deadline: number): Promise<void> {
    while (this.available === 0 && (await this.more(deadline)));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Parses one answer off the connection (interim ones first); undefined when it ends before a head. */
async function readAnswer(conn: Conn, method: string, deadline: number): Promise<Answer | undefined> {
  const interim: number[] = [];
  for (;;) {
    const headBytes = await conn.until('\r\n\r\n', deadline);
    if (!headBytes) return undefined;
    const lines = headBytes.toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!);
    if (!m) return { status: 0, headers: [], body: headBytes, interim, complete: false, reusable: false };
    const status = Number(m[1]);
    const headers = lines
      .slice(1)
      .filter(Boolean)
      .map((l): [string, string] => {
        const i = l.indexOf(':');
        return [l.slice(0, i).trim(), l.slice(i + 1).trim()];
      });
    if (status >= 100 && status < 200 && status !== 101) {
      interim.push(status);
      continue;
    }
    const get = (name: string): string | undefined => headers.find(([n]) => n.toLowerCase() === name)?.[1];
    const keepAlive = lines[0]!.startsWith('HTTP/1.1') && !/\bclose\b/i.test(get('connection') ?? '');
    // No body: HEAD, 204, 304, and a 2xx to CONNECT (the tunnel starts right after the head).
    if (method === 'HEAD' || status === 204 || status === 304 || (method === 'CONNECT' && status < 300)) return { status, headers, body: Buffer.alloc(0), interim, complete: true, reusable: keepAlive };
    if (/\bchunked\b/i.test(get('transfer-encoding') ?? '')) {
      const { body, complete } = await readChunked(conn, deadline);
      return { status, headers, body, interim, complete, reusable: keepAlive && complete };
    }
    const length = get('content-length');
    if (length !== undefined) {
      const n = Number(length);
      const body = await conn.take(n, deadline);
      return { status, headers, body, interim, complete: body.length === n, reusable: keepAlive && body.length === n };
    }
    return { status, headers, body: await conn.rest(deadline), interim, complete: true, reusable: false };
  }
}

async function readChunked(conn: Conn, deadline: number): Promise<{ body: Buffer; complete: boolean }> {
  const parts: Buffer[] = [];
  for (;;) {
    const line = await conn.until('\r\n', deadline);
    if (!line) return { body: Buffer.concat(parts), complete: false };
    const size = parseInt(line.toString('latin1'), 16);
    if (!Number.isFinite(size)) return { body: Buffer.concat(parts), complete: false };
    if (size === 0) {
      // Trailers, then the blank line.
      for (let t = await conn.until('\r\n', deadline); t && t.length > 2; t = await conn.until('\r\n', deadline));
      return { body: Buffer.concat(parts), complete: true };
    }
    const data = await conn.take(size + 2, deadline);
    parts.push(data.subarray(0, Math.min(size, data.length)));
    if (data.length < size + 2) return { body: Buffer.concat(parts), complete: false };
  }
}

export interface ClientOptions {
  proxyPort: number;
  /** The interception CA: connect-tls clients trust it. */
  caCert: string;
}

type Setup = { conn: Conn } | { answer: Answer } | { error: string };

/**
 * Connections to the sidecar by entry and host: idle ones are reused, so most cases cost no
 * handshake. A case that needs its own connection gets a fresh one and closes it after.
 */
export class FuzzClient {
  private readonly idle = new Map<string, Conn[]>();

  constructor(private readonly options: ClientOptions) {}

  private async open(wire: Wire, deadline: number): Promise<Setup> {
    const raw = netConnect({ host: '127.0.0.1', port: this.options.proxyPort, noDelay: true });
    raw.on('error', () => {});
    const conn = new Conn(raw);
    if (wire.entry === 'forward-http' || wire.entry === 'base-url') return { conn };
    const tls = wire.entry === 'connect-tls';
    const authority = wire.connectAuthority ?? `${wire.host}:${tls ? 443 : 80}`;
    raw.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nX-Chaperone-Agent: fuzzer\r\n\r\n`);
    const answer = await readAnswer(conn, 'CONNECT', deadline);
    if (!answer) return { error: 'the CONNECT got no answer' };
    if (answer.status !== 200) return { answer };
    if (!tls) return { conn };
    raw.removeAllListeners('data');
    const secure = tlsConnect({ socket: raw, servername: wire.servername ?? wire.host, ca: this.options.caCert, ALPNProtocols: ['http/1.1'] });
    secure.on('error', () => {});
    const tlsConn = new Conn(secure);
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
      secure.once('secureConnect', () => (clearTimeout(timer), resolve(true)));
      secure.once('close', () => (clearTimeout(timer), resolve(false)));
    });
    if (!ok) {
      secure.destroy();
      return { error: 'TLS through the tunnel did not come up' };
    }
    return { conn: tlsConn };
  }

  private key(wire: Wire): string {
    return `${wire.entry}|${wire.host}`;
  }

  private take(wire: Wire): Conn | undefined {
    const list = this.idle.get(this.key(wire));
    for (let c = list?.pop(); c; c = list?.pop()) {
      if (!c.ended && !c.socket.destroyed && !c.hasBytes()) return c;
      c.destroy();
    }
    return undefined;
  }

  private give(wire: Wire, conn: Conn): void {
    const list = this.idle.get(this.key(wire)) ?? [];
    list.push(conn);
    this.idle.set(this.key(wire), list);
  }

  /** Runs one case's wire; never throws. */
  async run(wire: Wire, timeoutMs: number): Promise<Outcome> {
    const pooled = wire.fresh ? undefined : this.take(wire);
    const outcome = await this.attempt(wire, pooled, Date.now() + timeoutMs);
    // A pooled connection the server had just closed: once more on a fresh one.
    if (pooled && outcome.closed && outcome.answers.length === 0 && !outcome.timedOut) return this.attempt(wire, undefined, Date.now() + timeoutMs);
    return outcome;
  }

  private async attempt(wire: Wire, pooled: Conn | undefined, deadline: number): Promise<Outcome> {
    let conn = pooled;
    const answers: Answer[] = [];
    try {
      if (!conn) {
        const setup = await this.open(wire, deadline);
        if ('answer' in setup) return { answers: [setup.answer], closed: true, timedOut: false };
        if ('error' in setup) return { answers: [], closed: true, timedOut: false, error: setup.error };
        conn = setup.conn;
      }
      const method = /^\S+/.exec(wire.pieces[0]?.toString('latin1', 0, 16) ?? 'GET')?.[0] ?? 'GET';
      await this.write(conn, wire, deadline, answers, method);
      if (wire.after === 'destroy') {
        conn.destroy();
        return { answers, closed: true, timedOut: false };
      }
      if (wire.after === 'end') conn.socket.end();
      while (answers.length < wire.answers) {
        const a = await readAnswer(conn, method, deadline);
        if (!a) break;
        answers.push(a);
        if (!a.complete || !a.reusable) break;
      }
      const closed = answers.length < wire.answers;
      const last = answers[answers.length - 1];
      if (!closed && last?.reusable && !wire.fresh && wire.after === 'read' && !conn.ended) this.give(wire, conn);
      else conn.destroy();
      return { answers, closed, timedOut: false };
    } catch (err) {
      conn?.destroy();
      if (err instanceof Timeout) return { answers, closed: false, timedOut: true };
      return { answers, closed: true, timedOut: false, error: (err as Error).message };
    }
  }

  /** Writes the pieces; with awaitContinue, waits for 100 Continue (or an answer) after the first. */
  private async write(conn: Conn, wire: Wire, deadline: number, answers: Answer[], method: string): Promise<void> {
    for (let i = 0; i < wire.pieces.length; i++) {
      if (conn.socket.destroyed) return;
      if (i === 1 && wire.awaitContinue) {
        // As curl does: wait a while for the server's word, then send anyway.
        await conn.waitBytes(Math.min(deadline, Date.now() + 3_000)).catch(() => {});
        if (conn.hasBytes()) {
          const peek = await readInterimOrAnswer(conn, method, deadline);
          if (peek) {
            answers.push(peek);
            return;
          }
        }
      } else if (i > 0) {
        await new Promise((r) => setImmediate(r));
      }
      conn.socket.write(wire.pieces[i]!);
    }
  }

  close(): void {
    for (const list of this.idle.values()) for (const c of list) c.destroy();
    this.idle.clear();
  }
}

/** After Expect: 100-continue, a 100 means go on (undefined); anything else is the final answer. */
async function readInterimOrAnswer(conn: Conn, method: string, deadline: number): Promise<Answer | undefined> {
  const headBytes = await conn.until('\r\n\r\n', deadline);
  if (!headBytes) return undefined;
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(headBytes.toString('latin1'))?.[1] ?? 0);
  if (status === 100) return undefined;
  // Not an interim answer: put it back and read it whole.
  conn.unread(headBytes.length);
  return readAnswer(conn, method, deadline);
}
