import net from 'node:net';
import tls from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_SNIFF_BYTES, sniff } from './client-hello.js';

// Real ClientHellos: Node's own TLS client, captured by a plain TCP server. Variants are made by
// rewriting those bytes (extensions, record layer), never by building a hello from scratch, so the
// parts we do not touch stay what a real client sends.

/** The first TLS record a real `tls.connect` sends (Node's ClientHello fits in one record). */
async function captureClientHello(options: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      server.once('connection', (socket) => {
        let got = Buffer.alloc(0);
        socket.on('data', (chunk: Buffer) => {
          got = Buffer.concat([got, chunk]);
          if (got.length >= 5 && got.length >= 5 + got.readUInt16BE(3)) {
            resolve(got.subarray(0, 5 + got.readUInt16BE(3)));
            socket.destroy();
          }
        });
      });
      const client = tls.connect({ host: '127.0.0.1', port, ...options });
      client.on('error', () => client.destroy()); // the server hangs up: expected
      setTimeout(() => reject(new Error('no ClientHello captured')), 5000).unref();
    });
  } finally {
    server.close();
  }
}

interface Extension {
  type: number;
  data: Buffer;
}
/** A ClientHello taken apart: everything before the extensions, and the extensions. */
interface Hello {
  prefix: Buffer; // legacy_version .. legacy_compression_methods
  extensions: Extension[];
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
function u24(n: number): Buffer {
  return Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}

/** Takes apart a single-record ClientHello (the test's own parser, independent of the module's). */
function takeApart(record: Buffer): Hello {
  expect(record[0]).toBe(0x16);
  const handshake = record.subarray(5, 5 + record.readUInt16BE(3));
  expect(handshake[0]).toBe(1);
  const body = handshake.subarray(4, 4 + handshake.readUIntBE(1, 3));
  let p = 2 + 32;
  p += 1 + body[p]!; // session id
  p += 2 + body.readUInt16BE(p); // cipher suites
  p += 1 + body[p]!; // compression methods
  const prefix = body.subarray(0, p);
  const end = p + 2 + body.readUInt16BE(p);
  expect(end).toBe(body.length);
  const extensions: Extension[] = [];
  for (let q = p + 2; q < end; ) {
    const type = body.readUInt16BE(q);
    const len = body.readUInt16BE(q + 2);
    extensions.push({ type, data: body.subarray(q + 4, q + 4 + len) });
    q += 4 + len;
  }
  return { prefix, extensions };
}

/** The handshake message (type, 3-byte length, body) of a hello. */
function handshakeOf(hello: Hello): Buffer {
  const exts = Buffer.concat(hello.extensions.map((e) => Buffer.concat([u16(e.type), u16(e.data.length), e.data])));
  const body = Buffer.concat([hello.prefix, u16(exts.length), exts]);
  return Buffer.concat([Buffer.from([1]), u24(body.length), body]);
}

/** Wraps a handshake message in records of the given payload sizes (the last size repeats). */
function inRecords(handshake: Buffer, sizes: number[] = [16384]): Buffer {
  const out: Buffer[] = [];
  for (let pos = 0, i = 0; pos < handshake.length; i++) {
    const chunk = handshake.subarray(pos, pos + sizes[Math.min(i, sizes.length - 1)]!);
    out.push(Buffer.from([0x16, 0x03, 0x01]), u16(chunk.length), chunk);
    pos += chunk.length;
  }
  return Buffer.concat(out);
}

function recordCount(bytes: Buffer): number {
  let n = 0;
  for (let pos = 0; pos < bytes.length; pos += 5 + bytes.readUInt16BE(pos + 3)) n++;
  return n;
}

function build(hello: Hello, sizes?: number[]): Buffer {
  return inRecords(handshakeOf(hello), sizes);
}

/** A copy of the hello with the extension of `type` replaced by `data` (or removed when undefined). */
function withExtension(hello: Hello, type: number, data: Buffer | undefined): Hello {
  const extensions = hello.extensions.flatMap((e) => (e.type !== type ? [e] : data === undefined ? [] : [{ type, data }]));
  return { ...hello, extensions };
}

/** A server_name extension body with the given (name_type, name) entries. */
function serverName(...entries: [number, Buffer | string][]): Buffer {
  const list = Buffer.concat(entries.map(([t, n]) => Buffer.concat([Buffer.from([t]), u16(Buffer.from(n).length), Buffer.from(n)])));
  return Buffer.concat([u16(list.length), list]);
}

function alpn(...ids: Buffer[]): Buffer {
  const list = Buffer.concat(ids.map((id) => Buffer.concat([Buffer.from([id.length]), id])));
  return Buffer.concat([u16(list.length), list]);
}

/** Feeds `bytes` one byte at a time, asserting need-more until the whole buffer is there; returns the last answer. */
function feedBytewise(bytes: Buffer): ReturnType<typeof sniff> {
  for (let i = 0; i < bytes.length; i++) {
    const answer = sniff(bytes.subarray(0, i));
    if (answer.kind !== 'need-more') throw new Error(`after ${i} of ${bytes.length} bytes: ${JSON.stringify(answer)}`);
  }
  return sniff(bytes);
}

function opaqueReason(bytes: Buffer): string {
  const answer = sniff(bytes);
  expect(answer.kind).toBe('opaque');
  return answer.kind === 'opaque' ? answer.reason : '';
}

let withSni: Buffer; // servername api.openai.com, ALPN h2 + http/1.1
let noSni: Buffer; // host 'localhost' with servername '' (no SNI), no ALPN
let ipHost: Buffer; // host 127.0.0.1, no servername: Node sends no SNI for an IP
let hello: Hello; // withSni taken apart

beforeAll(async () => {
  withSni = await captureClientHello({ servername: 'api.openai.com', ALPNProtocols: ['h2', 'http/1.1'] });
  noSni = await captureClientHello({ host: 'localhost', servername: '' });
  ipHost = await captureClientHello({});
  hello = takeApart(withSni);
});

describe('sniff: real TLS ClientHellos', () => {
  it('reads the SNI and ALPN of a real hello', () => {
    expect(sniff(withSni)).toEqual({ kind: 'tls', sni: 'api.openai.com', alpn: ['h2', 'http/1.1'] });
  });

  it('reports no SNI when the client sent none', () => {
    expect(takeApart(noSni).extensions.some((e) => e.type === 0)).toBe(false);
    expect(sniff(noSni)).toEqual({ kind: 'tls', alpn: [] });
  });

  it('reports no SNI for a connection to an IP address (Node sends no server_name)', () => {
    expect(takeApart(ipHost).extensions.some((e) => e.type === 0)).toBe(false);
    const answer = sniff(ipHost);
    expect(answer.kind).toBe('tls');
    expect(answer.kind === 'tls' && answer.sni).toBeUndefined();
  });

  it('lower-cases the SNI and drops a trailing dot (real hello with servername API.Example.COM.)', async () => {
    const upper = await captureClientHello({ servername: 'API.Example.COM.' });
    expect(upper.includes(Buffer.from('API.Example.COM.'))).toBe(true); // sent as given
    expect(sniff(upper)).toEqual({ kind: 'tls', sni: 'api.example.com', alpn: [] });
  });

  it('answers need-more for every strict prefix of a hello, byte by byte', () => {
    expect(sniff(Buffer.alloc(0))).toEqual({ kind: 'need-more' });
    expect(feedBytewise(withSni)).toEqual({ kind: 'tls', sni: 'api.openai.com', alpn: ['h2', 'http/1.1'] });
  });

  it('ignores what follows the hello (a ChangeCipherSpec, early data)', () => {
    const after = Buffer.concat([withSni, Buffer.from([0x14, 0x03, 0x03, 0x00, 0x01, 0x01]), Buffer.from([0x17, 0x03, 0x03, 0x00, 0x03, 1, 2, 3])]);
    expect(sniff(after)).toEqual({ kind: 'tls', sni: 'api.openai.com', alpn: ['h2', 'http/1.1'] });
  });
});

describe('sniff: a hello fragmented over TLS records and TCP segments', () => {
  it('rebuilding the hello in one record gives back the captured bytes (the helpers are faithful)', () => {
    expect(build(hello).equals(Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), withSni.subarray(3)]))).toBe(true);
  });

  for (const sizes of [[1, 3, 50], [2, 2, 100], [100], [7], [1]]) {
    it(`records of ${sizes.join(', ')}${sizes.length > 1 ? ' then the last repeating' : ' bytes each'}, fed one byte at a time`, () => {
      const fragmented = build(hello, sizes);
      expect(recordCount(fragmented)).toBe(Math.ceil((withSni.length - 5 - sizes.slice(0, -1).reduce((a, b) => a + b, 0)) / sizes.at(-1)!) + sizes.length - 1);
      expect(feedBytewise(fragmented)).toEqual({ kind: 'tls', sni: 'api.openai.com', alpn: ['h2', 'http/1.1'] });
    });
  }

  it('refuses a non-handshake record between the fragments', () => {
    const fragmented = build(hello, [60]);
    const second = 5 + 60;
    expect(fragmented[second]).toBe(0x16);
    const broken = Buffer.from(fragmented);
    broken[second] = 0x17; // application_data
    expect(opaqueReason(broken)).toMatch(/record type 23/);
    // ... and does so as soon as that byte arrives, not after waiting for the rest
    expect(sniff(broken.subarray(0, second + 1)).kind).toBe('opaque');
  });
});

