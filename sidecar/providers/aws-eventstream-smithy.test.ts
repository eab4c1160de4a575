// Our event-stream codec against the AWS SDK's (@smithy/eventstream-codec, the version the Bedrock
// SDK decodes Bedrock's streams with): each decodes what the other encodes, byte for byte, so our
// codec is not only consistent with itself.
import { EventStreamCodec, Int64 } from '@smithy/eventstream-codec';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, EventStreamDecoder, EventStreamError, type HeaderValue, type Headers } from './aws-eventstream.js';
import { cuttings } from './testing.js';

type MessageHeaders = Parameters<EventStreamCodec['encode']>[0]['headers'];
type MessageHeaderValue = MessageHeaders[string];

const smithy = new EventStreamCodec(
  (bytes) => Buffer.from(bytes).toString('utf8'),
  (text) => new Uint8Array(Buffer.from(text, 'utf8')),
);

/** A bigint as the 8 big-endian two's-complement bytes of smithy's Int64. */
function int64(value: bigint): Int64 {
  const bytes = Buffer.alloc(8);
  bytes.writeBigInt64BE(value);
  return new Int64(new Uint8Array(bytes));
}

/** Our header value as smithy spells it. */
function toSmithy(h: HeaderValue): MessageHeaderValue {
  switch (h.type) {
    case 'bool':
      return { type: 'boolean', value: h.value };
    case 'byte':
    case 'short':
      return { type: h.type, value: h.value };
    case 'int':
      return { type: 'integer', value: h.value };
    case 'long':
      return { type: 'long', value: int64(h.value) };
    case 'bytes':
      return { type: 'binary', value: new Uint8Array(h.value) };
    case 'string':
      return { type: 'string', value: h.value };
    case 'timestamp':
      return { type: 'timestamp', value: new Date(Number(h.value)) };
    case 'uuid': {
      const hex = h.value.replace(/-/g, '');
      return { type: 'uuid', value: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` };
    }
  }
}

const toSmithyHeaders = (headers: Headers): MessageHeaders => Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, toSmithy(v)]));

/** Every header type, each at its edges. */
const allTypes: Headers = {
  ':event-type': { type: 'string', value: 'contentBlockDelta' },
  ':content-type': { type: 'string', value: 'application/json' },
  ':message-type': { type: 'string', value: 'event' },
  yes: { type: 'bool', value: true },
  no: { type: 'bool', value: false },
  byteMin: { type: 'byte', value: -128 },
  byteMax: { type: 'byte', value: 127 },
  shortMin: { type: 'short', value: -32768 },
  shortMax: { type: 'short', value: 32767 },
  intMin: { type: 'int', value: -(2 ** 31) },
  intMax: { type: 'int', value: 2 ** 31 - 1 },
  longMin: { type: 'long', value: -(2n ** 63n) },
  longMax: { type: 'long', value: 2n ** 63n - 1n },
  longSmall: { type: 'long', value: -1n },
  bytes: { type: 'bytes', value: Buffer.from([0, 1, 127, 128, 255]) },
  noBytes: { type: 'bytes', value: Buffer.alloc(0) },
  empty: { type: 'string', value: '' },
  unicode: { type: 'string', value: 'héllo ☃ 𝄞' },
  when: { type: 'timestamp', value: 1_700_000_000_123n },
  before1970: { type: 'timestamp', value: -86_400_000n },
  id: { type: 'uuid', value: '0123456789abcdef0123456789abcdef' },
};
const payload = Buffer.from('{"contentBlockIndex":0,"delta":{"text":"Hi ☃"}}');

describe('AWS event-stream codec against @smithy/eventstream-codec', () => {
  it('writes the same bytes as smithy for the same message', () => {
    const ours = encodeMessage(allTypes, payload);
    const theirs = smithy.encode({ headers: toSmithyHeaders(allTypes), body: new Uint8Array(payload) });
    expect(Buffer.from(theirs).equals(ours)).toBe(true);
  });

  it('smithy decodes what we encode', () => {
    const decoded = smithy.decode(encodeMessage(allTypes, payload));
    expect(Buffer.from(decoded.body).equals(payload)).toBe(true);
    expect(Object.keys(decoded.headers)).toEqual(Object.keys(allTypes));
    for (const [name, value] of Object.entries(toSmithyHeaders(allTypes))) {
      const got = decoded.headers[name]!;
      expect(got.type, name).toBe(value.type);
      if (value.type === 'long') expect((got.value as Int64).bytes, name).toEqual(value.value.bytes);
      else expect(got.value, name).toEqual(value.value);
    }
  });

  it('we decode what smithy encodes', () => {
    const bytes = Buffer.from(smithy.encode({ headers: toSmithyHeaders(allTypes), body: new Uint8Array(payload) }));
    const msg = decodeMessage(bytes);
    expect(msg.headers).toEqual(allTypes);
    expect(msg.payload.equals(payload)).toBe(true);
  });

  it('an empty message (no headers, no body) is the same 16 bytes for both', () => {
    const theirs = Buffer.from(smithy.encode({ headers: {}, body: new Uint8Array(0) }));
    expect(theirs.equals(encodeMessage({}, Buffer.alloc(0)))).toBe(true);
    expect(decodeMessage(theirs).payload.length).toBe(0);
  });

  const stream = Buffer.concat(
    ['messageStart', 'contentBlockDelta', 'messageStop'].map((type, i) =>
      smithy.encode({
        headers: { ':event-type': { type: 'string', value: type }, ':message-type': { type: 'string', value: 'event' } },
        body: new Uint8Array(Buffer.from(JSON.stringify({ i, pad: 'x'.repeat(i * 200) }))),
      }),
    ),
  );
  for (const { name, chunks } of cuttings(stream)) {
    it(`decodes a smithy-encoded stream incrementally (${name})`, () => {
      const decoder = new EventStreamDecoder();
      const msgs = chunks.flatMap((c) => decoder.push(c));
      expect(msgs.map((m) => (m.headers[':event-type'] as { value: string }).value)).toEqual(['messageStart', 'contentBlockDelta', 'messageStop']);
      expect(msgs.map((m) => (JSON.parse(m.payload.toString()) as { i: number }).i)).toEqual([0, 1, 2]);
      expect(decoder.pending().length).toBe(0);
    });
  }

  it('both refuse a message whose CRC does not hold', () => {
    const bytes = Buffer.from(smithy.encode({ headers: {}, body: new Uint8Array(Buffer.from('payload')) }));
    bytes[bytes.length - 6]! ^= 0x01;
    expect(() => smithy.decode(bytes)).toThrow();
    expect(() => decodeMessage(bytes)).toThrow(EventStreamError);
  });
});
