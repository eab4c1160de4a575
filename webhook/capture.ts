// How an injected pod's traffic reaches its sidecar, decided at admission (pure):
//   proxy-env    the app's HTTP(S)_PROXY points at the sidecar. Works under every Pod Security level,
//                but only for runtimes that honour the variables (README: "Which runtimes").
//   transparent  an init container (`chaperone capture-init`, root with only NET_ADMIN and NET_RAW)
//                installs iptables rules in the pod's network namespace that send outbound TCP on the
//                governed ports to the sidecar, whatever the app does; the sidecar runs as its own
//                UID, which the rules leave alone. Istio's model, and the one an agent cannot leave.
// The pod's annotation wins over its namespace's label, which wins over the webhook's --capture. A
// namespace whose Pod Security level forbids NET_ADMIN gets proxy-env, with a warning and the reason
// in the status record.
import type { V1Container, V1PodSpec, V1SecurityContext } from '@kubernetes/client-node';
import { parseCapturePorts } from '../capture/rules.js';
import { isProxyVariable } from './env.js';
import { PROXY_UID, TRANSPARENT_PORT } from '../api/pod-contract.js';
import { CAPTURE_ANNOTATION, CAPTURE_CONTAINER, CAPTURE_PORTS_ANNOTATION, POD_SECURITY_ENFORCE_LABEL } from './names.js';
import type { CaptureMode, InjectionSettings } from './settings.js';

export interface CaptureChoice {
  mode: CaptureMode;
  /** The governed ports (transparent). */
  ports: number[];
  /** Why transparent capture was asked for and not given. */
  fallback?: string;
}

type Labels = Readonly<Record<string, string>>;

const MODES: readonly CaptureMode[] = ['transparent', 'proxy-env'];
const isMode = (v: string | undefined): v is CaptureMode => (MODES as readonly (string | undefined)[]).includes(v);

export function chooseCapture(annotations: Labels, namespaceLabels: Labels | undefined, settings: InjectionSettings, warnings: string[]): CaptureChoice {
  let mode = settings.capture;
  const fromNamespace = namespaceLabels?.[CAPTURE_ANNOTATION];
  if (isMode(fromNamespace)) mode = fromNamespace;
  else if (fromNamespace !== undefined) warnings.push(`namespace label ${CAPTURE_ANNOTATION}: ${JSON.stringify(fromNamespace)} ignored (expected transparent or proxy-env)`);
  const fromPod = annotations[CAPTURE_ANNOTATION];
  if (isMode(fromPod)) mode = fromPod;
  else if (fromPod !== undefined) warnings.push(`${CAPTURE_ANNOTATION}: ${JSON.stringify(fromPod)} ignored (expected transparent or proxy-env)`);

  let ports = [...settings.capturePorts];
  const askedPorts = annotations[CAPTURE_PORTS_ANNOTATION];
  if (askedPorts !== undefined) {
    const parsed = parseCapturePorts(askedPorts);
    if (parsed) ports = parsed;
    else warnings.push(`${CAPTURE_PORTS_ANNOTATION}: ${JSON.stringify(askedPorts)} is not 1 to 15 distinct ports other than ${TRANSPARENT_PORT}; using ${ports.join(',')}`);
  }

  if (mode === 'transparent') {
    const level = namespaceLabels?.[POD_SECURITY_ENFORCE_LABEL];
    if (level === 'baseline' || level === 'restricted') {
      const fallback = `the namespace enforces Pod Security "${level}", which forbids the NET_ADMIN and NET_RAW capabilities of the ${CAPTURE_CONTAINER} init container`;
      warnings.push(`transparent capture not possible: ${fallback}; injected in proxy-env mode (runtimes that ignore HTTP(S)_PROXY are not governed)`);
      return { mode: 'proxy-env', ports, fallback };
    }
  }
  return { mode, ports };
}

/** The init container that installs the rules; runs once per pod sandbox, before the app. */
export function captureInitContainer(settings: InjectionSettings, ports: readonly number[]): V1Container {
  return {
    name: CAPTURE_CONTAINER,
    image: settings.image,
    imagePullPolicy: settings.imagePullPolicy,
    args: ['capture-init', '--ports', ports.join(','), '--to-port', String(TRANSPARENT_PORT), '--proxy-uid', String(PROXY_UID)],
    resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
    // iptables needs root and NET_ADMIN (NET_RAW for its raw sockets); nothing else.
    securityContext: {
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

/**
 * What in the pod could get around the rules: an app running as the sidecar's UID (exempt), or one
 * able to change its UID or the rules (root with SETUID, NET_ADMIN, privileged). The pod's author
 * decides these, not the agent; the warnings tell them.
 */
export function captureBypassWarnings(spec: V1PodSpec, apps: readonly V1Container[]): string[] {
  const warnings: string[] = [];
  const podContext = spec.securityContext;
  for (const app of apps) {
    const ctx: V1SecurityContext = app.securityContext ?? {};
    const uid = ctx.runAsUser ?? podContext?.runAsUser;
    const added = ctx.capabilities?.add ?? [];
    if (uid === PROXY_UID) warnings.push(`container ${app.name} runs as UID ${PROXY_UID}, the sidecar's: its connections are not captured`);
    if (ctx.privileged) warnings.push(`container ${app.name} is privileged: it can remove the capture rules`);
    else if (added.some((c) => c === 'NET_ADMIN' || c === 'ALL')) warnings.push(`container ${app.name} adds NET_ADMIN: it can remove the capture rules`);
    else if (uid === 0 && !(ctx.capabilities?.drop ?? []).some((c) => c === 'SETUID' || c === 'ALL')) {
      warnings.push(`container ${app.name} runs as root with SETUID: it could take the sidecar's UID ${PROXY_UID} and leave capture; run it as non-root or drop SETUID`);
    }
    const ownProxy = (app.env ?? []).filter((e) => isProxyVariable(e.name)).map((e) => e.name);
    if (ownProxy.length > 0) warnings.push(`container ${app.name} sets ${ownProxy.join('/')}: calls to a proxy on a port that is not captured leave the pod ungoverned`);
  }
  return warnings;
}
