// TLS for the admin port (--admin-tls, which the injector sets): it listens on the pod IP, and the
// approvals API may carry a bearer token. The certificate comes from the namespace CA, so anything
// that trusts `chaperone-trust` (the app containers, `curl --cacert ca.crt` through a port-forward)
// can verify it; it names localhost, the loopback addresses and $POD_IP. Until the CA is loaded, a
// self-signed placeholder serves (the port then answers 503 on /readyz anyway).
import { createServer, type Server } from 'node:https';
import type { RequestListener } from 'node:http';
import { hostname } from 'node:os';
import { issueLeaf, loadCa, selfSignedServing } from '../lib/x509.js';

const VALIDITY_MS = 30 * 24 * 3_600_000;

function names(): { dnsNames: string[]; ipAddresses: string[] } {
  const ips = ['127.0.0.1', '::1', ...(process.env.POD_IP ? [process.env.POD_IP] : [])];
  return { dnsNames: ['localhost', hostname()], ipAddresses: [...new Set(ips)] };
}

export interface AdminTls {
  server: Server;
  /** Serve a leaf from this CA (new connections; called on every CA change). */
  useCa(ca: { certPem: string; keyPem: string } | undefined): Promise<void>;
}

export async function createAdminTlsServer(app: RequestListener): Promise<AdminTls> {
  const { dnsNames, ipAddresses } = names();
  const placeholder = await selfSignedServing(dnsNames, ipAddresses);
  const server = createServer({ cert: placeholder.cert, key: placeholder.key, minVersion: 'TLSv1.2' }, app);
  let current: string | undefined;
  return {
    server,
    async useCa(ca) {
      if (!ca || ca.certPem === current) return;
      current = ca.certPem;
      const leaf = await issueLeaf(await loadCa(ca.certPem, ca.keyPem), { dnsNames, ipAddresses, validityMs: VALIDITY_MS });
      server.setSecureContext({ cert: leaf.certPem, key: leaf.keyPem, minVersion: 'TLSv1.2' });
    },
  };
}
