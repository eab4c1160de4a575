// What the injector is told by whoever runs it (the webhook, `chaperone inject`), as opposed to
// what each pod asks for in its annotations. Both commands take the same flags for it.
import { UsageError, type Flags } from '../lib/cli.js';
import { VERSION } from '../lib/project.js';
import { DEFAULT_CAPTURE_PORTS, TRANSPARENT_PORT } from '../api/pod-contract.js';
import { isObjectName } from '../api/validate.js';
import { parseCapturePorts } from '../capture/rules.js';
import { isQuantity, quantityValue } from './quantity.js';

export type NativeSidecars = 'auto' | 'on' | 'off';
/** How a pod's calls reach its sidecar (webhook/capture.ts). */
export type CaptureMode = 'transparent' | 'proxy-env';
/** Captured traffic that names no host: denied, or judged by egress on its original destination. */
export type OpaqueTraffic = 'deny' | 'egress';

export interface ProxyResources {
  requests: { cpu: string; memory: string };
  limits: { cpu: string; memory: string };
}

export interface InjectionSettings {
  /** Recorded in the status annotation. */
  version: string;
  image: string;
  imagePullPolicy: string;
  resources: ProxyResources;
  /** 'auto': native sidecars (an init container with restartPolicy Always) when the cluster has them. */
  nativeSidecars: NativeSidecars;
  clusterSupportsNativeSidecars: boolean;
  /** Chaperone's own namespace, never injected. */
  ownNamespace: string;
  /**
   * A ConfigMap (in each injected pod's namespace) whose `ca.crt` the sidecar trusts for upstream TLS,
   * besides the public roots: for a private model gateway or a TLS-inspecting egress proxy. '' = none.
   */
  upstreamCaConfigMap: string;
  /** The default capture mode (a namespace label or pod annotation chaperone.dev/capture overrides it). */
  capture: CaptureMode;
  /** Transparent capture's governed ports (per pod: chaperone.dev/capture-ports). */
  capturePorts: number[];
  /** Transparent capture: what the sidecar does with traffic that names no host. */
  opaqueTraffic: OpaqueTraffic;
  /** Fleet-wide rate limits: the shared counter store (redis:// or rediss://) every sidecar uses. '' = none. */
  sharedLimitsUrl: string;
  /** A Secret (in each injected pod's namespace) holding the store's password, under this key. '' = none. */
  sharedLimitsPasswordSecret: string;
  sharedLimitsPasswordKey: string;
  /** Each sidecar authenticates as the ACL user `<prefix><namespace>` (a user per namespace, limited to its keys). '' = the default user. */
  sharedLimitsUserPrefix: string;
  /** A ConfigMap (in each injected pod's namespace) whose ca.crt the sidecar trusts for a rediss:// store. '' = none. */
  sharedLimitsCaConfigMap: string;
}

export function defaultInjectionSettings(overrides: Partial<InjectionSettings> = {}): InjectionSettings {
  return {
    version: VERSION,
    image: `ghcr.io/chaperone-dev/chaperone:${VERSION}`,
    imagePullPolicy: 'IfNotPresent',
    resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '1', memory: '256Mi' } },
    nativeSidecars: 'auto',
    clusterSupportsNativeSidecars: true,
    ownNamespace: 'chaperone-system',
    upstreamCaConfigMap: '',
    capture: 'proxy-env',
    capturePorts: [...DEFAULT_CAPTURE_PORTS],
    opaqueTraffic: 'deny',
    sharedLimitsUrl: '',
    sharedLimitsPasswordSecret: '',
    sharedLimitsPasswordKey: 'password',
    sharedLimitsUserPrefix: '',
    sharedLimitsCaConfigMap: '',
    ...overrides,
  };
}

/**
 * Whether an API server of this gitVersion ("v1.36.3", "v1.29.0-eks-5e0fdde") has native sidecars:
 * beta and on by default since 1.29. An unreadable version counts as too old, the safe side.
 */
export function nativeSidecarsSupported(gitVersion: string): boolean {
  const m = /^v?(\d+)\.(\d+)/.exec(gitVersion.trim());
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 1 || (major === 1 && minor >= 29);
}

