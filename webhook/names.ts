// Every name the injector writes into a pod or reads from one (DESIGN §2). The sidecar, the operator
// and users depend on them, so they live in one place.

// What users write on pods and namespaces.
export const INJECT_ANNOTATION = 'chaperone.dev/inject';
export const INJECTION_LABEL = 'chaperone.dev/injection';
export const INJECTION_ENABLED = 'enabled';
export const AGENT_ANNOTATION = 'chaperone.dev/agent';
export const NATIVE_SIDECAR_ANNOTATION = 'chaperone.dev/native-sidecar';
export const INTERCEPT_HOSTS_ANNOTATION = 'chaperone.dev/intercept-hosts';
export const PROXY_CPU_ANNOTATION = 'chaperone.dev/proxy-cpu';
export const PROXY_MEMORY_ANNOTATION = 'chaperone.dev/proxy-memory';
export const PROXY_CPU_LIMIT_ANNOTATION = 'chaperone.dev/proxy-cpu-limit';
export const PROXY_MEMORY_LIMIT_ANNOTATION = 'chaperone.dev/proxy-memory-limit';

// What the injector writes.
export const STATUS_ANNOTATION = 'chaperone.dev/status';
export const INJECTED_LABEL = 'chaperone.dev/injected';

/** Never injected, whatever they ask for: the cluster's own namespaces (Chaperone's is a setting). */
export const NEVER_INJECTED_NAMESPACES: readonly string[] = Object.freeze(['kube-system', 'kube-public', 'kube-node-lease']);

export const PROXY_CONTAINER = 'chaperone-proxy';
/** The forward proxy listens on loopback only, so it has no containerPort. */
export const PROXY_PORT = 14001;
export const ADMIN_PORT = 14090;
export const ADMIN_PORT_NAME = 'chaperone-admin';
export const PROXY_URL = `http://127.0.0.1:${PROXY_PORT}`;
/** Where an app of a pod without native sidecars tells the sidecar to exit, so the pod can complete. */
export const QUIT_URL = `https://127.0.0.1:${ADMIN_PORT}/quitquitquit`;
/** What the postStart hook of a sidecar that is not native waits for. */
export const READYZ_URL = `https://127.0.0.1:${ADMIN_PORT}/readyz`;
/** Never proxied: loopback and in-cluster names. */
export const NO_PROXY_DEFAULTS: readonly string[] = Object.freeze(['localhost', '127.0.0.1', '::1', '.svc', '.cluster.local']);

/** Volumes: each named after the object it mounts (chaperone-podinfo excepted: it is the downward API). */
export const CONFIG_VOLUME = 'chaperone-config';
export const CA_VOLUME = 'chaperone-ca';
export const TRUST_VOLUME = 'chaperone-trust';
export const PODINFO_VOLUME = 'chaperone-podinfo';
export const CHAPERONE_VOLUMES: readonly string[] = Object.freeze([CONFIG_VOLUME, CA_VOLUME, TRUST_VOLUME, PODINFO_VOLUME]);

// Whole-directory mounts, never subPath, so ConfigMap and Secret updates reach the pod.
export const CONFIG_DIR = '/etc/chaperone/config';
export const CA_DIR = '/etc/chaperone/ca';
export const TRUST_DIR = '/etc/chaperone/trust';
export const PODINFO_DIR = '/etc/chaperone/podinfo';
/** Public roots plus our CA: for the variables that replace the system roots. */
export const TRUST_BUNDLE_FILE = `${TRUST_DIR}/ca-bundle.crt`;
/** Our CA alone: for NODE_EXTRA_CA_CERTS, which appends to Node's roots. */
export const TRUST_CA_FILE = `${TRUST_DIR}/ca.crt`;
