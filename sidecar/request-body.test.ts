import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BodyTooLarge } from './http-util.js';
import { charsetOf, decodeRequestBody, utf8Text } from './request-body.js';

const JSON_TEXT = '{"tool":"délete_database","n":1}';
const utf16be = (s: string): Buffer => Buffer.from(s, 'utf16le').swap16();
const LIMIT = 1 << 20;

describe('decodeRequestBody', () => {
  it.each([
    ['plain UTF-8', Buffer.from(JSON_TEXT), undefined, 'application/json', false],
    ['a UTF-8 BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON_TEXT)]), undefined, 'application/json', true],
    ['UTF-16LE with a BOM', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(JSON_TEXT, 'utf16le')]), undefined, 'application/json', true],
    ['UTF-16BE with a BOM', Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be(JSON_TEXT)]), undefined, 'application/json', true],
    ['UTF-16LE by charset', Buffer.from(JSON_TEXT, 'utf16le'), undefined, 'application/json; charset=UTF-16LE', true],
    ['UTF-16 by charset (big-endian)', utf16be(JSON_TEXT), undefined, 'application/json; charset="utf-16"', true],
    ['gzip', gzipSync(JSON_TEXT), 'gzip', 'application/json', true],
    ['deflate', deflateSync(JSON_TEXT), 'deflate', 'application/json', true],
    ['br', brotliCompressSync(JSON_TEXT), 'br', 'text/plain', true],
    ['gzip then br, undone in reverse', brotliCompressSync(gzipSync(JSON_TEXT)), 'gzip, br', undefined, true],
    ['identity', Buffer.from(JSON_TEXT), 'identity', undefined, false],
  ])('reads %s as the provider would', async (_name, raw, encoding, contentType, changed) => {
    expect(await decodeRequestBody(raw, encoding, contentType, LIMIT)).toEqual({ ok: true, text: JSON_TEXT, changed });
  });

  it('decodes a large body in slices, pausing between them, to the same text (a character split across slices included)', async () => {
    const text = JSON.stringify({ messages: Array.from({ length: 50_000 }, (_, i) => ({ role: 'user', content: `Grüße, 日本語 ${i} 🎉` })) });
    for (const [raw, contentType] of [[Buffer.from(text), 'application/json'], [Buffer.from(text, 'utf16le'), 'application/json; charset=utf-16le']] as const) {
      expect(raw.length).toBeGreaterThan(2 * 1024 * 1024);
      let pauses = 0;
      const r = await decodeRequestBody(raw, undefined, contentType, 64 << 20, async () => void pauses++);
      expect(r).toEqual({ ok: true, text, changed: contentType.includes('16') });
      expect(pauses).toBeGreaterThanOrEqual(2);
    }
    const broken = Buffer.concat([Buffer.from(text), Buffer.from([0xff])]);
    expect(await decodeRequestBody(broken, undefined, 'application/json', 64 << 20)).toEqual({ ok: false, reason: 'the body is not valid UTF-8' });
  });

  it.each([
    ['an unknown coding', Buffer.from(JSON_TEXT), 'compress', undefined, /content-encoding "compress" is not one the sidecar reads/],
    ['a broken gzip', Buffer.from('not gzip'), 'gzip', undefined, /gzip content coding is broken/],
    ['an unknown charset', Buffer.from(JSON_TEXT), undefined, 'application/json; charset=iso-8859-1', /charset "iso-8859-1" is not one/],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), undefined, 'application/json', /not valid UTF-8/],
  ])('refuses %s, naming why', async (_name, raw, encoding, contentType, reason) => {
    const r = await decodeRequestBody(raw, encoding, contentType, LIMIT);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.reason).toMatch(reason);
  });

  it('stops a decompression bomb at the body limit', async () => {
    const bomb = gzipSync(Buffer.alloc(8 << 20, 0x20));
    expect(bomb.length).toBeLessThan(LIMIT);
    await expect(decodeRequestBody(bomb, 'gzip', 'application/json', LIMIT)).rejects.toThrow(BodyTooLarge);
  });

  it('reads the charset parameter', () => {
    expect(charsetOf('application/json; charset=UTF-8')).toBe('utf-8');
    expect(charsetOf('text/plain;charset="utf-16le"')).toBe('utf-16le');
    expect(charsetOf('application/json')).toBeUndefined();
  });
});

describe('utf8Text', () => {
  it('reads chunks as Buffer#toString reads them joined, wherever they are cut', async () => {
    const bytes = Buffer.concat([Buffer.from('\ufeff{"a": "é😀"}'), Buffer.from([0xff, 0xc3]), Buffer.from('x€')]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      for (const chunks of [[bytes.subarray(0, cut), bytes.subarray(cut)], [...bytes].map((b) => Buffer.from([b]))]) {
        expect(await utf8Text(chunks, async () => undefined)).toBe(bytes.toString('utf8'));
      }
    }
  });

  it('pauses through large chunks, even one of several MiB', async () => {
    const big = Buffer.from('é'.repeat(1_600_000)); // 3.2 MB
    for (const chunks of [[big], [big.subarray(0, 1000), big.subarray(1000)]]) {
      let pauses = 0;
      expect(await utf8Text(chunks, async () => void pauses++)).toBe(big.toString('utf8'));
      expect(pauses).toBeGreaterThanOrEqual(3);
    }
  });
});
