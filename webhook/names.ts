// Every name the injector writes into a pod or reads from one (docs/design.md §2). Those the sidecar and
// the operator read too come from api/names.ts and are re-exported here; the ports, paths and files
// the programs in the pod rely on are in api/pod-contract.ts.
import { SIDECAR_TOKEN_SECRET } from '../api/approval-names.js';
import { CA_SECRET_NAME, CONFIG_MAP_NAME, TRUST_CONFIG_MAP_NAME } from '../api/names.js';

export { SIDECAR_TOKEN_DIR } from '../api/approval-names.js';

export {
  AGENT_ANNOTATION, CA_SECRET_NAME, CONFIG_MAP_NAME, INJECT_ANNOTATION, INJECTED_LABEL, INJECTION_ENABLED, INJECTION_LABEL,
  INTERCEPT_HOSTS_ANNOTATION, NEVER_INJECTED_NAMESPACES, PROXY_CONTAINER, STATUS_ANNOTATION, TRUST_CONFIG_MAP_NAME,
} from '../api/names.js';

/** Capture mode, on a pod (annotation) or its namespace (label): transparent | proxy-env. */
export const CAPTURE_ANNOTATION = 'chaperone.dev/capture';
/** The governed ports of transparent capture, comma-separated (at most 15). */
export const CAPTURE_PORTS_ANNOTATION = 'chaperone.dev/capture-ports';
/** The init container that installs the capture rules. */
export const CAPTURE_CONTAINER = 'chaperone-capture';
/** Pod Security Admission's enforced level on a namespace: baseline and restricted forbid NET_ADMIN. */
export const POD_SECURITY_ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';

// What users write on pods, for the injector alone.
export const NATIVE_SIDECAR_ANNOTATION = 'chaperone.dev/native-sidecar';
export const PROXY_CPU_ANNOTATION = 'chaperone.dev/proxy-cpu';
export const PROXY_MEMORY_ANNOTATION = 'chaperone.dev/proxy-memory';
export const PROXY_CPU_LIMIT_ANNOTATION = 'chaperone.dev/proxy-cpu-limit';
export const PROXY_MEMORY_LIMIT_ANNOTATION = 'chaperone.dev/proxy-memory-limit';

/**
 * Never proxied: loopback only. In-cluster names (`.svc`, `.cluster.local`) are not exempt: a policy
 * may intercept an in-cluster MCP server, and policies are not known at admission.
 */
export const NO_PROXY_DEFAULTS: readonly string[] = Object.freeze(['localhost', '127.0.0.1', '::1']);
/** Node >= 22.21 / 24.5 honour HTTP(S)_PROXY in fetch and http only with this set; older Node ignores it. */
export const NODE_PROXY_SWITCH = 'NODE_USE_ENV_PROXY';
/** Where Java's proxy and trust-store properties go: every JVM reads it at start. */
export const JAVA_OPTIONS_VAR = 'JAVA_TOOL_OPTIONS';

/** Volumes: each named after the object it mounts (chaperone-podinfo excepted: it is the downward API). */
export const CONFIG_VOLUME = CONFIG_MAP_NAME;
export const CA_VOLUME = CA_SECRET_NAME;
export const TRUST_VOLUME = TRUST_CONFIG_MAP_NAME;
export const PODINFO_VOLUME = 'chaperone-podinfo';
/** Only with --upstream-ca-configmap: that ConfigMap, in the sidecar alone. */
export const UPSTREAM_CA_VOLUME = 'chaperone-upstream-ca';
/** Only with --shared-limits-password-secret / --shared-limits-ca-configmap: in the sidecar alone. */
export const SHARED_LIMITS_PASSWORD_VOLUME = 'chaperone-shared-limits-password';
export const SHARED_LIMITS_CA_VOLUME = 'chaperone-shared-limits-ca';
/** The sidecar's own API credentials (approvals), in the sidecar alone; optional until the operator writes it. */
export const SIDECAR_TOKEN_VOLUME = SIDECAR_TOKEN_SECRET;
/** Every volume name the injector may add: a pod that already has one is not injected. */
export const CHAPERONE_VOLUMES: readonly string[] = Object.freeze([CONFIG_VOLUME, CA_VOLUME, TRUST_VOLUME, PODINFO_VOLUME, UPSTREAM_CA_VOLUME, SIDECAR_TOKEN_VOLUME, SHARED_LIMITS_PASSWORD_VOLUME, SHARED_LIMITS_CA_VOLUME]);
