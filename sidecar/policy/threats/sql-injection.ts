// SQL injection: what breaks out of a value into the SQL around it, and what an injected query does.
//
// Two readings, by the leaf's role (leaves.ts):
//
// A value (`name`, `user_id`, `sort_by`... and any short string) that a tool may paste into a
// query. There a quote followed by SQL is the attack: `x' OR '1'='1`, `admin'--`, `1; DROP TABLE`,
// `' UNION SELECT`, `' AND SLEEP(5)--`. Names with apostrophes (O'Brien, Rock 'n' roll), search
// phrases and prose do not fire: each signal needs the quote (or the number) *and* the SQL after it.
//
// A SQL statement (`sql`/`query` of a database tool). Writing SQL is the tool's purpose, so what a
// legitimate query does never fires: joins, CTEs, `-- comments`, LIKE '%x%', DELETE/UPDATE with
// WHERE, a migration's several statements, a UNION of real columns, a look at information_schema.
// The statement is tokenised (string literals and comments apart: `'a; drop'` is data) and what
// fires is what injected text leaves behind:
//   - a tautology after OR (`OR 1=1`, `OR 'a'='a'`): two constants compared; no query needs one
//   - a destructive statement stacked after the first (`SELECT ...; DROP TABLE x`), a write
//     stacked after a read, a DELETE or UPDATE without WHERE after the first statement
//   - a comment that cuts off the rest of a quoted query (`WHERE u = 'admin'--' AND p = '...'`)
//   - time-based probes (SLEEP(, pg_sleep(, WAITFOR DELAY, BENCHMARK(, DBMS_PIPE.RECEIVE_MESSAGE)
//   - UNION SELECT of constants, NULLs, version/user functions, catalogue tables or credential columns
//   - the server's own escape hatches: xp_cmdshell, LOAD_FILE, INTO OUTFILE, pg_read_file,
//     COPY ... PROGRAM, UTL_HTTP, lo_import
//   - error-based extraction (extractvalue, updatexml)
//
// In a document (a message body, a file's content) only the strongest of the value signals count:
// a document quotes SQL more often than it carries an attack.
import { SignalSet } from './signals.js';
import type { Detect, Level, LeafView } from './types.js';

// ------------------------------------------------------------------------------- values (patterns)

/** Where a quote breaks out: a quote (maybe closing parentheses) then whitespace. */
const Q = String.raw`['"]\s*\)*\s*`;
const CMP = String.raw`(?:=|<>|!=|<=|>=|<|>|\blike\b|\brlike\b|\bregexp\b|\bbetween\b|\bis\b)`;
/** A constant, maybe with arithmetic (`'1'`, `""`, `3-2`): a tautology compares two. A field compared to one is a search language (JQL's `"ABC" OR status = "Done"`). */
const CONST = String.raw`(?:'[^']*'|"[^"]*"|\d+(?:\.\d+)?(?:\s*[-+*/]\s*\d+)?|true|false|null)`;

