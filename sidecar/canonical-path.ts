// One canonical spelling of a request path, computed once where a request enters the data path and
// then used by everything after it: adapter routing (which wire format, which checks), the egress
// rules' path globs, the audit line, and the request sent upstream. A path spelt another way
// (`/v1/chat/./completions`, `/v1/chat/completion%73`, `/v1//files`, `/v1/x/../files`, `/v1/files/`)
// is the same resource to the server, so it must be the same path to the checks: what is forwarded
// is what was checked.
//
// The canonical form (RFC 3986 §6.2.2, plus two rules of our own):
//   - percent-encoded unreserved characters (ALPHA / DIGIT / - . _ ~) are decoded: %73 -> s, %2E -> .;
//   - every other escape is kept, with upper-case hex: %2f -> %2F (a slash inside a segment, as in a
//     Bedrock inference-profile ARN, is not a separator), %3a -> %3A;
//   - characters RFC 3986 does not allow in a path but HTTP parsers pass (" < > ` { } | ^) are
//     percent-encoded;
//   - dot segments are removed (§5.2.4), never climbing above the root: /../a -> /a;
//   - repeated slashes are collapsed (before the dot segments: /a//../b -> /b, as nginx reads it);
//   - a trailing slash is dropped, except for "/" itself (unless the caller keeps it, see below);
//   - the query (from the first '?') is kept byte for byte.
//
// What cannot be made canonical is refused (the caller answers 400, nothing is forwarded): a path
// not starting with '/', a malformed escape (%, %4, %zz), a control character (raw, or escaped in
// the path as %00-%1F or %7F), a space, a raw non-ASCII byte, a backslash (raw or %5C in the path:
// some servers read it as '/'), a fragment ('#' is never part of a request target).

import type { Target } from './data-path.js';

/** Why a request target cannot be made canonical; the message is safe to show the client. */
export class NonCanonicalPath extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NonCanonicalPath';
  }
}

export interface CanonicalOptions {
  /**
   * Keep a trailing slash (`/dir/` stays `/dir/`). For hosts the sidecar does not intercept: a
   * server that redirects `/dir` to `/dir/` would otherwise redirect for ever. The egress rules
   * read such a path with and without its trailing slash (see policy/egress.ts).
   */
  keepTrailingSlash?: boolean;
}

const HEX = '0123456789ABCDEF';

/** RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39) || code === 0x2d || code === 0x2e || code === 0x5f || code === 0x7e
  );
}

/** Printable ASCII that RFC 3986 does not allow in a path, but HTTP parsers let through. */
const ENCODE_IN_PATH = new Set(['"', '<', '>', '`', '{', '}', '|', '^']);

function hexValue(c: string): number {
  const code = c.charCodeAt(0);
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x41 + 10;
  if (code >= 0x61 && code <= 0x66) return code - 0x61 + 10;
  return -1;
}

function escaped(code: number): string {
  return `%${HEX[code >> 4]}${HEX[code & 15]}`;
}

/** Refuses what no request target may contain, anywhere (path or query). */
function checkCharacters(target: string): void {
  for (let i = 0; i < target.length; i++) {
    const code = target.charCodeAt(i);
    if (code <= 0x20 || code >= 0x7f) throw new NonCanonicalPath(code > 0x7f ? 'a non-ASCII character in the request target (percent-encode it)' : 'a control character or space in the request target');
    if (code === 0x23) throw new NonCanonicalPath("a fragment ('#') in the request target");
  }
}

/** Normalises the escapes of a path (no query): decodes unreserved, upper-cases the rest. */
function normaliseEscapes(path: string): string {
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c === '\\') throw new NonCanonicalPath('a backslash in the request path');
    if (ENCODE_IN_PATH.has(c)) {
      out += escaped(c.charCodeAt(0));
      continue;
    }
    if (c !== '%') {
      out += c;
      continue;
    }
    const hi = i + 1 < path.length ? hexValue(path[i + 1]!) : -1;
    const lo = i + 2 < path.length ? hexValue(path[i + 2]!) : -1;
    if (hi < 0 || lo < 0) throw new NonCanonicalPath('a malformed percent escape in the request path');
    const code = hi * 16 + lo;
    if (code < 0x20 || code === 0x7f) throw new NonCanonicalPath('an escaped control character in the request path');
    if (code === 0x5c) throw new NonCanonicalPath('an escaped backslash (%5C) in the request path');
    out += isUnreserved(code) ? String.fromCharCode(code) : escaped(code);
    i += 2;
  }
  return out;
}

