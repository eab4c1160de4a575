// The injection itself, a pure function: a pod in, the injected pod (or the reason it was left
// alone) out. The webhook turns the difference into a JSONPatch; `chaperone inject` prints it.
import type { V1Container, V1Pod, V1PodSpec, V1Probe, V1ResourceRequirements, V1Volume } from '@kubernetes/client-node';
import { parseInterceptHosts } from '../api/index.js';
import { captureBypassWarnings, captureInitContainer, chooseCapture, type CaptureChoice } from './capture.js';
import { addAppEnv, isProxyVariable } from './env.js';
import {
  ADMIN_PORT, ADMIN_PORT_NAME, ADMIN_SCHEME, CA_CERT_FILE, CA_DIR, CONFIG_DIR, PODINFO_DIR, PROXY_UID, PROXY_URL, QUIT_URL, READYZ_PATH, READYZ_URL,
  SHARED_LIMITS_CA_DIR, SHARED_LIMITS_PASSWORD_DIR, TRANSPARENT_PORT, TRUST_DIR, UPSTREAM_CA_DIR,
} from '../api/pod-contract.js';
import {
  AGENT_ANNOTATION, CAPTURE_CONTAINER, CA_VOLUME, CHAPERONE_VOLUMES, CONFIG_VOLUME,
  INJECT_ANNOTATION, INJECTED_LABEL, INTERCEPT_HOSTS_ANNOTATION, NATIVE_SIDECAR_ANNOTATION, NEVER_INJECTED_NAMESPACES,
  PODINFO_VOLUME, PROXY_CONTAINER, PROXY_CPU_ANNOTATION, PROXY_CPU_LIMIT_ANNOTATION, PROXY_MEMORY_ANNOTATION,
  PROXY_MEMORY_LIMIT_ANNOTATION, STATUS_ANNOTATION, TRUST_VOLUME, UPSTREAM_CA_VOLUME,
  SHARED_LIMITS_CA_VOLUME, SHARED_LIMITS_PASSWORD_VOLUME, SIDECAR_TOKEN_DIR, SIDECAR_TOKEN_VOLUME,
} from './names.js';
import { isQuantity, quantityValue } from './quantity.js';
import type { InjectionSettings, ProxyResources } from './settings.js';
import { canonicalStatus, parseStatus, removeInjection, removeLeftovers, type InjectionStatus } from './status.js';

export interface InjectionRequest {
  /** The namespace of the admission request (used when the pod names none). */
  namespace: string;
  /** The namespace is labelled chaperone.dev/injection: enabled. */
  namespaceOptedIn: boolean;
  /** `chaperone inject`: asking is opting in. */
  manual?: boolean;
  /** The namespace's labels, when known (capture mode, Pod Security level). */
  namespaceLabels?: Readonly<Record<string, string>>;
}

export type InjectionResult =
  | { action: 'injected'; pod: V1Pod; status: InjectionStatus; warnings: string[] }
  | { action: 'skipped'; reason: string };

type Annotations = Readonly<Record<string, string>>;

/** Why `pod` must not be injected, or undefined when it should be. Opting out beats everything. */
function skipReason(pod: V1Pod, settings: InjectionSettings, request: InjectionRequest): string | undefined {
  if (!pod.spec) return 'the pod has no spec';
  const namespace = podNamespace(pod, request);
  if (NEVER_INJECTED_NAMESPACES.includes(namespace)) return `namespace ${namespace} is never injected`;
  if (namespace === settings.ownNamespace) return `namespace ${namespace} is Chaperone's own`;
  if (pod.spec.hostNetwork) return "hostNetwork pods are never injected: the sidecar's ports would be the node's";
  const inject = pod.metadata?.annotations?.[INJECT_ANNOTATION];
  if (inject === 'false') return `opted out with ${INJECT_ANNOTATION}: "false"`;
  if (inject === 'true' || request.namespaceOptedIn || request.manual) return undefined;
  return 'not opted in';
}

/** The pod's namespace: its own, else the request's (an empty namespace is none). */
const podNamespace = (pod: V1Pod, request: InjectionRequest): string => pod.metadata?.namespace || request.namespace;