const VALUE = new SignalSet([
  { level: 0, detail: 'a tautology after a quote (OR ... = ...)', pattern: String.raw`${Q}(?:or\s*|\|\|\s*|xor\s+)\(*\s*${CONST}\s*${CMP}\s*\(*\s*(?:['"]|\d|true|false|null)` },
  { level: 0, detail: 'a tautology after a quote (OR true)', pattern: String.raw`${Q}or\s+(?:true|not\s+false|\d+)\s*(?:--|#|/\*|;|\)|$)` },
  { level: 0, detail: 'a numeric tautology (OR n=n)', pattern: String.raw`^\s*-?\d+\s*\)*\s+(?:or|\|\|)\s+\(*\s*${CONST}\s*${CMP}\s*(?:['"]|\d)` },
  { level: 0, detail: 'an EXISTS subquery injected after OR', pattern: String.raw`\bor\s+(?:not\s+)?exists\s*\(\s*select\b` },
  { level: 0, detail: 'UNION SELECT injected into a value', pattern: String.raw`\bunion\s+(?:all\s+|distinct\s+)?\(?\s*select\b` },
  { level: 0, detail: 'a time-based probe (SLEEP, pg_sleep, WAITFOR DELAY, BENCHMARK)', pattern: String.raw`\b(?:sleep|pg_sleep|pg_sleep_for)\s*\(\s*'?\d|\bbenchmark\s*\(\s*\d|\bwaitfor\s+(?:delay|time)\s+'|dbms_pipe\.receive_message|dbms_lock\.sleep|\brlike\s+sleep\b|\brandomblob\s*\(\s*\d{6,}` },
  { level: 0, detail: 'a database escape hatch (xp_cmdshell, LOAD_FILE, INTO OUTFILE, COPY PROGRAM...)', pattern: String.raw`xp_cmdshell|xp_dirtree|xp_regread|sp_oacreate|\bload_file\s*\(|\binto\s+(?:out|dump)file\b|pg_read_(?:binary_)?file\s*\(|\blo_(?:import|export)\s*\(|utl_http\.|utl_inaddr\.|dbms_ldap\.|\bto\s+program\s+'` },
  { level: 0, detail: 'a stacked statement after a quote (; DROP/DELETE/UPDATE/INSERT/EXEC...)', pattern: String.raw`['"]\s*\)*\s*;\s*(?:drop|delete|update|insert|shutdown|exec|execute|truncate|alter|create|grant|declare|copy)\b` },
  { level: 1, detail: 'a stacked statement (; DROP/DELETE/UPDATE/INSERT/EXEC...)', pattern: String.raw`;\s*(?:drop\s+(?:table|database|schema|view|user|index|procedure|function)\b|delete\s+from\b|update\s+\S+\s+set\b|insert\s+into\b|truncate\s+(?:table\s+)?\w|shutdown\b|exec(?:ute)?\s+(?:master\.|xp_|sp_|@|\()|alter\s+(?:table|user|database|login|role)\b|create\s+(?:user|login|table|function|trigger|procedure|role)\b|grant\s+\w|declare\s+@|copy\s+\S+\s+(?:to|from)\b)` },
  { level: 1, detail: 'a comment cutting off the rest of a query after a quote', pattern: String.raw`'\s*\)*\s*(?:--|#|/\*)|"\s*\)*\s*(?:--\s*-?\s*$|#\s*$|/\*)` },
  { level: 1, detail: 'a boolean probe after a quote (AND ... = ...)', pattern: String.raw`${Q}and\s+\(?\s*(?:'[^']*'|\d+)\s*${CMP}\s*(?:'|\d)` },
  { level: 1, detail: 'a numeric boolean probe (AND n=n)', pattern: String.raw`^\s*-?\d+\s*\)*\s+and\s+\(?\s*\d+\s*${CMP}\s*\d+\s*\)?\s*(?:--|#|$)` },
  { level: 1, detail: 'a clause injected after a quote (ORDER BY n, GROUP BY, HAVING ... --)', pattern: String.raw`'\s*\)*\s*(?:order\s+by|group\s+by|having|limit|procedure\s+analyse)\b[^'"]{0,40}(?:--|#|/\*)` },
  { level: 1, detail: 'a subquery probe (AND (SELECT ...), ASCII(SUBSTRING(...)))', pattern: String.raw`['"]\s*(?:\|\||\+)\s*\(\s*select\b|\b(?:and|or)\s+\(\s*select\b|\b(?:ascii|ord|substring|substr|mid|length)\s*\(\s*\(?\s*select\b|\bsubstring\s*\(\s*@@|\(\s*case\s+when\b.{0,200}\bselect\b` },
  { level: 1, detail: 'error-based extraction (extractvalue, updatexml, CONVERT)', pattern: String.raw`\b(?:extractvalue|updatexml)\s*\(|\bconvert\s*\(\s*int\s*,|\bfloor\s*\(\s*rand\s*\(\s*0\s*\)\s*\*\s*2\s*\)` },
  { level: 1, detail: 'catalogue probing (information_schema, sysobjects, @@version...)', pattern: String.raw`\bfrom\s+(?:information_schema|sysobjects|syscolumns|sys\.\w+|mysql\.user|pg_shadow|pg_catalog\.\w+|pg_user|sqlite_master|all_tables|all_users|dba_users|master\.\.sysdatabases)|@@(?:version|datadir|hostname)|\bgroup_concat\s*\(|\bconcat\s*\(\s*0x` },
  { level: 2, detail: 'a quote followed by SQL keywords', pattern: String.raw`'\s*\)*\s*(?:and|or|union|select|order\s+by|group\s+by|having)\s` },
]);