/** Collapses repeated slashes and removes dot segments; the result starts with '/'. */
function normaliseSegments(path: string, keepTrailingSlash: boolean): string {
  const parts = path.split('/');
  const out: string[] = [];
  let trailing = false;
  // parts[0] is '' (the path starts with '/').
  for (let i = 1; i < parts.length; i++) {
    const seg = parts[i]!;
    const last = i === parts.length - 1;
    if (seg === '' || seg === '.') {
      // '/a/' and '/a/.' end in a directory.
      if (last) trailing = true;
      continue;
    }
    if (seg === '..') {
      out.pop();
      if (last) trailing = true;
      continue;
    }
    out.push(seg);
    trailing = false;
  }
  if (out.length === 0) return '/';
  return `/${out.join('/')}${keepTrailingSlash && trailing ? '/' : ''}`;
}

/**
 * The canonical form of an origin-form request target (path and query). Throws NonCanonicalPath
 * for a target that cannot be made canonical.
 */
export function canonicalPath(pathAndQuery: string, options: CanonicalOptions = {}): string {
  checkCharacters(pathAndQuery);
  const q = pathAndQuery.indexOf('?');
  const path = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  const query = q < 0 ? '' : pathAndQuery.slice(q);
  if (!path.startsWith('/')) throw new NonCanonicalPath("the request path must start with '/'");
  return normaliseSegments(normaliseEscapes(path), options.keepTrailingSlash ?? false) + query;
}

export type CanonicalResult = { ok: true; path: string } | { ok: false; reason: string };

/** canonicalPath without the throw: the canonical target, or why there is none. */
export function tryCanonicalPath(pathAndQuery: string, options: CanonicalOptions = {}): CanonicalResult {
  try {
    return { ok: true, path: canonicalPath(pathAndQuery, options) };
  } catch (err) {
    if (err instanceof NonCanonicalPath) return { ok: false, reason: err.message };
    throw err;
  }
}

/** An absolute-form request target (`https://host:port/path?query`) split into its parts. */
export interface AbsoluteTarget {
  scheme: 'http' | 'https';
  /** `host[:port]` as written (no userinfo). */
  authority: string;
  /** The path and query as written ('/' when the URL has none); not yet canonical. */
  pathAndQuery: string;
}

/**
 * Splits an absolute-form target by hand: WHATWG `new URL()` would rewrite the path its own way
 * (backslashes to slashes, its own dot-segment rules), and the checks must read the path that is
 * canonicalised and forwarded, not a third spelling. Undefined for anything else (no http(s)
 * scheme, userinfo, an empty authority).
 */
export function splitAbsoluteTarget(target: string): AbsoluteTarget | undefined {
  const m = /^(https?):\/\/([^/?#]*)(.*)$/is.exec(target);
  if (!m) return undefined;
  const authority = m[2]!;
  if (authority === '' || authority.includes('@')) return undefined;
  const rest = m[3]!;
  const pathAndQuery = rest === '' ? '/' : rest.startsWith('?') ? `/${rest}` : rest;
  return { scheme: m[1]!.toLowerCase() as 'http' | 'https', authority, pathAndQuery };
}

/**
 * A Target whose path is canonical, or refused. An intercepted (inspected) host's path loses its
 * trailing slash; another host's keeps it. Plain HTTP to a host the sidecar does not intercept is
 * canonicalised too, rather than forwarded as sent: its egress rules match paths, and a rule
 * `host/admin*` must hold against `/./admin`, `//admin` or `/%61dmin` as well; the equivalences
 * applied are the ones RFC 3986 says every server must honour, so the server reads the same
 * resource. Only the trailing slash is kept there, because servers do tell `/dir` from `/dir/`
 * (and one that redirects `/dir` to `/dir/` would loop).
 */
export function canonicalTarget(where: Omit<Target, 'path' | 'refused'>, pathAndQuery: string): Target {
  const c = tryCanonicalPath(pathAndQuery, { keepTrailingSlash: !where.inspect });
  if (!c.ok) return { ...where, path: pathAndQuery, refused: c.reason };
  const ambiguous = where.inspect ? ambiguousEscape(c.path) : undefined;
  return ambiguous ? { ...where, path: c.path, refused: ambiguous } : { ...where, path: c.path };
}

/**
 * Why a canonical path cannot be checked as one: an escaped slash or backslash is one segment to
 * some servers and a separator to others (many decode it before routing), so `/v1/chat%2Fcompletions`
 * would slip past the adapters as an unknown path. Refused on intercepted hosts.
 */
export function ambiguousEscape(path: string): string | undefined {
  return /%(2F|5C)/.test(path.split('?')[0]!) ? 'an escaped "/" or "\\" in the path of an intercepted host is ambiguous' : undefined;
}
