import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { admit, type AdmissionAnswer, type AdmissionScope } from './admission.js';
import { injectPod } from './inject.js';
import { INJECT_ANNOTATION, INJECTED_LABEL, PROXY_CONTAINER, PROXY_CPU_ANNOTATION, STATUS_ANNOTATION } from './names.js';
import { applyJsonPatch, type Operation } from './patch.js';
import { defaultInjectionSettings } from './settings.js';

// The real injectPod, wrapped so one test can make it throw.
vi.mock('./inject.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('./inject.js')>();
  return { ...actual, injectPod: vi.fn(actual.injectPod) };
});

const settings = defaultInjectionSettings();
const UID = '705ab4f5-6393-11e8-b7cc-42010a800002';

function pod(annotations?: Record<string, string>, metadata: V1Pod['metadata'] = { name: 'agent', namespace: 'team-a' }): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...metadata, ...(annotations ? { annotations } : {}) },
    spec: { containers: [{ name: 'app', image: 'example.com/agent:1' }] },
  };
}

/** An AdmissionReview as the API server sends it for a pod CREATE. */
function review(object: unknown, request: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: UID,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      name: 'agent',
      namespace: 'team-a',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:authenticated'] },
      object,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
      ...request,
    },
  };
}

type Answered = Extract<AdmissionAnswer, { status: 200 }>;

function ok(answer: AdmissionAnswer): Answered {
  expect(answer.status).toBe(200);
  if (answer.status !== 200) throw new Error(`expected 200, got 400 ${answer.message}`);
  expect(answer.review.apiVersion).toBe('admission.k8s.io/v1');
  expect(answer.review.kind).toBe('AdmissionReview');
  expect(answer.review.response.uid).toBe(UID);
  expect(answer.review.response.allowed).toBe(true);
  return answer;
}

function expectNoPatch(answer: Answered): void {
  expect(answer.review.response.patch).toBeUndefined();
  expect(answer.review.response.patchType).toBeUndefined();
}

function decodePatch(answer: Answered): Operation[] {
  expect(answer.review.response.patchType).toBe('JSONPatch');
  const patch = answer.review.response.patch;
  expect(typeof patch).toBe('string');
  expect(patch).toMatch(/^[A-Za-z0-9+/]+=*$/); // base64, not base64url or raw JSON
  const ops: unknown = JSON.parse(Buffer.from(patch!, 'base64').toString('utf8'));
  expect(Array.isArray(ops)).toBe(true);
  return ops as Operation[];
}

function allContainers(p: V1Pod): V1Container[] {
  return [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])];
}

/** The pod as the API server would store it: the answer's patch applied to what it sent. */
function patched(original: V1Pod, answer: Answered): V1Pod {
  return applyJsonPatch(original, decodePatch(answer));
}

afterEach(() => {
  vi.mocked(injectPod).mockClear();
});

describe('admit: malformed AdmissionReviews are 400 with the field named', () => {
  it.each([
    ['null', null, /^body:/],
    ['an array', [review(pod())], /^body:/],
    ['a string', 'AdmissionReview', /^body:/],
    ['a number', 42, /^body:/],
    ['undefined (empty body)', undefined, /^body:/],
  ])('the body is %s', (_what, body, message) => {
    const answer = admit(body, 'pod', settings);
    expect(answer).toEqual({ status: 400, result: 'invalid', message: expect.stringMatching(message) });
  });

  it('names the wrong apiVersion, and what came instead', () => {
    const answer = admit({ ...review(pod()), apiVersion: 'admission.k8s.io/v1beta1' }, 'pod', settings);
    expect(answer.status).toBe(400);
    expect(answer.result).toBe('invalid');
    if (answer.status === 400) {
      expect(answer.message).toMatch(/^apiVersion:/);
      expect(answer.message).toContain('admission.k8s.io/v1beta1');
    }
  });

  it('names a missing apiVersion', () => {
    const { apiVersion: _, ...body } = review(pod());
    const answer = admit(body, 'pod', settings);
    expect(answer).toMatchObject({ status: 400, result: 'invalid', message: expect.stringMatching(/^apiVersion: .*null/) });
  });

  it('names the wrong kind', () => {
    const answer = admit({ ...review(pod()), kind: 'Pod' }, 'pod', settings);
    expect(answer).toMatchObject({ status: 400, result: 'invalid', message: expect.stringMatching(/^kind: .*"Pod"/) });
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['an array', []],
    ['a string', 'request'],
  ])('names the request when it is %s', (_what, request) => {
    const body = { ...review(pod()), request };
    if (request === undefined) delete body.request;
    expect(admit(body, 'pod', settings)).toEqual({ status: 400, result: 'invalid', message: expect.stringMatching(/^request:/) });
  });

  it.each([
    ['missing', { uid: undefined }],
    ['empty', { uid: '' }],
    ['not a string', { uid: 7 }],
  ])('names request.uid when it is %s', (_what, request) => {
    expect(admit(review(pod(), request), 'pod', settings)).toEqual({ status: 400, result: 'invalid', message: expect.stringMatching(/^request\.uid:/) });
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['a pod without a spec', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'agent' } }],
    ['a pod whose spec is not an object', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'agent' }, spec: 'containers' }],
  ])('names request.object when it is %s', (_what, object) => {
    expect(admit(review(object), 'pod', settings)).toEqual({ status: 400, result: 'invalid', message: expect.stringMatching(/^request\.object:/) });
  });

  it('never calls the injector for a malformed review', () => {
    admit(review(undefined), 'namespace', settings);
    admit({ ...review(pod()), kind: 'Pod' }, 'namespace', settings);
    expect(injectPod).not.toHaveBeenCalled();
  });
});