/** The flags that set InjectionSettings, for parseFlags. */
export const SETTINGS_FLAGS = {
  image: { type: 'string' },
  'image-pull-policy': { type: 'string' },
  'proxy-cpu-request': { type: 'string' },
  'proxy-memory-request': { type: 'string' },
  'proxy-cpu-limit': { type: 'string' },
  'proxy-memory-limit': { type: 'string' },
  'native-sidecars': { type: 'string' },
  'upstream-ca-configmap': { type: 'string' },
  capture: { type: 'string' },
  'capture-ports': { type: 'string' },
  'opaque-traffic': { type: 'string' },
  'shared-limits-url': { type: 'string' },
  'shared-limits-password-secret': { type: 'string' },
  'shared-limits-password-key': { type: 'string' },
  'shared-limits-user-prefix': { type: 'string' },
  'shared-limits-ca-configmap': { type: 'string' },
} as const satisfies Flags;

export type SettingsFlagValues = Partial<Record<keyof typeof SETTINGS_FLAGS, string>>;

export function settingsFlagsHelp(base: InjectionSettings = defaultInjectionSettings()): string {
  const r = base.resources;
  return `  --image IMAGE                 sidecar image (default ${base.image})
  --image-pull-policy POLICY    Always | IfNotPresent | Never (default ${base.imagePullPolicy})
  --proxy-cpu-request Q         sidecar CPU request (default ${r.requests.cpu}; per pod: chaperone.dev/proxy-cpu)
  --proxy-memory-request Q      sidecar memory request (default ${r.requests.memory}; per pod: chaperone.dev/proxy-memory)
  --proxy-cpu-limit Q           sidecar CPU limit (default ${r.limits.cpu}; per pod: chaperone.dev/proxy-cpu-limit)
  --proxy-memory-limit Q        sidecar memory limit (default ${r.limits.memory}; per pod: chaperone.dev/proxy-memory-limit)
  --native-sidecars MODE        auto | on | off (default ${base.nativeSidecars}; auto: native when the cluster is >= 1.29;
                                per pod: chaperone.dev/native-sidecar)
  --upstream-ca-configmap NAME  the sidecar also trusts the ca.crt of this ConfigMap (in the pod's namespace) for
                                upstream TLS: a private gateway's CA (default: none, the public roots only)
  --capture MODE                transparent | proxy-env (default ${base.capture}): how pods' calls reach the
                                sidecar; per namespace: label chaperone.dev/capture, per pod: that annotation
  --capture-ports LIST          transparent capture's ports, comma-separated (default ${base.capturePorts.join(',')};
                                per pod: chaperone.dev/capture-ports)
  --opaque-traffic MODE         deny | egress (default ${base.opaqueTraffic}): captured traffic with no TLS server name
                                and no HTTP Host is denied, or judged by the egress rules on its destination
  --shared-limits-url URL       fleet-wide rate limits and budgets: every sidecar keeps its buckets and spending
                                totals in this Redis (redis://HOST:PORT, rediss://HOST:PORT for TLS) (default: none,
                                per replica); needs --shared-limits-password-secret
  --shared-limits-password-secret NAME
                                a Secret (in the pod's namespace) with the store's password, mounted in the sidecar
                                alone (key: --shared-limits-password-key, default ${base.sharedLimitsPasswordKey}). Required
                                with a store: the agent shares its pod's network with the sidecar, and only the
                                password keeps it from rewriting its own counters
  --shared-limits-password-key KEY
  --shared-limits-user-prefix PREFIX
                                each sidecar authenticates as the ACL user PREFIX<namespace> (one user per
                                namespace, limited to its keys; the Secret holds that user's password). Default: none,
                                the default user
  --shared-limits-ca-configmap NAME
                                the sidecar trusts the ca.crt of this ConfigMap (in the pod's namespace) for a
                                rediss:// store, besides the public roots
`;
}

