import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { injectPod, type InjectionRequest, type InjectionResult } from './inject.js';
import { PROXY_CONTAINER, STATUS_ANNOTATION } from './names.js';
import { applyJsonPatch, jsonPatch } from './patch.js';
import { defaultInjectionSettings, type InjectionSettings } from './settings.js';

// Golden files: webhook/testdata/NAME.in.yaml is the pod, NAME.out.yaml what injectPod makes of it.
// UPDATE_GOLDEN=1 npx vitest run webhook rewrites the .out files; read every changed line.
const TESTDATA = join(dirname(fileURLToPath(import.meta.url)), 'testdata');
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const HEADER = '# Written by webhook/inject.test.ts (UPDATE_GOLDEN=1) from the .in.yaml of the same name.\n';

// A fixed version and image, so the goldens do not change with each release.
const SETTINGS = defaultInjectionSettings({ version: '0.0.0-test', image: 'ghcr.io/chaperone-dev/chaperone:test' });
const REQUEST: InjectionRequest = { namespace: 'agents', namespaceOptedIn: false };

interface Case {
  name: string;
  settings?: Partial<InjectionSettings>;
  request?: Partial<InjectionRequest>;
}

const CASES: Case[] = [
  { name: 'plain-pod' },
  { name: 'several-containers', request: { namespaceOptedIn: true } },
  { name: 'existing-env' },
  { name: 'init-containers-native' },
  { name: 'init-containers-non-native' },
  { name: 'already-injected' },
  { name: 'opt-out', request: { namespaceOptedIn: true, manual: true } },
  { name: 'host-network' },
  { name: 'job-non-native', settings: { clusterSupportsNativeSidecars: false } },
  { name: 'resource-overrides' },
  { name: 'volume-conflict' },
  { name: 'sidecar-volume-mount' },
  { name: 'upstream-ca', settings: { upstreamCaConfigMap: 'gateway-ca' } },
  { name: 'shared-limits', settings: { sharedLimitsUrl: 'rediss://redis.limits.svc:6380', sharedLimitsPasswordSecret: 'limits-redis', sharedLimitsPasswordKey: 'redis-password', sharedLimitsCaConfigMap: 'limits-redis-ca', sharedLimitsUserPrefix: 'chaperone-' } },
  { name: 'proxy-env-merge' },
  { name: 'transparent' },
  { name: 'transparent-non-native', settings: { clusterSupportsNativeSidecars: false }, request: { namespaceOptedIn: true, namespaceLabels: { 'chaperone.dev/capture': 'transparent' } } },
  { name: 'transparent-restricted', request: { namespaceLabels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } },
];

const loadPod = (name: string): V1Pod => parse(readFileSync(join(TESTDATA, `${name}.in.yaml`), 'utf8')) as V1Pod;
const run = (c: Case, pod: V1Pod): InjectionResult => injectPod(pod, { ...SETTINGS, ...c.settings }, { ...REQUEST, ...c.request });

