// A JSON writer for hostile bodies: the same value spelt the ways a parser must still read (or
// must refuse): odd whitespace, every letter of chosen strings as \u escapes, escaped keys, and a
// key written twice so that a first-wins and a last-wins parser disagree.

/** JSON as written here; an undefined member is left out, as JSON.stringify does. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json | undefined };
export type JsonPath = ReadonlyArray<string | number>;

export interface WriteStyle {
  /** Between tokens: '' (compact), or some mix of space, tab, CR and LF. */
  space?: string;
  /** Strings for which every letter and digit is written as a \u escape. */
  escapeString?: (s: string) => boolean;
  /** Write every object key with \u escapes. */
  escapeKeys?: boolean;
  /**
   * Write the key at `path` twice: `first` where it would be, then the real value as the object's
   * last member. JSON.parse (and most parsers) keep the last; some keep the first.
   */
  duplicate?: { path: JsonPath; first: Json; escapeFirstKey?: boolean };
}

const hex4 = (c: number): string => `\\u${c.toString(16).padStart(4, '0')}`;

function escapeAll(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += /[A-Za-z0-9_]/.test(s[i]!) ? hex4(c) : JSON.stringify(s[i]).slice(1, -1);
  }
  return `${out}"`;
}

function samePath(a: JsonPath, b: JsonPath): boolean {
  return a.length === b.length && a.every((k, i) => k === b[i]);
}

/** Serialises `value` in `style`. Pieces are collected and joined once: a multi-MiB string is copied once, not per level. */
export function writeJson(value: Json, style: WriteStyle = {}): string {
  const sp = style.space ?? '';
  const out: string[] = [];
  const key = (k: string): string => (style.escapeKeys ? escapeAll(k) : JSON.stringify(k));
  const str = (s: string): string => (style.escapeString?.(s) ? escapeAll(s) : JSON.stringify(s));
  const dupParent = style.duplicate?.path.slice(0, -1);
  const dupKey = style.duplicate?.path[style.duplicate.path.length - 1];

  const write = (v: Json, path: (string | number)[]): void => {
    if (v === null || typeof v === 'boolean' || typeof v === 'number') return void out.push(JSON.stringify(v));
    if (typeof v === 'string') return void out.push(str(v));
    if (Array.isArray(v)) {
      out.push(`[${sp}`);
      v.forEach((x, i) => {
        if (i > 0) out.push(`,${sp}`);
        write(x, [...path, i]);
      });
      return void out.push(`${sp}]`);
    }
    let members: Array<[string, Json]> = Object.entries(v).filter((e): e is [string, Json] => e[1] !== undefined);
    if (style.duplicate && dupParent && samePath(dupParent, path) && typeof dupKey === 'string' && dupKey in v) {
      // The duplicate goes first; the key's own value moves to the end, where last-wins parsers read it.
      const mine = members.find(([k]) => k === dupKey)!;
      members = [[dupKey, style.duplicate.first], ...members.filter(([k]) => k !== dupKey), mine];
    }
    out.push(`{${sp}`);
    const dupHere = style.duplicate?.escapeFirstKey && dupParent && samePath(dupParent, path);
    members.forEach(([k, x], i) => {
      // The duplicate's first copy may be spelt with escapes: the same key to a parser, another to a byte compare.
      const spelt = dupHere && i === 0 && k === dupKey ? escapeAll(k) : key(k);
      out.push(`${i > 0 ? `,${sp}` : ''}${spelt}${sp}:${sp}`);
      write(x, [...path, k]);
    });
    out.push(`${sp}}`);
  };
  write(value, []);
  return out.join('');
}

/** The value at a path, or undefined. */
export function jsonAt(root: Json, path: JsonPath): Json | undefined {
  let node: Json | undefined = root;
  for (const k of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, Json | undefined>)[k];
  }
  return node;
}

/** A deep copy with the value at `path` replaced. */
export function withAt(root: Json, path: JsonPath, value: Json): Json {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  if (Array.isArray(root)) return root.map((x, i) => (i === head ? withAt(x, rest, value) : x));
  if (root !== null && typeof root === 'object') return { ...root, [head as string]: withAt(root[head as string] ?? null, rest, value) };
  return root;
}
