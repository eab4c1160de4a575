import { describe, expect, it } from 'vitest';
import { canonicalPath, canonicalTarget, NonCanonicalPath, splitAbsoluteTarget, tryCanonicalPath } from './canonical-path.js';

/** Every spelling of the issue, and more, with its canonical form (intercepted hosts: no trailing slash). */
const CANONICAL: Array<[string, string]> = [
  // Already canonical: unchanged.
  ['/', '/'],
  ['/v1/chat/completions', '/v1/chat/completions'],
  ['/v1/chat/completions?stream=true&x=%2f', '/v1/chat/completions?stream=true&x=%2f'],
  ['/v1beta/models/gemini-pro:streamGenerateContent?alt=sse', '/v1beta/models/gemini-pro:streamGenerateContent?alt=sse'],
  ['/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fus.x/converse', '/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fus.x/converse'],
  // Dot segments.
  ['/v1/chat/./completions', '/v1/chat/completions'],
  ['/v1/./files', '/v1/files'],
  ['/v1/x/../files', '/v1/files'],
  ['/v1/x/y/../../files', '/v1/files'],
  ['/v1/chat/completions/.', '/v1/chat/completions'],
  ['/v1/chat/completions/x/..', '/v1/chat/completions'],
  ['/./v1/files', '/v1/files'],
  ['/..', '/'],
  ['/../../v1/files', '/v1/files'],
  ['/v1/../../../files', '/files'],
  ['/.', '/'],
  ['/v1/..', '/'],
  ['/v1/...', '/v1/...'],
  ['/v1/..x/.y', '/v1/..x/.y'],
  // Unreserved escapes decoded, before the dot segments are read.
  ['/v1/chat/completion%73', '/v1/chat/completions'],
  ['/v1/fil%65s', '/v1/files'],
  ['/%76%31/%46ILES', '/v1/FILES'],
  ['/v1/%2e/files', '/v1/files'],
  ['/v1/x/%2E%2E/files', '/v1/files'],
  ['/v1/x/.%2e/files', '/v1/files'],
  ['/a%2D%2e%5F%7e%30', '/a-._~0'],
  // Reserved and other escapes kept, with upper-case hex.
  ['/v1/a%2fb', '/v1/a%2Fb'],
  ['/v1/a%2Fb', '/v1/a%2Fb'],
  ['/v1/a%3ab%40c', '/v1/a%3Ab%40c'],
  ['/v1/%25', '/v1/%25'],
  ['/v1/%252e', '/v1/%252e'],
  ['/v1/caf%c3%a9', '/v1/caf%C3%A9'],
  ['/v1/x%2F..%2Ffiles', '/v1/x%2F..%2Ffiles'],
  // Characters RFC 3986 does not allow in a path, encoded.
  ['/v1/a"b<c>d`e{f}g|h^i', '/v1/a%22b%3Cc%3Ed%60e%7Bf%7Dg%7Ch%5Ei'],
  // Repeated and trailing slashes.
  ['//v1//chat///completions', '/v1/chat/completions'],
  ['/v1//files', '/v1/files'],
  ['/v1/files/', '/v1/files'],
  ['/v1/files//', '/v1/files'],
  ['//', '/'],
  ['/v1/files/?purpose=x', '/v1/files?purpose=x'],
  ['/a//../b', '/b'],
  // The query is kept byte for byte, dots, slashes, escapes and all.
  ['/v1/./files?a=/../b//c&d=%7e%2F', '/v1/files?a=/../b//c&d=%7e%2F'],
  ['/v1/files?', '/v1/files?'],
  ['/?x', '/?x'],
  ['/v1/files?q=a\\b', '/v1/files?q=a\\b'],
  ['/v1/files?q=%zz', '/v1/files?q=%zz'],
  ['/v1/files?q=?', '/v1/files?q=?'],
];

/** What cannot be made canonical. */
const REFUSED: Array<[string, RegExp]> = [
  ['', /must start with '\/'/],
  ['v1/files', /must start with '\/'/],
  ['*', /must start with '\/'/],
  ['?x', /must start with '\/'/],
  ['/v1/fil%', /malformed percent escape/],
  ['/v1/fil%6', /malformed percent escape/],
  ['/v1/fil%zzs', /malformed percent escape/],
  ['/v1/fil%g5s', /malformed percent escape/],
  ['/v1/%%65', /malformed percent escape/],
  ['/v1/a\u0000b', /control character/],
  ['/v1/a\tb', /control character/],
  ['/v1/a b', /control character or space/],
  ['/v1/a\u007fb', /control character/],
  ['/v1/files?x=\u0001', /control character/],
  ['/v1/caf\u00e9', /non-ASCII/],
  ['/v1/a%00b', /escaped control character/],
  ['/v1/a%0Ab', /escaped control character/],
  ['/v1/a%7fb', /escaped control character/],
  ['/v1\\files', /backslash/],
  ['/v1/x\\..\\files', /backslash/],
  ['/v1/x%5C..%5cfiles', /escaped backslash/],
  ['/v1/files#x', /fragment/],
  ['/v1/files?x#y', /fragment/],
];

