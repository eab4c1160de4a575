// The Kubernetes names the components agree on (docs/design.md §2): what users write on pods and
// namespaces, what the webhook writes, and the per-namespace objects the operator makes and the
// injected pod mounts. One definition, so the sidecar, webhook and operator cannot drift apart.

/** Pod opt-in / opt-out: "true" / "false" ("false" wins). */
export const INJECT_ANNOTATION = 'chaperone.dev/inject';
/** Namespace opt-in: `chaperone.dev/injection: enabled`. */
export const INJECTION_LABEL = 'chaperone.dev/injection';
export const INJECTION_ENABLED = 'enabled';
/** The pod's default agent identity. */
export const AGENT_ANNOTATION = 'chaperone.dev/agent';
/** Extra hosts the pod's sidecar intercepts, comma-separated. */
export const INTERCEPT_HOSTS_ANNOTATION = 'chaperone.dev/intercept-hosts';
/** Written by the webhook: the injection record, and the label PodMonitors select. */
export const STATUS_ANNOTATION = 'chaperone.dev/status';
export const INJECTED_LABEL = 'chaperone.dev/injected';

/** The sidecar container. */
export const PROXY_CONTAINER = 'chaperone-proxy';
/** Per governed namespace: the compiled config, the CA (sidecar only) and the trust bundle. */
export const CONFIG_MAP_NAME = 'chaperone-config';
export const CA_SECRET_NAME = 'chaperone-ca';
export const TRUST_CONFIG_MAP_NAME = 'chaperone-trust';

/** Never injected or governed, whatever they ask for (Chaperone's own namespace is a setting). */
export const NEVER_INJECTED_NAMESPACES: readonly string[] = Object.freeze(['kube-system', 'kube-public', 'kube-node-lease']);
