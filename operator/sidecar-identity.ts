// A governed namespace's sidecar identity: the ServiceAccount `chaperone-sidecar`, a Role that lets
// it create, find and mark used the namespace's ApprovalRequests, read and add to the namespace's
// MCP tool pins (the ConfigMap `chaperone-tool-pins`, created here, empty) and report Events (and
// nothing else), the RoleBinding between them, and the Secret `chaperone-sidecar-token` with a
// token the operator mints for it.
// Only the injected sidecar container mounts that Secret; the app container (and the pod's own
// ServiceAccount) never gets these rights, so nothing the agent can reach can create or decide an
// approval. Pure: the controller applies what these return, and mints when tokenNeedsMint says so.

import {
  APPROVAL_PLURAL,
  SIDECAR_ROLE,
  SIDECAR_SERVICE_ACCOUNT,
  SIDECAR_TOKEN_EXPIRES_ANNOTATION,
  SIDECAR_TOKEN_KEYS,
  SIDECAR_TOKEN_SECRET,
} from '../api/approval-names.js';
import { API_GROUP } from '../api/schema.js';
import { TOOL_PINS_CONFIGMAP } from '../api/tool-pins.js';
import { isManaged, MANAGED_LABELS } from './namespace-config.js';

/**
 * Annotation on the token Secret: the UID of the ServiceAccount the token was minted for. A token
 * dies with its ServiceAccount; if someone deletes and the operator recreates the account, the UID
 * differs and the token is minted again at once rather than at its half-life.
 */
export const SIDECAR_TOKEN_SA_UID_ANNOTATION = 'chaperone.dev/token-service-account-uid';

/**
 * Annotation on the token Secret: when the token was minted (RFC 3339). With the expiry it gives the
 * lifetime the API server actually granted, which may be shorter than asked for
 * (--service-account-max-token-expiration): renewal then comes at half of that, not in a loop.
 */
export const SIDECAR_TOKEN_ISSUED_ANNOTATION = 'chaperone.dev/token-issued';

/** The TokenRequest API's smallest expirationSeconds. */
export const MIN_TOKEN_TTL_MS = 10 * 60_000;

interface Meta {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface ServiceAccount {
  apiVersion: 'v1';
  kind: 'ServiceAccount';
  metadata: Meta;
  automountServiceAccountToken: false;
}

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
  verbs: string[];
}

export interface Role {
  apiVersion: 'rbac.authorization.k8s.io/v1';
  kind: 'Role';
  metadata: Meta;
  rules: PolicyRule[];
}

export interface RoleBinding {
  apiVersion: 'rbac.authorization.k8s.io/v1';
  kind: 'RoleBinding';
  metadata: Meta;
  roleRef: { apiGroup: 'rbac.authorization.k8s.io'; kind: 'Role'; name: string };
  subjects: Array<{ kind: 'ServiceAccount'; name: string; namespace: string }>;
}

export interface TokenSecret {
  apiVersion: 'v1';
  kind: 'Secret';
  type: 'Opaque';
  metadata: Meta & { annotations: Record<string, string> };
  /** base64, as the API takes it. */
  data: Record<string, string>;
}

export interface ToolPinsConfigMap {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: Meta;
}

export interface SidecarIdentity {
  serviceAccount: ServiceAccount;
  role: Role;
  roleBinding: RoleBinding;
  /** Created without data: the sidecars add one entry per MCP server, a person removes one to re-pin. */
  toolPins: ToolPinsConfigMap;
}

/**
 * What the sidecar may do in its namespace: create a record when it holds a call, find records by
 * digest (get, list with a field selector), and mark an approved one Used through the status
 * subresource. No watch, no delete, no update of the main resource (so never spec.decision).
 * Read and patch the one ConfigMap of tool pins (no other ConfigMap, no create or delete), and
 * create Events (a tool's definition changed since it was pinned).
 */
export const SIDECAR_RULES: readonly PolicyRule[] = Object.freeze([
  { apiGroups: [API_GROUP], resources: [APPROVAL_PLURAL], verbs: ['create', 'get', 'list'] },
  { apiGroups: [API_GROUP], resources: [`${APPROVAL_PLURAL}/status`], verbs: ['get', 'update', 'patch'] },
  { apiGroups: [''], resources: ['configmaps'], resourceNames: [TOOL_PINS_CONFIGMAP], verbs: ['get', 'patch'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create'] },
]);

const meta = (name: string, namespace: string): Meta => ({ name, namespace, labels: { ...MANAGED_LABELS } });

/** The ServiceAccount, Role and RoleBinding of `namespace`'s sidecars. */
export function desiredSidecarIdentity(namespace: string): SidecarIdentity {
  return {
    serviceAccount: {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: meta(SIDECAR_SERVICE_ACCOUNT, namespace),
      // No pod runs as this account: its only token is the one the operator mints into the Secret.
      automountServiceAccountToken: false,
    },
    role: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: meta(SIDECAR_ROLE, namespace),
      rules: SIDECAR_RULES.map((r) => ({ apiGroups: [...r.apiGroups], resources: [...r.resources], ...(r.resourceNames ? { resourceNames: [...r.resourceNames] } : {}), verbs: [...r.verbs] })),
    },
    roleBinding: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta(SIDECAR_ROLE, namespace),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: SIDECAR_ROLE },
      subjects: [{ kind: 'ServiceAccount', name: SIDECAR_SERVICE_ACCOUNT, namespace }],
    },
    toolPins: { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(TOOL_PINS_CONFIGMAP, namespace) },
  };
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

