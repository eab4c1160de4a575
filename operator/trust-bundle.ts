// A governed namespace's trust objects: the ConfigMap `chaperone-trust` with our interception CA(s)
// (`ca.crt`, for NODE_EXTRA_CA_CERTS, which appends) and the public roots plus our CA(s)
// (`ca-bundle.crt`, for SSL_CERT_FILE and friends, which replace the system roots; `ca-bundle.jks`
// in binaryData, the same as a Java trust store). During a CA rotation both the new and the previous
// CA are trusted. Pure, apart from reading Node's roots.

import { createHash } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { TRUST_CONFIG_MAP_NAME } from '../api/index.js';
import { trustStoreJks } from '../lib/jks.js';
import { parseCertificates, type x509 } from '../lib/x509.js';
import { MANAGED_LABELS, type ConfigMap } from './namespace-config.js';

export const CA_KEY = 'ca.crt';
export const CA_BUNDLE_KEY = 'ca-bundle.crt';
/** binaryData: a JKS keystore (password `changeit`) of the same certificates, for javax.net.ssl.trustStore. */
export const CA_BUNDLE_JKS_KEY = 'ca-bundle.jks';

export type TrustConfigMap = ConfigMap & { binaryData: Record<string, string> };

interface Parsed { der: Buffer; notBefore: Date }
const parsed = (cert: x509.X509Certificate): Parsed => ({ der: Buffer.from(cert.rawData), notBefore: cert.notBefore });

/** Node's public roots, parsed once: they do not change while the process runs. */
let roots: { pem: string; certs: Parsed[] } | undefined;
function publicRoots(): { pem: string; certs: Parsed[] } {
  roots ??= { pem: rootCertificates.map(pemBlock).join(''), certs: rootCertificates.flatMap((pem) => parseCertificates(pem)).map(parsed) };
  return roots;
}

const fingerprint = (der: Buffer): string => createHash('sha256').update(der).digest('hex').slice(0, 16);

/**
 * The JKS: the roots (aliases `root-` and a fingerprint), then our CAs newest first (`chaperone-ca-0`,
 * ...), all dated the newest notBefore among them, so equal inputs give equal bytes and a resync's
 * apply changes nothing.
 */
function trustJks(rootCerts: readonly Parsed[], ours: readonly Parsed[]): Buffer {
  const all = [...rootCerts, ...ours];
  const aliases = [...rootCerts.map((c) => `root-${fingerprint(c.der)}`), ...ours.map((_c, i) => `chaperone-ca-${i}`)];
  const created = new Date(Math.max(...all.map((c) => c.notBefore.getTime())));
  return trustStoreJks(all.map((c) => c.der), aliases, created);
}

/** PEM with exactly one trailing newline, so concatenations stay valid. */
function pemBlock(pem: string): string {
  return `${pem.trim()}\n`;
}

/**
 * The desired `chaperone-trust` ConfigMap. `caCerts` holds PEM text (one or more certificates each):
 * the current CA, plus the previous one during a rotation's overlap. Duplicates are dropped; the
 * newest (latest notBefore) comes first. Throws when no certificate is given.
 */
export function desiredTrust(namespace: string, caCerts: string[]): TrustConfigMap {
  const seen = new Set<string>();
  const certs = caCerts
    .flatMap((pem) => parseCertificates(pem))
    .map((cert, index) => ({ cert, index, pem: pemBlock(cert.toString('pem')) }))
    .filter(({ pem }) => (seen.has(pem) ? false : (seen.add(pem), true)))
    // newest first; equal notBefore keeps the caller's order
    .sort((a, b) => b.cert.notBefore.getTime() - a.cert.notBefore.getTime() || a.index - b.index);
  if (certs.length === 0) throw new Error(`desiredTrust: no CA certificate for namespace ${namespace}`);

  const ours = certs.map((c) => c.pem).join('');
  const { pem: rootsPem, certs: rootCerts } = publicRoots();
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: TRUST_CONFIG_MAP_NAME, namespace, labels: { ...MANAGED_LABELS } },
    data: { [CA_KEY]: ours, [CA_BUNDLE_KEY]: rootsPem + ours },
    binaryData: { [CA_BUNDLE_JKS_KEY]: trustJks(rootCerts, certs.map((c) => parsed(c.cert))).toString('base64') },
  };
}


