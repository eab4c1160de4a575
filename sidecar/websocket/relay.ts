// Relays a WebSocket whose frames are read: each side's bytes become frames, data frames become
// whole messages, and every message is judged before any of it goes on (its fragments are held,
// bounded, until it is whole). Control frames go on as they come (ping and pong may pass a message
// being held: RFC 6455 §5.4 lets them come between fragments). A message that goes on is written
// again as one frame, masked with a fresh key towards the server: what is forwarded is what was
// read, whatever fragmentation the sender chose.
//
// The sidecar closes both sides itself (a close frame each way, then the connections) on a
// protocol error (1002), a message over a bound (1009), a message it cannot read (1003, 1007), a
// policy stop (1008), a side idle for too long (1001), or a failure of its own (1011).
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  CLOSE, closePayload, encodeFrame, FrameReader, isControl, MAX_BUFFERED_BYTES, MAX_MESSAGE_BYTES, MessageAssembler, OPCODE, parseClose,
  ProtocolError, type Message,
} from './frames.js';

export type Side = 'client' | 'server';

/** What becomes of one whole message. `tell`: a text message the sidecar sends the client first. */
export type Action =
  /** On to the other side; `payload` replaces the message's (a rewritten text). */
  | { kind: 'forward'; payload?: Buffer }
  | { kind: 'drop'; tell?: string }
  | { kind: 'close'; code: number; reason: string; tell?: string };

export interface Judge {
  message(from: Side, message: Message): Promise<Action> | Action;
}

/** A dialect's judge of one session (realtime-judge.ts, generic-judge.ts). */
export interface SessionJudge extends Judge {
  /** The session ended: what is still open is settled. */
  finish(): void;
}

export interface RelayStats {
  messages: { fromClient: number; fromServer: number };
  bytes: { fromClient: number; fromServer: number };
  /** The first close code: sent by a side, or by the sidecar. */
  closeCode?: number;
  /** Why the sidecar closed the session itself. */
  error?: string;
}

export interface RelayOptions {
  client: Duplex;
  server: Duplex;
  /** Bytes each side sent past its handshake, already read. */
  clientHead: Buffer;
  serverHead: Buffer;
  judge: Judge;
  /** A side silent this long closes the session (1001). */
  idleMs: number;
  maxMessageBytes?: number;
  maxBufferedBytes?: number;
  /** Once, when both connections are closed. */
  onEnd(stats: RelayStats): void;
}

/** How long a side has to close after the sidecar (or the other side) closed. */
const CLOSE_GRACE_MS = 2_000;

interface End {
  socket: Duplex;
  reader: FrameReader;
  assembler: MessageAssembler;
  /** This side sent its close frame: nothing it sends after is read. */
  closed: boolean;
  gone: boolean;
}

