// Real pods under a real kubelet: wait for them, run commands in them, read their logs. When a pod
// does not get where a test wants it, the error says why, from the pod's own status and its events,
// so a failing run names the cause (an image that is missing, a volume that cannot be mounted, a
// probe that fails) instead of only timing out.
import type { V1Pod } from '@kubernetes/client-node';
import { kubectl, kubectlOk } from './kubectl.js';

export const E2E_IMAGE_TAG = 'e2e';
/** The one Chaperone image, as build-images.sh names it (the Dockerfile, built here). */
export const CHAPERONE_IMAGE_REPOSITORY = 'chaperone.dev/chaperone';
export const CHAPERONE_IMAGE = `${CHAPERONE_IMAGE_REPOSITORY}:${E2E_IMAGE_TAG}`;
/** The test agent: curl, Python, Node.js with the official SDKs, and the fake provider. */
export const AGENT_IMAGE = `chaperone.dev/e2e-agent:${E2E_IMAGE_TAG}`;

export async function getPod(namespace: string, name: string): Promise<V1Pod> {
  return JSON.parse(await kubectlOk(['get', 'pod', name, '-n', namespace, '-o', 'json'])) as V1Pod;
}

/** Names of the pods matching a label selector, newest first. */
export async function podsBySelector(namespace: string, selector: string): Promise<V1Pod[]> {
  const list = JSON.parse(await kubectlOk(['get', 'pods', '-n', namespace, '-l', selector, '-o', 'json'])) as { items: V1Pod[] };
  return list.items
    .filter((p) => !p.metadata?.deletionTimestamp)
    .sort((a, b) => String(b.metadata?.creationTimestamp).localeCompare(String(a.metadata?.creationTimestamp)));
}

/** Why a pod is where it is: phase, conditions, each container's state, and the pod's events. */
export async function describePod(namespace: string, name: string): Promise<string> {
  const lines: string[] = [];
  try {
    const pod = await getPod(namespace, name);
    lines.push(`pod ${namespace}/${name}: phase ${pod.status?.phase}${pod.status?.reason ? ` (${pod.status.reason}: ${pod.status.message ?? ''})` : ''}`);
    for (const c of pod.status?.conditions ?? []) if (c.status !== 'True') lines.push(`  condition ${c.type}=${c.status}${c.reason ? ` ${c.reason}` : ''}${c.message ? `: ${c.message}` : ''}`);
    for (const s of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
      const state = s.state?.waiting
        ? `waiting ${s.state.waiting.reason ?? ''}${s.state.waiting.message ? `: ${s.state.waiting.message}` : ''}`
        : s.state?.terminated
          ? `terminated ${s.state.terminated.reason ?? ''} exit ${s.state.terminated.exitCode}${s.state.terminated.message ? `: ${s.state.terminated.message.trim()}` : ''}`
          : 'running';
      lines.push(`  container ${s.name}: ${state}, ready ${s.ready}, restarts ${s.restartCount}`);
    }
  } catch (err) {
    lines.push(`pod ${namespace}/${name}: ${(err as Error).message}`);
  }
  const events = await kubectl(['get', 'events', '-n', namespace, '--field-selector', `involvedObject.name=${name}`, '--sort-by=.lastTimestamp', '-o', 'json']);
  if (events.code === 0) {
    const items = (JSON.parse(events.stdout) as { items: Array<{ type: string; reason: string; message: string; count?: number }> }).items;
    for (const e of items.slice(-12)) lines.push(`  event ${e.type} ${e.reason}: ${e.message.trim()}${(e.count ?? 1) > 1 ? ` (x${e.count})` : ''}`);
  }
  return lines.join('\n');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the pod satisfies `done` (read from the API), or throws with describePod's account.
 * A pod that has failed for good (phase Failed) ends the wait at once.
 */
export async function waitForPod(namespace: string, name: string, what: string, done: (pod: V1Pod) => boolean, timeoutMs = 120_000): Promise<V1Pod> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pod = await getPod(namespace, name).catch(() => undefined);
    if (pod && done(pod)) return pod;
    if (pod?.status?.phase === 'Failed' || Date.now() > deadline) {
      throw new Error(`pod ${namespace}/${name} is not ${what} after ${Math.round((timeoutMs - (deadline - Date.now())) / 1000)} s\n${await describePod(namespace, name)}`);
    }
    await sleep(500);
  }
}

export const isReady = (pod: V1Pod): boolean => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
export const hasSucceeded = (pod: V1Pod): boolean => pod.status?.phase === 'Succeeded';

export function waitForReady(namespace: string, name: string, timeoutMs?: number): Promise<V1Pod> {
  return waitForPod(namespace, name, 'Ready', isReady, timeoutMs);
}

/** The one (newest) pod of a selector, once Ready. */
export async function waitForReadyBySelector(namespace: string, selector: string, timeoutMs = 120_000): Promise<V1Pod> {
  const deadline = Date.now() + timeoutMs;
  let newest: V1Pod | undefined;
  while (Date.now() < deadline) {
    newest = (await podsBySelector(namespace, selector))[0];
    if (newest) return waitForReady(namespace, newest.metadata!.name!, Math.max(1_000, deadline - Date.now()));
    await sleep(500);
  }
  const events = await kubectl(['get', 'events', '-n', namespace, '--sort-by=.lastTimestamp']);
  throw new Error(`no pod matches ${selector} in ${namespace} after ${timeoutMs / 1000} s\n${events.stdout.split('\n').slice(-10).join('\n')}`);
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `kubectl exec` into a container (through the API server and the kubelet, as a user would). */
export function exec(namespace: string, pod: string, container: string, argv: string[], stdin?: string): Promise<ExecResult> {
  return kubectl(['exec', ...(stdin === undefined ? [] : ['-i']), '-n', namespace, pod, '-c', container, '--', ...argv], stdin);
}

export async function logs(namespace: string, pod: string, container: string): Promise<string> {
  return kubectlOk(['logs', '-n', namespace, pod, '-c', container]);
}

/** The JSON lines of a container's log (non-JSON lines are skipped). */
export async function jsonLogLines(namespace: string, pod: string, container: string): Promise<Array<Record<string, unknown>>> {
  return (await logs(namespace, pod, container))
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    });
}