describe('sniff: GREASE and ECH', () => {
  const grease = (type: number, data: Buffer = Buffer.alloc(0)): Extension => ({ type, data });

  it('skips GREASE extensions and GREASE ALPN identifiers', () => {
    const greased = withExtension(hello, 16, alpn(Buffer.from([0x2a, 0x2a]), Buffer.from('h2'), Buffer.from('http/1.1')));
    // Two of the same GREASE value are not a repeated extension (unlike two of a real type).
    greased.extensions = [grease(0x0a0a), ...greased.extensions, grease(0xfafa, Buffer.from([0])), grease(0x0a0a)];
    const bytes = build(greased);
    expect(bytes.includes(Buffer.from([0x0a, 0x0a, 0x00, 0x00]))).toBe(true);
    expect(sniff(bytes)).toEqual({ kind: 'tls', sni: 'api.openai.com', alpn: ['h2', 'http/1.1'] });
  });

  it('reads the outer SNI (the public name) next to an encrypted_client_hello extension', () => {
    // ECHClientHello outer: type 0, cipher suite (HKDF-SHA256, AES-128-GCM), config id, enc, payload
    const enc = Buffer.alloc(32, 0x11);
    const payload = Buffer.alloc(200, 0x22);
    const ech = Buffer.concat([Buffer.from([0]), u16(1), u16(1), Buffer.from([0x42]), u16(enc.length), enc, u16(payload.length), payload]);
    const outer = withExtension(hello, 0, serverName([0, 'public.example.net']));
    outer.extensions = [...outer.extensions, { type: 0xfe0d, data: ech }];
    expect(sniff(build(outer))).toEqual({ kind: 'tls', sni: 'public.example.net', alpn: ['h2', 'http/1.1'] });
  });

  it('skips unknown extensions', () => {
    const odd = { ...hello, extensions: [{ type: 0x7777, data: Buffer.from('whatever') }, ...hello.extensions] };
    expect(sniff(build(odd))).toEqual({ kind: 'tls', sni: 'api.openai.com', alpn: ['h2', 'http/1.1'] });
  });
});