export function relayMessages(o: RelayOptions): void {
  const maxMessage = o.maxMessageBytes ?? MAX_MESSAGE_BYTES;
  const maxBuffered = o.maxBufferedBytes ?? MAX_BUFFERED_BYTES;
  const stats: RelayStats = { messages: { fromClient: 0, fromServer: 0 }, bytes: { fromClient: 0, fromServer: 0 } };
  const ends: Record<Side, End> = {
    client: { socket: o.client, reader: new FrameReader({ masked: true, maxMessageBytes: maxMessage }), assembler: new MessageAssembler(maxMessage), closed: false, gone: false },
    server: { socket: o.server, reader: new FrameReader({ masked: false, maxMessageBytes: maxMessage }), assembler: new MessageAssembler(maxMessage), closed: false, gone: false },
  };
  const otherOf = (side: Side): Side => (side === 'client' ? 'server' : 'client');
  /** Frames towards the server are masked; towards the client they are not. */
  const frame = (to: Side, opcode: number, payload: Buffer): Buffer => encodeFrame(opcode, payload, { mask: to === 'server' });
  /** Set once the sidecar closed the session: nothing more is read or judged. */
  let stopped = false;
  let grace: NodeJS.Timeout | undefined;
  let ended = false;

  /** All the connection holds: partial frames and messages in progress, both directions. */
  const checkHeld = (): void => {
    const held = ends.client.reader.buffered + ends.client.assembler.buffered + ends.server.reader.buffered + ends.server.assembler.buffered;
    if (held > maxBuffered) throw new ProtocolError(CLOSE.tooBig, `the connection holds over ${maxBuffered} bytes`);
  };

  const finishSoon = (): void => {
    grace ??= setTimeout(() => {
      o.client.destroy();
      o.server.destroy();
    }, CLOSE_GRACE_MS);
  };
  const onGone = (side: Side): void => {
    ends[side].gone = true;
    const other = ends[otherOf(side)];
    if (!other.gone) {
      other.socket.end(); // what was written to it still goes, then its end
      finishSoon();
      return;
    }
    if (ended) return;
    ended = true;
    clearTimeout(grace);
    o.onEnd(stats);
  };

  /** The sidecar closes the session: a close frame to each side still open, then the ends. */
  const fail = (code: number, reason: string, tell?: string): void => {
    if (stopped) return;
    stopped = true;
    stats.closeCode ??= code;
    stats.error ??= reason;
    const payload = closePayload(code, reason);
    for (const side of ['client', 'server'] as const) {
      const end = ends[side];
      if (end.gone || !end.socket.writable) continue;
      if (side === 'client' && tell !== undefined) end.socket.write(frame('client', OPCODE.text, Buffer.from(tell)));
      end.socket.end(frame(side, OPCODE.close, payload));
    }
    finishSoon();
  };

  const write = (to: Side, bytes: Buffer): Promise<void> | undefined => {
    const socket = ends[to].socket;
    if (ends[to].gone || !socket.writable) return undefined;
    if (socket.write(bytes)) return undefined;
    // The reader is slow: stop reading the other side until it catches up.
    return new Promise((resolve) => {
      const done = (): void => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
  };

  /** One chunk from `from`: its whole frames handled in order. */
  const feed = async (from: Side, chunk: Buffer): Promise<void> => {
    const me = ends[from];
    const to = otherOf(from);
    const frames = me.reader.push(chunk);
    checkHeld();
    for (const f of frames) {
      if (stopped || me.closed) return;
      if (f.opcode === OPCODE.close) {
        const close = parseClose(f.payload);
        stats.closeCode ??= close.code ?? 1005;
        me.closed = true;
        await write(to, frame(to, OPCODE.close, f.payload));
        if (ends[to].closed) finishSoon();
        continue;
      }
      if (isControl(f.opcode)) {
        await write(to, frame(to, f.opcode, f.payload));
        continue;
      }
      const message = me.assembler.push(f);
      checkHeld();
      if (!message) continue;
      if (from === 'client') stats.messages.fromClient++;
      else stats.messages.fromServer++;
      const action = await judged(from, message);
      if (stopped) return;
      if (action.kind === 'close') return fail(action.code, action.reason, action.tell);
      if (action.kind === 'drop') {
        if (action.tell !== undefined) await write('client', frame('client', OPCODE.text, Buffer.from(action.tell)));
        continue;
      }
      await write(to, frame(to, message.opcode, action.payload ?? message.payload));
    }
  };

  const judged = async (from: Side, message: Message): Promise<Action> => {
    try {
      return await o.judge.message(from, message);
    } catch (err) {
      return { kind: 'close', code: CLOSE.internalError, reason: `the sidecar failed to judge a message: ${(err as Error).message}` };
    }
  };

  /** Feeds a chunk; a protocol error closes the session (reading goes on, unread, so the close can be written). */
  const take = async (from: Side, chunk: Buffer): Promise<void> => {
    if (stopped) return;
    try {
      await feed(from, chunk);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      fail(err.code, `${from === 'client' ? 'the client' : 'the server'}: ${err.message}`);
    }
  };

  const pump = async (from: Side, head: Buffer): Promise<void> => {
    const me = ends[from];
    try {
      if (head.length > 0) await take(from, head);
      for await (const chunk of me.socket as AsyncIterable<Buffer>) {
        if (from === 'client') stats.bytes.fromClient += chunk.length;
        else stats.bytes.fromServer += chunk.length;
        await take(from, chunk);
      }
      // This side ended its connection: the other side's ends too, once what it is owed is written.
      if (!stopped) {
        ends[otherOf(from)].socket.end();
        finishSoon();
      }
    } catch {
      // The connection broke: nothing left to say on it.
      me.socket.destroy();
    }
  };

  for (const side of ['client', 'server'] as const) {
    const socket = ends[side].socket;
    socket.on('error', () => socket.destroy());
    socket.once('close', () => onGone(side));
    if ('setTimeout' in socket && typeof socket.setTimeout === 'function') {
      (socket as Socket).setTimeout(o.idleMs, () => fail(CLOSE.goingAway, `no traffic for ${o.idleMs} ms`));
    }
  }
  void pump('client', o.clientHead);
  void pump('server', o.serverHead);
}
