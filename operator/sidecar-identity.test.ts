import { describe, expect, it } from 'vitest';
import { SIDECAR_TOKEN_EXPIRES_ANNOTATION } from '../api/approval-names.js';
import { MANAGED_LABELS } from './namespace-config.js';
import {
  SIDECAR_TOKEN_ISSUED_ANNOTATION,
  SIDECAR_TOKEN_SA_UID_ANNOTATION,
  desiredSidecarIdentity,
  desiredTokenSecret,
  tokenExpiry,
  tokenNeedsMint,
  tokenRenewAt,
  type SecretLike,
} from './sidecar-identity.js';

const HOUR = 3_600_000;
const TTL = 24 * HOUR;
const NOW = new Date('2030-05-01T12:00:00Z');
const unb64 = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');

/** The Secret as the API server would return it after the operator wrote a token expiring at `expires` (minted `TTL` before). */
function written(expires: Date, uid?: string, issued = new Date(expires.getTime() - TTL)): SecretLike {
  return desiredTokenSecret('agents', { token: 'eyJ.token', issuedAt: issued, expiresAt: expires, ...(uid ? { serviceAccountUid: uid } : {}) }, 'CA PEM');
}

describe('desiredSidecarIdentity', () => {
  const { serviceAccount, role, roleBinding, toolPins } = desiredSidecarIdentity('agents');

  it('a ServiceAccount chaperone-sidecar that mounts no token by itself, labelled as the operator\'s', () => {
    expect(serviceAccount).toEqual({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'chaperone-sidecar', namespace: 'agents', labels: { ...MANAGED_LABELS } },
      automountServiceAccountToken: false,
    });
  });

  it('a Role with exactly create/get/list on approvalrequests, get/update/patch on their status, get/patch on the tool pins ConfigMap only, create on events', () => {
    expect(role.metadata).toEqual({ name: 'chaperone-sidecar', namespace: 'agents', labels: { ...MANAGED_LABELS } });
    expect(role.rules).toEqual([
      { apiGroups: ['chaperone.dev'], resources: ['approvalrequests'], verbs: ['create', 'get', 'list'] },
      { apiGroups: ['chaperone.dev'], resources: ['approvalrequests/status'], verbs: ['get', 'update', 'patch'] },
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['chaperone-tool-pins'], verbs: ['get', 'patch'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create'] },
    ]);
    // never the rights to decide (update/patch the main resource) or to clean up
    const main = role.rules.find((r) => r.resources.includes('approvalrequests'))!;
    for (const verb of ['update', 'patch', 'delete', 'deletecollection', 'watch', '*']) expect(main.verbs).not.toContain(verb);
  });

  it('an empty ConfigMap chaperone-tool-pins for the sidecars to add pins to', () => {
    expect(toolPins).toEqual({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'chaperone-tool-pins', namespace: 'agents', labels: { ...MANAGED_LABELS } } });
  });

  it('a RoleBinding of that Role to that ServiceAccount only', () => {
    expect(roleBinding.metadata.name).toBe('chaperone-sidecar');
    expect(roleBinding.metadata.labels).toEqual({ ...MANAGED_LABELS });
    expect(roleBinding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'chaperone-sidecar' });
    expect(roleBinding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'chaperone-sidecar', namespace: 'agents' }]);
  });

  it('returns fresh objects (callers may not corrupt the next namespace\'s)', () => {
    const a = desiredSidecarIdentity('a');
    a.role.rules[0]!.verbs.push('delete');
    a.serviceAccount.metadata.labels.x = 'y';
    const b = desiredSidecarIdentity('b');
    expect(b.role.rules[0]!.verbs).toEqual(['create', 'get', 'list']);
    expect(b.serviceAccount.metadata.labels).toEqual({ ...MANAGED_LABELS });
  });
});

describe('desiredTokenSecret', () => {
  it('holds token, ca.crt and namespace (base64), the expiry and the ServiceAccount UID', () => {
    const s = desiredTokenSecret('agents', { token: 'eyJ.abc', issuedAt: NOW, expiresAt: new Date('2030-05-02T12:00:00Z'), serviceAccountUid: 'uid-1' }, '-----BEGIN CERTIFICATE-----\n');
    expect(s.metadata).toMatchObject({ name: 'chaperone-sidecar-token', namespace: 'agents', labels: { ...MANAGED_LABELS } });
    expect(s.type).toBe('Opaque');
    expect(s.metadata.annotations).toEqual({
      [SIDECAR_TOKEN_EXPIRES_ANNOTATION]: '2030-05-02T12:00:00.000Z',
      [SIDECAR_TOKEN_ISSUED_ANNOTATION]: '2030-05-01T12:00:00.000Z',
      [SIDECAR_TOKEN_SA_UID_ANNOTATION]: 'uid-1',
    });
    expect(Object.keys(s.data).sort()).toEqual(['ca.crt', 'namespace', 'token']);
    expect(unb64(s.data.token)).toBe('eyJ.abc');
    expect(unb64(s.data['ca.crt'])).toBe('-----BEGIN CERTIFICATE-----\n');
    expect(unb64(s.data.namespace)).toBe('agents');
  });
});