/** One of our names already in use, with no record that we put it there: it is the user's to keep. */
function conflict(spec: V1PodSpec): string | undefined {
  const volume = spec.volumes?.find((v) => CHAPERONE_VOLUMES.includes(v.name));
  if (volume) return `the pod already has a volume named ${volume.name}`;
  const taken = [...spec.containers, ...(spec.initContainers ?? [])].find((c) => c.name === PROXY_CONTAINER || c.name === CAPTURE_CONTAINER);
  if (taken) return `the pod already has a container named ${taken.name}`;
  // A container of the user's naming a volume only the sidecar may mount (the CA key, the sidecar's
  // API token, the store password...) would get it once the injection adds the volume: not injected,
  // so the pod fails validation for want of that volume instead. The CA bundle is for everyone.
  for (const c of [...spec.containers, ...(spec.initContainers ?? []), ...(spec.ephemeralContainers ?? [])]) {
    const mount = c.volumeMounts?.find((m) => CHAPERONE_VOLUMES.includes(m.name) && m.name !== TRUST_VOLUME);
    if (mount) return `container ${c.name} mounts ${mount.name}, which only the ${PROXY_CONTAINER} container may mount`;
  }
  return undefined;
}

/** Native sidecar or regular container: what the pod asks for, else what the settings say. */
function nativeSidecar(annotations: Annotations, settings: InjectionSettings, warnings: string[]): boolean {
  const asked = annotations[NATIVE_SIDECAR_ANNOTATION];
  if (asked === 'false') return false;
  if (asked === 'true') {
    if (settings.clusterSupportsNativeSidecars) return true;
    warnings.push(`${NATIVE_SIDECAR_ANNOTATION}: the cluster has no native sidecars (Kubernetes < 1.29); injected as a regular container`);
    return false;
  }
  if (asked !== undefined) warnings.push(`${NATIVE_SIDECAR_ANNOTATION}: ${JSON.stringify(asked)} ignored (expected "true" or "false")`);
  return settings.nativeSidecars === 'auto' ? settings.clusterSupportsNativeSidecars : settings.nativeSidecars === 'on';
}

const RESOURCE_ANNOTATIONS = {
  requests: { cpu: PROXY_CPU_ANNOTATION, memory: PROXY_MEMORY_ANNOTATION },
  limits: { cpu: PROXY_CPU_LIMIT_ANNOTATION, memory: PROXY_MEMORY_LIMIT_ANNOTATION },
} as const;

/** The settings' resources with the pod's overrides; a bad override is dropped with a warning. */
function proxyResources(defaults: ProxyResources, annotations: Annotations, warnings: string[]): ProxyResources {
  const resources = structuredClone(defaults);
  for (const bound of ['requests', 'limits'] as const) {
    for (const kind of ['cpu', 'memory'] as const) {
      const annotation = RESOURCE_ANNOTATIONS[bound][kind];
      const value = annotations[annotation];
      if (value === undefined) continue;
      if (isQuantity(value)) resources[bound][kind] = value;
      else warnings.push(`${annotation}: ${JSON.stringify(value)} is not a Kubernetes quantity; using ${defaults[bound][kind]}`);
    }
  }
  // The API server rejects a request above its limit. The override that caused it goes: the
  // request's first, then the limit's (the defaults themselves are consistent).
  for (const kind of ['cpu', 'memory'] as const) {
    const above = (): boolean => quantityValue(resources.requests[kind]) > quantityValue(resources.limits[kind]);
    if (above() && resources.requests[kind] !== defaults.requests[kind]) {
      warnings.push(`${RESOURCE_ANNOTATIONS.requests[kind]}: ${resources.requests[kind]} is above the ${kind} limit ${resources.limits[kind]}; using ${defaults.requests[kind]}`);
      resources.requests[kind] = defaults.requests[kind];
    }
    if (above()) {
      warnings.push(`${RESOURCE_ANNOTATIONS.limits[kind]}: ${resources.limits[kind]} is below the ${kind} request ${resources.requests[kind]}; using ${defaults.limits[kind]}`);
      resources.limits[kind] = defaults.limits[kind];
    }
  }
  return resources;
}

