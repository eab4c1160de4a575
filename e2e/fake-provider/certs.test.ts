import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { makeTestPki } from './certs.js';

describe('makeTestPki', () => {
  it('issues a server certificate for the names and 127.0.0.1, signed by the CA', async () => {
    const pki = await makeTestPki(['localhost', 'api.openai.com']);
    const ca = new X509Certificate(pki.caCert);
    const cert = new X509Certificate(pki.cert);
    expect(ca.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.checkHost('api.openai.com')).toBe('api.openai.com');
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('example.com')).toBeUndefined();
    expect(pki.key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });
});
