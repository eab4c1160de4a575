// What an image archive's config says against what a Dockerfile's final stage declares: the e2e
// images are built with buildah on a base made here (build-images.sh), not with `docker build`, so
// this checks that the image a cluster runs carries the user, entrypoint, command, environment,
// working directory and ports the Dockerfile asks for. Reads OCI archives (index.json -> manifest ->
// config) and `docker save` archives (manifest.json -> config) with a small tar reader; no
// dependencies.
import { createHash } from 'node:crypto';
import { open, readFile, type FileHandle } from 'node:fs/promises';

/** The part of an image config (OCI image-spec "config" object) that a Dockerfile declares. */
export interface ImageRuntimeConfig {
  User?: string;
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  ExposedPorts?: Record<string, unknown> | null;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
}

/** What a Dockerfile's stage sets. Fields left undefined are not declared (they come from the base). */
export interface ExpectedConfig {
  /** The stage's FROM image (the final stage's when stages chain with `FROM <stage>`). */
  from: string;
  user?: string;
  /** Variables set by ENV; a value that depends on the base image's environment is in `envUnknown`. */
  env: Record<string, string>;
  envUnknown: string[];
  entrypoint?: string[];
  /** null: ENTRYPOINT was set and no CMD after it, so the base image's CMD is reset to none. */
  cmd?: string[] | null;
  workingDir?: string;
  /** "port/proto", as in the config's ExposedPorts keys. */
  exposedPorts: string[];
  labels: Record<string, string>;
  stopSignal?: string;
}

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages of instructions: comments dropped, continuation lines joined. */
export function parseDockerfile(text: string): Stage[] {
  const lines = text.split(/\r?\n/);
  // A parser directive `# escape=`` ` may only appear before any instruction or other comment.
  let escape = '\\';
  for (const l of lines) {
    const m = /^#\s*([a-z]+)\s*=\s*(\S+)\s*$/i.exec(l);
    if (!m) break;
    if (m[1]!.toLowerCase() === 'escape') escape = m[2]!;
  }
  const instructions: Instruction[] = [];
  let pending = '';
  let startLine = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    // Comment lines are dropped even in the middle of a continued instruction, as docker does.
    if (/^\s*#/.test(raw)) continue;
    if (pending === '' && raw.trim() === '') continue;
    if (pending === '') startLine = i + 1;
    const trimmedEnd = raw.replace(/\s+$/, '');
    if (trimmedEnd.endsWith(escape)) {
      pending += trimmedEnd.slice(0, -escape.length) + ' ';
      continue;
    }
    pending += raw;
    push(pending, startLine);
    pending = '';
  }
  if (pending.trim() !== '') push(pending, startLine);

  function push(text: string, line: number): void {
    const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(text);
    if (!m) return;
    const keyword = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    if (/<<-?["']?[A-Za-z_]/.test(args) && (keyword === 'RUN' || keyword === 'COPY')) {
      throw new Error(`Dockerfile line ${line}: heredocs are not supported by this parser`);
    }
    instructions.push({ keyword, args, line });
  }

  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const words = ins.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const name = words.length >= 3 && words[1]!.toUpperCase() === 'AS' ? words[2]!.toLowerCase() : undefined;
      stages.push({ from: words[0] ?? '', ...(name !== undefined ? { name } : {}), instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1]!.instructions.push(ins);
    } else if (ins.keyword !== 'ARG') {
      throw new Error(`Dockerfile line ${ins.line}: ${ins.keyword} before the first FROM`);
    }
  }
  if (stages.length === 0) throw new Error('Dockerfile has no FROM');
  return stages;
}

/**
 * Splits shell-like words as the Dockerfile's ENV/LABEL/EXPOSE/USER do: double quotes (with \" \\ \$
 * escapes), single quotes (literal), backslash escapes, and $VAR / ${VAR} expansion outside single
 * quotes. `vars` returns undefined for a variable the Dockerfile does not set (the base image may).
 */
