// The injection record, kept on the pod as the `chaperone.dev/status` annotation: exactly what the
// injector added or changed, so a second injection (a pod copied from an injected one, a manifest
// that went through `chaperone inject` twice) can undo the first and start from the user's pod.
import type { V1Pod } from '@kubernetes/client-node';
import { isPlainObject } from '../api/index.js';
import { removeAppEnv } from './env.js';
import { CAPTURE_CONTAINER, CHAPERONE_VOLUMES, INJECTED_LABEL, PROXY_CONTAINER, STATUS_ANNOTATION } from './names.js';
import type { CaptureMode } from './settings.js';

export interface InjectionStatus {
  /** The injector's version. */
  version: string;
  native: boolean;
  /** How the pod's calls reach the sidecar (records before transparent capture existed: proxy-env). */
  capture: CaptureMode;
  /** Why transparent capture was asked for and not given (e.g. the namespace's Pod Security level). */
  captureFallback?: string;
  /** Our containers in spec.containers, and in spec.initContainers. */
  containers: string[];
  initContainers: string[];
  volumes: string[];
  /** Per app container: the volumes we mounted into it. */
  mounts: Record<string, string[]>;
  /** Per app container: the variables we added. */
  env: Record<string, string[]>;
  /** Per app container: the variables we changed in place, with the user's values. */
  envMerged: Record<string, Record<string, string>>;
  /** Per app container: the variables we left alone because the user set them. */
  envSkipped: Record<string, string[]>;
}

const byKey = <T>(record: Record<string, T>): Record<string, T> =>
  Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
const nonEmpty = <T extends object>(record: Record<string, T>): Record<string, T> =>
  Object.fromEntries(Object.entries(record).filter(([, v]) => Object.keys(v).length > 0));

/**
 * A status in its canonical form: fields in a fixed order, containers with nothing to record left
 * out, maps sorted by key, so equal injections write equal annotations.
 */
export function canonicalStatus(status: InjectionStatus): InjectionStatus {
  return {
    version: status.version,
    native: status.native,
    capture: status.capture,
    ...(status.captureFallback ? { captureFallback: status.captureFallback } : {}),
    containers: status.containers,
    initContainers: status.initContainers,
    volumes: status.volumes,
    mounts: byKey(nonEmpty(status.mounts)),
    env: byKey(nonEmpty(status.env)),
    envMerged: byKey(nonEmpty(Object.fromEntries(Object.entries(status.envMerged).map(([c, merged]) => [c, byKey(merged)])))),
    envSkipped: byKey(nonEmpty(status.envSkipped)),
  };
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isRecordOf = <T>(v: unknown, item: (x: unknown) => x is T): v is Record<string, T> => isPlainObject(v) && Object.values(v).every(item);
const isString = (x: unknown): x is string => typeof x === 'string';

/** The record in an annotation value, or undefined when it is not one we wrote. */
export function parseStatus(text: string): InjectionStatus | undefined {
  let s: unknown;
  try {
    s = JSON.parse(text);
  } catch {
    return undefined;
  }
  const valid = isPlainObject(s)
    && typeof s.version === 'string'
    && typeof s.native === 'boolean'
    && isStrings(s.containers) && isStrings(s.initContainers) && isStrings(s.volumes)
    && isRecordOf(s.mounts, isStrings) && isRecordOf(s.env, isStrings) && isRecordOf(s.envSkipped, isStrings)
    && isRecordOf(s.envMerged, (m): m is Record<string, string> => isRecordOf(m, isString));
  if (!valid) return undefined;
  const capture = (s as Record<string, unknown>).capture ?? 'proxy-env';
  if (capture !== 'proxy-env' && capture !== 'transparent') return undefined;
  return { ...(s as unknown as InjectionStatus), capture };
}

/** Drops the entries of obj[key] whose name is in `names`, and the key itself when nothing is left. */
function dropNamed<K extends string>(obj: Partial<Record<K, { name: string }[]>>, key: K, names: readonly string[]): void {
  const kept = obj[key]?.filter((x) => !names.includes(x.name));
  if (kept === undefined) return;
  if (kept.length > 0) obj[key] = kept;
  else delete obj[key];
}

function dropMetadata(pod: V1Pod, field: 'labels' | 'annotations', key: string): void {
  const map = pod.metadata?.[field];
  if (!map) return;
  delete map[key];
  if (Object.keys(map).length === 0) delete pod.metadata![field];
}

/** Undoes the injection `status` records, on a pod the caller owns. */
export function removeInjection(pod: V1Pod, status: InjectionStatus): void {
  const spec = pod.spec!;
  // Looked up in both lists: a re-injection may switch between native and regular sidecars.
  const ours = [...status.containers, ...status.initContainers];
  spec.containers = spec.containers.filter((c) => !ours.includes(c.name));
  dropNamed(spec, 'initContainers', ours);
  dropNamed(spec, 'volumes', status.volumes);
  for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
    const mounts = status.mounts[c.name];
    if (mounts) dropNamed(c, 'volumeMounts', mounts);
    const added = status.env[c.name];
    const merged = status.envMerged[c.name];
    if (added || merged) removeAppEnv(c, added ?? [], merged ?? {});
  }
  dropMetadata(pod, 'labels', INJECTED_LABEL);
  dropMetadata(pod, 'annotations', STATUS_ANNOTATION);
}

/**
 * For a record that cannot be read: removes what can only be ours, our container and our volumes
 * (with their mounts, which would dangle). Env cannot be told from the user's and stays.
 */
export function removeLeftovers(pod: V1Pod): void {
  const spec = pod.spec!;
  spec.containers = spec.containers.filter((c) => c.name !== PROXY_CONTAINER);
  dropNamed(spec, 'initContainers', [PROXY_CONTAINER, CAPTURE_CONTAINER]);
  dropNamed(spec, 'volumes', CHAPERONE_VOLUMES);
  for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) dropNamed(c, 'volumeMounts', CHAPERONE_VOLUMES);
  dropMetadata(pod, 'labels', INJECTED_LABEL);
  dropMetadata(pod, 'annotations', STATUS_ANNOTATION);
}
