import { beforeAll, describe, expect, it } from 'vitest';
import { createCa } from '../lib/x509.js';
import { PREVIOUS_CA_KEY, desiredCaSecret, planCaRotation, trustedCas, type CaContents } from './ca-rotation.js';
import { MANAGED_LABELS } from './namespace-config.js';

const DAY = 24 * 60 * 60_000;
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

let current: CaContents;
let older: CaContents;
const start = new Date();

beforeAll(async () => {
  current = await createCa('current', 365);
  older = await createCa('older', 30);
});

const secret = (contents: CaContents, labels: Record<string, string> = { ...MANAGED_LABELS }) => ({
  metadata: { labels },
  data: { 'tls.crt': b64(contents.certPem), 'tls.key': b64(contents.keyPem), ...(contents.previousPem ? { [PREVIOUS_CA_KEY]: b64(contents.previousPem) } : {}) },
});

describe('planCaRotation', () => {
  it('creates a CA when there is no Secret, or it holds no usable certificate', () => {
    expect(planCaRotation(start, undefined)).toEqual({ action: 'mint', reason: 'created' });
    expect(planCaRotation(start, { data: { 'tls.crt': b64(current.certPem) } })).toEqual({ action: 'mint', reason: 'created' });
    expect(planCaRotation(start, { data: { 'tls.crt': b64('not a certificate'), 'tls.key': b64('k') } })).toEqual({ action: 'mint', reason: 'created' });
  });

  it('keeps a current CA of its own, writing nothing and trusting it alone', () => {
    expect(planCaRotation(start, secret(current))).toEqual({ action: 'keep', trust: [current.certPem] });
  });

  it('trusts the previous CA during the overlap, and stops once it has expired', () => {
    const overlapping = secret({ ...current, previousPem: older.certPem });
    expect(planCaRotation(start, overlapping)).toEqual({ action: 'keep', trust: [current.certPem, older.certPem] });
    expect(planCaRotation(new Date(start.getTime() + 31 * DAY), overlapping)).toEqual({ action: 'keep', trust: [current.certPem] });
  });

  it('rewrites, with the same CA, a Secret not labelled as the operator\'s', () => {
    expect(planCaRotation(start, secret(current, {}))).toEqual({ action: 'rewrite', contents: { certPem: current.certPem, keyPem: current.keyPem } });
  });

  it('rotates once less than a third of the lifetime is left, keeping the old CA as previous while valid', () => {
    expect(planCaRotation(new Date(start.getTime() + 240 * DAY), secret(current)).action).toBe('keep');
    expect(planCaRotation(new Date(start.getTime() + 250 * DAY), secret(current))).toEqual({ action: 'mint', reason: 'rotated', previousPem: current.certPem });
    // Expired already (the operator was down): rotated, nothing to keep trusting.
    expect(planCaRotation(new Date(start.getTime() + 400 * DAY), secret(current))).toEqual({ action: 'mint', reason: 'rotated' });
  });

  it('honours a different renewal fraction', () => {
    expect(planCaRotation(new Date(start.getTime() + 100 * DAY), secret(current), { renewBeforeFraction: 0.9 }).action).toBe('mint');
  });
});

describe('the CA Secret and trust', () => {
  it('writes current and previous, labelled as the operator\'s', () => {
    const s = desiredCaSecret('team', { ...current, previousPem: older.certPem });
    expect(s.metadata).toEqual({ name: 'chaperone-ca', namespace: 'team', labels: { ...MANAGED_LABELS } });
    expect(Buffer.from(s.data![PREVIOUS_CA_KEY]!, 'base64').toString()).toBe(older.certPem);
    expect(Object.keys(desiredCaSecret('team', current).data!).sort()).toEqual(['tls.crt', 'tls.key']);
    expect(trustedCas({ ...current, previousPem: older.certPem })).toEqual([current.certPem, older.certPem]);
  });
});
