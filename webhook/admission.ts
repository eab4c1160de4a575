// AdmissionReview v1 in, AdmissionReview v1 out. The injection itself is the pure `injectPod`; this
// file only checks the envelope, chooses what the pod opted into, and turns the result into a
// JSONPatch. A failure here must never keep a pod out of the cluster: anything that goes wrong inside
// is answered `allowed: true` without a patch (and counted), so the pod runs uninjected and the
// operator reports it.
import type { V1Pod } from '@kubernetes/client-node';
import { isPlainObject } from '../api/index.js';
import type { AdmissionResult } from './metrics.js';
import { injectPod } from './inject.js';
import { jsonPatch } from './patch.js';
import type { InjectionSettings } from './settings.js';

/** Which webhook entry called: `pod` (opt-in by annotation) or `namespace` (labelled namespace). */
export type AdmissionScope = 'pod' | 'namespace';

export interface AdmissionReview {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: {
    uid: string;
    allowed: true;
    patchType?: 'JSONPatch';
    patch?: string;
    warnings?: string[];
  };
}

export type AdmissionAnswer =
  | { status: 200; review: AdmissionReview; result: Exclude<AdmissionResult, 'invalid'>; detail: string; pod: string }
  | { status: 400; message: string; result: 'invalid' };

const invalid = (message: string): AdmissionAnswer => ({ status: 400, message, result: 'invalid' });

/** Answers one AdmissionReview request body. Never throws. */
export function admit(
  body: unknown,
  scope: AdmissionScope,
  settings: InjectionSettings,
  namespaceLabels: (namespace: string) => Readonly<Record<string, string>> | undefined = () => undefined,
): AdmissionAnswer {
  if (!isPlainObject(body)) return invalid('body: expected an AdmissionReview JSON object');
  if (body.apiVersion !== 'admission.k8s.io/v1') return invalid(`apiVersion: expected admission.k8s.io/v1, got ${JSON.stringify(body.apiVersion ?? null)}`);
  if (body.kind !== 'AdmissionReview') return invalid(`kind: expected AdmissionReview, got ${JSON.stringify(body.kind ?? null)}`);
  const request = body.request;
  if (!isPlainObject(request)) return invalid('request: missing');
  if (typeof request.uid !== 'string' || request.uid === '') return invalid('request.uid: missing');
  const uid = request.uid;
  const answer = (result: Exclude<AdmissionResult, 'invalid'>, detail: string, pod: string, extra: Partial<AdmissionReview['response']> = {}): AdmissionAnswer => ({
    status: 200,
    result,
    detail,
    pod,
    review: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true, ...extra } },
  });

  const resource = isPlainObject(request.resource) ? request.resource : {};
  if (resource.resource !== 'pods' || (resource.group ?? '') !== '' || request.subResource) {
    return answer('skipped', 'not a pod', '');
  }
  if (request.operation !== 'CREATE') return answer('skipped', `operation ${String(request.operation)}`, '');
  if (!isPlainObject(request.object) || !isPlainObject(request.object.spec)) return invalid('request.object: expected a Pod with a spec');

  const pod = request.object as V1Pod;
  const namespace = typeof request.namespace === 'string' && request.namespace ? request.namespace : (pod.metadata?.namespace ?? 'default');
  // Pods of a ReplicaSet have only generateName at admission.
  const name = `${namespace}/${pod.metadata?.name || `${pod.metadata?.generateName ?? ''}*`}`;
  try {
    const labels = namespaceLabels(namespace);
    const result = injectPod(pod, settings, { namespace, namespaceOptedIn: scope === 'namespace', ...(labels ? { namespaceLabels: labels } : {}) });
    if (result.action === 'skipped') return answer('skipped', result.reason, name);
    const patch = jsonPatch(pod, result.pod);
    return answer('injected', result.status.native ? 'native sidecar' : 'sidecar container', name, {
      patchType: 'JSONPatch',
      patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
      ...(result.warnings.length > 0 ? { warnings: result.warnings.map((w) => `chaperone: ${w}`) } : {}),
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return answer('error', message, name, { warnings: [`chaperone: the sidecar was not injected: ${message}`] });
  }
}
