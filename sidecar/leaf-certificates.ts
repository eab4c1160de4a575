// Leaf certificates for TLS interception, minted from the namespace CA per intercepted host.
// One key pair serves every leaf (as mitmproxy does): minting is then one signature, well under a
// millisecond, and the cache keeps a ready SecureContext per host until shortly before it expires.
import { createSecureContext, type SecureContext } from 'node:tls';
import { generateKeyPair, issueLeaf, loadCa, type SigningCa } from '../lib/x509.js';

const LEAF_VALIDITY_MS = 24 * 3_600_000;
const RENEW_BEFORE_MS = 3_600_000;
const MAX_CACHED_HOSTS = 1_000;

interface CachedLeaf {
  context: SecureContext;
  renewAt: number;
}

export class LeafCertificates {
  private ca: Promise<SigningCa> | undefined;
  private caPem: string | undefined;
  private readonly keys = generateKeyPair();
  private readonly cache = new Map<string, Promise<CachedLeaf>>();

  /** Sets the CA to mint from; a different CA empties the cache (rotation). */
  useCa(ca: { certPem: string; keyPem: string } | undefined): void {
    if (ca?.certPem === this.caPem) return;
    this.caPem = ca?.certPem;
    this.ca = ca ? loadCa(ca.certPem, ca.keyPem) : undefined;
    this.ca?.catch(() => {}); // reported when used
    this.cache.clear();
  }

  get enabled(): boolean {
    return this.ca !== undefined;
  }

  /** A TLS context presenting a leaf for `host`, minted on first use and cached. */
  async contextFor(host: string): Promise<SecureContext> {
    const cached = this.cache.get(host);
    if (cached) {
      const leaf = await cached;
      if (leaf.renewAt > Date.now()) return leaf.context;
    }
    const minted = this.mint(host);
    if (this.cache.size >= MAX_CACHED_HOSTS) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(host, minted);
    minted.catch(() => this.cache.delete(host));
    return (await minted).context;
  }

  private async mint(host: string): Promise<CachedLeaf> {
    if (!this.ca) throw new Error('no interception CA is loaded');
    const ca = await this.ca;
    const isIp = /^[0-9.]+$|:/.test(host);
    const leaf = await issueLeaf(ca, {
      dnsNames: isIp ? [] : [host],
      ipAddresses: isIp ? [host] : [],
      validityMs: LEAF_VALIDITY_MS,
      keys: await this.keys,
    });
    return {
      context: createSecureContext({ cert: leaf.certPem, key: leaf.keyPem, minVersion: 'TLSv1.2' }),
      renewAt: leaf.notAfter.getTime() - RENEW_BEFORE_MS,
    };
  }
}