/** In documents: the value signals that leave no doubt, and only those. */
const DOCUMENT = new SignalSet([
  { level: 1, detail: 'a stacked statement after a quote (; DROP/DELETE/UPDATE/INSERT/EXEC...)', pattern: String.raw`'\s*\)*\s*;\s*(?:drop|delete|update|insert|shutdown|exec)\s` },
  { level: 1, detail: 'a tautology after a quote (OR ... = ...) with a comment', pattern: String.raw`'\s*\)*\s*or\s+'?\w*'?\s*=\s*'?\w*'?\s*(?:--|#)|'\s*or\s+'[^'\n]{0,20}'\s*=\s*'` },
  { level: 1, detail: 'a database escape hatch (xp_cmdshell, INTO OUTFILE...)', pattern: String.raw`xp_cmdshell|\binto\s+(?:out|dump)file\s+'` },
  { level: 1, detail: 'UNION SELECT of NULLs or constants', pattern: String.raw`\bunion\s+(?:all\s+)?select\s+(?:null\s*,|\d+\s*,\s*\d+\s*,)` },
  { level: 1, detail: 'a time-based probe after a quote', pattern: String.raw`'\s*\)*\s*(?:and|or|;|\|\|)\s*(?:select\s+)?(?:sleep|pg_sleep|benchmark)\s*\(|\bwaitfor\s+delay\s+'` },
  { level: 2, detail: 'UNION SELECT', pattern: String.raw`'\s*\)*\s*union\s+(?:all\s+)?select\b` },
]);

/** `/*!50000UNION*​/` and `UN/**​/ION`-style comments read as the space (or the code) they stand for. */
function uncomment(t: string): string {
  if (!t.includes('/*')) return t;
  let out = '';
  let i = 0;
  for (;;) {
    const open = t.indexOf('/*', i);
    if (open < 0) return out + t.slice(i);
    out += t.slice(i, open);
    if (t[open + 2] === '!') {
      // MySQL executes what a /*! comment holds: keep it, drop the version number.
      let j = open + 3;
      while (j < t.length && t.charCodeAt(j) >= 48 && t.charCodeAt(j) <= 57) j++;
      out += ' ';
      const close = t.indexOf('*/', j);
      if (close < 0) return out + t.slice(j);
      out += `${t.slice(j, close)} `;
      i = close + 2;
      continue;
    }
    const close = t.indexOf('*/', open + 2);
    // An open comment cuts the rest of the query off: keep the marker for the comment signal.
    if (close < 0) return out + t.slice(open);
    out += ' ';
    i = close + 2;
  }
}

// ----------------------------------------------------------------------------- statements (lexer)
// A single pass over the text; the few V8 regular expressions below read one short token each and
// have no nested repetition (linear time).

type Kind = 'str' | 'num' | 'word' | 'op' | 'semi' | 'lp' | 'rp' | 'comma' | 'comment';
interface Tok {
  k: Kind;
  v: string;
  /** Whitespace before it. */
  sp: boolean;
}

/** At most this many tokens of a statement are read (a 64 K leaf has fewer than this many anyway). */
const MAX_TOKENS = 20_000;

const isWordStart = (c: number): boolean => (c >= 97 && c <= 122) || c === 95 || c === 64 || c === 36 || c >= 128;
const isWord = (c: number): boolean => isWordStart(c) || (c >= 48 && c <= 57) || c === 46;
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11;

