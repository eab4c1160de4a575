// The string leaves of tool calls' arguments, with their JSON paths, what each is used for (its
// roles), and how much of them is read.
//
// Bounded, so that no request holds the event loop long (the checks run in the request's turn):
// over all the tool calls of one request, at most MAX_LEAVES strings, MAX_NODES values visited and
// MAX_TOTAL_CHARS characters read (some 25 ms of detectors at worst on a small machine, well under
// a millisecond for ordinary calls), no deeper than MAX_DEPTH, at most MAX_LEAF_CHARS of any one
// string. The characters are shared fairly, so padding in one argument cannot push another out of
// sight: every string gets its start read first (up to HEAD characters each, fewer when there are
// very many, never under MIN_HEAD), then what is left is shared equally among the longer ones. Only
// the start of a long string is read: an injection sits where a value starts far more often than
// after kilobytes of padding. What lies beyond is not read, and a string read in part cannot be
// redacted whole (threats.ts denies instead).
import type { JsonPath } from '../../call.js';
import { pattern } from './signals.js';
import { readable } from './text.js';
import type { LeafView, Role } from './types.js';

export const MAX_LEAVES = 512;
export const MAX_NODES = 4 * 1024;
export const MAX_LEAF_CHARS = 64 * 1024;
export const MAX_TOTAL_CHARS = 128 * 1024;
export const MAX_DEPTH = 32;
const HEAD = 1024;
const MIN_HEAD = 64;

/** Keys are the caller's own text: each is shown cut to this many characters, the whole path to MAX_PATH. */
const MAX_KEY = 64;
const MAX_PATH = 256;

/** `filters[0].value`; `(arguments)` for the arguments themselves (a raw string). */
export function displayPath(path: JsonPath): string {
  let out = '';
  for (const k of path) {
    if (typeof k === 'number') out += `[${k}]`;
    else {
      const key = k.length > MAX_KEY ? `${k.slice(0, MAX_KEY)}…` : k;
      out += /^[A-Za-z_$][\w$-]*$/.test(key) ? (out === '' ? key : `.${key}`) : `[${JSON.stringify(key)}]`;
    }
    if (out.length > MAX_PATH) return `${out.slice(0, MAX_PATH)}…`;
  }
  return out === '' ? '(arguments)' : out;
}

/** How many strings and values a request's walk may still visit. */
interface Allowance {
  leaves: number;
  nodes: number;
}

/** Every string leaf of `args`, in document order (numbers and booleans cannot carry an injection), within the allowance. */
export function* stringLeaves(args: unknown, allowance: Allowance = { leaves: MAX_LEAVES, nodes: MAX_NODES }): Generator<{ path: JsonPath; value: string }, void, void> {
  const stack: Array<{ v: unknown; path: JsonPath; depth: number }> = [{ v: args, path: [], depth: 0 }];
  while (stack.length > 0) {
    if (--allowance.nodes < 0) return;
    const { v, path, depth } = stack.pop()!;
    if (typeof v === 'string') {
      if (--allowance.leaves < 0) return;
      yield { path, value: v };
    } else if (depth < MAX_DEPTH && Array.isArray(v)) {
      for (let i = Math.min(v.length, allowance.nodes) - 1; i >= 0; i--) stack.push({ v: v[i], path: [...path, i], depth: depth + 1 });
    } else if (depth < MAX_DEPTH && typeof v === 'object' && v !== null) {
      const entries = Object.entries(v);
      for (let i = Math.min(entries.length, allowance.nodes) - 1; i >= 0; i--) stack.push({ v: entries[i]![1], path: [...path, entries[i]![0]], depth: depth + 1 });
    }
  }
}

// ------------------------------------------------------------------------------------------ roles
// The patterns below run on re2js too (signals.ts pattern): linear time whatever the text.

/** The leaf's own key, or the list's when it sits in one (`entries[1]` -> `entries`). */
function keyOf(path: JsonPath): string {
  for (let i = path.length - 1; i >= 0; i--) {
    const k = path[i];
    if (typeof k === 'string') return k.toLowerCase().replace(/-/g, '_');
  }
  return '';
}

const words = (s: string): Set<string> => new Set(s.split(' '));

/** Names of fields that hold a command line. */
const SHELL_KEYS = words('command cmd commands script shell bash sh cmdline command_line shell_command powershell pwsh');
/** In a shell tool, these hold the command too. */
const SHELL_TOOL_KEYS = words('input code args arguments line text run exec value');
/** Tool names of shells: a word of the name (split on _ . : - and case changes). */
const SHELL_TOOL_WORDS = words('bash shell sh zsh terminal exec execute run command cmd powershell pwsh console ssh');
const SQL_TOOL_WORDS = words('sql query db database postgres postgresql psql mysql sqlite mariadb mssql bigquery snowflake clickhouse redshift supabase duckdb oracle');
const SQL_KEYS = words('sql query statement stmt sql_query querytext query_text');
const PATH_KEYS = words('src dest destination template page include entries location cwd root archive input_file output_file');
const PATH_SUFFIXES = ['path', 'file', 'filename', 'file_name', 'dir', 'directory', 'folder', 'filepath'];
const HOST_KEYS = words('host hostname host_name ip ip_address ipaddress address addr server target domain endpoint remote upstream proxy base_url baseurl uri url');
const DOCUMENT_KEYS = words('content body text message description markdown html code patch diff comment note notes summary prompt instructions readme bio');

/** The words of a tool name: `mcp__sqlite__read_query` -> mcp, sqlite, read, query. */
function toolWords(tool: string): string[] {
  return tool.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
}