describe('tokenNeedsMint', () => {
  it('mints when the Secret is absent', () => {
    expect(tokenNeedsMint(undefined, NOW, TTL)).toBe(true);
  });

  it('keeps a fresh token, and mints once less than half the lifetime is left', () => {
    const expires = new Date(NOW.getTime() + TTL);
    expect(tokenNeedsMint(written(expires), NOW, TTL)).toBe(false);
    expect(tokenNeedsMint(written(expires), new Date(NOW.getTime() + 12 * HOUR - 1), TTL)).toBe(false);
    expect(tokenNeedsMint(written(expires), new Date(NOW.getTime() + 12 * HOUR), TTL)).toBe(true);
    expect(tokenNeedsMint(written(expires), new Date(NOW.getTime() + 30 * HOUR), TTL)).toBe(true); // expired
    expect(tokenRenewAt(written(expires), TTL)).toEqual(new Date(NOW.getTime() + 12 * HOUR));
  });

  it('judges by the lifetime asked for now: a shorter --sidecar-token-ttl does not throw away a valid token early', () => {
    const expires = new Date(NOW.getTime() + 10 * HOUR);
    expect(tokenNeedsMint(written(expires), NOW, TTL)).toBe(true); // 10 h left < 12 h
    expect(tokenNeedsMint(written(expires), NOW, 1 * HOUR)).toBe(false); // 10 h left > 30 min
  });

  it('renews at half of what the API server granted when it granted less than asked (no mint loop)', () => {
    // --service-account-max-token-expiration=1h against a 24 h --sidecar-token-ttl
    const s = written(new Date(NOW.getTime() + HOUR), undefined, NOW);
    expect(tokenRenewAt(s, TTL)).toEqual(new Date(NOW.getTime() + HOUR / 2));
    expect(tokenNeedsMint(s, NOW, TTL)).toBe(false);
    expect(tokenNeedsMint(s, new Date(NOW.getTime() + HOUR / 2), TTL)).toBe(true);
    // without the issued annotation: judged by the lifetime asked for
    const annotations = { ...s.metadata!.annotations! };
    delete annotations[SIDECAR_TOKEN_ISSUED_ANNOTATION];
    expect(tokenNeedsMint({ ...s, metadata: { ...s.metadata, annotations } }, NOW, TTL)).toBe(true);
  });

  it('mints when the expiry annotation is missing or unparsable, or there is no token', () => {
    const base = written(new Date(NOW.getTime() + TTL));
    for (const value of [undefined, '', 'tomorrow', '2030-13-45T99:00:00Z', '1700000000']) {
      const annotations = { ...base.metadata!.annotations! };
      if (value === undefined) delete annotations[SIDECAR_TOKEN_EXPIRES_ANNOTATION];
      else annotations[SIDECAR_TOKEN_EXPIRES_ANNOTATION] = value;
      const s: SecretLike = { ...base, metadata: { ...base.metadata, annotations } };
      expect(tokenNeedsMint(s, NOW, TTL), String(value)).toBe(true);
      expect(tokenExpiry(s), String(value)).toBeUndefined();
    }
    expect(tokenNeedsMint({ ...base, data: { ...base.data, token: '' } }, NOW, TTL)).toBe(true);
    expect(tokenNeedsMint({ ...base, data: null }, NOW, TTL)).toBe(true);
  });

  it('mints over a Secret of that name the operator did not write', () => {
    const base = written(new Date(NOW.getTime() + TTL));
    expect(tokenNeedsMint({ ...base, metadata: { ...base.metadata, labels: {} } }, NOW, TTL)).toBe(true);
  });

  it('mints at once when the ServiceAccount was recreated (its old tokens died with it)', () => {
    const s = written(new Date(NOW.getTime() + TTL), 'uid-1');
    expect(tokenNeedsMint(s, NOW, TTL, 'uid-1')).toBe(false);
    expect(tokenNeedsMint(s, NOW, TTL, 'uid-2')).toBe(true);
    expect(tokenNeedsMint(written(new Date(NOW.getTime() + TTL)), NOW, TTL, 'uid-1')).toBe(true); // no UID recorded
    expect(tokenNeedsMint(s, NOW, TTL)).toBe(false); // UID unknown: judged by time alone
  });
});