/** Tokens of a lower-case SQL text; `/*!` comments are read as code (MySQL runs them). */
export function lex(t: string): { toks: Tok[]; unterminated: boolean } {
  const toks: Tok[] = [];
  let unterminated = false;
  let sp = false;
  let i = 0;
  const n = t.length;
  const push = (k: Kind, v: string): void => {
    toks.push({ k, v, sp });
    sp = false;
  };
  while (i < n && toks.length < MAX_TOKENS) {
    const c = t.charCodeAt(i);
    if (isSpace(c)) {
      sp = true;
      i++;
    } else if (c === 39 /* ' */ || c === 34 /* " */) {
      // A literal: '' (or "") inside it is the quote itself; a backslash escapes the next character (MySQL).
      let j = i + 1;
      let from = j;
      let v = '';
      let closed = false;
      while (j < n) {
        const d = t.charCodeAt(j);
        if (d === 92 /* \ */) {
          v += t.slice(from, j) + (t[j + 1] ?? '');
          j += 2;
          from = j;
        } else if (d === c && t.charCodeAt(j + 1) === c) {
          v += t.slice(from, j) + t[i];
          j += 2;
          from = j;
        } else if (d === c) {
          v += t.slice(from, j);
          j++;
          closed = true;
          break;
        } else j++;
      }
      if (!closed) {
        v += t.slice(from, Math.min(j, n));
        unterminated = true;
      }
      push('str', v);
      i = Math.min(j, n);
    } else if (c === 45 /* - */ && t.charCodeAt(i + 1) === 45) {
      const e = t.indexOf('\n', i);
      push('comment', t.slice(i + 2, e < 0 ? n : e));
      i = e < 0 ? n : e;
    } else if (c === 35 /* # */ && (i + 1 >= n || isSpace(t.charCodeAt(i + 1)) || toks[toks.length - 1]?.k === 'str')) {
      const e = t.indexOf('\n', i);
      push('comment', t.slice(i + 1, e < 0 ? n : e));
      i = e < 0 ? n : e;
    } else if (c === 47 /* / */ && t.charCodeAt(i + 1) === 42 /* * */) {
      if (t.charCodeAt(i + 2) === 33 /* ! */) {
        i += 3;
        while (i < n && isDigit(t.charCodeAt(i))) i++;
        sp = true;
        continue;
      }
      const e = t.indexOf('*/', i + 2);
      push('comment', t.slice(i + 2, e < 0 ? n : e));
      i = e < 0 ? n : e + 2;
    } else if (c === 42 /* * */ && t.charCodeAt(i + 1) === 47) {
      i += 2; // the end of a /*! comment
      sp = true;
    } else if (c === 96 /* ` */) {
      const e = t.indexOf('`', i + 1);
      push('word', t.slice(i + 1, e < 0 ? n : e));
      i = e < 0 ? n : e + 1;
    } else if (isDigit(c)) {
      let j = i + 1;
      while (j < n && (isWord(t.charCodeAt(j)))) j++;
      push('num', t.slice(i, j));
      i = j;
    } else if (isWordStart(c)) {
      let j = i + 1;
      while (j < n && isWord(t.charCodeAt(j))) j++;
      push('word', t.slice(i, j));
      i = j;
    } else if (c === 59) {
      push('semi', ';');
      i++;
    } else if (c === 40) {
      push('lp', '(');
      i++;
    } else if (c === 41) {
      push('rp', ')');
      i++;
    } else if (c === 44) {
      push('comma', ',');
      i++;
    } else {
      const two = t.slice(i, i + 2);
      const op = ['<>', '!=', '<=', '>=', '||', '&&', '::'].includes(two) ? two : t[i]!;
      push('op', op);
      i += op.length;
    }
  }
  return { toks, unterminated };
}

const CONSTANT = (tok: Tok | undefined): boolean => !!tok && (tok.k === 'str' || tok.k === 'num' || (tok.k === 'word' && (tok.v === 'true' || tok.v === 'false' || tok.v === 'null')));
const COMPARISON = new Set(['=', '<>', '!=', '<', '>', '<=', '>=', 'like', 'rlike', 'regexp', 'is']);
const isCmp = (tok: Tok | undefined): boolean => !!tok && ((tok.k === 'op' && COMPARISON.has(tok.v)) || (tok.k === 'word' && COMPARISON.has(tok.v)));

/** Two constants compared at toks[i] (`1=1`, `'a'='a'`, `2>1`, `3-2=1`), after optional parentheses. */
function constantComparison(toks: Tok[], i: number): boolean {
  while (toks[i]?.k === 'lp') i++;
  if (!CONSTANT(toks[i])) return false;
  let j = i + 1;
  // A constant expression: 3-2, 1+1.
  while (toks[j]?.k === 'op' && ['+', '-', '*', '/'].includes(toks[j]!.v) && CONSTANT(toks[j + 1])) j += 2;
  if (!isCmp(toks[j])) return false;
  while (toks[j + 1]?.k === 'lp') j++;
  return CONSTANT(toks[j + 1]);
}

