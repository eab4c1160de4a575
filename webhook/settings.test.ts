import { describe, expect, it } from 'vitest';
import { UsageError } from '../lib/cli.js';
import { VERSION } from '../lib/project.js';
import { defaultInjectionSettings, nativeSidecarsSupported, settingsFromFlags } from './settings.js';

describe('defaultInjectionSettings', () => {
  it('has the documented defaults', () => {
    expect(defaultInjectionSettings()).toEqual({
      version: VERSION,
      image: `ghcr.io/chaperone-dev/chaperone:${VERSION}`,
      imagePullPolicy: 'IfNotPresent',
      resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '1', memory: '256Mi' } },
      nativeSidecars: 'auto',
      clusterSupportsNativeSidecars: true,
      ownNamespace: 'chaperone-system',
      upstreamCaConfigMap: '',
      capture: 'proxy-env',
      capturePorts: [80, 443],
      opaqueTraffic: 'deny',
      sharedLimitsUrl: '',
      sharedLimitsPasswordSecret: '',
      sharedLimitsPasswordKey: 'password',
      sharedLimitsUserPrefix: '',
      sharedLimitsCaConfigMap: '',
    });
  });

  it('takes the shared limits store, and refuses a URL with a password or another scheme', () => {
    expect(settingsFromFlags({ 'shared-limits-url': 'rediss://redis.limits.svc:6380', 'shared-limits-password-secret': 'limits-redis', 'shared-limits-ca-configmap': 'limits-ca' })).toMatchObject({
      sharedLimitsUrl: 'rediss://redis.limits.svc:6380',
      sharedLimitsPasswordSecret: 'limits-redis',
      sharedLimitsPasswordKey: 'password',
      sharedLimitsCaConfigMap: 'limits-ca',
    });
    expect(() => settingsFromFlags({ 'shared-limits-url': 'redis://:secret@redis:6379' })).toThrow(/without a password/);
    expect(() => settingsFromFlags({ 'shared-limits-url': 'http://redis:6379' })).toThrow(UsageError);
    expect(() => settingsFromFlags({ 'shared-limits-password-secret': 'Bad_Name' })).toThrow(/not an object name/);
  });

  it('never uses a store without a password; takes a per-namespace ACL user prefix', () => {
    expect(() => settingsFromFlags({ 'shared-limits-url': 'redis://redis.limits.svc:6379' })).toThrow(/needs --shared-limits-password-secret/);
    expect(settingsFromFlags({ 'shared-limits-url': 'redis://r:6379', 'shared-limits-password-secret': 'pw', 'shared-limits-user-prefix': 'chaperone-' })).toMatchObject({ sharedLimitsUserPrefix: 'chaperone-' });
    expect(() => settingsFromFlags({ 'shared-limits-url': 'redis://r:6379', 'shared-limits-password-secret': 'pw', 'shared-limits-user-prefix': 'a b' })).toThrow(/--shared-limits-user-prefix/);
    expect(() => settingsFromFlags({ 'shared-limits-user-prefix': 'chaperone-' })).toThrow(/needs --shared-limits-url/);
  });

  it('takes overrides', () => {
    expect(defaultInjectionSettings({ nativeSidecars: 'off', ownNamespace: 'gov' })).toMatchObject({ nativeSidecars: 'off', ownNamespace: 'gov', imagePullPolicy: 'IfNotPresent' });
  });
});

describe('nativeSidecarsSupported', () => {
  it.each<[string, boolean]>([
    ['v1.36.3', true], ['v1.29.0', true], ['v1.29.0-eks-5e0fdde', true], ['v1.30.2-gke.1587003', true], ['1.31.1+k3s1', true], ['v2.0.0', true],
    ['v1.28.9', false], ['v1.28.15-eks-1234', false], ['v1.9.0', false], ['', false], ['unknown', false],
  ])('%j -> %s', (version, supported) => {
    expect(nativeSidecarsSupported(version)).toBe(supported);
  });
});

describe('settingsFromFlags', () => {
  it('keeps the base without flags', () => {
    expect(settingsFromFlags({})).toEqual(defaultInjectionSettings());
  });

  it('applies every flag', () => {
    expect(settingsFromFlags({
      image: 'registry.example.com/chaperone:1',
      'image-pull-policy': 'Always',
      'proxy-cpu-request': '100m',
      'proxy-memory-request': '128Mi',
      'proxy-cpu-limit': '2',
      'proxy-memory-limit': '1Gi',
      'native-sidecars': 'off',
      'upstream-ca-configmap': 'gateway-ca',
    }, defaultInjectionSettings({ ownNamespace: 'gov' }))).toEqual(defaultInjectionSettings({
      upstreamCaConfigMap: 'gateway-ca',
      ownNamespace: 'gov',
      image: 'registry.example.com/chaperone:1',
      imagePullPolicy: 'Always',
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2', memory: '1Gi' } },
      nativeSidecars: 'off',
    }));
  });

  it.each<[Record<string, string>, RegExp]>([
    [{ 'native-sidecars': 'yes' }, /^--native-sidecars yes: expected one of auto, on, off$/],
    [{ 'upstream-ca-configmap': 'Gateway_CA' }, /^--upstream-ca-configmap Gateway_CA: not a ConfigMap name/],
    [{ 'image-pull-policy': 'Sometimes' }, /^--image-pull-policy Sometimes: expected one of Always, IfNotPresent, Never$/],
    [{ 'proxy-memory-limit': '1GB' }, /^--proxy-memory-limit 1GB: expected a Kubernetes quantity/],
    [{ 'proxy-cpu-request': '2' }, /^--proxy-cpu-request 2 is above --proxy-cpu-limit 1$/],
    [{ image: '' }, /^--image: must not be empty$/],
  ])('rejects %j', (flags, message) => {
    expect(() => settingsFromFlags(flags)).toThrow(UsageError);
    expect(() => settingsFromFlags(flags)).toThrow(message);
  });
});