/** Starts like a SQL statement, after comments and an opening parenthesis. */
const SQL_START = pattern(String.raw`^(?:\s|--[^\n]*\n|/\*[^*]*\*+(?:[^/*][^*]*\*+)*/|\()*(?:select|with|insert|update|delete|create|alter|drop|truncate|explain|begin|show|describe|desc|merge|upsert|replace|grant|revoke|vacuum|analyze|set|use|pragma|call|exec|execute|commit|rollback|copy|start|values|table)\b`);
/** Words a statement has and a sentence rarely does. */
const SQL_SHAPE = pattern(String.raw`\b(?:from|into|set|table|values|where|join|index|view|database|schema|limit|order by|group by)\b|^\s*(?:select \d|show tables|describe \w+$|select \w+\(\)|pragma )`);

/** Shaped like a file-system path: no spaces, a separator, not a URL. */
const PATH_SHAPE = pattern(String.raw`^(?:[a-z]:[\\/]|[~.]{0,2}[\\/]|[\w.$%@{}\[\]-]+[\\/])\S*$`);
const URL_SHAPE = pattern(String.raw`^(?:[a-z][a-z0-9+.-]{1,15}://|(?:jar|netdoc|mailto|urn|data|javascript|file|expect|php):)\S*$`);

export interface LeafContext {
  tool: string;
  toolWords: readonly string[];
}

export function leafContext(tool: string): LeafContext {
  return { tool: tool.toLowerCase(), toolWords: toolWords(tool) };
}

/** The roles of a leaf (see types.ts Role), from its key, its tool and its (readable) text. */
export function rolesOf(key: string, text: string, ctx: LeafContext, raw = text): Set<Role> {
  const roles = new Set<Role>();
  const trimmed = text.trim();
  const sqlTool = ctx.toolWords.some((w) => SQL_TOOL_WORDS.has(w));
  const shellTool = !sqlTool && ctx.toolWords.some((w) => SHELL_TOOL_WORDS.has(w));
  const single = !/\s/.test(trimmed);
  // A statement where SQL belongs: a sql-like field, a database tool, or a document (a migration file).
  // Not in other fields, so that a value cannot dress up as SQL to be read as one.
  if (SQL_START.test(trimmed) && (SQL_KEYS.has(key) || sqlTool || (DOCUMENT_KEYS.has(key) && SQL_SHAPE.test(trimmed)))) roles.add('sql');
  else if (SHELL_KEYS.has(key) || (shellTool && (SHELL_TOOL_KEYS.has(key) || key === ''))) roles.add('shell');
  if (roles.size === 0) {
    // A URL as sent, on one line (clients encode a space in its path; decoding may put spaces into it).
    const sent = raw.trim().toLowerCase();
    if (!sent.includes('\n') && URL_SHAPE.test(sent.split(/\s/, 1)[0]!) && !DOCUMENT_KEYS.has(key)) roles.add('url');
    if (HOST_KEYS.has(key) && single && trimmed.length <= 512) roles.add('host');
    if (PATH_KEYS.has(key) || PATH_SUFFIXES.some((s) => key === s || key.endsWith(`_${s}`) || (s.length > 4 && key.endsWith(s))) || (single && PATH_SHAPE.test(trimmed))) roles.add('path');
    // A newline alone does not make a document: `main%0aid` is a value with an injected line.
    if ((!single && trimmed.length > 160) || (DOCUMENT_KEYS.has(key) && !single && trimmed.length > 60)) roles.add('document');
    else roles.add('value');
  }
  return roles;
}

/** One tool call's name and arguments. */
export interface CallArguments {
  tool: string;
  args: unknown;
}

/** How many characters of each string to read: a fair share of MAX_TOTAL_CHARS (see the top of this file). */
export function allocate(lengths: readonly number[]): number[] {
  const head = Math.max(MIN_HEAD, Math.min(HEAD, Math.floor(MAX_TOTAL_CHARS / Math.max(lengths.length, 1))));
  const out = lengths.map((n) => Math.min(n, head, MAX_LEAF_CHARS));
  const left = MAX_TOTAL_CHARS - out.reduce((a, b) => a + b, 0);
  const longer = lengths.flatMap((n, i) => (n > out[i]! ? [i] : []));
  if (left > 0 && longer.length > 0) {
    const share = Math.floor(left / longer.length);
    for (const i of longer) out[i] = Math.min(lengths[i]!, MAX_LEAF_CHARS, out[i]! + share);
  }
  return out;
}

/** The views of the leaves of every call of a request that the bounds let in (see the top of this file), per call. */
export function viewCalls(calls: readonly CallArguments[]): LeafView[][] {
  const allowance: Allowance = { leaves: MAX_LEAVES, nodes: MAX_NODES };
  const found = calls.map((c) => (c.args === undefined ? [] : [...stringLeaves(c.args, allowance)]));
  const sizes = allocate(found.flat().map((l) => l.value.length));
  let k = 0;
  return found.map((leaves, c) => {
    const ctx = leafContext(calls[c]!.tool);
    return leaves.map(({ path, value }) => {
      const cut = sizes[k++]!;
      const raw = cut < value.length ? value.slice(0, cut) : value;
      const key = keyOf(path);
      const text = readable(raw);
      return { jsonPath: path, path: displayPath(path), key, tool: ctx.tool, raw, truncated: raw.length < value.length, text, roles: rolesOf(key, text, ctx, raw) };
    });
  });
}

/** The views of one call's leaves. */
export const viewLeaves = (tool: string, args: unknown): LeafView[] => viewCalls([{ tool, args }])[0]!;