const ENDS = (tok: Tok | undefined): boolean => !tok || tok.k === 'comment' || tok.k === 'rp' || tok.k === 'semi';

/** Statements: tokens between semicolons, comments left out. */
function statements(toks: Tok[]): Tok[][] {
  const out: Tok[][] = [[]];
  for (const t of toks) {
    if (t.k === 'semi') out.push([]);
    else if (t.k !== 'comment') out[out.length - 1]!.push(t);
  }
  return out.filter((s) => s.length > 0);
}

const DESTRUCTIVE = new Set(['drop', 'truncate', 'shutdown', 'grant', 'revoke', 'exec', 'execute', 'declare']);
const READS = new Set(['select', 'with', 'show', 'explain', 'values', 'table', 'describe', 'desc']);
const WRITES = new Set(['insert', 'update', 'delete', 'create', 'alter', 'drop', 'copy', 'merge', 'truncate', 'replace', 'upsert']);
const TIME_FUNCTIONS = new Set(['sleep', 'pg_sleep', 'pg_sleep_for', 'pg_sleep_until', 'benchmark', 'dbms_pipe.receive_message', 'dbms_lock.sleep']);
const ESCAPE_FUNCTIONS = new Set(['load_file', 'pg_read_file', 'pg_read_binary_file', 'pg_ls_dir', 'lo_import', 'lo_export', 'sys_exec', 'sys_eval']);
const ESCAPE_WORDS = new Set(['xp_cmdshell', 'xp_dirtree', 'xp_regread', 'xp_fileexist', 'sp_oacreate', 'sp_oamethod']);
const ERROR_FUNCTIONS = new Set(['extractvalue', 'updatexml']);
/** What a UNION SELECT reads when it is extracting rather than querying. */
const EXTRACTING = new Set(['@@version', 'version', 'user', 'current_user', 'system_user', 'session_user', 'database', 'schema', 'group_concat', 'load_file', '@@hostname', '@@datadir', 'char', 'concat', 'concat_ws', 'null']);
const CATALOGUE = /^(?:information_schema\.|mysql\.user$|pg_shadow$|pg_user$|pg_authid$|sqlite_master$|sqlite_schema$|sys\.sql_logins$|sys\.syslogins$|sysobjects$|syscolumns$|all_users$|dba_users$|master\.\.)/;
const CREDENTIAL_COLUMN = /^(?:\w+\.)?(?:password|passwd|pwd|pass|password_hash|passwordhash|hash|secret|api_key|apikey|token|ssn|credit_card|card_number|cvv|authentication_string)$/;

/** What the tokens of a SQL statement (a query argument) show of an injection, if anything. */
export function injectedStatement(text: string, level: Level): string | undefined {
  const { toks, unterminated } = lex(text);
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    const next = toks[i + 1];
    if (t.k === 'word' || (t.k === 'op' && t.v === '||')) {
      // OR <constant> <cmp> <constant>, OR true: a tautology. (`||` is OR in MySQL.)
      if ((t.v === 'or' || t.v === '||' || t.v === 'xor') && (constantComparison(toks, i + 1) || (t.v === 'or' && CONSTANT(next) && next!.k !== 'str' && ENDS(toks[i + 2])))) {
        return 'a tautology (OR with two constants compared)';
      }
      if (t.v === 'and' && level >= 2 && constantComparison(toks, i + 1)) return 'a constant comparison after AND';
      if (TIME_FUNCTIONS.has(t.v) && next?.k === 'lp') return 'a time-based probe (SLEEP, pg_sleep, BENCHMARK)';
      if (t.v === 'waitfor' && (next?.v === 'delay' || next?.v === 'time')) return 'a time-based probe (WAITFOR DELAY)';
      if (ESCAPE_WORDS.has(t.v) || (ESCAPE_FUNCTIONS.has(t.v) && next?.k === 'lp') || t.v.startsWith('utl_http.') || t.v.startsWith('utl_inaddr.') || t.v.startsWith('dbms_ldap.')) {
        return 'a database escape hatch (xp_cmdshell, LOAD_FILE, pg_read_file...)';
      }
      if (t.v === 'into' && (next?.v === 'outfile' || next?.v === 'dumpfile')) return 'INTO OUTFILE (writes a file on the database server)';
      if (t.v === 'program' && (toks[i - 1]?.v === 'to' || toks[i - 1]?.v === 'from')) return 'COPY ... PROGRAM (runs a command on the database server)';
      if (level >= 1 && ERROR_FUNCTIONS.has(t.v) && next?.k === 'lp') return 'error-based extraction (extractvalue, updatexml)';
      if (level >= 1 && t.v === 'union') {
        const why = extractingUnion(toks, i + 1);
        if (why) return why;
      }
    }
    if (t.k === 'comment' && level >= 1) {
      const body = t.v.slice(0, 256).trim();
      // `WHERE u = 'admin'--' AND p = '...'`: the comment swallows the rest of the quoted query.
      if (/^['"]/.test(body) || (/['"]/.test(body) && /\b(?:and|or)\b|=/.test(body) && toks[i - 1]?.k === 'str' && !t.sp)) {
        return 'a comment cutting off the rest of a quoted query';
      }
    }
  }
  const stacked = stackedStatement(statements(toks));
  if (stacked && level >= 1) return stacked;
  if (unterminated && level >= 2) return 'an unterminated string literal';
  return undefined;
}