export interface MintedToken {
  token: string;
  /** When it was minted. */
  issuedAt: Date;
  /** When the API server says the token expires (TokenRequest status.expirationTimestamp). */
  expiresAt: Date;
  /** The UID of the ServiceAccount it was minted for. */
  serviceAccountUid?: string;
}

/**
 * The Secret `chaperone-sidecar-token`: the layout of a ServiceAccount token mount (token, ca.crt,
 * namespace), so the sidecar reads it like an in-cluster client would. `caPem` is the cluster CA the
 * operator itself trusts ("" when its kubeconfig names none: the API server has a public certificate).
 */
export function desiredTokenSecret(namespace: string, minted: MintedToken, caPem: string): TokenSecret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      ...meta(SIDECAR_TOKEN_SECRET, namespace),
      annotations: {
        [SIDECAR_TOKEN_EXPIRES_ANNOTATION]: minted.expiresAt.toISOString(),
        [SIDECAR_TOKEN_ISSUED_ANNOTATION]: minted.issuedAt.toISOString(),
        ...(minted.serviceAccountUid ? { [SIDECAR_TOKEN_SA_UID_ANNOTATION]: minted.serviceAccountUid } : {}),
      },
    },
    data: {
      [SIDECAR_TOKEN_KEYS.token]: b64(minted.token),
      [SIDECAR_TOKEN_KEYS.ca]: b64(caPem),
      [SIDECAR_TOKEN_KEYS.namespace]: b64(namespace),
    },
  };
}

/** The part of a Secret as read from the API server that the decision looks at. */
export interface SecretLike {
  metadata?: { annotations?: Record<string, string> | null; labels?: Record<string, string> | null } | null;
  data?: Record<string, string> | null;
}

function annotationTime(secret: SecretLike | undefined, key: string): Date | undefined {
  const text = secret?.metadata?.annotations?.[key];
  if (!text || !/^\d{4}-\d{2}-\d{2}T/.test(text)) return undefined;
  const at = new Date(text);
  return Number.isNaN(at.getTime()) ? undefined : at;
}

/** When the token in `secret` expires, from its annotation; undefined when absent or unparsable. */
export function tokenExpiry(secret: SecretLike | undefined): Date | undefined {
  return annotationTime(secret, SIDECAR_TOKEN_EXPIRES_ANNOTATION);
}

/**
 * When the token in `secret` must be replaced: once less than half of its lifetime is left (the
 * kubelet renews projected tokens at 80%; half leaves the sidecar, which re-reads the mounted file,
 * ample time to pick up the new one). The lifetime is `ttlMs`, or what the API server granted when
 * that was less. Undefined when the Secret has no usable token.
 */
export function tokenRenewAt(secret: SecretLike | undefined, ttlMs: number): Date | undefined {
  const expires = tokenExpiry(secret);
  if (!expires || !secret?.data?.[SIDECAR_TOKEN_KEYS.token]) return undefined;
  const issued = annotationTime(secret, SIDECAR_TOKEN_ISSUED_ANNOTATION);
  const granted = issued && issued < expires ? expires.getTime() - issued.getTime() : ttlMs;
  return new Date(expires.getTime() - Math.min(ttlMs, granted) / 2);
}

/**
 * Whether a new token must be minted: the Secret is absent, has no token, its expiry is missing or
 * unparsable, less than half of the lifetime `ttlMs` is left, it was not written by the operator, or
 * (when `serviceAccountUid` is given) it was minted for another incarnation of the ServiceAccount.
 */
export function tokenNeedsMint(secret: SecretLike | undefined, now: Date, ttlMs: number, serviceAccountUid?: string): boolean {
  if (!secret) return true;
  const managed = isManaged(secret);
  if (!managed) return true;
  if (serviceAccountUid !== undefined && secret.metadata?.annotations?.[SIDECAR_TOKEN_SA_UID_ANNOTATION] !== serviceAccountUid) return true;
  const renewAt = tokenRenewAt(secret, ttlMs);
  return renewAt === undefined || now.getTime() >= renewAt.getTime();
}
