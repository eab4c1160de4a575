import type { V1Container, V1EnvVar } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { addAppEnv, removeAppEnv } from './env.js';

const PROXY = 'http://127.0.0.1:14001';
const DEFAULTS = 'localhost,127.0.0.1,::1,.svc,.cluster.local';
const container = (env?: V1EnvVar[]): V1Container => ({ name: 'app', ...(env ? { env } : {}) });
const valueOf = (c: V1Container, name: string) => c.env?.findLast((e) => e.name === name)?.value;
const fromSecret = { secretKeyRef: { name: 's', key: 'k' } };

describe('addAppEnv', () => {
  it('adds every variable to a container without env', () => {
    const c = container();
    const changes = addAppEnv(c);
    expect(changes.added).toEqual([
      'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy',
      'SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'AWS_CA_BUNDLE', 'GIT_SSL_CAINFO', 'NODE_EXTRA_CA_CERTS',
    ]);
    expect(changes).toMatchObject({ merged: {}, skipped: [] });
    expect(valueOf(c, 'https_proxy')).toBe(PROXY);
    expect(valueOf(c, 'NO_PROXY')).toBe(DEFAULTS);
    expect(valueOf(c, 'REQUESTS_CA_BUNDLE')).toBe('/etc/chaperone/trust/ca-bundle.crt');
    expect(valueOf(c, 'NODE_EXTRA_CA_CERTS')).toBe('/etc/chaperone/trust/ca.crt');
  });

  it.each([
    ['HTTP_PROXY', { value: 'http://corp:3128' }, ['HTTP_PROXY', 'http_proxy']],
    ['http_proxy', { value: '' }, ['HTTP_PROXY', 'http_proxy']],
    ['https_proxy', { valueFrom: fromSecret }, ['HTTPS_PROXY', 'https_proxy']],
  ])('treats both spellings as one setting: the user set %s', (name, rest, skipped) => {
    const c = container([{ name, ...rest }]);
    const changes = addAppEnv(c);
    expect(changes.skipped).toEqual(skipped);
    expect(c.env?.filter((e) => skipped.includes(e.name))).toEqual([{ name, ...rest }]);
  });

  it('merges NO_PROXY: the user\'s hosts of both spellings, in order, once, then ours; both spellings', () => {
    const c = container([{ name: 'no_proxy', value: 'b.example.com, localhost,,a.example.com' }, { name: 'NO_PROXY', value: 'a.example.com,c.example.com' }]);
    const changes = addAppEnv(c);
    const merged = `a.example.com,c.example.com,b.example.com,localhost,127.0.0.1,::1,.svc,.cluster.local`;
    expect(c.env?.slice(0, 2)).toEqual([{ name: 'no_proxy', value: merged }, { name: 'NO_PROXY', value: merged }]);
    expect(changes.merged).toEqual({ NO_PROXY: 'a.example.com,c.example.com', no_proxy: 'b.example.com, localhost,,a.example.com' });
    expect(changes.added).not.toContain('NO_PROXY');
  });

  it('adds the missing NO_PROXY spelling with the merged value', () => {
    const c = container([{ name: 'NO_PROXY', value: 'x.example.com' }]);
    const changes = addAppEnv(c);
    expect(valueOf(c, 'no_proxy')).toBe(`x.example.com,${DEFAULTS}`);
    expect(changes.merged).toEqual({ NO_PROXY: 'x.example.com' });
    expect(changes.added).toContain('no_proxy');
  });

  it('leaves NO_PROXY alone when either spelling comes from elsewhere', () => {
    const c = container([{ name: 'NO_PROXY', value: 'x' }, { name: 'no_proxy', valueFrom: fromSecret }]);
    const changes = addAppEnv(c);
    expect(changes.skipped).toEqual(['NO_PROXY', 'no_proxy']);
    expect(changes.merged).toEqual({});
    expect(valueOf(c, 'NO_PROXY')).toBe('x');
  });

  it('uses the last of repeated entries, as Kubernetes does', () => {
    const c = container([{ name: 'NO_PROXY', value: 'first' }, { name: 'NO_PROXY', value: 'last' }]);
    addAppEnv(c);
    expect(c.env?.slice(0, 2)).toEqual([{ name: 'NO_PROXY', value: 'first' }, { name: 'NO_PROXY', value: `last,${DEFAULTS}` }]);
  });

  it('never overrides a trust variable, and adds extra ones the same way', () => {
    const c = container([{ name: 'NODE_EXTRA_CA_CERTS', value: '/mine.pem' }, { name: 'CHAPERONE_QUIT_URL', value: 'mine' }]);
    const changes = addAppEnv(c, { CHAPERONE_QUIT_URL: 'ours', EXTRA: 'x' });
    expect(changes.skipped).toEqual(['NODE_EXTRA_CA_CERTS', 'CHAPERONE_QUIT_URL']);
    expect(changes.added.at(-1)).toBe('EXTRA');
    expect(valueOf(c, 'NODE_EXTRA_CA_CERTS')).toBe('/mine.pem');
  });
});

describe('removeAppEnv', () => {
  it.each<[string, V1EnvVar[] | undefined]>([
    ['no env', undefined],
    ['the user\'s env', [
      { name: 'A', value: '1' },
      { name: 'no_proxy', value: 'x.example.com' },
      { name: 'HTTPS_PROXY', valueFrom: fromSecret },
      { name: 'NO_PROXY', value: '' },
    ]],
  ])('restores %s exactly', (_label, env) => {
    const c = container(structuredClone(env));
    const changes = addAppEnv(c);
    removeAppEnv(c, changes.added, changes.merged);
    expect(c).toEqual(container(env));
    expect('env' in c).toBe(env !== undefined);
  });
});
