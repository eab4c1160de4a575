// Certificates for the whole project: the interception CA (`chaperone ca init`, the operator's
// namespace CAs), the leaves the sidecar mints per intercepted host, and serving certs for tests
// and the webhook. ECDSA P-256 throughout: small keys, fast handshakes.
// @peculiar/x509 uses tsyringe, which needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { webcrypto, createPrivateKey, randomBytes } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type Algorithm = webcrypto.Algorithm;
type EcdsaParams = webcrypto.EcdsaParams;

const crypto = webcrypto;
x509.cryptoProvider.set(crypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

export interface PemPair {
  certPem: string;
  keyPem: string;
}

/** A CA ready to sign: its certificate and its private key as a WebCrypto key. */
export interface SigningCa {
  cert: x509.X509Certificate;
  certPem: string;
  key: CryptoKey;
}

const DAY_MS = 86_400_000;

function serial(): string {
  // Positive 128-bit serial (top bit cleared so DER does not read it as negative).
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

export async function generateKeyPair(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(EC_P256, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

/** A new self-signed CA, valid from an hour ago (clock skew) for `days`. */
export async function createCa(commonName: string, days = 365): Promise<PemPair> {
  const keys = await generateKeyPair();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}, O=Chaperone`,
    notBefore: new Date(now - 3_600_000),
    notAfter: new Date(now + days * DAY_MS),
    keys,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

/** Loads a CA from PEM. The key may be PKCS#8, SEC1 (EC) or PKCS#1 (RSA): whatever a user brings. */
export async function loadCa(certPem: string, keyPem: string): Promise<SigningCa> {
  const cert = new x509.X509Certificate(certPem);
  const nodeKey = createPrivateKey(keyPem);
  const der = nodeKey.export({ type: 'pkcs8', format: 'der' });
  const algorithm =
    nodeKey.asymmetricKeyType === 'ec'
      ? { name: 'ECDSA', namedCurve: curveName(nodeKey.asymmetricKeyDetails?.namedCurve) }
      : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const key = await crypto.subtle.importKey('pkcs8', der, algorithm, false, ['sign']);
  return { cert, certPem: cert.toString('pem'), key };
}

function curveName(nodeCurve: string | undefined): string {
  switch (nodeCurve) {
    case 'prime256v1':
      return 'P-256';
    case 'secp384r1':
      return 'P-384';
    case 'secp521r1':
      return 'P-521';
    default:
      throw new Error(`unsupported CA key curve ${nodeCurve ?? '(none)'}`);
  }
}

function signingAlgorithmFor(ca: SigningCa): Algorithm | EcdsaParams {
  return ca.key.algorithm.name === 'ECDSA' ? SIGNING : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as Algorithm;
}

export interface LeafOptions {
  dnsNames: string[];
  ipAddresses?: string[];
  /** Validity in milliseconds from now (backdated an hour for clock skew). */
  validityMs: number;
  /** Reuse a key pair across leaves (the sidecar does: one key, many hosts). */
  keys?: CryptoKeyPair;
  /** serverAuth by default; add clientAuth for mutual TLS. */
  clientAuth?: boolean;
  /** Subject DN, e.g. "CN=admin, O=system:masters" (Kubernetes reads users and groups from it). */
  subject?: string;
  /** Only clientAuth, no serverAuth (a client certificate). */
  clientOnly?: boolean;
  /** How far notBefore lies in the past, for clock skew (default an hour). */
  backdateMs?: number;
}

/** A leaf certificate signed by the CA, for TLS servers. Returns the leaf key PEM too. */
export async function issueLeaf(ca: SigningCa, options: LeafOptions): Promise<PemPair & { notAfter: Date }> {
  const keys = options.keys ?? (await generateKeyPair());
  const now = Date.now();
  const notAfter = new Date(Math.min(now + options.validityMs, ca.cert.notAfter.getTime()));
  const names = [
    ...options.dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...(options.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const usages = options.clientOnly
    ? [x509.ExtendedKeyUsage.clientAuth]
    : [x509.ExtendedKeyUsage.serverAuth, ...(options.clientAuth ? [x509.ExtendedKeyUsage.clientAuth] : [])];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: options.subject ?? `CN=${options.dnsNames[0] ?? options.ipAddresses?.[0] ?? 'chaperone'}`,
    issuer: ca.cert.subject,
    notBefore: new Date(now - (options.backdateMs ?? 3_600_000)),
    notAfter,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    signingAlgorithm: signingAlgorithmFor(ca),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(usages, false),
      ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names, false)] : []),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert, false),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey), notAfter };
}

/**
 * Whether the certificate in `certPem` (its first one) should be replaced: when less than
 * `renewBeforeFraction` of its lifetime remains at `now`, or it has expired. A certificate that is
 * not yet valid (clock skew) is not replaced. Throws when `certPem` holds no certificate.
 */
export function needsRenewal(certPem: string, now: Date, renewBeforeFraction = 1 / 3): boolean {
  if (!(renewBeforeFraction > 0 && renewBeforeFraction <= 1)) {
    throw new Error(`needsRenewal: renewBeforeFraction must be in (0, 1] (got ${renewBeforeFraction})`);
  }
  const cert = parseCertificates(certPem)[0];
  if (!cert) throw new Error('needsRenewal: no PEM certificate');
  const notBefore = cert.notBefore.getTime();
  const notAfter = cert.notAfter.getTime();
  const t = now.getTime();
  if (t >= notAfter) return true;
  if (t < notBefore) return false;
  return notAfter - t < (notAfter - notBefore) * renewBeforeFraction;
}

/**
 * A serving certificate nobody is asked to trust (its CA key is thrown away): for health and metrics
 * ports whose clients do not verify, so their traffic is at least private.
 */
export async function selfSignedServing(dnsNames: string[], ipAddresses: string[] = [], days = 3650): Promise<{ cert: string; key: string }> {
  const ca = await createCa(`${dnsNames[0] ?? 'chaperone'} (self-signed)`, days);
  const leaf = await issueLeaf(await loadCa(ca.certPem, ca.keyPem), { dnsNames, ipAddresses, validityMs: days * DAY_MS });
  return { cert: `${leaf.certPem.trim()}\n${ca.certPem.trim()}\n`, key: leaf.keyPem };
}

/** Parses PEM text holding one or more certificates. */
export function parseCertificates(pem: string): x509.X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => new x509.X509Certificate(block));
}

export { x509 };
