// The frame relay between two real socket pairs: judged messages, what goes on (re-framed and
// masked towards the server), control frames, closes, and the bounds.
import { createServer, connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { closePayload, encodeFrame, FrameReader, OPCODE, parseClose, type Frame, type Message } from './frames.js';
import { relayMessages, type Action, type RelayStats, type Side } from './relay.js';

/** Two connected sockets. */
async function pair(): Promise<[Socket, Socket]> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const a = connect((server.address() as { port: number }).port, '127.0.0.1');
  const b = await accepted;
  server.close();
  await new Promise((resolve) => a.once('connect', resolve));
  return [a, b];
}

/** Collects the frames arriving on a socket (masked as `masked` says). */
function frames(socket: Socket, masked: boolean): { got: Frame[]; next(): Promise<Frame> } {
  const reader = new FrameReader({ masked });
  const got: Frame[] = [];
  const waiting: Array<(f: Frame) => void> = [];
  socket.on('data', (chunk: Buffer) => {
    for (const f of reader.push(chunk)) {
      const w = waiting.shift();
      if (w) w(f);
      else got.push(f);
    }
  });
  return { got, next: () => (got.length ? Promise.resolve(got.shift()!) : new Promise((resolve) => waiting.push(resolve))) };
}

const open: Socket[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.destroy();
});

/** A relay between a client app and a server app; `judge` decides each message. */
async function setup(judge: (from: Side, m: Message) => Action, bounds: { maxMessageBytes?: number; maxBufferedBytes?: number } = {}) {
  const [clientApp, clientEnd] = await pair();
  const [serverEnd, serverApp] = await pair();
  open.push(clientApp, clientEnd, serverEnd, serverApp);
  let ended: (stats: RelayStats) => void;
  const done = new Promise<RelayStats>((resolve) => (ended = resolve));
  relayMessages({ client: clientEnd, server: serverEnd, clientHead: Buffer.alloc(0), serverHead: Buffer.alloc(0), judge: { message: judge }, idleMs: 10_000, onEnd: (s) => ended(s), ...bounds });
  return { clientApp, serverApp, atClient: frames(clientApp, false), atServer: frames(serverApp, true), done };
}

const text = (s: string, mask: boolean, fin = true, opcode: number = OPCODE.text): Buffer => encodeFrame(opcode, Buffer.from(s), { mask, fin });

describe('the relay', () => {
  it('forwards a fragmented message whole, after judging it, re-framed and masked towards the server; pings pass as they come', async () => {
    const judged: string[] = [];
    const r = await setup((from, m) => (judged.push(`${from}:${m.payload.toString()}`), { kind: 'forward' }));
    r.clientApp.write(Buffer.concat([text('hel', true, false), encodeFrame(OPCODE.ping, Buffer.from('p'), { mask: true })]));
    // The ping went on; the held fragment did not.
    expect(await r.atServer.next()).toMatchObject({ opcode: OPCODE.ping });
    r.clientApp.write(text('lo', true, true, OPCODE.continuation));
    const message = await r.atServer.next();
    expect(message).toMatchObject({ fin: true, opcode: OPCODE.text });
    expect(message.payload.toString()).toBe('hello');
    r.serverApp.write(text('back', false));
    expect((await r.atClient.next()).payload.toString()).toBe('back');
    expect(judged).toEqual(['client:hello', 'server:back']);
  });

  it('replaces, drops with a word to the client, and closes as the judge says', async () => {
    const r = await setup((_from, m) => {
      const s = m.payload.toString();
      if (s === 'secret') return { kind: 'forward', payload: Buffer.from('[REDACTED]') };
      if (s === 'no') return { kind: 'drop', tell: 'refused' };
      if (s === 'stop') return { kind: 'close', code: 1008, reason: 'policy', tell: 'stopped' };
      return { kind: 'forward' };
    });
    r.clientApp.write(text('secret', true));
    expect((await r.atServer.next()).payload.toString()).toBe('[REDACTED]');
    r.clientApp.write(text('no', true));
    expect((await r.atClient.next()).payload.toString()).toBe('refused');
    r.clientApp.write(text('stop', true));
    expect((await r.atClient.next()).payload.toString()).toBe('stopped');
    const toClient = await r.atClient.next();
    const toServer = await r.atServer.next();
    expect(parseClose(toClient.payload)).toEqual({ code: 1008, reason: 'policy' });
    expect(parseClose(toServer.payload)).toEqual({ code: 1008, reason: 'policy' });
    r.clientApp.end();
    r.serverApp.end();
    expect(await r.done).toMatchObject({ closeCode: 1008, error: 'policy', messages: { fromClient: 3, fromServer: 0 } });
    // Nothing after 'secret' reached the server but the close.
    expect(r.atServer.got).toEqual([]);
  });

  it('relays the close handshake and ends when both sides are gone', async () => {
    const r = await setup(() => ({ kind: 'forward' }));
    r.clientApp.write(encodeFrame(OPCODE.close, closePayload(1000, 'bye'), { mask: true }));
    expect(parseClose((await r.atServer.next()).payload)).toEqual({ code: 1000, reason: 'bye' });
    r.serverApp.end(encodeFrame(OPCODE.close, closePayload(1000, 'bye'), { mask: false }));
    expect(parseClose((await r.atClient.next()).payload).code).toBe(1000);
    r.clientApp.end();
    expect(await r.done).toMatchObject({ closeCode: 1000 });
  });

  it('closes with 1002 on an unmasked client frame, and with 1009 over the per-message bound', async () => {
    const a = await setup(() => ({ kind: 'forward' }));
    a.clientApp.write(text('x', false));
    expect(parseClose((await a.atClient.next()).payload).code).toBe(1002);
    expect(parseClose((await a.atServer.next()).payload).code).toBe(1002);

    const b = await setup(() => ({ kind: 'forward' }), { maxMessageBytes: 100 });
    b.clientApp.write(Buffer.concat([text('x'.repeat(60), true, false), text('y'.repeat(60), true, true, OPCODE.continuation)]));
    expect(parseClose((await b.atClient.next()).payload).code).toBe(1009);
  });

  it('closes with 1009 when the connection holds more than its bound, both directions together', async () => {
    const r = await setup(() => ({ kind: 'forward' }), { maxMessageBytes: 1_000, maxBufferedBytes: 150 });
    // Each direction holds a message in progress under the message bound; together they are over.
    r.clientApp.write(text('c'.repeat(100), true, false));
    await new Promise((resolve) => setTimeout(resolve, 50));
    r.serverApp.write(text('s'.repeat(100), false, false));
    expect(parseClose((await r.atClient.next()).payload).code).toBe(1009);
    expect(r.atServer.got).toEqual([]);
  });
});