describe('admit: what is not a pod CREATE is allowed untouched', () => {
  const annotated = pod({ [INJECT_ANNOTATION]: 'true' });

  it.each([
    ['a Deployment', { resource: { group: 'apps', version: 'v1', resource: 'deployments' } }],
    ['a ConfigMap', { resource: { group: '', version: 'v1', resource: 'configmaps' } }],
    ['"pods" of another API group', { resource: { group: 'metrics.k8s.io', version: 'v1beta1', resource: 'pods' } }],
    ['no resource at all', { resource: undefined }],
    ['the pods/binding subresource', { subResource: 'binding' }],
    ['the pods/ephemeralcontainers subresource', { subResource: 'ephemeralcontainers', operation: 'UPDATE' }],
  ])('%s is skipped', (_what, request) => {
    const answer = ok(admit(review(annotated, request), 'namespace', settings));
    expect(answer.result).toBe('skipped');
    expectNoPatch(answer);
    expect(answer.review.response.warnings).toBeUndefined();
    expect(injectPod).not.toHaveBeenCalled();
  });

  it.each([
    ['UPDATE', { oldObject: annotated }],
    ['DELETE', { object: null, oldObject: annotated }],
    ['CONNECT', { object: null }],
  ])('a pod %s is skipped', (operation, request) => {
    const answer = ok(admit(review(annotated, { operation, ...request }), 'namespace', settings));
    expect(answer.result).toBe('skipped');
    expect(answer.detail).toContain(operation);
    expectNoPatch(answer);
    expect(injectPod).not.toHaveBeenCalled();
  });
});

