// Policy globs: `*` stands for any run of characters (none included, dots and slashes included);
// every other character stands for itself. A glob must match the whole value.
//
//   pathGlob('/v1/*', '/v1/chat/completions')        true   (but not '/v1')
//   nameGlob('mcp_*', 'mcp_search')                  true
//
// Path and tool-name globs are case-sensitive, as the servers that read them are. Host globs have
// their own dialect, built on this one label by label: host-glob.ts.
//
// A glob compiles to an anchored pattern of literal pieces instead of a RegExp: `^a.*b.*c.*d$`
// backtracks polynomially on a long path an agent controls, while finding each middle piece at
// its leftmost place after the previous one is both correct for `*` globs and linear.
import { boundedMemo } from '../lib/bounded-memo.js';

/** `a*b*c` as prefix 'a', middle ['b'], suffix 'c'; no star: exact. */
interface CompiledGlob {
  exact?: string;
  prefix: string;
  middle: string[];
  suffix: string;
}

function compile(glob: string): CompiledGlob {
  const pieces = glob.split('*');
  if (pieces.length === 1) return { exact: glob, prefix: '', middle: [], suffix: '' };
  return {
    prefix: pieces[0]!,
    middle: pieces.slice(1, -1).filter((p) => p !== ''),
    suffix: pieces[pieces.length - 1]!,
  };
}

/** Globs are compiled once (lib/bounded-memo.ts). */
const compiled = boundedMemo(compile);

/** Does the whole value match the glob? Case-sensitive. */
export function globMatch(glob: string, value: string): boolean {
  const g = compiled(glob);
  if (g.exact !== undefined) return value === g.exact;
  if (value.length < g.prefix.length + g.suffix.length) return false;
  if (!value.startsWith(g.prefix) || !value.endsWith(g.suffix)) return false;
  // Each middle piece at its leftmost place: leaves the most room for the pieces after it.
  let at = g.prefix.length;
  const end = value.length - g.suffix.length;
  for (const piece of g.middle) {
    const found = value.indexOf(piece, at);
    if (found === -1 || found + piece.length > end) return false;
    at = found + piece.length;
  }
  return true;
}

/** Does a URL path (without its query) match a path glob? Case-sensitive. */
export function pathGlob(glob: string, path: string): boolean {
  return globMatch(glob, path);
}

/** Does a name (a tool, a model) match a glob? Case-sensitive unless asked otherwise. */
export function nameGlob(glob: string, name: string, ignoreCase = false): boolean {
  return ignoreCase ? globMatch(glob.toLowerCase(), name.toLowerCase()) : globMatch(glob, name);
}

/** Does any of the globs match the name? Tolerates holes a partly invalid policy leaves. */
export function anyNameGlob(globs: readonly (string | undefined)[] | undefined, name: string, ignoreCase = false): boolean {
  return globs?.some((g) => typeof g === 'string' && nameGlob(g, name, ignoreCase)) ?? false;
}
