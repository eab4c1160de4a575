import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trustStoreJks } from './jks.js';
import { createCa } from './x509.js';

interface JksEntry { tag: number; alias: string; created: number; type: string; der: Buffer }

/**
 * A reader written from the format's description, sharing nothing with lib/jks.ts: checks the
 * magic, version and digest, and returns the entries.
 */
function readJks(file: Buffer, password: string): JksEntry[] {
  let at = 0;
  const take = (n: number): Buffer => {
    if (at + n > file.length) throw new Error(`truncated at ${at}`);
    const b = file.subarray(at, at + n);
    at += n;
    return b;
  };
  const int = () => take(4).readUInt32BE();
  const utf = () => take(take(2).readUInt16BE()).toString('utf8');
  if (int() !== 0xfeedfeed) throw new Error('bad magic');
  if (int() !== 2) throw new Error('bad version');
  const count = int();
  const out: JksEntry[] = [];
  for (let i = 0; i < count; i++) {
    const tag = int();
    const alias = utf();
    const created = Number(take(8).readBigInt64BE());
    const type = utf();
    const der = Buffer.from(take(int()));
    out.push({ tag, alias, created, type, der });
  }
  const body = file.subarray(0, at);
  const digest = take(20);
  if (at !== file.length) throw new Error('trailing bytes');
  const pw = Buffer.from(password, 'utf16le').swap16(); // UTF-16BE
  const expected = createHash('sha1').update(pw).update('Mighty Aphrodite', 'utf8').update(body).digest();
  if (!digest.equals(expected)) throw new Error('digest mismatch');
  return out;
}

const der = (pem: string): Buffer => new X509Certificate(pem).raw;

describe('trustStoreJks', () => {
  let ours: Buffer;
  let dir: string;
  beforeAll(async () => {
    ours = der((await createCa('jks test', 1)).certPem);
    dir = mkdtempSync(join(tmpdir(), 'jks-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const created = new Date('2025-03-04T05:06:07.089Z');
  const sample = () => ({ certs: [der(rootCertificates[0]!), der(rootCertificates[1]!), ours], aliases: ['root-a', 'root-b', 'chaperone-ca-0'] });

  it('writes trusted-certificate entries that read back as given', () => {
    const { certs, aliases } = sample();
    const entries = readJks(trustStoreJks(certs, aliases, created), 'changeit');
    expect(entries.map((e) => e.alias)).toEqual(aliases);
    for (const [i, e] of entries.entries()) {
      expect(e).toMatchObject({ tag: 2, created: created.getTime(), type: 'X.509' });
      expect(e.der.equals(certs[i]!)).toBe(true);
    }
  });

  it('is sealed with the password: another password fails the digest', () => {
    const { certs, aliases } = sample();
    expect(() => readJks(trustStoreJks(certs, aliases, created), 'wrong')).toThrow(/digest/);
    expect(readJks(trustStoreJks(certs, aliases, created, 'other'), 'other')).toHaveLength(3);
  });

  it('gives equal bytes for equal inputs', () => {
    const { certs, aliases } = sample();
    expect(trustStoreJks(certs, aliases, created).equals(trustStoreJks(certs, aliases, new Date(created)))).toBe(true);
  });

  it('writes an empty store', () => {
    expect(readJks(trustStoreJks([], [], created), 'changeit')).toEqual([]);
  });

  it.each<[string, Buffer[] | undefined, string[], RegExp]>([
    ['counts that differ', undefined, ['a'], /2 certificates but 1 aliases/],
    ['an upper-case alias', undefined, ['a', 'B'], /"B" is not lower-case/],
    ['a non-ASCII alias', undefined, ['a', 'é'], /not lower-case printable ASCII/],
    ['an empty alias', undefined, ['a', ''], /not lower-case printable ASCII/],
    ['a repeated alias', undefined, ['a', 'a'], /"a" repeats/],
    ['an empty certificate', [Buffer.alloc(0)], ['a'], /certificate a is empty/],
  ])('rejects %s', (_label, certs, aliases, error) => {
    expect(() => trustStoreJks(certs ?? [ours, ours], aliases, created)).toThrow(error);
  });

  // keytool comes with `make test` (scripts/ensure-tools.sh installs a Java runtime).
  it('is read by keytool, which checks the digest', () => {
    const { certs, aliases } = sample();
    const file = join(dir, 'sample.jks');
    writeFileSync(file, trustStoreJks(certs, aliases, created));
    const list = (storepass: string) =>
      execFileSync('keytool', ['-J-Duser.language=en', '-list', '-keystore', file, '-storepass', storepass, '-storetype', 'JKS'], { encoding: 'utf8', stdio: 'pipe' });
    const out = list('changeit');
    expect(out).toMatch(/Your keystore contains 3 entries/);
    expect(out.match(/trustedCertEntry/g)).toHaveLength(3);
    for (const alias of aliases) expect(out).toContain(`${alias}, `);
    let failure = '';
    try {
      list('wrongpass');
    } catch (err) {
      failure = String((err as { stdout?: string }).stdout);
    }
    expect(failure).toMatch(/tampered with, or password was incorrect/);
  });
});