/** After UNION [ALL|DISTINCT]: a SELECT that extracts (constants, NULLs, version(), catalogues, credentials). */
function extractingUnion(toks: Tok[], i: number): string | undefined {
  if (toks[i]?.v === 'all' || toks[i]?.v === 'distinct') i++;
  while (toks[i]?.k === 'lp') i++;
  if (toks[i]?.v !== 'select') return undefined;
  i++;
  let items = 0;
  let constants = 0;
  for (; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.k === 'word' && (t.v === 'from' || t.v === 'where' || t.v === 'union' || t.v === 'into')) break;
    if (t.k === 'semi') break;
    if (t.k === 'comma') continue;
    if (t.k === 'word' && EXTRACTING.has(t.v)) return 'UNION SELECT of version, user or catalogue data';
    if (t.k === 'word' && t.v.length < 64 && CREDENTIAL_COLUMN.test(t.v)) return 'UNION SELECT of credential columns';
    items++;
    if (CONSTANT(t)) constants++;
  }
  if (items > 0 && constants === items) return 'UNION SELECT of constants (column probing)';
  if (toks[i]?.v === 'from' && CATALOGUE.test((toks[i + 1]?.v ?? '').slice(0, 64))) return 'UNION SELECT from the system catalogue';
  return undefined;
}

/** A statement after the first that an injection adds. */
function stackedStatement(stmts: Tok[][]): string | undefined {
  if (stmts.length < 2) return undefined;
  const firstWord = (s: Tok[]): string => s.find((t) => t.k === 'word')?.v ?? '';
  const startsRead = READS.has(firstWord(stmts[0]!));
  for (let k = 1; k < stmts.length; k++) {
    const s = stmts[k]!;
    const w = firstWord(s);
    const has = (word: string): boolean => s.some((t) => t.k === 'word' && t.v === word);
    if (DESTRUCTIVE.has(w)) return `a ${w.toUpperCase()} statement stacked after the first`;
    if ((w === 'delete' || w === 'update') && !has('where')) return `a ${w.toUpperCase()} without WHERE stacked after the first statement`;
    if ((w === 'create' || w === 'alter') && (has('user') || has('login') || has('role'))) return 'a user or role change stacked after the first statement';
    if (startsRead && WRITES.has(w)) return `a ${w.toUpperCase()} stacked after a read`;
  }
  return undefined;
}

// ------------------------------------------------------------------------------------------ detect

export const detectSqlInjection: Detect = (leaf: LeafView, { level }) => {
  if (leaf.roles.has('shell')) return undefined;
  if (leaf.roles.has('sql')) return injectedStatement(leaf.text, level);
  const text = uncomment(leaf.text);
  if (leaf.roles.has('document')) return DOCUMENT.first(text, level);
  // '+' is a space once a form decoder reads the value (`1;+DROP+TABLE+users--`).
  return VALUE.first(text, level) ?? (text.includes('+') ? VALUE.first(text.replace(/\+/g, ' '), level) : undefined);
};