export function splitWords(s: string, vars: (name: string) => string | undefined): { words: string[]; unknown: boolean } {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let unknown = false;
  let i = 0;
  const expand = (): void => {
    // At s[i] === '$'.
    let name: string;
    let fallback: string | undefined;
    let mode = '';
    if (s[i + 1] === '{') {
      const end = s.indexOf('}', i + 2);
      if (end < 0) throw new Error(`unterminated \${ in ${JSON.stringify(s)}`);
      const inner = s.slice(i + 2, end);
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([\s\S]*))?$/.exec(inner);
      if (!m) throw new Error(`unsupported expansion \${${inner}}`);
      name = m[1]!;
      mode = m[2] ?? '';
      fallback = m[3];
      i = end + 1;
    } else {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i + 1));
      if (!m) {
        cur += '$';
        i++;
        return;
      }
      name = m[0];
      i += 1 + name.length;
    }
    const v = vars(name);
    if (v === undefined) unknown = true;
    if (mode === '-') cur += v !== undefined && v !== '' ? v : (fallback ?? '');
    else if (mode === '+') cur += v !== undefined && v !== '' ? (fallback ?? '') : '';
    else cur += v ?? '';
  };
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (c === '\\') {
      cur += s[i + 1] ?? '';
      i += 2;
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated ' in ${JSON.stringify(s)}`);
      cur += s.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < s.length && '"\\$'.includes(s[i + 1]!)) {
          cur += s[i + 1];
          i += 2;
        } else if (s[i] === '$') expand();
        else cur += s[i++];
      }
      if (s[i] !== '"') throw new Error(`unterminated " in ${JSON.stringify(s)}`);
      i++;
    } else if (c === '$') expand();
    else {
      cur += c;
      i++;
    }
  }
  if (inWord) words.push(cur);
  return { words, unknown };
}

/** ENV/LABEL arguments: `k=v k2="v 2"`, or the legacy `key value with spaces`. */
function keyValues(args: string, vars: (name: string) => string | undefined): Array<{ key: string; value: string; unknown: boolean }> {
  const first = /^\s*([^\s=]+)(=|\s|$)/.exec(args);
  if (first && first[2] !== '=') {
    const { words, unknown } = splitWords(args.slice(first[0].length), vars);
    return [{ key: first[1]!, value: words.join(' '), unknown }];
  }
  // Each word is split on its first '='; the value is expanded with the variables set before
  // this instruction (docker expands all pairs of one ENV against the environment before it).
  const out: Array<{ key: string; value: string; unknown: boolean }> = [];
  const rawWords = rawSplit(args);
  for (const w of rawWords) {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new Error(`expected key=value, got ${JSON.stringify(w)}`);
    const { words, unknown } = splitWords(w.slice(eq + 1), vars);
    out.push({ key: splitWords(w.slice(0, eq), vars).words.join(''), value: words.join(' '), unknown });
  }
  return out;
}

/** Splits on unquoted, unescaped whitespace, keeping quotes and escapes for splitWords. */
function rawSplit(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote === undefined && /\s/.test(c)) {
      if (cur !== '') out.push(cur);
      cur = '';
      continue;
    }
    cur += c;
    if (c === '\\' && quote !== "'" && i + 1 < s.length) cur += s[++i];
    else if (quote === undefined && (c === '"' || c === "'")) quote = c;
    else if (c === quote) quote = undefined;
  }
  if (cur !== '') out.push(cur);
  return out;
}

/** ENTRYPOINT/CMD/SHELL: the JSON (exec) form, else the shell form run by the stage's SHELL. */
function execForm(args: string, shell: string[]): string[] {
  const t = args.trim();
  if (t.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(t);
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return parsed as string[];
    } catch {
      // Not valid JSON: docker then runs the text in the shell form, and so does this.
    }
  }
  return [...shell, t];
}

