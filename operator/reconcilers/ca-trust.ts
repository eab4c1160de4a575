// The namespace CA and the trust bundle: carries out planCaRotation (ca-rotation.ts), minting a CA
// only when the plan says so, then applies `chaperone-trust` for the certificates to trust (sent
// only when it changed: applied-objects.ts).

import { CA_SECRET_NAME, TRUST_CONFIG_MAP_NAME } from '../../api/index.js';
import type { Logger } from '../../lib/logger.js';
import { createCa } from '../../lib/x509.js';
import { desiredCaSecret, planCaRotation, trustedCas, type CaContents, type ObservedCaSecret } from '../ca-rotation.js';
import type { ClusterClient } from '../cluster-client.js';
import { desiredTrust } from '../trust-bundle.js';
import type { AppliedObjects } from './applied-objects.js';
import type { RecentWrites } from './recent-writes.js';

export interface CaTrustContext {
  client: ClusterClient;
  applied: AppliedObjects;
  recent: RecentWrites;
  log: Logger;
  now: Date;
  /** Lifetime of a new CA in days. */
  caDays: number;
}

export async function reconcileCaAndTrust(ctx: CaTrustContext, namespace: string): Promise<void> {
  const { client, log } = ctx;
  const cached = ctx.recent.freshest('Secret', namespace, CA_SECRET_NAME, client.cached('Secret', namespace, CA_SECRET_NAME));
  // Not in the cache: absent, or not labelled as ours (then its CA is kept and the labels added).
  const observed = (cached ?? (await client.read({ apiVersion: 'v1', kind: 'Secret', namespace, name: CA_SECRET_NAME }))) as ObservedCaSecret | undefined;
  const plan = planCaRotation(ctx.now, observed);

  let trust: string[];
  if (plan.action === 'keep') {
    trust = plan.trust;
  } else {
    let contents: CaContents;
    if (plan.action === 'mint') {
      const ca = await createCa(`chaperone ${namespace} CA`, ctx.caDays);
      contents = { ...ca, ...(plan.previousPem ? { previousPem: plan.previousPem } : {}) };
    } else {
      contents = plan.contents;
    }
    ctx.recent.remember(await client.apply(desiredCaSecret(namespace, contents)));
    if (plan.action === 'mint') log.info({ namespace, rotation: plan.reason === 'rotated' }, plan.reason === 'rotated' ? 'rotated namespace CA' : 'created namespace CA');
    trust = trustedCas(contents);
  }
  // Equal certificates build an equal bundle: it is built (and hashed) only when it must be sent.
  const ref = { kind: 'ConfigMap', namespace, name: TRUST_CONFIG_MAP_NAME };
  await ctx.applied.applyBuiltIfChanged(client, ref, trust.join('\n'), () => desiredTrust(namespace, trust));
}
