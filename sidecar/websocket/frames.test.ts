import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cuttings } from '../providers/testing.js';
import { CLOSE, closePayload, encodeFrame, FrameReader, MessageAssembler, OPCODE, parseClose, ProtocolError, type Frame } from './frames.js';

const client = (): FrameReader => new FrameReader({ masked: true });
const server = (): FrameReader => new FrameReader({ masked: false });

/** A frame's bytes written by hand: first byte, the length bytes as given, an optional key, the payload (masked with the key). */
function raw(b0: number, lengthBytes: number[], payload: Buffer, key?: number[]): Buffer {
  const b1 = lengthBytes[0]! | (key ? 0x80 : 0);
  const body = key ? Buffer.from(payload.map((b, i) => b ^ key[i & 3]!)) : payload;
  return Buffer.concat([Buffer.from([b0, b1, ...lengthBytes.slice(1)]), Buffer.from(key ?? []), body]);
}

/** The ProtocolError code `run` throws. */
function codeOf(run: () => unknown): number | undefined {
  try {
    run();
  } catch (err) {
    if (err instanceof ProtocolError) return err.code;
    throw err;
  }
  return undefined;
}

/** Frames as comparable facts: deep equality on large buffers is slow, a digest is not. */
const facts = (frames: readonly Frame[]) => frames.map((f) => ({ fin: f.fin, opcode: f.opcode, length: f.payload.length, sha: createHash('sha1').update(f.payload).digest('hex') }));

const payloadOf = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff));

describe('frame lengths and masking', () => {
  for (const n of [0, 1, 125, 126, 127, 65_535, 65_536, 70_000]) {
    it(`round-trips ${n} bytes, masked (client) and unmasked (server)`, () => {
      const payload = payloadOf(n);
      const copy = Buffer.from(payload);
      const masked = encodeFrame(OPCODE.binary, payload, { mask: true });
      const plain = encodeFrame(OPCODE.binary, payload, { mask: false });
      expect(masked.length - plain.length).toBe(4);
      expect(plain.length).toBe(n + (n < 126 ? 2 : n <= 0xffff ? 4 : 10));
      const want = facts([{ fin: true, opcode: OPCODE.binary, payload }]);
      expect(facts(client().push(masked))).toEqual(want);
      expect(facts(server().push(plain))).toEqual(want);
      expect(payload.equals(copy)).toBe(true); // encoding never changes its input
    });
  }

  it('masks each frame with a fresh key', () => {
    const payload = Buffer.from('the same text');
    const a = encodeFrame(OPCODE.text, payload, { mask: true });
    const b = encodeFrame(OPCODE.text, payload, { mask: true });
    expect(a.subarray(2, 6).equals(b.subarray(2, 6))).toBe(false);
    expect(a.subarray(6).equals(payload)).toBe(false);
  });

  it('refuses a mask from the server and its absence from the client (1002)', () => {
    expect(codeOf(() => server().push(encodeFrame(OPCODE.text, Buffer.from('x'), { mask: true })))).toBe(CLOSE.protocolError);
    expect(codeOf(() => client().push(encodeFrame(OPCODE.text, Buffer.from('x'), { mask: false })))).toBe(CLOSE.protocolError);
  });

  it('refuses lengths not in their shortest form, and a 64-bit length with its top bit set (1002)', () => {
    expect(codeOf(() => server().push(raw(0x82, [126, 0, 5], payloadOf(5))))).toBe(CLOSE.protocolError);
    expect(codeOf(() => server().push(raw(0x82, [127, 0, 0, 0, 0, 0, 0, 0xff, 0xff], payloadOf(0))))).toBe(CLOSE.protocolError);
    expect(codeOf(() => server().push(raw(0x82, [127, 0x80, 0, 0, 0, 0, 1, 0, 0], Buffer.alloc(0))))).toBe(CLOSE.protocolError);
  });

  it('refuses reserved bits and reserved opcodes (1002)', () => {
    for (const rsv of [0x40, 0x20, 0x10]) expect(codeOf(() => server().push(raw(0x81 | rsv, [1], Buffer.from('a'))))).toBe(CLOSE.protocolError);
    for (const op of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) expect(codeOf(() => server().push(raw(0x80 | op, [0], Buffer.alloc(0))))).toBe(CLOSE.protocolError);
  });
});

