import { X509Certificate, createPrivateKey } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createServingBundle, leafNames, renewServingBundle, renewalReason, servingExpiry, servingNames, type ServingBundle,
} from './serving-cert.js';

const DAY = 86_400_000;
const VALIDITY = 90 * DAY;
const NAMES = servingNames('chaperone-webhook', 'chaperone-system', ['127.0.0.1', '::1', 'webhook.example.com']);

/** Each PEM certificate in `pem`, parsed by Node. */
function certs(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((block) => new X509Certificate(block));
}

function one(pem: string): X509Certificate {
  const [first, ...rest] = certs(pem);
  expect(rest).toHaveLength(0);
  return first!;
}

const notAfter = (cert: X509Certificate): number => new Date(cert.validTo).getTime();
const notBefore = (cert: X509Certificate): number => new Date(cert.validFrom).getTime();

/** The leaf is signed by `ca` and carries the key of `tls.key`. */
function expectSignedBy(bundle: ServingBundle, ca: X509Certificate): void {
  const leaf = one(bundle['tls.crt']);
  expect(leaf.verify(ca.publicKey)).toBe(true);
  expect(leaf.checkIssued(ca)).toBe(true);
  expect(leaf.checkPrivateKey(createPrivateKey(bundle['tls.key']))).toBe(true);
}

describe('servingNames', () => {
  it('lists the Service’s short and qualified names', () => {
    expect(servingNames('chaperone-webhook', 'chaperone-system')).toEqual([
      'chaperone-webhook',
      'chaperone-webhook.chaperone-system',
      'chaperone-webhook.chaperone-system.svc',
      'chaperone-webhook.chaperone-system.svc.cluster.local',
    ]);
  });

  it('appends the extra names once each, in order', () => {
    expect(servingNames('hook', 'gov', ['10.0.0.7', 'hook.gov.svc', 'hook.example.com', '10.0.0.7'])).toEqual([
      'hook',
      'hook.gov',
      'hook.gov.svc',
      'hook.gov.svc.cluster.local',
      '10.0.0.7',
      'hook.example.com',
    ]);
  });
});

describe('createServingBundle', () => {
  let bundle: ServingBundle;
  beforeAll(async () => {
    bundle = await createServingBundle(NAMES, VALIDITY);
  });

  it('holds a CA and a leaf it signed, each with its key', () => {
    const ca = one(bundle['ca.crt']);
    expect(ca.ca).toBe(true);
    expect(ca.verify(ca.publicKey)).toBe(true); // self-signed
    expect(ca.checkPrivateKey(createPrivateKey(bundle['ca.key']))).toBe(true);
    expect(ca.subject).toContain('CN=chaperone-webhook');
    const leaf = one(bundle['tls.crt']);
    expect(leaf.ca).toBe(false);
    expectSignedBy(bundle, ca);
    expect(leaf.issuer).toBe(ca.subject);
  });

  it('is not signed by another CA', async () => {
    const other = await createServingBundle(NAMES, VALIDITY);
    expect(one(bundle['tls.crt']).verify(one(other['ca.crt']).publicKey)).toBe(false);
  });

  it('carries every name: DNS names as DNS, IPs as IP addresses', () => {
    const san = one(bundle['tls.crt']).subjectAltName ?? '';
    for (const dns of NAMES.filter((n) => /[a-z]/.test(n) && !n.includes(':'))) expect(san).toContain(`DNS:${dns}`);
    expect(san).toContain('IP Address:127.0.0.1');
    expect(san).toMatch(/IP Address:(::1|0:0:0:0:0:0:0:1)(,|$)/);
    expect(san).not.toContain('DNS:127.0.0.1');
    expect(new Set(leafNames(bundle['tls.crt']))).toEqual(new Set(NAMES));
    expect(one(bundle['tls.crt']).checkHost('chaperone-webhook.chaperone-system.svc')).toBe('chaperone-webhook.chaperone-system.svc');
    expect(one(bundle['tls.crt']).checkIP('127.0.0.1')).toBe('127.0.0.1');
  });

  it('is valid for the validity asked, backdated for clock skew; the CA for ten years', () => {
    const leaf = one(bundle['tls.crt']);
    const now = Date.now();
    expect(notBefore(leaf)).toBeLessThan(now - 30 * 60_000);
    expect(Math.abs(notAfter(leaf) - (now + VALIDITY))).toBeLessThan(60_000);
    expect(servingExpiry(bundle['tls.crt'])?.getTime()).toBe(notAfter(leaf));
    expect(notAfter(one(bundle['ca.crt'])) - now).toBeGreaterThan(9.9 * 365 * DAY);
  });
});