function render(result: InjectionResult): string {
  const view = result.action === 'injected'
    ? { action: result.action, warnings: result.warnings, status: result.status, pod: result.pod }
    : result;
  return HEADER + stringify(view, { lineWidth: 0, aliasDuplicateObjects: false });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

describe.each(CASES)('injectPod golden $name', (c) => {
  it('matches the golden output', () => {
    const actual = render(run(c, loadPod(c.name)));
    const file = join(TESTDATA, `${c.name}.out.yaml`);
    if (UPDATE) writeFileSync(file, actual);
    expect(actual).toBe(readFileSync(file, 'utf8'));
  });

  it('never modifies its input', () => {
    const pod = deepFreeze(loadPod(c.name)); // a write would throw
    run(c, pod);
    expect(pod).toEqual(loadPod(c.name));
  });

  it('is idempotent: injecting the result again gives the same result', () => {
    const once = run(c, loadPod(c.name));
    const again = once.action === 'injected' ? run(c, once.pod) : run(c, loadPod(c.name));
    expect(again).toEqual(once);
  });

  it('has a JSONPatch that turns the input into the output', () => {
    const input = loadPod(c.name);
    const result = run(c, input);
    if (result.action !== 'injected') return;
    expect(applyJsonPatch(input, jsonPatch(input, result.pod))).toEqual(result.pod);
  });
});

describe('injectPod', () => {
  const pod = (annotations: Record<string, string> = {}, namespace?: string): V1Pod => ({
    metadata: { name: 'p', ...(namespace ? { namespace } : {}), annotations },
    spec: { containers: [{ name: 'app', image: 'app' }] },
  });
  const inject = (p: V1Pod, request: Partial<InjectionRequest> = {}, settings: Partial<InjectionSettings> = {}) =>
    injectPod(p, { ...SETTINGS, ...settings }, { ...REQUEST, ...request });
  const injected = (result: InjectionResult) => {
    if (result.action !== 'injected') throw new Error(`expected an injection, got: ${result.reason}`);
    return result;
  };
  const proxyOf = (p: V1Pod): V1Container | undefined =>
    [...(p.spec?.containers ?? []), ...(p.spec?.initContainers ?? [])].find((c) => c.name === PROXY_CONTAINER);

  it.each<[string, Record<string, string>, Partial<InjectionRequest>, string | undefined]>([
    ['annotation "true"', { 'chaperone.dev/inject': 'true' }, {}, undefined],
    ['namespace opted in', {}, { namespaceOptedIn: true }, undefined],
    ['manual', {}, { manual: true }, undefined],
    ['nothing', {}, {}, 'not opted in'],
    ['an annotation that is neither "true" nor "false"', { 'chaperone.dev/inject': 'yes' }, {}, 'not opted in'],
    ['"false" in an opted-in namespace', { 'chaperone.dev/inject': 'false' }, { namespaceOptedIn: true }, 'opted out with chaperone.dev/inject: "false"'],
    ['"false" under manual injection', { 'chaperone.dev/inject': 'false' }, { manual: true }, 'opted out with chaperone.dev/inject: "false"'],
  ])('decides on %s', (_label, annotations, request, reason) => {
    const result = inject(pod(annotations), request);
    expect(result.action === 'skipped' ? result.reason : undefined).toBe(reason);
  });

  it.each(['kube-system', 'kube-public', 'kube-node-lease', 'chaperone-system'])('never injects namespace %s', (ns) => {
    expect(inject(pod({ 'chaperone.dev/inject': 'true' }), { namespace: ns, manual: true })).toMatchObject({ action: 'skipped', reason: expect.stringContaining(ns) });
    // The pod's own namespace, when it names one, is the one that counts.
    expect(inject(pod({ 'chaperone.dev/inject': 'true' }, ns), { namespace: 'agents' }).action).toBe('skipped');
  });

  it('takes Chaperone\'s own namespace from the settings', () => {
    const p = pod({ 'chaperone.dev/inject': 'true' });
    expect(inject(p, { namespace: 'chaperone-system' }, { ownNamespace: 'governance' }).action).toBe('injected');
    expect(inject(p, { namespace: 'governance' }, { ownNamespace: 'governance' }).action).toBe('skipped');
  });

  describe('native sidecar or regular container', () => {
    it.each<[string, string | undefined, InjectionSettings['nativeSidecars'], boolean, boolean, RegExp | undefined]>([
      ['auto, cluster >= 1.29', undefined, 'auto', true, true, undefined],
      ['auto, older cluster', undefined, 'auto', false, false, undefined],
      ['on', undefined, 'on', false, true, undefined],
      ['off', undefined, 'off', true, false, undefined],
      ['annotation "false" beats on', 'false', 'on', true, false, undefined],
      ['annotation "true" beats off', 'true', 'off', true, true, undefined],
      ['annotation "true" on an older cluster', 'true', 'on', false, false, /no native sidecars/],
      ['annotation neither', 'maybe', 'off', true, false, /"maybe" ignored/],
    ])('%s', (_label, annotation, mode, supported, native, warning) => {
      const annotations: Record<string, string> = { 'chaperone.dev/inject': 'true', ...(annotation ? { 'chaperone.dev/native-sidecar': annotation } : {}) };
      const result = injected(inject(pod(annotations), {}, { nativeSidecars: mode, clusterSupportsNativeSidecars: supported }));
      expect(result.status.native).toBe(native);
      expect(result.pod.spec?.initContainers?.[0]?.name === PROXY_CONTAINER).toBe(native);
      expect(result.pod.spec?.containers[0]?.name === PROXY_CONTAINER).toBe(!native);
      if (warning) expect(result.warnings).toEqual([expect.stringMatching(warning)]);
      else expect(result.warnings).toEqual([]);
    });
  });

  it('records itself in the annotation: the status, keys sorted', () => {
    const p: V1Pod = { metadata: { annotations: { 'chaperone.dev/inject': 'true' } }, spec: { containers: [{ name: 'zeta' }, { name: 'alpha' }] } };
    const result = injected(inject(p));
    const text = result.pod.metadata?.annotations?.[STATUS_ANNOTATION] ?? '';
    expect(JSON.parse(text)).toEqual(result.status);
    expect(text).toBe(JSON.stringify(result.status));
    expect(Object.keys(result.status.env)).toEqual(['alpha', 'zeta']);
    expect(result.pod.metadata?.labels).toEqual({ 'chaperone.dev/injected': 'true' });
  });

  it('re-injects with other settings without leaving anything of the first injection behind', () => {
    const p = loadPod('init-containers-native');
    const first = injected(inject(p, {}, { nativeSidecars: 'on' }));
    const again = inject(first.pod, {}, { nativeSidecars: 'off', image: 'chaperone:next', version: '9.9.9' });
    expect(again).toEqual(inject(p, {}, { nativeSidecars: 'off', image: 'chaperone:next', version: '9.9.9' }));
    expect(injected(again).pod.spec?.initContainers?.map((c) => c.name)).toEqual(['fetch-model', 'setup']);
  });

  it('cleans up after an unreadable record: our container and volumes go, and it says so', () => {
    const first = injected(inject(pod({ 'chaperone.dev/inject': 'true' })));
    const broken = structuredClone(first.pod);
    broken.metadata!.annotations![STATUS_ANNOTATION] = '{not json';
    const result = injected(inject(broken));
    expect(result.warnings).toEqual([expect.stringMatching(/chaperone.dev\/status is unreadable/)]);
    expect(result.pod.spec?.initContainers?.map((c) => c.name)).toEqual([PROXY_CONTAINER]);
    expect(result.pod.spec?.volumes?.map((v) => v.name)).toEqual(['chaperone-config', 'chaperone-ca', 'chaperone-trust', 'chaperone-podinfo', 'chaperone-sidecar-token']);
    // What it could not know was ours now looks like the user's: kept, and recorded as skipped.
    expect(result.status.envSkipped.app).toContain('HTTPS_PROXY');
    expect(result.warnings).toHaveLength(1);
  });

  it('will not add a second chaperone-proxy container that it did not record', () => {
    const p: V1Pod = { metadata: { annotations: { 'chaperone.dev/inject': 'true' } }, spec: { containers: [{ name: 'app' }, { name: PROXY_CONTAINER }] } };
    expect(inject(p)).toEqual({ action: 'skipped', reason: 'the pod already has a container named chaperone-proxy' });
  });

  it.each<[string, Record<string, string>, string[]]>([
    ['valid intercept hosts', { 'chaperone.dev/intercept-hosts': 'mcp.example.com, *.tools.example.com,localhost,' }, []],
    ['invalid intercept hosts', { 'chaperone.dev/intercept-hosts': 'ok.example.com,https://x.example.com,a b,*.*.example.com' }, [
      'chaperone.dev/intercept-hosts: not hostnames: "https://x.example.com", "a b", "*.*.example.com" (expected api.example.com or *.example.com)',
    ]],
    ['an empty agent', { 'chaperone.dev/agent': ' ' }, [`chaperone.dev/agent is empty: the pod's calls count as agent "unknown"`]],
  ])('checks the annotations the sidecar reads: %s', (_label, annotations, warnings) => {
    expect(injected(inject(pod({ 'chaperone.dev/inject': 'true', ...annotations }))).warnings).toEqual(warnings);
  });

  it('keeps the default limit when an override would put it below the request', () => {
    const result = injected(inject(pod({ 'chaperone.dev/inject': 'true', 'chaperone.dev/proxy-cpu-limit': '10m' })));
    expect(proxyOf(result.pod)?.resources).toEqual({ requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '1', memory: '256Mi' } });
    expect(result.warnings).toEqual(['chaperone.dev/proxy-cpu-limit: 10m is below the cpu request 50m; using 1']);
  });

  it('skips a pod without a spec', () => {
    expect(inject({ metadata: { name: 'p' } }, { manual: true })).toEqual({ action: 'skipped', reason: 'the pod has no spec' });
  });
});
