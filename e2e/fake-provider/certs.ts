// A throwaway PKI for tests: a CA and a server certificate for the given host names (and 127.0.0.1),
// so the sidecar verifies the fake upstream with real TLS (`--upstream-ca`).
import { createCa, issueLeaf, loadCa } from '../../lib/x509.js';

export async function makeTestPki(hosts: string[]): Promise<{ caCert: string; cert: string; key: string }> {
  const ca = await createCa('Chaperone test upstream CA', 2);
  const leaf = await issueLeaf(await loadCa(ca.certPem, ca.keyPem), {
    dnsNames: hosts,
    ipAddresses: ['127.0.0.1'],
    validityMs: 86_400_000,
  });
  return { caCert: ca.certPem, cert: leaf.certPem, key: leaf.keyPem };
}