describe('renewalReason', () => {
  let bundle: ServingBundle;
  beforeAll(async () => {
    bundle = await createServingBundle(NAMES, VALIDITY);
  });
  const leafEnd = (): number => notAfter(one(bundle['tls.crt']));
  const caEnd = (): number => notAfter(one(bundle['ca.crt']));

  it('is undefined for a fresh bundle, and for fewer names than it carries', () => {
    expect(renewalReason(bundle, NAMES, new Date())).toBeUndefined();
    expect(renewalReason(bundle, NAMES.slice(0, 2), new Date())).toBeUndefined();
    expect(renewalReason(bundle, NAMES, new Date(Date.now() + 30 * DAY))).toBeUndefined();
  });

  it('names what the certificate lacks', () => {
    const reason = renewalReason(bundle, [...NAMES, 'extra.example.com', '10.1.2.3'], new Date());
    expect(reason).toBe('serving certificate lacks extra.example.com, 10.1.2.3');
  });

  it('matches IP names however they are spelled', async () => {
    const names = ['hook', '2001:DB8::1', '0:0:0:0:0:0:0:1', 'fd00:0:0:0:0:0:0:7'];
    const spelled = await createServingBundle(names, VALIDITY);
    expect(leafNames(spelled['tls.crt'])).toEqual(['hook', '2001:db8::1', '::1', 'fd00::7']);
    expect(renewalReason(spelled, names, new Date())).toBeUndefined();
    expect(renewalReason(spelled, ['2001:db8::2'], new Date())).toBe('serving certificate lacks 2001:db8::2');
  });

  it('is due when a third of the leaf’s life remains, and after it expired', () => {
    expect(renewalReason(bundle, NAMES, new Date(leafEnd() - 31 * DAY))).toBeUndefined();
    expect(renewalReason(bundle, NAMES, new Date(leafEnd() - 29 * DAY))).toBe('serving certificate near expiry');
    expect(renewalReason(bundle, NAMES, new Date(leafEnd() - 1000))).toBe('serving certificate near expiry');
    expect(renewalReason(bundle, NAMES, new Date(leafEnd() + DAY))).toBe('serving certificate near expiry');
  });

  it('is due when the CA is near expiry, whatever the leaf', () => {
    expect(renewalReason(bundle, NAMES, new Date(caEnd() - 365 * DAY))).toBe('CA near expiry');
    expect(renewalReason(bundle, NAMES, new Date(caEnd() + DAY))).toBe('CA near expiry');
  });

  it('is due when the leaf was not issued by the bundle’s CA', async () => {
    const other = await createServingBundle(NAMES, VALIDITY);
    const mixed = { ...bundle, 'tls.crt': other['tls.crt'], 'tls.key': other['tls.key'] };
    expect(renewalReason(mixed, NAMES, new Date())).toBe('serving certificate not issued by the current CA');
  });

  it('is due when a certificate is missing', () => {
    expect(renewalReason({ ...bundle, 'tls.crt': '' }, NAMES, new Date())).toBe('no certificate');
    expect(renewalReason({ ...bundle, 'ca.crt': 'not PEM' }, NAMES, new Date())).toBe('no certificate');
  });

  it('does not find a short-lived certificate (10 s) due the moment it is made', async () => {
    const short = await createServingBundle(NAMES, 10_000);
    const leaf = one(short['tls.crt']);
    const now = Date.now();
    expect(notBefore(leaf)).toBeLessThan(now); // backdated
    expect(notAfter(leaf) - now).toBeLessThanOrEqual(10_000);
    expect(notAfter(leaf) - now).toBeGreaterThan(5_000);
    expect(renewalReason(short, NAMES, new Date())).toBeUndefined();
    expect(renewalReason(short, NAMES, new Date(notAfter(leaf) - 2_000))).toBe('serving certificate near expiry');
  });
});

