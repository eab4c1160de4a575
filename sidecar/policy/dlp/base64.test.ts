import { describe, expect, it } from 'vitest';
import { decodeBase64Text } from './base64.js';
import { compileDlp, redact } from './index.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const b64url = (s: string): string => Buffer.from(s).toString('base64url');

describe('decodeBase64Text', () => {
  it('decodes base64 and base64url tokens that are text', () => {
    const t = `x ${b64('card 4111 1111 1111 1111')} y`;
    expect(decodeBase64Text(t, 2, t.length - 2)).toBe('card 4111 1111 1111 1111');
    const u = b64url('ssn 123-45-6789 ~~~ ???');
    expect(decodeBase64Text(u, 0, u.length)).toBe('ssn 123-45-6789 ~~~ ???');
  });

  it('refuses what decodes to binary (hashes, ids, random tokens)', () => {
    for (const s of ['9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', 'be0641cb-a2d8-8035-9d45-c4223cdb7f6e', Buffer.from(Array.from({ length: 30 }, (_, i) => (i * 73) % 256)).toString('base64')]) {
      expect(decodeBase64Text(s, 0, s.length), s).toBeUndefined();
    }
  });
});

describe('base64-encoded secrets', () => {
  const samples = {
    credit_card: 'card 4111 1111 1111 1111',
    ssn: 'my ssn is 123-45-6789',
    email: 'write to jane.doe@example.com',
  };

  it('are found at sensitivity high, the whole token reported under the inner finding', () => {
    const high = compileDlp({ sensitivity: 'high' });
    for (const [detector, secret] of Object.entries(samples)) {
      for (const enc of [b64(secret), b64url(secret)]) {
        const text = `payload: ${enc} end`;
        const f = high.scan(text);
        expect(f.map((x) => [x.detector, text.slice(x.start, x.end)]), secret).toEqual([[detector, enc]]);
        expect(redact(text, f)).toBe(`payload: [REDACTED:${detector}] end`);
      }
    }
  });

  it('are not decoded at low or medium (the default)', () => {
    for (const spec of [{}, { sensitivity: 'medium' as const }, { sensitivity: 'low' as const }]) {
      expect(compileDlp(spec).scan(`payload: ${b64(samples.credit_card)} end`)).toEqual([]);
    }
  });

  it('leaves base64 of harmless text alone, and decodes one level only', () => {
    const high = compileDlp({ sensitivity: 'high' });
    expect(high.scan(b64('hello, ordinary words'))).toEqual([]); // 28 characters
    // Twice encoded: a long random-looking token the generic api_key detector may flag, but no card.
    expect(high.scan(b64(b64(samples.credit_card))).map((f) => f.detector)).not.toContain('credit_card');
  });

  it('reads encoded text that has been normalised (a token with a zero-width space inside)', () => {
    const enc = b64(samples.credit_card);
    const text = `${enc.slice(0, 10)}\u200b${enc.slice(10)}`;
    const f = compileDlp({ sensitivity: 'high' }).scan(text);
    expect(f.map((x) => text.slice(x.start, x.end))).toEqual([text]);
  });
});
