// The injected pod's contract: the ports, paths, schemes and files the webhook writes into a pod
// and the sidecar, `chaperone capture-init`, `chaperone wait-ready` and the operator's ConfigMap
// rely on. One definition, so an injected pod and the programs in it cannot disagree.

/** The forward proxy listens on loopback only, so it has no containerPort. */
export const PROXY_HOST = '127.0.0.1';
export const PROXY_PORT = 14001;
export const PROXY_URL = `http://${PROXY_HOST}:${PROXY_PORT}`;

/**
 * The admin port: /healthz, /readyz, /metrics, /status. In a pod it speaks HTTPS with a certificate
 * from the namespace CA (the sidecar's --admin-tls), since it listens on the pod's address.
 */
export const ADMIN_PORT = 14090;
export const ADMIN_PORT_NAME = 'chaperone-admin';
export const ADMIN_SCHEME = 'https';
export const READYZ_PATH = '/readyz';
/** What the postStart hook of a sidecar that is not native waits for. */
export const READYZ_URL = `${ADMIN_SCHEME}://127.0.0.1:${ADMIN_PORT}${READYZ_PATH}`;
/** Where an app of a pod without native sidecars tells the sidecar to exit, so the pod can complete. */
export const QUIT_URL = `${ADMIN_SCHEME}://127.0.0.1:${ADMIN_PORT}/quitquitquit`;

/**
 * Transparent capture (chaperone.dev/capture: transparent): the pod's iptables rules send its
 * outbound TCP on the governed ports to this loopback port of the sidecar, except the connections
 * of the sidecar's own UID.
 */
export const TRANSPARENT_PORT = 14002;
export const PROXY_UID = 14001;
/** The governed ports when neither the pod nor the webhook names others. */
export const DEFAULT_CAPTURE_PORTS: readonly number[] = Object.freeze([80, 443]);

// Whole-directory mounts, never subPath, so ConfigMap and Secret updates reach the pod.
export const CONFIG_DIR = '/etc/chaperone/config';
export const CA_DIR = '/etc/chaperone/ca';
export const TRUST_DIR = '/etc/chaperone/trust';
export const PODINFO_DIR = '/etc/chaperone/podinfo';
export const UPSTREAM_CA_DIR = '/etc/chaperone/upstream-ca';
export const SHARED_LIMITS_PASSWORD_DIR = '/etc/chaperone/shared-limits-password';
export const SHARED_LIMITS_CA_DIR = '/etc/chaperone/shared-limits-ca';

/** The key of the operator's ConfigMap that holds the namespace's compiled policies. */
export const CONFIG_KEY = 'policies.yaml';
/** That key as the sidecar reads it, in the mounted ConfigMap. */
export const CONFIG_FILE = `${CONFIG_DIR}/${CONFIG_KEY}`;
/** The interception CA's certificate: it also signs the admin port's certificate. */
export const CA_CERT_FILE = `${CA_DIR}/tls.crt`;
/** Public roots plus our CA: for the variables that replace the system roots. */
export const TRUST_BUNDLE_FILE = `${TRUST_DIR}/ca-bundle.crt`;
/** Our CA alone: for NODE_EXTRA_CA_CERTS, which appends to Node's roots. */
export const TRUST_CA_FILE = `${TRUST_DIR}/ca.crt`;
/** The same as TRUST_BUNDLE_FILE as a JKS keystore (the ConfigMap's binaryData): for javax.net.ssl.trustStore. */
export const TRUST_JKS_FILE = `${TRUST_DIR}/ca-bundle.jks`;