/** The config the Dockerfile's final stage declares (following `FROM <earlier stage>` chains). */
export function expectedFromDockerfile(text: string): ExpectedConfig {
  const stages = parseDockerfile(text);
  const expectedOf = (index: number): ExpectedConfig => {
    const stage = stages[index]!;
    const parentIndex = stages.findIndex((s, i) => i < index && s.name !== undefined && s.name === stage.from.toLowerCase());
    const out: ExpectedConfig =
      parentIndex >= 0
        ? structuredClone(expectedOf(parentIndex))
        : { from: stage.from, env: {}, envUnknown: [], exposedPorts: [], labels: {} };
    const args: Record<string, string> = {};
    let shell = ['/bin/sh', '-c'];
    const vars = (name: string): string | undefined => (name in out.env ? out.env[name] : args[name]);
    for (const ins of stage.instructions) {
      switch (ins.keyword) {
        case 'ARG': {
          const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:=([\s\S]*))?$/.exec(ins.args);
          if (m && m[2] !== undefined) args[m[1]!] = splitWords(m[2], vars).words.join(' ');
          break;
        }
        case 'ENV':
          for (const { key, value, unknown } of keyValues(ins.args, vars)) {
            out.env[key] = value;
            out.envUnknown = out.envUnknown.filter((k) => k !== key);
            if (unknown) out.envUnknown.push(key);
          }
          break;
        case 'LABEL':
          for (const { key, value } of keyValues(ins.args, vars)) out.labels[key] = value;
          break;
        case 'USER':
          out.user = splitWords(ins.args, vars).words.join(' ');
          break;
        case 'WORKDIR': {
          const dir = splitWords(ins.args, vars).words.join(' ');
          out.workingDir = normalizePath(dir.startsWith('/') ? dir : `${out.workingDir ?? '/'}/${dir}`);
          break;
        }
        case 'EXPOSE':
          for (const p of splitWords(ins.args, vars).words) {
            const port = p.includes('/') ? p.toLowerCase() : `${p}/tcp`;
            if (!out.exposedPorts.includes(port)) out.exposedPorts.push(port);
          }
          break;
        case 'SHELL':
          shell = execForm(ins.args, []);
          break;
        case 'ENTRYPOINT':
          out.entrypoint = execForm(ins.args, shell);
          // Setting ENTRYPOINT resets a CMD inherited from the base image (docker and buildah).
          out.cmd = null;
          break;
        case 'CMD':
          out.cmd = execForm(ins.args, shell);
          break;
        case 'STOPSIGNAL':
          out.stopSignal = splitWords(ins.args, vars).words.join(' ');
          break;
        default:
          break;
      }
    }
    return out;
  };
  return expectedOf(stages.length - 1);
}

function normalizePath(p: string): string {
  const parts: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return '/' + parts.join('/');
}

const show = (v: unknown): string => JSON.stringify(v ?? null);

/** The differences between what the Dockerfile declares and an image's config; empty when equal. */
export function compareConfig(expected: ExpectedConfig, actual: ImageRuntimeConfig): string[] {
  const diffs: string[] = [];
  if (expected.user !== undefined && (actual.User ?? '') !== expected.user) {
    diffs.push(`User: Dockerfile declares ${show(expected.user)}, image has ${show(actual.User ?? '')}`);
  }
  if (expected.entrypoint !== undefined && show(actual.Entrypoint ?? []) !== show(expected.entrypoint)) {
    diffs.push(`Entrypoint: Dockerfile declares ${show(expected.entrypoint)}, image has ${show(actual.Entrypoint)}`);
  }
  if (expected.cmd !== undefined && show(actual.Cmd ?? []) !== show(expected.cmd ?? [])) {
    diffs.push(`Cmd: Dockerfile declares ${show(expected.cmd ?? [])}, image has ${show(actual.Cmd)}`);
  }
  if (expected.workingDir !== undefined && (actual.WorkingDir ?? '') !== expected.workingDir) {
    diffs.push(`WorkingDir: Dockerfile declares ${show(expected.workingDir)}, image has ${show(actual.WorkingDir ?? '')}`);
  }
  if (expected.stopSignal !== undefined && (actual.StopSignal ?? '') !== expected.stopSignal) {
    diffs.push(`StopSignal: Dockerfile declares ${show(expected.stopSignal)}, image has ${show(actual.StopSignal ?? '')}`);
  }
  // The image's Env is the base's plus the Dockerfile's: each declared variable must be there with
  // its value (the last entry wins, as in a container's environment).
  const env = new Map<string, string>();
  for (const e of actual.Env ?? []) {
    const eq = e.indexOf('=');
    if (eq > 0) env.set(e.slice(0, eq), e.slice(eq + 1));
  }
  for (const [key, value] of Object.entries(expected.env)) {
    if (!env.has(key)) diffs.push(`Env: Dockerfile declares ${key}=${value}, image has no ${key}`);
    else if (!expected.envUnknown.includes(key) && env.get(key) !== value) {
      diffs.push(`Env: Dockerfile declares ${key}=${show(value)}, image has ${key}=${show(env.get(key))}`);
    }
  }
  const ports = Object.keys(actual.ExposedPorts ?? {});
  for (const p of expected.exposedPorts) {
    if (!ports.includes(p)) diffs.push(`ExposedPorts: Dockerfile declares ${p}, image does not expose it`);
  }
  for (const [key, value] of Object.entries(expected.labels)) {
    const got = actual.Labels?.[key];
    if (got !== value) diffs.push(`Labels: Dockerfile declares ${key}=${show(value)}, image has ${show(got)}`);
  }
  return diffs;
}