/** The annotations only the sidecar reads: checked here because here the user sees the warning. */
function checkSidecarAnnotations(annotations: Annotations, warnings: string[]): void {
  const { invalid } = parseInterceptHosts(annotations[INTERCEPT_HOSTS_ANNOTATION]);
  if (invalid.length > 0) {
    warnings.push(`${INTERCEPT_HOSTS_ANNOTATION}: not hostnames: ${invalid.map((h) => JSON.stringify(h)).join(', ')} (expected api.example.com or *.example.com)`);
  }
  if (annotations[AGENT_ANNOTATION]?.trim() === '') {
    warnings.push(`${AGENT_ANNOTATION} is empty: the pod's calls count as agent "unknown"`);
  }
}

/** A fresh object per probe: shared objects would come out as YAML anchors. */
const readyz = (periodSeconds: number, failureThreshold: number): V1Probe => ({
  httpGet: { path: READYZ_PATH, port: ADMIN_PORT, scheme: ADMIN_SCHEME.toUpperCase() },
  periodSeconds,
  failureThreshold,
});

function proxyContainer(settings: InjectionSettings, namespace: string, resources: V1ResourceRequirements, native: boolean, capture: CaptureChoice): V1Container {
  const transparent = capture.mode === 'transparent';
  const mount = (name: string, mountPath: string) => ({ name, mountPath, readOnly: true });
  const fieldEnv = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { fieldPath } } });
  return {
    name: PROXY_CONTAINER,
    image: settings.image,
    imagePullPolicy: settings.imagePullPolicy,
    // The admin port listens on the pod IP: HTTPS, with a certificate from the namespace CA.
    args: [
      'sidecar',
      '--admin-tls',
      ...(settings.upstreamCaConfigMap ? ['--upstream-ca', `${UPSTREAM_CA_DIR}/ca.crt`] : []),
      // Fleet-wide rate limits; the password comes from a file, never the command line.
      ...(settings.sharedLimitsUrl
        ? [
            '--shared-limits-url', settings.sharedLimitsUrl,
            ...(settings.sharedLimitsPasswordSecret ? ['--shared-limits-password-file', `${SHARED_LIMITS_PASSWORD_DIR}/password`] : []),
            ...(settings.sharedLimitsUserPrefix ? ['--shared-limits-username', `${settings.sharedLimitsUserPrefix}${namespace}`] : []),
            ...(settings.sharedLimitsCaConfigMap ? ['--shared-limits-ca', `${SHARED_LIMITS_CA_DIR}/ca.crt`] : []),
          ]
        : []),
      ...(transparent ? ['--transparent-port', String(TRANSPARENT_PORT), '--opaque-traffic', settings.opaqueTraffic] : []),
      // Held tool calls become ApprovalRequest objects, written with the sidecar's own token.
      '--approvals-credentials', SIDECAR_TOKEN_DIR,
    ],
    ports: [{ name: ADMIN_PORT_NAME, containerPort: ADMIN_PORT, protocol: 'TCP' }],
    env: [
      fieldEnv('POD_NAME', 'metadata.name'),
      fieldEnv('POD_NAMESPACE', 'metadata.namespace'),
      fieldEnv('POD_IP', 'status.podIP'),
      // Written on ApprovalRequests: Events find the pod by UID, and its ServiceAccount may never decide.
      fieldEnv('POD_UID', 'metadata.uid'),
      fieldEnv('POD_SERVICE_ACCOUNT', 'spec.serviceAccountName'),
    ],
    resources,
    volumeMounts: [
      mount(CONFIG_VOLUME, CONFIG_DIR),
      mount(CA_VOLUME, CA_DIR),
      mount(PODINFO_VOLUME, PODINFO_DIR),
      mount(SIDECAR_TOKEN_VOLUME, SIDECAR_TOKEN_DIR),
      ...(settings.upstreamCaConfigMap ? [mount(UPSTREAM_CA_VOLUME, UPSTREAM_CA_DIR)] : []),
      ...(settings.sharedLimitsUrl && settings.sharedLimitsPasswordSecret ? [mount(SHARED_LIMITS_PASSWORD_VOLUME, SHARED_LIMITS_PASSWORD_DIR)] : []),
      ...(settings.sharedLimitsUrl && settings.sharedLimitsCaConfigMap ? [mount(SHARED_LIMITS_CA_VOLUME, SHARED_LIMITS_CA_DIR)] : []),
    ],
    readinessProbe: readyz(5, 3),
    // A native sidecar counts as started once this succeeds, and only then does the kubelet start
    // the next container: the app never runs before its proxy (up to 2 minutes).
    startupProbe: readyz(1, 120),
    securityContext: {
      runAsNonRoot: true,
      // Its own UID: the capture rules leave exactly this UID's connections alone. Group 0 in
      // transparent mode reads the kernel's connection table (root:root 0440) for the original
      // destination of what names no host; no capability is needed for that.
      runAsUser: PROXY_UID,
      runAsGroup: transparent ? 0 : PROXY_UID,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    terminationMessagePolicy: 'FallbackToLogsOnError',
    ...(native
      ? { restartPolicy: 'Always' }
      // The kubelet starts the next container only once postStart returns, so the same ordering.
      : { lifecycle: { postStart: { exec: { command: ['chaperone', 'wait-ready', '--url', READYZ_URL, '--ca-file', CA_CERT_FILE, '--timeout-ms', '120000'] } } } }),
  };
}