describe('admit: pods', () => {
  it('injects an annotated pod in scope "pod": JSONPatch that adds the sidecar', () => {
    const original = pod({ [INJECT_ANNOTATION]: 'true' });
    const body = review(original);
    const before = structuredClone(body);
    const answer = ok(admit(body, 'pod', settings));

    expect(answer.result).toBe('injected');
    expect(answer.pod).toBe('team-a/agent');
    expect(answer.review.response.warnings).toBeUndefined();
    const result = patched(original, answer);
    expect(allContainers(result).map((c) => c.name)).toContain(PROXY_CONTAINER);
    expect(allContainers(result).map((c) => c.name)).toContain('app');
    expect(result.metadata?.labels?.[INJECTED_LABEL]).toBe('true');
    expect(result.metadata?.annotations?.[STATUS_ANNOTATION]).toBeDefined();
    expect(result.metadata?.annotations?.[INJECT_ANNOTATION]).toBe('true');
    // The request itself is left as it was.
    expect(body).toEqual(before);
  });

  it('the patch turns the pod into exactly what injectPod makes of it', async () => {
    const { injectPod: realInject } = await vi.importActual<typeof import('./inject.js')>('./inject.js');
    const original = pod({ [INJECT_ANNOTATION]: 'true' });
    const expected = realInject(original, settings, { namespace: 'team-a', namespaceOptedIn: false });
    expect(expected.action).toBe('injected');
    if (expected.action !== 'injected') return;
    expect(patched(original, ok(admit(review(original), 'pod', settings)))).toEqual(expected.pod);
  });

  it('says which kind of sidecar it added', () => {
    const original = pod({ [INJECT_ANNOTATION]: 'true' });
    const native = ok(admit(review(original), 'pod', defaultInjectionSettings({ nativeSidecars: 'on' })));
    expect(native.detail).toBe('native sidecar');
    expect(patched(original, native).spec?.initContainers?.map((c) => c.name)).toContain(PROXY_CONTAINER);

    const regular = ok(admit(review(original), 'pod', defaultInjectionSettings({ nativeSidecars: 'off' })));
    expect(regular.detail).toBe('sidecar container');
    expect(patched(original, regular).spec?.containers.map((c) => c.name)).toContain(PROXY_CONTAINER);
  });

  it('skips a pod without the annotation in scope "pod", injects it in scope "namespace"', () => {
    const original = pod();
    const skipped = ok(admit(review(original), 'pod', settings));
    expect(skipped.result).toBe('skipped');
    expectNoPatch(skipped);

    const injected = ok(admit(review(original), 'namespace', settings));
    expect(injected.result).toBe('injected');
    expect(allContainers(patched(original, injected)).map((c) => c.name)).toContain(PROXY_CONTAINER);
  });

  it.each<AdmissionScope>(['pod', 'namespace'])('skips a pod that opts out with "false" in scope "%s"', (scope) => {
    const answer = ok(admit(review(pod({ [INJECT_ANNOTATION]: 'false' })), scope, settings));
    expect(answer.result).toBe('skipped');
    expect(answer.detail).toContain('opted out');
    expectNoPatch(answer);
  });

  it('passes the scope to the injector as namespaceOptedIn', () => {
    admit(review(pod()), 'pod', settings);
    admit(review(pod()), 'namespace', settings);
    expect(vi.mocked(injectPod).mock.calls.map((c) => c[2])).toEqual([
      { namespace: 'team-a', namespaceOptedIn: false },
      { namespace: 'team-a', namespaceOptedIn: true },
    ]);
  });

  describe('a ReplicaSet pod: generateName, no metadata.namespace', () => {
    const generated = (annotations?: Record<string, string>): V1Pod => pod(annotations, { generateName: 'agent-7d9f8b6c4-' });

    it('takes its namespace from the request and names it by generateName', () => {
      const original = generated({ [INJECT_ANNOTATION]: 'true' });
      const answer = ok(admit(review(original, { name: undefined, namespace: 'team-b' }), 'pod', settings));
      expect(answer.result).toBe('injected');
      expect(answer.pod).toBe('team-b/agent-7d9f8b6c4-*');
      expect(vi.mocked(injectPod).mock.calls[0]?.[2]).toEqual({ namespace: 'team-b', namespaceOptedIn: false });
      expect(allContainers(patched(original, answer)).map((c) => c.name)).toContain(PROXY_CONTAINER);
    });

    it.each(['kube-system', 'chaperone-system'])('is never injected when the request says namespace %s', (namespace) => {
      const answer = ok(admit(review(generated({ [INJECT_ANNOTATION]: 'true' }), { name: undefined, namespace }), 'namespace', settings));
      expect(answer.result).toBe('skipped');
      expect(answer.detail).toContain(namespace);
      expect(answer.pod).toBe(`${namespace}/agent-7d9f8b6c4-*`);
      expectNoPatch(answer);
    });

    it('falls back to metadata.namespace, then "default", when the request names none', () => {
      const named = ok(admit(review(pod({ [INJECT_ANNOTATION]: 'true' }), { namespace: undefined }), 'pod', settings));
      expect(named.pod).toBe('team-a/agent');
      const anonymous = ok(admit(review(generated({ [INJECT_ANNOTATION]: 'true' }), { namespace: undefined }), 'pod', settings));
      expect(anonymous.pod).toBe('default/agent-7d9f8b6c4-*');
    });
  });

  it('prefixes every warning with "chaperone: "', () => {
    const original = pod({ [INJECT_ANNOTATION]: 'true', [PROXY_CPU_ANNOTATION]: 'lots' });
    const answer = ok(admit(review(original), 'pod', settings));
    expect(answer.result).toBe('injected');
    const warnings = answer.review.response.warnings ?? [];
    expect(warnings.length).toBeGreaterThan(0);
    for (const warning of warnings) expect(warning).toMatch(/^chaperone: \S/);
    expect(warnings.some((w) => w.includes(PROXY_CPU_ANNOTATION))).toBe(true);
  });
});

describe('admit: a failing injector never keeps a pod out', () => {
  it('answers allowed without a patch, result "error", with a warning', () => {
    vi.mocked(injectPod).mockImplementationOnce(() => {
      throw new Error('boom: resources unreadable');
    });
    const answer = ok(admit(review(pod({ [INJECT_ANNOTATION]: 'true' })), 'pod', settings));
    expect(answer.result).toBe('error');
    expect(answer.detail).toBe('boom: resources unreadable');
    expect(answer.pod).toBe('team-a/agent');
    expectNoPatch(answer);
    expect(answer.review.response.warnings).toEqual(['chaperone: the sidecar was not injected: boom: resources unreadable']);
  });

  it('reports something thrown that is not an Error', () => {
    vi.mocked(injectPod).mockImplementationOnce(() => {
      throw 'settings missing';
    });
    const answer = ok(admit(review(pod(), {}), 'namespace', settings));
    expect(answer.result).toBe('error');
    expect(answer.review.response.warnings).toEqual(['chaperone: the sidecar was not injected: settings missing']);
  });

  it('survives the real injector throwing (settings without resources)', () => {
    const broken = { ...settings, resources: undefined } as unknown as typeof settings;
    const answer = ok(admit(review(pod({ [INJECT_ANNOTATION]: 'true' })), 'pod', broken));
    expect(answer.result).toBe('error');
    expectNoPatch(answer);
    expect(answer.review.response.warnings).toHaveLength(1);
    expect(answer.review.response.warnings?.[0]).toMatch(/^chaperone: the sidecar was not injected: \S/);
  });
});