describe('control frames', () => {
  it('are at most 125 bytes and never fragmented (1002)', () => {
    expect(server().push(encodeFrame(OPCODE.ping, payloadOf(125), { mask: false }))).toHaveLength(1);
    expect(codeOf(() => server().push(raw(0x89, [126, 0, 126], payloadOf(126))))).toBe(CLOSE.protocolError);
    expect(codeOf(() => server().push(raw(0x09, [1], Buffer.from('p'))))).toBe(CLOSE.protocolError);
  });

  it('reads a close frame: empty, code and reason; refuses a 1-byte payload, an invalid code, a reason that is not UTF-8', () => {
    expect(parseClose(Buffer.alloc(0))).toEqual({ reason: '' });
    expect(parseClose(closePayload(1000, 'bye'))).toEqual({ code: 1000, reason: 'bye' });
    expect(parseClose(closePayload(4001, ''))).toEqual({ code: 4001, reason: '' });
    expect(codeOf(() => parseClose(Buffer.from([3])))).toBe(CLOSE.protocolError);
    for (const code of [999, 1004, 1005, 1006, 1015, 2000, 5000]) expect(codeOf(() => parseClose(closePayload(code, '')))).toBe(CLOSE.protocolError);
    expect(codeOf(() => parseClose(Buffer.from([0x03, 0xe8, 0xff, 0xfe])))).toBe(CLOSE.invalidPayload);
  });

  it('cuts a long close reason to fit 125 bytes, never inside a character', () => {
    const payload = closePayload(1008, 'é'.repeat(100));
    expect(payload.length).toBeLessThanOrEqual(125);
    expect(parseClose(payload).reason).toBe('é'.repeat(61));
  });
});

describe('messages', () => {
  it('reassembles a fragmented message, with control frames between its fragments', () => {
    const reader = server();
    const assembler = new MessageAssembler();
    const bytes = Buffer.concat([
      encodeFrame(OPCODE.text, Buffer.from('hel'), { mask: false, fin: false }),
      encodeFrame(OPCODE.ping, Buffer.from('p'), { mask: false }),
      encodeFrame(OPCODE.continuation, Buffer.from('lo '), { mask: false, fin: false }),
      encodeFrame(OPCODE.continuation, Buffer.from('world'), { mask: false }),
    ]);
    const frames = reader.push(bytes);
    expect(frames.map((f) => f.opcode)).toEqual([OPCODE.text, OPCODE.ping, OPCODE.continuation, OPCODE.continuation]);
    const messages = frames.filter((f) => f.opcode !== OPCODE.ping).map((f) => assembler.push(f));
    expect(messages.slice(0, 2)).toEqual([undefined, undefined]);
    expect(messages[2]).toEqual({ opcode: OPCODE.text, payload: Buffer.from('hello world') });
    expect(assembler.buffered).toBe(0);
  });

  it('refuses a continuation without a message, and a new message inside one (1002)', () => {
    const frame = (opcode: number, fin: boolean): Frame => ({ fin, opcode, payload: Buffer.from('x') });
    expect(codeOf(() => new MessageAssembler().push(frame(OPCODE.continuation, true)))).toBe(CLOSE.protocolError);
    const a = new MessageAssembler();
    a.push(frame(OPCODE.text, false));
    expect(codeOf(() => a.push(frame(OPCODE.binary, true)))).toBe(CLOSE.protocolError);
  });

  it('takes a character split between two fragments, refuses a text message that is not UTF-8 (1007)', () => {
    const a = new MessageAssembler();
    const euro = Buffer.from('€');
    a.push({ fin: false, opcode: OPCODE.text, payload: euro.subarray(0, 1) });
    expect(a.push({ fin: true, opcode: OPCODE.continuation, payload: euro.subarray(1) })).toEqual({ opcode: OPCODE.text, payload: euro });
    expect(codeOf(() => new MessageAssembler().push({ fin: true, opcode: OPCODE.text, payload: Buffer.from([0xc3, 0x28]) }))).toBe(CLOSE.invalidPayload);
    // Binary is not text: any bytes.
    expect(new MessageAssembler().push({ fin: true, opcode: OPCODE.binary, payload: Buffer.from([0xc3, 0x28]) })).toBeDefined();
  });

  it('assembles ten thousand 1-byte fragments', () => {
    const a = new MessageAssembler();
    let message;
    for (let i = 0; i < 10_000; i++) message = a.push({ fin: i === 9_999, opcode: i === 0 ? OPCODE.binary : OPCODE.continuation, payload: Buffer.from([i & 0xff]) });
    expect(message!.payload.length).toBe(10_000);
    expect(message!.payload[9_999]).toBe(9_999 & 0xff);
  });
});