describe('sniff: server names that are not usable DNS names (a well-formed hello: tls without sni)', () => {
  const cases: [string, Buffer | string, string | undefined][] = [
    ['a NUL byte', 'evil.com\0.api.openai.com', undefined],
    ['a space', 'api openai.com', undefined],
    ['an IPv4 literal', '10.1.2.3', undefined],
    ['an IPv6 literal', '2001:db8::1', undefined],
    ['a bracketed IPv6 literal', '[::1]', undefined],
    ['a numeric last label (a URL parser reads it as IPv4)', '1.2.3', undefined],
    ['a hex last label', 'a.0x7f', undefined],
    ['a label of 64 characters', `${'a'.repeat(64)}.com`, undefined],
    ['an empty label', 'api..openai.com', undefined],
    ['two trailing dots', 'openai.com..', undefined],
    ['a leading hyphen', '-api.openai.com', undefined],
    ['non-ASCII bytes (UTF-8)', Buffer.from('bücher.de', 'utf8'), undefined],
    ['a name of 254 characters', `${'a'.repeat(62)}.`.repeat(4) + 'ab', undefined],
    ['a punycode name (fine)', 'xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['upper case and a trailing dot (fine)', 'API.OpenAI.COM.', 'api.openai.com'],
    ['a single label (fine)', 'localhost', 'localhost'],
    ['a digit-led label that is not last (fine)', '1password.com', '1password.com'],
    ['an underscore (tolerated)', '_acme.example.com', '_acme.example.com'],
  ];
  for (const [what, name, expected] of cases) {
    it(`${what} → ${expected ?? 'no sni'}`, () => {
      const answer = sniff(build(withExtension(hello, 0, serverName([0, name]))));
      expect(answer.kind).toBe('tls');
      if (answer.kind !== 'tls') return;
      expect(answer.sni).toBe(expected);
      expect(answer.alpn).toEqual(['h2', 'http/1.1']); // the rest was still read
    });
  }

  it('ignores entries of an unknown name_type next to the host_name', () => {
    const answer = sniff(build(withExtension(hello, 0, serverName([7, 'other'], [0, 'api.openai.com']))));
    expect(answer).toEqual({ kind: 'tls', sni: 'api.openai.com', alpn: ['h2', 'http/1.1'] });
  });
});

describe('sniff: malformed hellos are opaque', () => {
  it('two host_name entries', () => {
    expect(opaqueReason(build(withExtension(hello, 0, serverName([0, 'a.example'], [0, 'b.example']))))).toMatch(/more than one host_name/);
  });

  it('two server_name extensions', () => {
    const twice = { ...hello, extensions: [...hello.extensions, { type: 0, data: serverName([0, 'other.example']) }] };
    expect(opaqueReason(build(twice))).toMatch(/extension 0 repeated/);
  });

  it('an empty server_name_list, an empty host_name', () => {
    expect(opaqueReason(build(withExtension(hello, 0, u16(0))))).toMatch(/empty server_name_list/);
    expect(opaqueReason(build(withExtension(hello, 0, serverName([0, '']))))).toMatch(/empty host_name/);
  });

  it('a server_name list length that overruns its extension', () => {
    const data = Buffer.from(serverName([0, 'api.openai.com']));
    data.writeUInt16BE(data.length, 0); // two more than there is
    expect(opaqueReason(build(withExtension(hello, 0, data)))).toMatch(/server_name_list: length does not fit/);
  });

  it('an ALPN list with an empty protocol name', () => {
    expect(opaqueReason(build(withExtension(hello, 16, alpn(Buffer.from('h2'), Buffer.alloc(0)))))).toMatch(/empty protocol name/);
  });

  it('an extensions length longer than the hello', () => {
    const hs = handshakeOf(hello);
    const extLengthAt = 4 + hello.prefix.length;
    hs.writeUInt16BE(hs.readUInt16BE(extLengthAt) + 1, extLengthAt);
    expect(opaqueReason(inRecords(hs))).toMatch(/extensions: length does not fit/);
  });

  it('bytes after the extensions', () => {
    const hs = handshakeOf(hello);
    const longer = Buffer.concat([Buffer.from([1]), u24(hs.length - 4 + 2), hs.subarray(4), Buffer.from([0, 0])]);
    expect(opaqueReason(inRecords(longer))).toMatch(/bytes after the extensions/);
  });

  it('a session id of 33 bytes, a legacy_version 2.x, no cipher suites', () => {
    const sid = Buffer.concat([hello.prefix.subarray(0, 34), Buffer.from([33]), Buffer.alloc(33), hello.prefix.subarray(35 + hello.prefix[34]!)]);
    expect(opaqueReason(build({ ...hello, prefix: sid }))).toMatch(/legacy_session_id longer than 32/);
    const v2 = Buffer.from(hello.prefix);
    v2[0] = 2;
    expect(opaqueReason(build({ ...hello, prefix: v2 }))).toMatch(/legacy_version 0x2/);
    const at = 35 + hello.prefix[34]!;
    const noSuites = Buffer.concat([hello.prefix.subarray(0, at), u16(0), hello.prefix.subarray(at + 2 + hello.prefix.readUInt16BE(at))]);
    expect(opaqueReason(build({ ...hello, prefix: noSuites }))).toMatch(/cipher_suites length/);
  });

  it('a handshake message that is not a ClientHello', () => {
    const hs = handshakeOf(hello);
    hs[0] = 2; // ServerHello
    expect(opaqueReason(inRecords(hs))).toMatch(/handshake type 2/);
  });

  it('a record of length 0, a record longer than 2^14, a record version 2.x (decided on the second byte)', () => {
    expect(opaqueReason(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00]))).toMatch(/record length 0/);
    expect(opaqueReason(Buffer.from([0x16, 0x03, 0x01, 0x40, 0x01]))).toMatch(/record length 16385/);
    expect(opaqueReason(Buffer.from([0x16, 0x02]))).toMatch(/record version 2/);
  });

  it('waits on a partial record header or record, and judges the handshake type on its first byte', () => {
    expect(sniff(Buffer.from([0x16]))).toEqual({ kind: 'need-more' });
    expect(sniff(Buffer.from([0x16, 0x03, 0x01, 0x01]))).toEqual({ kind: 'need-more' });
    expect(sniff(Buffer.from([0x16, 0x03, 0x01, 0x01, 0x00]))).toEqual({ kind: 'need-more' });
    expect(sniff(Buffer.from([0x16, 0x03, 0x01, 0x01, 0x00, 0x01]))).toEqual({ kind: 'need-more' });
    expect(opaqueReason(Buffer.from([0x16, 0x03, 0x01, 0x01, 0x00, 0x02]))).toMatch(/handshake type 2/);
  });
});

