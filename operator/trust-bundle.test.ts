import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCa, generateKeyPair, issueLeaf, loadCa, parseCertificates, x509 } from '../lib/x509.js';
import { needsRenewal as caNeedsRotation } from '../lib/x509.js';
import { desiredTrust } from './trust-bundle.js';

const DAY = 86_400_000;

/** A self-signed CA with exactly the given validity. */
async function caValid(cn: string, notBefore: Date, notAfter: Date): Promise<string> {
  const keys = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01', name: `CN=${cn}`, notBefore, notAfter, keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
  });
  return cert.toString('pem');
}

const countCerts = (pem: string) => parseCertificates(pem).length;
const subjects = (pem: string) => parseCertificates(pem).map((c) => c.subject);

describe('desiredTrust', () => {
  let oldCa: { certPem: string; keyPem: string };
  let newCa: { certPem: string; keyPem: string };
  let olderPem: string;
  let newerPem: string;

  beforeAll(async () => {
    oldCa = await createCa('old CA', 30);
    newCa = await createCa('new CA', 30);
    olderPem = await caValid('older', new Date('2025-01-01T00:00:00Z'), new Date('2026-01-01T00:00:00Z'));
    newerPem = await caValid('newer', new Date('2025-06-01T00:00:00Z'), new Date('2026-06-01T00:00:00Z'));
  });

  it('holds our CA in ca.crt and the public roots plus our CA in ca-bundle.crt', () => {
    const cm = desiredTrust('agents', [newCa.certPem]);
    expect(cm.metadata).toEqual({
      name: 'chaperone-trust', namespace: 'agents',
      labels: { 'app.kubernetes.io/managed-by': 'chaperone-operator', 'app.kubernetes.io/part-of': 'chaperone' },
    });
    expect(Object.keys(cm.data).sort()).toEqual(['ca-bundle.crt', 'ca.crt']);
    const ca = cm.data['ca.crt']!;
    const bundle = cm.data['ca-bundle.crt']!;
    expect(subjects(ca)).toEqual(['CN=new CA, O=Chaperone']);
    expect(rootCertificates.length).toBeGreaterThan(50);
    expect(countCerts(bundle)).toBe(rootCertificates.length + 1);
    expect(bundle.startsWith(rootCertificates[0]!.trim())).toBe(true);
    expect(bundle.endsWith(ca)).toBe(true);
    // every PEM block on its own lines, so the concatenation parses with OpenSSL too
    expect(bundle).not.toMatch(/-----END CERTIFICATE----------BEGIN/);
    expect(ca.endsWith('-----END CERTIFICATE-----\n')).toBe(true);
  });

  it.each<[string, () => string[], string[]]>([
    ['newest first whatever the input order', () => [olderPem, newerPem], ['CN=newer', 'CN=older']],
    ['already newest first', () => [newerPem, olderPem], ['CN=newer', 'CN=older']],
    ['one PEM text holding both', () => [olderPem + newerPem], ['CN=newer', 'CN=older']],
    ['duplicates dropped', () => [newerPem, olderPem, newerPem], ['CN=newer', 'CN=older']],
    ['a single CA', () => [olderPem], ['CN=older']],
  ])('ca.crt order: %s', (_label, input, expected) => {
    const cm = desiredTrust('agents', input());
    expect(subjects(cm.data['ca.crt']!)).toEqual(expected);
    expect(subjects(cm.data['ca-bundle.crt']!).slice(-expected.length)).toEqual(expected);
    expect(countCerts(cm.data['ca-bundle.crt']!)).toBe(rootCertificates.length + expected.length);
  });

  it('trusts leaves of both CAs during the rotation overlap', async () => {
    const cm = desiredTrust('agents', [newCa.certPem, oldCa.certPem]);
    const trusted = parseCertificates(cm.data['ca-bundle.crt']!).map((c) => new X509Certificate(c.toString('pem')));
    const extra = parseCertificates(cm.data['ca.crt']!).map((c) => new X509Certificate(c.toString('pem')));
    expect(extra).toHaveLength(2);
    for (const ca of [oldCa, newCa]) {
      const leaf = new X509Certificate((await issueLeaf(await loadCa(ca.certPem, ca.keyPem), { dnsNames: ['api.openai.com'], validityMs: DAY })).certPem);
      expect(trusted.some((t) => leaf.checkIssued(t) && leaf.verify(t.publicKey))).toBe(true);
      expect(extra.some((t) => leaf.checkIssued(t) && leaf.verify(t.publicKey))).toBe(true);
    }
    // ... and only the given ones: a leaf of a third CA is not trusted by ca.crt
    const stranger = await createCa('stranger', 1);
    const leaf = new X509Certificate((await issueLeaf(await loadCa(stranger.certPem, stranger.keyPem), { dnsNames: ['x'], validityMs: DAY })).certPem);
    expect(extra.some((t) => leaf.checkIssued(t) && leaf.verify(t.publicKey))).toBe(false);
  });

  it('is deterministic', () => {
    expect(desiredTrust('agents', [olderPem, newerPem])).toEqual(desiredTrust('agents', [newerPem, olderPem]));
  });

  /** The entries' aliases, dates and certificates (lib/jks.test.ts reads the format in full). */
  function jksEntries(jks: Buffer): { alias: string; created: number; der: Buffer }[] {
    expect(jks.readUInt32BE(0)).toBe(0xfeedfeed);
    let at = 12;
    return Array.from({ length: jks.readUInt32BE(8) }, () => {
      at += 4; // tag
      const alias = jks.toString('latin1', at + 2, (at += 2 + jks.readUInt16BE(at)));
      const created = Number(jks.readBigInt64BE(at));
      at += 8;
      at += 2 + jks.readUInt16BE(at); // "X.509"
      const der = jks.subarray(at + 4, (at += 4 + jks.readUInt32BE(at)));
      return { alias, created, der };
    });
  }

  it('holds the same certificates as ca-bundle.crt in binaryData ca-bundle.jks, dated the newest notBefore', () => {
    const cm = desiredTrust('agents', [olderPem, newerPem]);
    const entries = jksEntries(Buffer.from(cm.binaryData['ca-bundle.jks']!, 'base64'));
    const bundle = parseCertificates(cm.data['ca-bundle.crt']!);
    expect(entries.map((e) => Buffer.from(e.der))).toEqual(bundle.map((c) => Buffer.from(c.rawData)));
    expect(entries.slice(-2).map((e) => e.alias)).toEqual(['chaperone-ca-0', 'chaperone-ca-1']);
    expect(entries.slice(0, -2).every((e) => /^root-[0-9a-f]{16}$/.test(e.alias))).toBe(true);
    expect(new Set(entries.map((e) => e.alias)).size).toBe(entries.length);
    const newest = Math.max(...bundle.map((c) => c.notBefore.getTime()));
    expect(entries.every((e) => e.created === newest)).toBe(true);
  });

  it('stays well under the 1 MiB a ConfigMap may hold (data plus decoded binaryData)', () => {
    const cm = desiredTrust('agents', [newCa.certPem, oldCa.certPem]);
    const size = Object.entries(cm.data).reduce((n, [k, v]) => n + k.length + Buffer.byteLength(v), 0)
      + Object.entries(cm.binaryData).reduce((n, [k, v]) => n + k.length + Buffer.from(v, 'base64').length, 0);
    expect(size).toBeLessThan(512 * 1024);
  });

  it('gives keytool a JKS it can read and verify', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trust-'));
    try {
      const cm = desiredTrust('agents', [newCa.certPem, oldCa.certPem]);
      const file = join(dir, 'ca-bundle.jks');
      writeFileSync(file, Buffer.from(cm.binaryData['ca-bundle.jks']!, 'base64'));
      const out = execFileSync('keytool', ['-J-Duser.language=en', '-list', '-keystore', file, '-storepass', 'changeit', '-storetype', 'JKS'], { encoding: 'utf8' });
      expect(out).toContain(`Your keystore contains ${rootCertificates.length + 2} entries`);
      expect(out).toMatch(/chaperone-ca-0, [^\n]*trustedCertEntry/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([[[]], [['']], [['not a certificate']]])('throws without a certificate: %j', (input) => {
    expect(() => desiredTrust('agents', input)).toThrow(/no CA certificate for namespace agents/);
  });
});

describe('caNeedsRotation', () => {
  // 90 days of validity: rotation starts when less than 30 days remain, i.e. after day 60.
  const start = new Date('2025-01-01T00:00:00Z');
  const end = new Date(start.getTime() + 90 * DAY);
  let pem: string;
  beforeAll(async () => {
    pem = await caValid('ninety days', start, end);
  });
  const at = (days: number) => new Date(start.getTime() + days * DAY);

  it.each<[string, Date, number | undefined, boolean]>([
    ['not yet valid (clock skew)', at(-1), undefined, false],
    ['fresh', at(0), undefined, false],
    ['halfway', at(45), undefined, false],
    ['just before two thirds', new Date(at(60).getTime() - 1000), undefined, false],
    ['exactly a third left', at(60), undefined, false],
    ['just under a third left', new Date(at(60).getTime() + 1000), undefined, true],
    ['a day left', at(89), undefined, true],
    ['expired', at(91), undefined, true],
    ['at notAfter', end, undefined, true],
    ['custom fraction 1/2: day 44', at(44), 1 / 2, false],
    ['custom fraction 1/2: day 46', at(46), 1 / 2, true],
    ['fraction 1: always while valid', at(0.5), 1, true],
  ])('%s', (_label, now, fraction, expected) => {
    expect(caNeedsRotation(pem, now, fraction)).toBe(expected);
  });

  it('looks at the first certificate of a bundle', () => {
    expect(caNeedsRotation(pem + rootCertificates[0], at(70))).toBe(true);
  });

  it('works on a CA from createCa', async () => {
    const ca = await createCa('real', 365);
    expect(caNeedsRotation(ca.certPem, new Date())).toBe(false);
    expect(caNeedsRotation(ca.certPem, new Date(Date.now() + 250 * DAY))).toBe(true);
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects fraction %s', (fraction) => {
    expect(() => caNeedsRotation(pem, at(1), fraction)).toThrow(/renewBeforeFraction/);
  });

  it('throws on text without a certificate', () => {
    expect(() => caNeedsRotation('garbage', at(1))).toThrow(/no PEM certificate/);
  });
});