describe('bounds', () => {
  it('refuses a frame over the message bound from its header, before its payload arrives (1009)', () => {
    const reader = new FrameReader({ masked: false, maxMessageBytes: 1000 });
    const header = encodeFrame(OPCODE.binary, payloadOf(1001), { mask: false }).subarray(0, 4);
    expect(codeOf(() => reader.push(header))).toBe(CLOSE.tooBig);
    // A 64-bit length far beyond anything: refused from the header too.
    expect(codeOf(() => server().push(raw(0x82, [127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], Buffer.alloc(0))))).toBe(CLOSE.tooBig);
  });

  it('refuses a fragmented message that grows over the bound (1009)', () => {
    const a = new MessageAssembler(1000);
    a.push({ fin: false, opcode: OPCODE.text, payload: Buffer.alloc(600, 0x61) });
    expect(codeOf(() => a.push({ fin: true, opcode: OPCODE.continuation, payload: Buffer.alloc(401, 0x61) }))).toBe(CLOSE.tooBig);
  });

  it('takes a message exactly at the bound', () => {
    const reader = new FrameReader({ masked: true, maxMessageBytes: 70_000 });
    const [frame] = reader.push(encodeFrame(OPCODE.binary, payloadOf(70_000), { mask: true }));
    expect(new MessageAssembler(70_000).push(frame!)!.payload.length).toBe(70_000);
  });

  it('holds what it has not returned, and nothing more', () => {
    const reader = client();
    const bytes = encodeFrame(OPCODE.text, Buffer.from('hello'), { mask: true });
    expect(reader.push(bytes.subarray(0, 5))).toEqual([]);
    expect(reader.buffered).toBe(5);
    expect(reader.push(bytes.subarray(5))).toHaveLength(1);
    expect(reader.buffered).toBe(0);
  });
});

describe('a stream of frames cut anywhere', () => {
  const frames: Array<[number, Buffer, boolean]> = [
    [OPCODE.text, Buffer.from('{"type":"session.update"}'), true],
    [OPCODE.ping, Buffer.alloc(0), true],
    [OPCODE.binary, payloadOf(300), true],
    [OPCODE.text, Buffer.from('frag-'), false],
    [OPCODE.continuation, Buffer.from('ment'), true],
    [OPCODE.binary, payloadOf(70_000), true],
    [OPCODE.close, closePayload(1000, 'done'), true],
  ];
  const expected = facts(frames.map(([opcode, payload, fin]) => ({ fin, opcode, payload })));

  for (const masked of [true, false]) {
    const bytes = Buffer.concat(frames.map(([opcode, payload, fin]) => encodeFrame(opcode, payload, { mask: masked, fin })));

    // Every cut through every header and every small frame; inside the 70 KB payload, every 97th.
    it(`reads the same frames at every byte boundary (${masked ? 'masked' : 'unmasked'})`, () => {
      for (let cut = 0; cut <= bytes.length; cut += cut < 400 || cut > bytes.length - 400 ? 1 : 97) {
        const reader = new FrameReader({ masked });
        const got = [...reader.push(bytes.subarray(0, cut)), ...reader.push(bytes.subarray(cut))];
        expect(facts(got), `cut at ${cut}`).toEqual(expected);
        expect(reader.buffered).toBe(0);
      }
    });

    it(`reads the same frames byte by byte and in random pieces (${masked ? 'masked' : 'unmasked'})`, () => {
      for (const { name, chunks } of cuttings(bytes)) {
        const reader = new FrameReader({ masked });
        expect(facts(chunks.flatMap((c) => reader.push(c))), name).toEqual(expected);
      }
    });
  }
});
