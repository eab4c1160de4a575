// Runs an injected pod without a kubelet: its Chaperone volumes are materialised from the API
// objects the way kubelet projects them (under a root folder, at their mount paths), the sidecar is
// started with the injected container's arguments and env, and the app container's env is given
// back with the pod paths and the proxy port mapped to the local ones. Used by the e2e suite and by
// `make demo`, so both exercise exactly what the webhook wrote.
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import type { CoreV1Api, V1Container, V1Pod } from '@kubernetes/client-node';
import { Agent } from 'undici';
import { PROXY_CONTAINER } from '../../api/index.js';
import { writeProjectedVolume } from './configmap-dir.js';
import { spawnSidecar, type SidecarProcess } from './sidecar-process.js';


export interface RunningPod {
  sidecar: SidecarProcess;
  /** For the admin port (HTTPS with a certificate from the namespace CA): trusts that CA. */
  admin: Agent;
  /** The app container's env (literal values), mapped to this machine: for curl or any client. */
  appEnv: Record<string, string>;
  /** Where the pod's mount paths live here. */
  root: string;
}

export function proxyContainer(pod: V1Pod): V1Container | undefined {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((c) => c.name === PROXY_CONTAINER);
}

/** The downward API's file format: one key="value" line per entry, sorted, values escaped. */
function downwardApiFile(entries: Record<string, string> | undefined): string {
  return Object.keys(entries ?? {})
    .sort()
    .map((k) => `${k}=${JSON.stringify(entries![k])}\n`)
    .join('');
}

/** Writes every `chaperone-*` volume of `pod` under `root` at the paths the containers mount it. */
export async function materialiseVolumes(core: CoreV1Api, pod: V1Pod, root: string): Promise<void> {
  const namespace = pod.metadata!.namespace!;
  const containers = [...(pod.spec!.initContainers ?? []), ...pod.spec!.containers];
  for (const volume of (pod.spec!.volumes ?? []).filter((v) => v.name.startsWith('chaperone-'))) {
    let files: Record<string, string>;
    if (volume.configMap) {
      files = (await core.readNamespacedConfigMap({ name: volume.configMap.name!, namespace })).data ?? {};
    } else if (volume.secret) {
      const data = (await core.readNamespacedSecret({ name: volume.secret.secretName!, namespace })).data ?? {};
      files = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
    } else if (volume.downwardAPI) {
      files = Object.fromEntries(
        (volume.downwardAPI.items ?? []).map((item) => [item.path, downwardApiFile(item.fieldRef?.fieldPath === 'metadata.labels' ? pod.metadata!.labels : pod.metadata!.annotations)]),
      );
    } else {
      throw new Error(`volume ${volume.name}: not a ConfigMap, Secret or downward API volume`);
    }
    const paths = new Set(containers.flatMap((c) => (c.volumeMounts ?? []).filter((m) => m.name === volume.name).map((m) => m.mountPath)));
    for (const path of paths) await writeProjectedVolume(join(root, path), files);
  }
}

/** Env of a container with literal values and downward-API field references resolved. */
function resolvedEnv(container: V1Container, pod: V1Pod): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = pod.metadata!.name!;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[e.name] = pod.metadata!.namespace!;
  }
  return env;
}

/**
 * Starts the injected sidecar of `pod` (volumes already materialised under `root`) with its own
 * arguments and env; `extraArgs` point the upstream at test servers. The pod paths are passed as
 * flags with the same meaning, since /etc/chaperone does not exist here.
 */
export async function runInjectedPod(pod: V1Pod, root: string, appContainer: string, extraArgs: string[] = []): Promise<RunningPod> {
  const proxy = proxyContainer(pod);
  if (!proxy) throw new Error(`pod ${pod.metadata?.name}: no ${PROXY_CONTAINER} container`);
  const [command, ...args] = proxy.args ?? [];
  if (command !== 'sidecar') throw new Error(`${PROXY_CONTAINER}: expected args to start with "sidecar", got ${JSON.stringify(proxy.args)}`);
  const mountOf = (name: string): string => join(root, proxy.volumeMounts!.find((m) => m.name === name)!.mountPath);
  const sidecar = await spawnSidecar(
    [...args, '--config', join(mountOf('chaperone-config'), 'policies.yaml'), '--ca-dir', mountOf('chaperone-ca'), '--podinfo', mountOf('chaperone-podinfo'), ...extraArgs],
    resolvedEnv(proxy, pod),
  );
  const app = pod.spec!.containers.find((c) => c.name === appContainer);
  if (!app) throw new Error(`pod ${pod.metadata?.name}: no container ${appContainer}`);
  // The app would reach the sidecar on the pod's loopback at 14001; here it listens on a free port.
  const port = new URL(sidecar.proxyUrl).port;
  const appEnv = Object.fromEntries(
    Object.entries(resolvedEnv(app, pod)).map(([k, v]) => [k, v.replace('127.0.0.1:14001', `127.0.0.1:${port}`).replace(/(^|[=,])\/etc\/chaperone\//g, `$1${root}/etc/chaperone/`)]),
  );
  const admin = new Agent({ connect: { ca: await readFile(join(mountOf('chaperone-ca'), 'tls.crt'), 'utf8') } });
  return { sidecar, admin, appEnv, root };
}
