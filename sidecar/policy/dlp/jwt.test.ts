import { describe, expect, it } from 'vitest';
import { createJwt, isJoseHeader } from './jwt.js';
import { matches } from './testing.js';

const jwt = createJwt();
const b64 = (s: string): string => Buffer.from(s).toString('base64url');
const TOKEN = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';

describe('jwt', () => {
  it.each([
    ['a signed token', TOKEN],
    ['an unsigned token (alg none)', `${b64('{"alg":"none"}')}.${b64('{"sub":"1"}')}.`],
    ['an encrypted token (five segments)', `${b64('{"alg":"RSA-OAEP","enc":"A256GCM"}')}.abc.def.ghi.jkl`],
  ])('finds %s', (_what, token) => {
    expect(matches(jwt, `Authorization: Bearer ${token}\n`)).toEqual([token]);
    expect(matches(jwt, `{"id_token":"${token}"}`)).toEqual([token]);
  });

  it('stops at a sentence full stop', () => {
    expect(matches(jwt, `token ${TOKEN}. Next`)).toEqual([TOKEN]);
  });

  it.each([
    ['a header with no alg', `${b64('{"typ":"JWT"}')}.${b64('{"a":1}')}.sig`],
    ['a header that is not JSON', `${b64('{"alg":"HS256"')}.${b64('{"a":1}')}.sig`],
    ['a header that is JSON but not an object', `${b64('["alg"]')}.eyJ4IjoxfQ.sig`],
    ['one segment', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9'],
    ['two segments', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0'],
    ['inside a word', `x${TOKEN}`],
  ])('rejects %s', (_why, text) => {
    expect(matches(jwt, `t ${text} t`)).toEqual([]);
  });

  it('decodes headers', () => {
    expect(isJoseHeader(b64('{"alg":"ES256","kid":"k1"}'))).toBe(true);
    expect(isJoseHeader(b64('{"alg":256}'))).toBe(false);
    expect(isJoseHeader('eyJ!!!')).toBe(false);
  });
});
