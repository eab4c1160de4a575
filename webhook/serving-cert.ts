// The webhook's own TLS, when it manages it (the default; cert-manager is the alternative): a
// private CA that only the API server trusts (through the caBundle), and a serving certificate for
// the Service's names. Pure apart from key generation. The leaf is renewed when a third of its life
// remains; the CA (10 years) is rotated the same way, and the previous CA stays in `ca.crt` until it
// expires, so a caBundle and a serving certificate from either side of a rotation always match.
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { createCa, issueLeaf, loadCa, needsRenewal, parseCertificates, x509 } from '../lib/x509.js';

/** The Secret's keys (type kubernetes.io/tls, plus the CA's key so any leader can renew). */
export interface ServingBundle {
  /** Trusted CAs, newest first: what the caBundle carries. */
  'ca.crt': string;
  'ca.key': string;
  'tls.crt': string;
  'tls.key': string;
}

const CA_DAYS = 3650;

/** The names the API server may use to reach the webhook Service, plus any extra (DNS or IP). */
export function servingNames(service: string, namespace: string, extra: readonly string[] = []): string[] {
  return [...new Set([service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, ...extra])];
}

async function issueServing(ca: { certPem: string; keyPem: string }, names: readonly string[], validityMs: number): Promise<{ certPem: string; keyPem: string }> {
  return issueLeaf(await loadCa(ca.certPem, ca.keyPem), {
    dnsNames: names.filter((n) => !isIP(n)),
    ipAddresses: names.filter((n) => isIP(n)),
    validityMs,
    // Short-lived test certificates must not be "two-thirds used" the moment they are made.
    backdateMs: Math.min(3_600_000, validityMs / 10),
  });
}

/** A new CA and serving certificate. */
export async function createServingBundle(names: readonly string[], validityMs: number): Promise<ServingBundle> {
  const ca = await createCa('chaperone-webhook', CA_DAYS);
  const leaf = await issueServing(ca, names, validityMs);
  return { 'ca.crt': ca.certPem, 'ca.key': ca.keyPem, 'tls.crt': leaf.certPem, 'tls.key': leaf.keyPem };
}

/** Why `bundle` must be renewed at `now` for `names`, or undefined when it is fine as it is. */
export function renewalReason(bundle: ServingBundle, names: readonly string[], now: Date): string | undefined {
  const [leaf] = parseCertificates(bundle['tls.crt']);
  const [ca] = parseCertificates(bundle['ca.crt']);
  if (!leaf || !ca) return 'no certificate';
  if (needsRenewal(bundle['ca.crt'], now)) return 'CA near expiry';
  if (!signedBy(leaf, ca)) return 'serving certificate not issued by the current CA';
  if (needsRenewal(bundle['tls.crt'], now)) return 'serving certificate near expiry';
  const sans = new Set(leafNames(bundle['tls.crt']));
  const missing = names.filter((n) => !sans.has(sanForm(n)));
  if (missing.length > 0) return `serving certificate lacks ${missing.join(', ')}`;
  return undefined;
}

/** The bundle renewed: a new leaf, and when the CA is near expiry a new CA with the old one kept. */
export async function renewServingBundle(bundle: ServingBundle, names: readonly string[], validityMs: number, now: Date): Promise<ServingBundle> {
  let ca = { certPem: bundle['ca.crt'], keyPem: bundle['ca.key'] };
  let trusted = bundle['ca.crt'];
  if (needsRenewal(bundle['ca.crt'], now)) {
    ca = await createCa('chaperone-webhook', CA_DAYS);
    const stillValid = parseCertificates(bundle['ca.crt']).filter((c) => c.notAfter.getTime() > now.getTime());
    trusted = [ca.certPem, ...stillValid.map((c) => c.toString('pem'))].map((p) => `${p.trim()}\n`).join('');
  } else {
    // The signing CA is the first certificate; keep the rest (a previous CA still in its overlap).
    ca = { certPem: parseCertificates(bundle['ca.crt'])[0]!.toString('pem'), keyPem: bundle['ca.key'] };
  }
  const leaf = await issueServing(ca, names, validityMs);
  return { 'ca.crt': trusted, 'ca.key': ca.keyPem, 'tls.crt': leaf.certPem, 'tls.key': leaf.keyPem };
}

/** Every CA here is "CN=chaperone-webhook, O=Chaperone": only the signature tells them apart. */
function signedBy(leaf: x509.X509Certificate, ca: x509.X509Certificate): boolean {
  return leaf.issuer === ca.subject && new X509Certificate(Buffer.from(leaf.rawData)).verify(new X509Certificate(Buffer.from(ca.rawData)).publicKey);
}

/**
 * A name as leafNames() reads it back: IPs come out canonical (2001:DB8:0::1 as 2001:db8::1), so a
 * --tls-san spelled otherwise would look missing on every check and be renewed forever.
 */
function sanForm(name: string): string {
  return isIP(name) ? new x509.GeneralName(new x509.GeneralName('ip', name).rawData).value : name;
}

/** DNS and IP subject alternative names of the first certificate in `pem`. */
export function leafNames(pem: string): string[] {
  const san = parseCertificates(pem)[0]?.getExtension(x509.SubjectAlternativeNameExtension);
  return (san?.names.items ?? []).filter((n) => n.type === 'dns' || n.type === 'ip').map((n) => n.value);
}

/** When the serving certificate expires. */
export function servingExpiry(bundlePem: string): Date | undefined {
  return parseCertificates(bundlePem)[0]?.notAfter;
}
