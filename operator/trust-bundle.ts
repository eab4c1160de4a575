// A governed namespace's trust objects: the ConfigMap `chaperone-trust` with our interception CA(s)
// (`ca.crt`, for NODE_EXTRA_CA_CERTS, which appends) and the public roots plus our CA(s)
// (`ca-bundle.crt`, for SSL_CERT_FILE and friends, which replace the system roots). During a CA
// rotation both the new and the previous CA are trusted. Pure, apart from reading Node's roots.

import { rootCertificates } from 'node:tls';
import { TRUST_CONFIG_MAP_NAME } from '../api/index.js';
import { parseCertificates } from '../lib/x509.js';
import { MANAGED_LABELS, type ConfigMap } from './namespace-config.js';

export const CA_KEY = 'ca.crt';
export const CA_BUNDLE_KEY = 'ca-bundle.crt';

/** PEM with exactly one trailing newline, so concatenations stay valid. */
function pemBlock(pem: string): string {
  return `${pem.trim()}\n`;
}

/**
 * The desired `chaperone-trust` ConfigMap. `caCerts` holds PEM text (one or more certificates each):
 * the current CA, plus the previous one during a rotation's overlap. Duplicates are dropped; the
 * newest (latest notBefore) comes first. Throws when no certificate is given.
 */
export function desiredTrust(namespace: string, caCerts: string[]): ConfigMap {
  const seen = new Set<string>();
  const certs = caCerts
    .flatMap((pem) => parseCertificates(pem))
    .map((cert, index) => ({ cert, index, pem: pemBlock(cert.toString('pem')) }))
    .filter(({ pem }) => (seen.has(pem) ? false : (seen.add(pem), true)))
    // newest first; equal notBefore keeps the caller's order
    .sort((a, b) => b.cert.notBefore.getTime() - a.cert.notBefore.getTime() || a.index - b.index);
  if (certs.length === 0) throw new Error(`desiredTrust: no CA certificate for namespace ${namespace}`);

  const ours = certs.map((c) => c.pem).join('');
  const roots = rootCertificates.map(pemBlock).join('');
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: TRUST_CONFIG_MAP_NAME, namespace, labels: { ...MANAGED_LABELS } },
    data: { [CA_KEY]: ours, [CA_BUNDLE_KEY]: roots + ours },
  };
}