describe('canonicalPath', () => {
  it.each(CANONICAL)('%j -> %j', (input, expected) => {
    expect(canonicalPath(input)).toBe(expected);
  });

  it.each(REFUSED)('refuses %j', (input, reason) => {
    expect(() => canonicalPath(input)).toThrow(NonCanonicalPath);
    expect(() => canonicalPath(input)).toThrow(reason);
    expect(tryCanonicalPath(input)).toEqual({ ok: false, reason: expect.stringMatching(reason) });
  });

  it('is idempotent on every example, in both trailing-slash modes', () => {
    for (const keepTrailingSlash of [false, true]) {
      for (const [input] of CANONICAL) {
        const once = canonicalPath(input, { keepTrailingSlash });
        expect(canonicalPath(once, { keepTrailingSlash }), input).toBe(once);
      }
    }
  });

  it('is idempotent and refuses nothing it produced, on random paths', () => {
    const alphabet = ['/', '.', '..', '%2e', '%2E', '%2f', '%73', '%7E', '%41', '%3a', 'a', 'b', '~', '-', '_', ':', '@', '"', '|', '?', '=', '&', '%25', '%c3%a9'];
    let seed = 42;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let i = 0; i < 5_000; i++) {
      let path = '/';
      for (let j = rand(12); j > 0; j--) path += alphabet[rand(alphabet.length)];
      for (const keepTrailingSlash of [false, true]) {
        const once = canonicalPath(path, { keepTrailingSlash });
        expect(canonicalPath(once, { keepTrailingSlash }), path).toBe(once);
        const p = once.split('?')[0]!;
        expect(p.startsWith('/'), path).toBe(true);
        expect(p, path).not.toMatch(/\/\/|(^|\/)\.\.?(\/|$)|%(2[eE]|[46][1-9a-fA-F]|[57][0-9aA]|3[0-9]|2[dD]|5[fF]|7[eE])|%[0-9A-F]?[a-f]/);
        if (!keepTrailingSlash && p !== '/') expect(p.endsWith('/'), path).toBe(false);
      }
    }
  });

  it('keeps a trailing slash when asked (hosts the sidecar does not intercept), and nothing else changes', () => {
    const keep = { keepTrailingSlash: true };
    expect(canonicalPath('/dir/', keep)).toBe('/dir/');
    expect(canonicalPath('/dir//', keep)).toBe('/dir/');
    expect(canonicalPath('/dir/.', keep)).toBe('/dir/');
    expect(canonicalPath('/dir/sub/..', keep)).toBe('/dir/');
    expect(canonicalPath('/dir/?q=1', keep)).toBe('/dir/?q=1');
    expect(canonicalPath('/', keep)).toBe('/');
    expect(canonicalPath('/..', keep)).toBe('/');
    expect(canonicalPath('/v1/./fil%65s', keep)).toBe('/v1/files');
    expect(canonicalPath('//admin', keep)).toBe('/admin');
  });
});

describe('splitAbsoluteTarget', () => {
  it('splits scheme, authority and the raw path, which new URL() would rewrite', () => {
    expect(splitAbsoluteTarget('https://api.openai.com/v1/chat/./completions?x=1')).toEqual({ scheme: 'https', authority: 'api.openai.com', pathAndQuery: '/v1/chat/./completions?x=1' });
    expect(splitAbsoluteTarget('HTTP://Example.test:8080')).toEqual({ scheme: 'http', authority: 'Example.test:8080', pathAndQuery: '/' });
    expect(splitAbsoluteTarget('http://h?q')).toEqual({ scheme: 'http', authority: 'h', pathAndQuery: '/?q' });
    expect(splitAbsoluteTarget('http://[::1]:80/a\\..\\b')).toEqual({ scheme: 'http', authority: '[::1]:80', pathAndQuery: '/a\\..\\b' });
  });

  it('refuses what is not an http(s) URL with a plain authority', () => {
    expect(splitAbsoluteTarget('/v1/files')).toBeUndefined();
    expect(splitAbsoluteTarget('ftp://h/x')).toBeUndefined();
    expect(splitAbsoluteTarget('https:///x')).toBeUndefined();
    expect(splitAbsoluteTarget('https://user:pw@api.openai.com/x')).toBeUndefined();
    expect(splitAbsoluteTarget('https:/api.openai.com/x')).toBeUndefined();
  });
});

describe('canonicalTarget', () => {
  const where = { scheme: 'https' as const, host: 'api.openai.com', port: 443 };
  it('drops the trailing slash on an inspected host, keeps it on another, refuses with the raw path', () => {
    expect(canonicalTarget({ ...where, inspect: true }, '/v1/files/')).toEqual({ ...where, inspect: true, path: '/v1/files' });
    expect(canonicalTarget({ ...where, inspect: false }, '/v1/./files/')).toEqual({ ...where, inspect: false, path: '/v1/files/' });
    expect(canonicalTarget({ ...where, inspect: true }, '/v1/%zz')).toEqual({ ...where, inspect: true, path: '/v1/%zz', refused: expect.stringMatching(/percent escape/) });
  });
});