function chaperoneVolumes(settings: InjectionSettings): V1Volume[] {
  return [
    { name: CONFIG_VOLUME, configMap: { name: CONFIG_VOLUME } },
    { name: CA_VOLUME, secret: { secretName: CA_VOLUME } },
    { name: TRUST_VOLUME, configMap: { name: TRUST_VOLUME } },
    {
      name: PODINFO_VOLUME,
      downwardAPI: {
        items: [
          { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
          { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } },
        ],
      },
    },
    // Optional: the operator writes it once the namespace is governed; until then a held call is
    // refused (503), never forwarded. The app container never mounts it.
    { name: SIDECAR_TOKEN_VOLUME, secret: { secretName: SIDECAR_TOKEN_VOLUME, optional: true } },
    // Not optional: a sidecar that cannot verify its upstream must not start (the pod's events say why).
    ...(settings.upstreamCaConfigMap ? [{ name: UPSTREAM_CA_VOLUME, configMap: { name: settings.upstreamCaConfigMap, items: [{ key: 'ca.crt', path: 'ca.crt' }] } }] : []),
    // Not optional either: a sidecar told to use the store with a password must have it.
    ...(settings.sharedLimitsUrl && settings.sharedLimitsPasswordSecret
      ? [{ name: SHARED_LIMITS_PASSWORD_VOLUME, secret: { secretName: settings.sharedLimitsPasswordSecret, items: [{ key: settings.sharedLimitsPasswordKey, path: 'password' }] } }]
      : []),
    ...(settings.sharedLimitsUrl && settings.sharedLimitsCaConfigMap
      ? [{ name: SHARED_LIMITS_CA_VOLUME, configMap: { name: settings.sharedLimitsCaConfigMap, items: [{ key: 'ca.crt', path: 'ca.crt' }] } }]
      : []),
  ];
}

/** Mounts the trust bundle into `container` unless the user mounted something there; says which. */
function mountTrust(container: V1Container): boolean {
  const mounts = container.volumeMounts ?? [];
  if (mounts.some((m) => m.mountPath.replace(/\/+$/, '') === TRUST_DIR)) return false;
  container.volumeMounts = [...mounts, { name: TRUST_VOLUME, mountPath: TRUST_DIR, readOnly: true }];
  return true;
}

/**
 * Injects the Chaperone sidecar into `input`, which is never modified. A pod that already carries an
 * injection record is first returned to what the user wrote, so injecting twice equals injecting once.
 */