describe('sniff: bytes that are not TLS', () => {
  it('an SSH banner', () => {
    expect(opaqueReason(Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'))).toMatch(/neither TLS nor HTTP/);
    expect(opaqueReason(Buffer.from('SSH-'))).toMatch(/neither TLS nor HTTP/); // decided on the '-'
  });

  it('a TLS alert record, an SSLv2-style hello, random bytes', () => {
    expect(sniff(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])).kind).toBe('opaque');
    expect(sniff(Buffer.from([0x80, 0x2e, 0x01, 0x03, 0x01])).kind).toBe('opaque');
    let seed = 12345;
    const random = Buffer.from(Array.from({ length: 512 }, () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) >> 16));
    random[0] = 0x9c;
    expect(sniff(random).kind).toBe('opaque');
  });

  it('an HTTP/2 prior-knowledge preface', () => {
    expect(sniff(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')).kind).toBe('opaque');
  });
});

describe('sniff: HTTP/1.x request heads', () => {
  const http = (s: string) => sniff(Buffer.from(s, 'latin1'));

  it('reads the Host header, lower-cased, port kept', () => {
    expect(http('GET /v1/models HTTP/1.1\r\nHost: API.OpenAI.com:8080\r\nUser-Agent: t\r\n\r\n')).toEqual({ kind: 'http', host: 'api.openai.com:8080' });
  });

  it('reads a lower-case host: header and trims its whitespace', () => {
    expect(http('POST /x HTTP/1.1\r\nhost: \t Example.com \t\r\ncontent-length: 5\r\n\r\nhello')).toEqual({ kind: 'http', host: 'example.com' });
  });

  it('no Host header, no headers at all, an empty Host → no host', () => {
    expect(http('GET / HTTP/1.0\r\nAccept: */*\r\n\r\n')).toEqual({ kind: 'http' });
    expect(http('GET / HTTP/1.0\r\n\r\n')).toEqual({ kind: 'http' });
    expect(http('GET / HTTP/1.1\r\nHost:\r\n\r\n')).toEqual({ kind: 'http' });
  });

  it('two Host headers (in any case) → no host', () => {
    expect(http('GET / HTTP/1.1\r\nHost: a.example\r\nhost: b.example\r\n\r\n')).toEqual({ kind: 'http' });
    expect(http('GET / HTTP/1.1\r\nHOST: a.example\r\nHost: a.example\r\n\r\n')).toEqual({ kind: 'http' });
  });

  it('CONNECT and absolute-form request lines', () => {
    expect(http('CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n')).toEqual({ kind: 'http', host: 'api.openai.com:443' });
    expect(http('GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n')).toEqual({ kind: 'http', host: 'a.example' });
  });

  it('waits, byte by byte, until the blank line', () => {
    const head = Buffer.from('GET / HTTP/1.1\r\nHost: api.openai.com\r\nAccept: */*\r\n\r\n');
    expect(feedBytewise(head)).toEqual({ kind: 'http', host: 'api.openai.com' });
  });

  it('answers early: "GET " waits, a method of 20 letters waits, 21 letters or a lower-case method do not', () => {
    expect(http('GET ')).toEqual({ kind: 'need-more' });
    expect(http('G')).toEqual({ kind: 'need-more' });
    expect(http('ABCDEFGHIJKLMNOPQRST')).toEqual({ kind: 'need-more' });
    expect(http('ABCDEFGHIJKLMNOPQRST / HTTP/1.1\r\n\r\n')).toEqual({ kind: 'http' });
    expect(http('ABCDEFGHIJKLMNOPQRSTU').kind).toBe('opaque');
    expect(http('get / HTTP/1.1\r\n\r\n').kind).toBe('opaque');
    expect(http(' GET').kind).toBe('opaque');
  });

  it('refuses a bad version as soon as it shows', () => {
    expect(http('GET / HTTP/1.')).toEqual({ kind: 'need-more' });
    expect(http('GET / HTTP/1.1\r')).toEqual({ kind: 'need-more' });
    expect(http('GET / HTTP/2').kind).toBe('opaque');
    expect(http('GET / HTTP/1.1 ').kind).toBe('opaque');
    expect(http('GET / HTTP/1.1\n').kind).toBe('opaque'); // bare LF
    expect(http('GET  / HTTP/1.1\r\n').kind).toBe('opaque'); // empty target
    expect(http('GET /\x01 HTTP/1.1').kind).toBe('opaque');
  });

  it('refuses malformed header lines (no colon, space before the colon, obs-fold, a NUL)', () => {
    expect(http('GET / HTTP/1.1\r\nHost a.example\r\n\r\n')).toEqual({ kind: 'opaque', reason: 'malformed HTTP header line' });
    expect(http('GET / HTTP/1.1\r\nHost : a.example\r\n\r\n')).toEqual({ kind: 'opaque', reason: 'malformed HTTP header line' });
    expect(http('GET / HTTP/1.1\r\nX-A: 1\r\n  folded\r\nHost: a.example\r\n\r\n')).toEqual({ kind: 'opaque', reason: 'malformed HTTP header line' });
    expect(http('GET / HTTP/1.1\r\nHost: a.example\0b\r\n\r\n')).toEqual({ kind: 'opaque', reason: 'control character in HTTP header value' });
  });
});

describe('sniff: the MAX_SNIFF_BYTES bound', () => {
  it('is 64 KiB', () => {
    expect(MAX_SNIFF_BYTES).toBe(65536);
  });

  it('a hello declaring more than the bound is refused from its first bytes', () => {
    const hs = Buffer.concat([Buffer.from([1]), u24(0x100000), Buffer.alloc(100)]);
    expect(opaqueReason(inRecords(hs))).toBe('too large');
  });

  it('a big hello that fits (60 kB of padding over four records) is read', () => {
    const padded = { ...hello, extensions: [...hello.extensions, { type: 21, data: Buffer.alloc(60_000) }] };
    const bytes = build(padded);
    expect(bytes.length).toBeLessThan(MAX_SNIFF_BYTES);
    expect(sniff(bytes.subarray(0, bytes.length - 1))).toEqual({ kind: 'need-more' });
    expect(sniff(bytes)).toEqual({ kind: 'tls', sni: 'api.openai.com', alpn: ['h2', 'http/1.1'] });
  });

  it('a hello whose record headers push it past the bound is refused once the bound is reached', () => {
    const padded = { ...hello, extensions: [...hello.extensions, { type: 21, data: Buffer.alloc(20_000) }] };
    const bytes = build(padded, [1]); // 6 bytes on the wire per byte of hello
    expect(bytes.length).toBeGreaterThan(MAX_SNIFF_BYTES);
    expect(sniff(bytes.subarray(0, MAX_SNIFF_BYTES - 1))).toEqual({ kind: 'need-more' });
    expect(sniff(bytes.subarray(0, MAX_SNIFF_BYTES))).toEqual({ kind: 'opaque', reason: 'too large' });
    expect(sniff(bytes)).toEqual({ kind: 'opaque', reason: 'too large' });
  });

  it('a complete hello followed by more than the bound of other data is still read', () => {
    expect(sniff(Buffer.concat([withSni, Buffer.alloc(MAX_SNIFF_BYTES * 2, 0x17)])).kind).toBe('tls');
  });

  it('an unfinished request head of the bound is refused; one just under it is read', () => {
    const line = `X-Pad: ${'p'.repeat(1000)}\r\n`;
    const huge = Buffer.from(`GET / HTTP/1.1\r\nHost: a.example\r\n${line.repeat(70)}`);
    expect(sniff(huge.subarray(0, MAX_SNIFF_BYTES - 1))).toEqual({ kind: 'need-more' });
    expect(sniff(huge.subarray(0, MAX_SNIFF_BYTES))).toEqual({ kind: 'opaque', reason: 'too large' });
    expect(sniff(huge)).toEqual({ kind: 'opaque', reason: 'too large' });

    const start = `GET / HTTP/1.1\r\nHost: a.example\r\nX-Pad: `;
    const fits = Buffer.from(`${start}${'p'.repeat(MAX_SNIFF_BYTES - start.length - 4)}\r\n\r\n`);
    expect(fits.length).toBe(MAX_SNIFF_BYTES);
    expect(sniff(fits)).toEqual({ kind: 'http', host: 'a.example' });
  });

  it('a request line longer than the bound is refused', () => {
    const long = Buffer.from(`GET /${'a'.repeat(MAX_SNIFF_BYTES)}`);
    expect(sniff(long.subarray(0, MAX_SNIFF_BYTES - 1))).toEqual({ kind: 'need-more' });
    expect(sniff(long)).toEqual({ kind: 'opaque', reason: 'too large' });
  });
});