describe('renewServingBundle', () => {
  let bundle: ServingBundle;
  beforeAll(async () => {
    bundle = await createServingBundle(NAMES, VALIDITY);
  });

  it('renews only the leaf when only the leaf is due, keeping the CA and its key', async () => {
    const now = new Date(notAfter(one(bundle['tls.crt'])) - 10 * DAY);
    expect(renewalReason(bundle, NAMES, now)).toBe('serving certificate near expiry');
    const renewed = await renewServingBundle(bundle, NAMES, VALIDITY, now);
    expect(renewed['ca.crt']).toBe(bundle['ca.crt']);
    expect(renewed['ca.key']).toBe(bundle['ca.key']);
    expect(renewed['tls.crt']).not.toBe(bundle['tls.crt']);
    expect(renewed['tls.key']).not.toBe(bundle['tls.key']);
    expectSignedBy(renewed, one(bundle['ca.crt']));
    expect(renewalReason(renewed, NAMES, new Date())).toBeUndefined();
  });

  it('issues the leaf for the names asked now', async () => {
    const names = [...NAMES, 'new.example.com', '10.9.8.7'];
    expect(renewalReason(bundle, names, new Date())).toMatch(/lacks new\.example\.com, 10\.9\.8\.7/);
    const renewed = await renewServingBundle(bundle, names, VALIDITY, new Date());
    expect(new Set(leafNames(renewed['tls.crt']))).toEqual(new Set(names));
    expect(renewalReason(renewed, names, new Date())).toBeUndefined();
  });

  describe('CA rotation', () => {
    const oldCa = (): X509Certificate => one(bundle['ca.crt']);

    it('puts a new CA first and keeps the old one while it is still valid', async () => {
      const now = new Date(notAfter(oldCa()) - 365 * DAY);
      const rotated = await renewServingBundle(bundle, NAMES, VALIDITY, now);
      const trusted = certs(rotated['ca.crt']);
      expect(trusted).toHaveLength(2);
      const [fresh, previous] = trusted as [X509Certificate, X509Certificate];
      expect(fresh.fingerprint256).not.toBe(oldCa().fingerprint256);
      expect(previous.fingerprint256).toBe(oldCa().fingerprint256);
      expect(fresh.ca).toBe(true);
      expect(fresh.checkPrivateKey(createPrivateKey(rotated['ca.key']))).toBe(true);
      expect(rotated['ca.key']).not.toBe(bundle['ca.key']);
      expectSignedBy(rotated, fresh);
      expect(one(rotated['tls.crt']).verify(oldCa().publicKey)).toBe(false);
      expect(renewalReason(rotated, NAMES, new Date())).toBeUndefined();
      // The leaf served before the rotation still verifies against the new bundle’s trust.
      expect(trusted.some((ca) => one(bundle['tls.crt']).verify(ca.publicKey))).toBe(true);
    });

    it('drops the old CA once it has expired', async () => {
      const now = new Date(notAfter(oldCa()) + DAY);
      const rotated = await renewServingBundle(bundle, NAMES, VALIDITY, now);
      const trusted = certs(rotated['ca.crt']);
      expect(trusted).toHaveLength(1);
      expect(trusted[0]!.fingerprint256).not.toBe(oldCa().fingerprint256);
      expectSignedBy(rotated, trusted[0]!);
    });

    it('after a rotation, a leaf-only renewal signs with the new CA and keeps both', async () => {
      const rotated = await renewServingBundle(bundle, NAMES, VALIDITY, new Date(notAfter(oldCa()) - 365 * DAY));
      const [fresh] = certs(rotated['ca.crt']);
      const now = new Date(notAfter(one(rotated['tls.crt'])) - DAY);
      expect(renewalReason(rotated, NAMES, now)).toBe('serving certificate near expiry');
      const renewed = await renewServingBundle(rotated, NAMES, VALIDITY, now);
      expect(renewed['ca.crt']).toBe(rotated['ca.crt']);
      expect(renewed['ca.key']).toBe(rotated['ca.key']);
      expectSignedBy(renewed, fresh!);
      expect(renewalReason(renewed, NAMES, new Date())).toBeUndefined();
    });
  });
});
