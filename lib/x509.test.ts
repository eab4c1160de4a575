import { X509Certificate, createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCa, issueLeaf, loadCa, generateKeyPair, parseCertificates, selfSignedServing } from './x509.js';

describe('x509', () => {
  it('creates a CA that signs leaves with the right SANs and a short validity', async () => {
    const ca = await createCa('test CA', 30);
    const caCert = new X509Certificate(ca.certPem);
    expect(caCert.ca).toBe(true);
    expect(caCert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(caCert.checkIssued(caCert)).toBe(true);

    const signing = await loadCa(ca.certPem, ca.keyPem);
    const leaf = await issueLeaf(signing, { dnsNames: ['api.openai.com'], ipAddresses: ['127.0.0.1'], validityMs: 86_400_000 });
    const leafCert = new X509Certificate(leaf.certPem);
    expect(leafCert.ca).toBe(false);
    expect(leafCert.verify(caCert.publicKey)).toBe(true);
    expect(leafCert.checkIssued(caCert)).toBe(true);
    expect(leafCert.checkHost('api.openai.com')).toBe('api.openai.com');
    expect(leafCert.checkHost('api.anthropic.com')).toBeUndefined();
    expect(leafCert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    const lifetime = Date.parse(leafCert.validTo) - Date.now();
    expect(lifetime).toBeGreaterThan(23 * 3_600_000);
    expect(lifetime).toBeLessThanOrEqual(86_400_000 + 1_000);
  });

  it('never issues a leaf that outlives its CA', async () => {
    const ca = await loadCa(...Object.values(await createCa('short', 1)) as [string, string]);
    const leaf = await issueLeaf(ca, { dnsNames: ['x.example'], validityMs: 30 * 86_400_000 });
    expect(leaf.notAfter.getTime()).toBeLessThanOrEqual(ca.cert.notAfter.getTime());
  });

  it('reuses a shared key pair across leaves when asked', async () => {
    const ca = await loadCa(...Object.values(await createCa('shared', 1)) as [string, string]);
    const keys = await generateKeyPair();
    const a = await issueLeaf(ca, { dnsNames: ['a.example'], validityMs: 3_600_000, keys });
    const b = await issueLeaf(ca, { dnsNames: ['b.example'], validityMs: 3_600_000, keys });
    expect(a.keyPem).toBe(b.keyPem);
    expect(new X509Certificate(a.certPem).serialNumber).not.toBe(new X509Certificate(b.certPem).serialNumber);
  });

  it('rejects a CA key it cannot use', async () => {
    const ca = await createCa('x', 1);
    await expect(loadCa(ca.certPem, 'not a key')).rejects.toThrow();
  });
});

describe('selfSignedServing', () => {
  it('makes a leaf for the names with its throw-away CA in the chain, and the matching key', async () => {
    const { cert, key } = await selfSignedServing(['op.example'], ['127.0.0.1']);
    const [leaf, ca] = parseCertificates(cert);
    const nodeLeaf = new X509Certificate(leaf!.toString('pem'));
    expect(nodeLeaf.checkHost('op.example')).toBe('op.example');
    expect(nodeLeaf.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(nodeLeaf.checkPrivateKey(createPrivateKey(key))).toBe(true);
    expect(nodeLeaf.verify(new X509Certificate(ca!.toString('pem')).publicKey)).toBe(true);
  });
});