// ---- Archives ----

interface TarEntry {
  offset: number;
  size: number;
  type: string;
  linkname: string;
}

/** Lists a (non-compressed) tar's regular files and links: name -> where the contents are. */
async function tarIndex(fh: FileHandle): Promise<Map<string, TarEntry>> {
  const entries = new Map<string, TarEntry>();
  const block = Buffer.alloc(512);
  let pos = 0;
  let longName: string | undefined;
  let paxPath: string | undefined;
  let paxLink: string | undefined;
  let zeroBlocks = 0;
  const field = (b: Buffer, start: number, len: number): string => {
    const s = b.subarray(start, start + len);
    const nul = s.indexOf(0);
    return s.subarray(0, nul < 0 ? len : nul).toString('utf8');
  };
  for (;;) {
    const { bytesRead } = await fh.read(block, 0, 512, pos);
    if (bytesRead === 0) break;
    if (bytesRead < 512) throw new Error('truncated tar header');
    if (pos === 0 && block[0] === 0x1f && block[1] === 0x8b) throw new Error('compressed archive: expected a plain tar');
    if (block.every((b) => b === 0)) {
      if (++zeroBlocks === 2) break;
      pos += 512;
      continue;
    }
    zeroBlocks = 0;
    let size: number;
    if (block[124]! & 0x80) {
      // GNU base-256 for sizes of 8 GiB and more.
      size = 0;
      for (let i = 125; i < 136; i++) size = size * 256 + block[i]!;
    } else {
      size = parseInt(field(block, 124, 12).trim() || '0', 8);
    }
    const type = String.fromCharCode(block[156] || 0x30);
    const dataStart = pos + 512;
    pos = dataStart + Math.ceil(size / 512) * 512;
    if (type === 'L' || type === 'x' || type === 'K') {
      const data = Buffer.alloc(size);
      await fh.read(data, 0, size, dataStart);
      if (type === 'L') longName = data.toString('utf8').replace(/\0+$/, '');
      else if (type === 'K') paxLink = data.toString('utf8').replace(/\0+$/, '');
      else {
        for (const rec of parsePax(data)) {
          if (rec.key === 'path') paxPath = rec.value;
          if (rec.key === 'linkpath') paxLink = rec.value;
        }
      }
      continue;
    }
    if (type === 'g') continue;
    const magic = field(block, 257, 6);
    const prefix = magic.startsWith('ustar') ? field(block, 345, 155) : '';
    let name = paxPath ?? longName ?? (prefix ? `${prefix}/${field(block, 0, 100)}` : field(block, 0, 100));
    const linkname = paxLink ?? field(block, 157, 100);
    paxPath = longName = paxLink = undefined;
    name = name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
    if (type === '0' || type === '\0' || type === '7' || type === '1' || type === '2') {
      entries.set(name, { offset: dataStart, size, type, linkname });
    }
  }
  return entries;
}

function parsePax(data: Buffer): Array<{ key: string; value: string }> {
  const out: Array<{ key: string; value: string }> = [];
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(data.subarray(i, sp).toString('ascii'), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out.push({ key: rec.slice(0, eq), value: rec.slice(eq + 1) });
    i += len;
  }
  return out;
}

/** What an image archive holds: its names (from the index's annotations) and its config. */
export interface ArchiveImage {
  /** io.containerd.image.name and org.opencontainers.image.ref.name (OCI) or RepoTags (docker). */
  names: string[];
  annotations: Record<string, string>;
  manifestDigest?: string;
  configDigest: string;
  architecture?: string;
  os?: string;
  config: ImageRuntimeConfig;
}

const MANIFEST_TYPES = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json'];
const INDEX_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];