/** `base` with the flags given applied; a UsageError naming the flag for a bad value. */
export function settingsFromFlags(values: SettingsFlagValues, base: InjectionSettings = defaultInjectionSettings()): InjectionSettings {
  const oneOf = <T extends string>(name: keyof typeof SETTINGS_FLAGS, allowed: readonly T[], fallback: T): T => {
    const v = values[name];
    if (v === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${name} ${v}: expected one of ${allowed.join(', ')}`);
    return v as T;
  };
  const quantity = (name: keyof typeof SETTINGS_FLAGS, fallback: string): string => {
    const v = values[name];
    if (v === undefined) return fallback;
    if (!isQuantity(v)) throw new UsageError(`--${name} ${v}: expected a Kubernetes quantity such as 100m or 128Mi`);
    return v;
  };
  const r = base.resources;
  const resources: ProxyResources = {
    requests: { cpu: quantity('proxy-cpu-request', r.requests.cpu), memory: quantity('proxy-memory-request', r.requests.memory) },
    limits: { cpu: quantity('proxy-cpu-limit', r.limits.cpu), memory: quantity('proxy-memory-limit', r.limits.memory) },
  };
  for (const kind of ['cpu', 'memory'] as const) {
    if (quantityValue(resources.requests[kind]) > quantityValue(resources.limits[kind])) {
      throw new UsageError(`--proxy-${kind}-request ${resources.requests[kind]} is above --proxy-${kind}-limit ${resources.limits[kind]}`);
    }
  }
  if (values.image === '') throw new UsageError('--image: must not be empty');
  const upstreamCa = values['upstream-ca-configmap'];
  if (upstreamCa !== undefined && upstreamCa !== '' && !isObjectName(upstreamCa)) {
    throw new UsageError(`--upstream-ca-configmap ${upstreamCa}: not a ConfigMap name (lower-case letters, digits, '-' and '.')`);
  }
  const objectName = (flag: 'shared-limits-password-secret' | 'shared-limits-ca-configmap'): void => {
    const v = values[flag];
    if (v !== undefined && v !== '' && !isObjectName(v)) throw new UsageError(`--${flag} ${v}: not an object name (lower-case letters, digits, '-' and '.')`);
  };
  objectName('shared-limits-password-secret');
  objectName('shared-limits-ca-configmap');
  const sharedUrl = values['shared-limits-url'] ?? base.sharedLimitsUrl;
  if (sharedUrl !== '' && !/^rediss?:\/\/[^/@\s]+(\/\d*)?$/.test(sharedUrl)) {
    throw new UsageError(`--shared-limits-url ${sharedUrl}: expected redis://HOST:PORT or rediss://HOST:PORT, without a password (use --shared-limits-password-secret)`);
  }
  const passwordKey = values['shared-limits-password-key'] ?? base.sharedLimitsPasswordKey;
  if (!/^[-._a-zA-Z0-9]+$/.test(passwordKey)) throw new UsageError(`--shared-limits-password-key ${passwordKey}: not a Secret key`);
  const passwordSecret = values['shared-limits-password-secret'] ?? base.sharedLimitsPasswordSecret;
  // The agent reaches whatever its sidecar reaches (one network namespace): without a password it
  // could rewrite its own counters and spend. So a store is never used without one.
  if (sharedUrl !== '' && passwordSecret === '') {
    throw new UsageError('--shared-limits-url needs --shared-limits-password-secret: the agent shares its pod\'s network with the sidecar, and without a password it could rewrite its own counters');
  }
  const userPrefix = values['shared-limits-user-prefix'] ?? base.sharedLimitsUserPrefix;
  if (!/^[-._a-zA-Z0-9]*$/.test(userPrefix)) throw new UsageError(`--shared-limits-user-prefix ${userPrefix}: letters, digits, '-', '.' and '_' only`);
  if (userPrefix !== '' && sharedUrl === '') throw new UsageError('--shared-limits-user-prefix needs --shared-limits-url');
  let capturePorts = base.capturePorts;
  if (values['capture-ports'] !== undefined) {
    const parsed = parseCapturePorts(values['capture-ports']);
    if (!parsed) throw new UsageError(`--capture-ports ${values['capture-ports']}: expected 1 to 15 distinct ports, comma-separated, other than ${TRANSPARENT_PORT}`);
    capturePorts = parsed;
  }
  return {
    ...base,
    image: values.image ?? base.image,
    capture: oneOf('capture', ['transparent', 'proxy-env'], base.capture),
    capturePorts,
    opaqueTraffic: oneOf('opaque-traffic', ['deny', 'egress'], base.opaqueTraffic),
    imagePullPolicy: oneOf('image-pull-policy', ['Always', 'IfNotPresent', 'Never'], base.imagePullPolicy),
    resources,
    nativeSidecars: oneOf('native-sidecars', ['auto', 'on', 'off'], base.nativeSidecars),
    upstreamCaConfigMap: upstreamCa ?? base.upstreamCaConfigMap,
    sharedLimitsUrl: sharedUrl,
    sharedLimitsPasswordSecret: passwordSecret,
    sharedLimitsPasswordKey: passwordKey,
    sharedLimitsUserPrefix: userPrefix,
    sharedLimitsCaConfigMap: values['shared-limits-ca-configmap'] ?? base.sharedLimitsCaConfigMap,
  };
}