export function injectPod(input: V1Pod, settings: InjectionSettings, request: InjectionRequest): InjectionResult {
  const reason = skipReason(input, settings, request);
  if (reason) return { action: 'skipped', reason };
  const pod = structuredClone(input);
  const spec = pod.spec!;
  const warnings: string[] = [];

  const previous = pod.metadata?.annotations?.[STATUS_ANNOTATION];
  if (previous !== undefined) {
    const status = parseStatus(previous);
    if (status) {
      removeInjection(pod, status);
    } else {
      removeLeftovers(pod);
      warnings.push(`${STATUS_ANNOTATION} is unreadable: removed ${PROXY_CONTAINER} and the chaperone-* volumes, then injected again`);
    }
  }
  const clash = conflict(spec);
  if (clash) return { action: 'skipped', reason: clash };

  const metadata = (pod.metadata ??= {});
  const annotations: Annotations = metadata.annotations ?? {};
  checkSidecarAnnotations(annotations, warnings);
  const native = nativeSidecar(annotations, settings, warnings);
  const capture = chooseCapture(annotations, request.namespaceLabels, settings, warnings);
  const transparent = capture.mode === 'transparent';
  const proxy = proxyContainer(settings, podNamespace(pod, request), proxyResources(settings.resources, annotations, warnings), native, capture);

  // Native sidecars start before the init containers, so those are apps too; otherwise they run
  // before the proxy exists and must reach the network directly.
  const apps = native ? [...spec.containers, ...(spec.initContainers ?? [])] : spec.containers;
  // A Job's pod completes when all its containers have exited, and a regular sidecar never does by
  // itself: the app has to tell it. Native sidecars are stopped by the kubelet.
  const mustQuit = !native && (spec.restartPolicy === 'Never' || spec.restartPolicy === 'OnFailure');
  if (mustQuit) {
    warnings.push(`restartPolicy ${spec.restartPolicy} without native sidecars: the pod completes only after the app POSTs to $CHAPERONE_QUIT_URL`);
  }
  const extraEnv: Record<string, string> = mustQuit ? { CHAPERONE_QUIT_URL: QUIT_URL } : {};

  const record: Pick<InjectionStatus, 'mounts' | 'env' | 'envMerged' | 'envSkipped'> = { mounts: {}, env: {}, envMerged: {}, envSkipped: {} };
  // The hosts the sidecar intercepts that are known now; NO_PROXY must not exempt them.
  const interceptHosts = parseInterceptHosts(annotations[INTERCEPT_HOSTS_ANNOTATION]).hosts;
  for (const app of apps) {
    const env = addAppEnv(app, extraEnv, interceptHosts, !transparent);
    for (const warning of env.warnings) warnings.push(`container ${app.name}: ${warning}`);
    record.env[app.name] = env.added;
    record.envMerged[app.name] = env.merged;
    record.envSkipped[app.name] = env.skipped;
    // The user's own proxy (not ours left over from an unreadable record) takes the calls elsewhere.
    const ownProxy = env.skipped.filter((name) => isProxyVariable(name) && app.env?.find((e) => e.name === name)?.value !== PROXY_URL);
    if (ownProxy.length > 0) warnings.push(`container ${app.name} sets ${ownProxy.join('/')} itself: its calls do not go through the sidecar`);
    if (mountTrust(app)) record.mounts[app.name] = [TRUST_VOLUME];
    else warnings.push(`container ${app.name}: ${TRUST_DIR} is already mounted, so it does not get Chaperone's CA bundle`);
  }

  if (transparent) warnings.push(...captureBypassWarnings(spec, apps));
  // The rules go in first when the sidecar is native (the init containers after it are apps); else
  // last, after the user's init containers, which run before any sidecar exists and go direct.
  const captureInit = transparent ? [captureInitContainer(settings, capture.ports)] : [];
  if (native) spec.initContainers = [...captureInit, proxy, ...(spec.initContainers ?? [])];
  else {
    spec.containers = [proxy, ...spec.containers];
    if (transparent) spec.initContainers = [...(spec.initContainers ?? []), ...captureInit];
  }
  const volumes = chaperoneVolumes(settings);
  spec.volumes = [...(spec.volumes ?? []), ...volumes];

  const status = canonicalStatus({
    version: settings.version,
    native,
    capture: capture.mode,
    ...(capture.fallback ? { captureFallback: capture.fallback } : {}),
    containers: native ? [] : [PROXY_CONTAINER],
    initContainers: [...(transparent ? [CAPTURE_CONTAINER] : []), ...(native ? [PROXY_CONTAINER] : [])],
    volumes: volumes.map((v) => v.name),
    ...record,
  });
  metadata.labels = { ...metadata.labels, [INJECTED_LABEL]: 'true' };
  metadata.annotations = { ...metadata.annotations, [STATUS_ANNOTATION]: JSON.stringify(status) };
  return { action: 'injected', pod, status, warnings };
}