/** Reads every image an archive holds (for a multi-platform index: this machine's platform). */
export async function readImageArchive(archivePath: string): Promise<ArchiveImage[]> {
  const fh = await open(archivePath, 'r');
  try {
    const entries = await tarIndex(fh);
    const read = async (name: string, depth = 0): Promise<Buffer> => {
      const e = entries.get(name);
      if (!e) throw new Error(`${archivePath}: no ${name} in the archive`);
      if (e.type === '2' || e.type === '1') {
        if (depth > 8) throw new Error(`${archivePath}: too many links at ${name}`);
        const target = e.type === '2' && !e.linkname.startsWith('/') ? normalizePath(`${name}/../${e.linkname}`).slice(1) : e.linkname.replace(/^\/+/, '');
        return read(target, depth + 1);
      }
      const buf = Buffer.alloc(e.size);
      await fh.read(buf, 0, e.size, e.offset);
      return buf;
    };
    const blob = async (digest: string): Promise<Buffer> => {
      const [alg, hex] = digest.split(':');
      const data = await read(`blobs/${alg}/${hex}`);
      if (alg === 'sha256' && createHash('sha256').update(data).digest('hex') !== hex) {
        throw new Error(`${archivePath}: blob ${digest} does not match its digest`);
      }
      return data;
    };
    const json = (b: Buffer): any => JSON.parse(b.toString('utf8'));

    if (entries.has('index.json')) {
      const images: ArchiveImage[] = [];
      const visit = async (desc: any, inherited: Record<string, string>): Promise<void> => {
        const annotations: Record<string, string> = { ...inherited, ...(desc.annotations ?? {}) };
        if (INDEX_TYPES.includes(desc.mediaType)) {
          const idx = json(await blob(desc.digest));
          const manifests: any[] = idx.manifests ?? [];
          const arch = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' }[process.arch as string] ?? process.arch;
          const mine = manifests.filter((m) => !m.platform || (m.platform.os === 'linux' && m.platform.architecture === arch));
          for (const m of mine) await visit(m, annotations);
          return;
        }
        if (!MANIFEST_TYPES.includes(desc.mediaType)) return; // attestations, signatures, ...
        const manifest = json(await blob(desc.digest));
        const cfg = json(await blob(manifest.config.digest));
        const names = [annotations['io.containerd.image.name'], annotations['org.opencontainers.image.ref.name']].filter(
          (n): n is string => typeof n === 'string' && n !== '',
        );
        images.push({
          names,
          annotations,
          manifestDigest: desc.digest,
          configDigest: manifest.config.digest,
          architecture: cfg.architecture,
          os: cfg.os,
          config: cfg.config ?? {},
        });
      };
      const index = json(await read('index.json'));
      for (const m of index.manifests ?? []) await visit(m, {});
      return images;
    }
    if (entries.has('manifest.json')) {
      // `docker save` format.
      const list: any[] = json(await read('manifest.json'));
      const images: ArchiveImage[] = [];
      for (const m of list) {
        const raw = await read(String(m.Config).replace(/^\/+/, ''));
        const cfg = json(raw);
        images.push({
          names: m.RepoTags ?? [],
          annotations: {},
          configDigest: `sha256:${createHash('sha256').update(raw).digest('hex')}`,
          architecture: cfg.architecture,
          os: cfg.os,
          config: cfg.config ?? {},
        });
      }
      return images;
    }
    throw new Error(`${archivePath}: neither an OCI archive (index.json) nor a docker archive (manifest.json)`);
  } finally {
    await fh.close();
  }
}

/**
 * The differences between the image in an archive (built by e2e/images/build-images.sh) and what
 * the Dockerfile's final stage declares: User, Entrypoint, Cmd, Env, WorkingDir, ExposedPorts,
 * Labels, StopSignal. Empty when they agree. The archive must hold exactly one image.
 */
export async function checkImageMatchesDockerfile(archivePath: string, dockerfilePath: string): Promise<string[]> {
  const expected = expectedFromDockerfile(await readFile(dockerfilePath, 'utf8'));
  const images = await readImageArchive(archivePath);
  if (images.length !== 1) return [`${archivePath}: expected one image, found ${images.length}`];
  return compareConfig(expected, images[0]!.config);
}
