import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, EventStreamDecoder, EventStreamError, headerString, type HeaderValue } from './aws-eventstream.js';
import { cuttings } from './testing.js';

const allTypes: Record<string, HeaderValue> = {
  t: { type: 'bool', value: true },
  f: { type: 'bool', value: false },
  b: { type: 'byte', value: -7 },
  s: { type: 'short', value: -300 },
  i: { type: 'int', value: 123456789 },
  l: { type: 'long', value: -(2n ** 40n) },
  bytes: { type: 'bytes', value: Buffer.from([0, 1, 2, 255]) },
  str: { type: 'string', value: 'héllo' },
  ts: { type: 'timestamp', value: 1700000000123n },
  u: { type: 'uuid', value: '0123456789abcdef0123456789abcdef' },
};

describe('AWS event-stream codec', () => {
  it('round-trips every header type and the payload', () => {
    const bytes = encodeMessage(allTypes, '{"x":1}');
    const msg = decodeMessage(bytes);
    expect(msg.headers).toEqual(allTypes);
    expect(msg.payload.toString()).toBe('{"x":1}');
    expect(msg.bytes.equals(bytes)).toBe(true);
  });

  it('writes the documented layout: lengths, prelude CRC, message CRC', () => {
    const bytes = encodeMessage({ ':event-type': 'messageStop' }, '{}');
    // header: 1 + 11 name + 1 type + 2 length + 11 value = 26; total = 12 + 26 + 2 + 4
    expect(bytes.readUInt32BE(0)).toBe(44);
    expect(bytes.length).toBe(44);
    expect(bytes.readUInt32BE(4)).toBe(26);
    expect(bytes.readUInt32BE(8)).toBe(crc32(bytes.subarray(0, 8)));
    expect(bytes.readUInt32BE(40)).toBe(crc32(bytes.subarray(0, 40)));
    expect(bytes[12]).toBe(11);
    expect(bytes.toString('utf8', 13, 24)).toBe(':event-type');
    expect(bytes[24]).toBe(7);
  });

  it('encodes an empty message as 16 bytes', () => {
    // An empty message: no headers, no payload — 16 bytes.
    const empty = encodeMessage({}, Buffer.alloc(0));
    expect(empty.length).toBe(16);
    expect(decodeMessage(empty).payload.length).toBe(0);
  });

  const stream = Buffer.concat([
    encodeMessage({ ':message-type': 'event', ':event-type': 'a' }, '{"n":1}'),
    encodeMessage({ ':message-type': 'event', ':event-type': 'b' }, 'x'.repeat(300)),
    encodeMessage({ ':message-type': 'event', ':event-type': 'c' }, ''),
  ]);
  for (const { name, chunks } of cuttings(stream)) {
    it(`decodes incrementally (${name})`, () => {
      const decoder = new EventStreamDecoder();
      const msgs = chunks.flatMap((c) => decoder.push(c));
      expect(msgs.map((m) => headerString(m.headers, ':event-type'))).toEqual(['a', 'b', 'c']);
      expect(Buffer.concat(msgs.map((m) => m.bytes)).equals(stream)).toBe(true);
      expect(decoder.pending().length).toBe(0);
    });
  }

  it('detects a corrupted payload (message CRC)', () => {
    const bytes = Buffer.from(encodeMessage({ a: 'b' }, 'payload'));
    bytes[bytes.length - 6]! ^= 0x01;
    expect(() => decodeMessage(bytes)).toThrow(/message CRC/);
    expect(() => new EventStreamDecoder().push(bytes)).toThrow(EventStreamError);
  });

  it('detects a corrupted prelude before waiting for a bogus length', () => {
    const bytes = Buffer.from(encodeMessage({ a: 'b' }, 'payload'));
    bytes[1]! ^= 0x40; // total length now ~4 MB
    const decoder = new EventStreamDecoder();
    expect(() => decoder.push(bytes.subarray(0, 12))).toThrow(/prelude CRC/);
  });

  it('hands back the messages decoded before a corrupt one', () => {
    const good = encodeMessage({ a: 'b' }, '1');
    const bad = Buffer.from(encodeMessage({ a: 'b' }, '2'));
    bad[bad.length - 1]! ^= 0xff;
    try {
      new EventStreamDecoder().push(Buffer.concat([good, bad]));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(EventStreamError);
      expect((err as EventStreamError).decoded.map((m) => m.payload.toString())).toEqual(['1']);
    }
  });
});
