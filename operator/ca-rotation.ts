// The namespace CA's lifecycle as a pure decision: given the Secret `chaperone-ca` as observed and
// the time, what to do (nothing, rewrite it, or mint a new CA) and which certificates the trust
// bundle must hold. The CA is created once and rotated well before it expires; during a rotation's
// overlap the previous CA stays in the Secret (and trusted) until it expires, so leaves the sidecars
// minted from it keep verifying. Minting and applying are the executor's (reconcilers/ca-trust.ts).

import type { V1Secret } from '@kubernetes/client-node';
import { CA_SECRET_NAME } from '../api/index.js';
import { needsRenewal, parseCertificates } from '../lib/x509.js';
import { isManaged, MANAGED_LABELS } from './namespace-config.js';

/** Key in `chaperone-ca` holding the previous CA certificate during a rotation's overlap. */
export const PREVIOUS_CA_KEY = 'previous.crt';

/** A CA Secret as read from the API server (data base64), or the part of it the plan looks at. */
export interface ObservedCaSecret {
  metadata?: { labels?: Record<string, string> | null } | null;
  data?: Record<string, string> | null;
}

export interface CaContents {
  certPem: string;
  keyPem: string;
  /** The CA replaced by the last rotation, while it is still valid. */
  previousPem?: string;
}

export type CaRotationPlan =
  /** The Secret is ours and current: write nothing. */
  | { action: 'keep'; trust: string[] }
  /** Same CA, but the Secret must be written (not labelled as ours). */
  | { action: 'rewrite'; contents: CaContents }
  /** A new CA is needed: `created` when there was none (or it was unreadable), else `rotated`. */
  | { action: 'mint'; reason: 'created' | 'rotated'; previousPem?: string };

export interface CaRotationSettings {
  /** Rotate when less than this fraction of the CA's lifetime is left (default 1/3). */
  renewBeforeFraction?: number;
}

const unb64 = (s: string | undefined): string | undefined => (s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8'));
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** Whether `pem` holds a certificate that has not expired at `now`. */
export function stillValid(pem: string | undefined, now: Date): boolean {
  if (!pem) return false;
  try {
    const cert = parseCertificates(pem)[0];
    return !!cert && cert.notAfter.getTime() > now.getTime();
  } catch {
    return false;
  }
}

/** What to do about the namespace CA at `now`, given its Secret as observed (undefined: absent). */
export function planCaRotation(now: Date, secret: ObservedCaSecret | undefined, settings: CaRotationSettings = {}): CaRotationPlan {
  const certPem = unb64(secret?.data?.['tls.crt']);
  const keyPem = unb64(secret?.data?.['tls.key']);
  const previousPem = unb64(secret?.data?.[PREVIOUS_CA_KEY]);
  if (!certPem || !keyPem) return { action: 'mint', reason: 'created' };
  let rotate: boolean;
  try {
    rotate = needsRenewal(certPem, now, settings.renewBeforeFraction);
  } catch {
    return { action: 'mint', reason: 'created' }; // unreadable certificate: replace it
  }
  if (rotate) return { action: 'mint', reason: 'rotated', ...(stillValid(certPem, now) ? { previousPem: certPem } : {}) };
  const kept: CaContents = { certPem, keyPem, ...(stillValid(previousPem, now) ? { previousPem: previousPem! } : {}) };
  const ours = isManaged(secret);
  return ours ? { action: 'keep', trust: trustedCas(kept) } : { action: 'rewrite', contents: kept };
}

/** The certificates the namespace trusts: the current CA, and the previous one during an overlap. */
export function trustedCas(contents: CaContents): string[] {
  return [contents.certPem, ...(contents.previousPem ? [contents.previousPem] : [])];
}

/** The desired Secret `chaperone-ca`. */
export function desiredCaSecret(namespace: string, contents: CaContents): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: { name: CA_SECRET_NAME, namespace, labels: { ...MANAGED_LABELS } },
    data: {
      'tls.crt': b64(contents.certPem),
      'tls.key': b64(contents.keyPem),
      ...(contents.previousPem ? { [PREVIOUS_CA_KEY]: b64(contents.previousPem) } : {}),
    },
  };
}
