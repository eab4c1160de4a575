// The sidecar's own way to the API server, as the namespace's `chaperone-sidecar` ServiceAccount:
// its token, CA and namespace are files of a Secret that only the sidecar container mounts (the
// operator writes it), read on each call so a rotated token is picked up. Approvals
// (approvals/kubernetes.ts), tool pins and their Events (tool-pins/kubernetes.ts) go through it.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { SIDECAR_TOKEN_KEYS, SIDECAR_TOKEN_SECRET } from '../api/approval-names.js';

export interface SidecarApiOptions {
  /** Directory with the token Secret's files: token, ca.crt, namespace. */
  credentialsDir: string;
  /** https://host:port of the API server (in a pod: KUBERNETES_SERVICE_HOST and _PORT). */
  server: string;
  timeoutMs?: number;
}

/** The pod a sidecar runs in, as the downward API tells it: named in the objects and Events it writes. */
export interface PodIdentity {
  name?: string;
  uid?: string;
  serviceAccount?: string;
}

export interface ApiAnswer<T> {
  status: number;
  json: T;
}

export class SidecarApi {
  private readonly timeoutMs: number;
  private agent: { ca: string; dispatcher: Agent } | undefined;

  /**
   * `unavailable` makes the error thrown when the API server cannot be asked (no credentials yet)
   * or did not answer: each store its own "unavailable".
   */
  constructor(
    private readonly options: SidecarApiOptions,
    private readonly unavailable: (message: string) => Error,
  ) {
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  private async credential(key: keyof typeof SIDECAR_TOKEN_KEYS): Promise<string> {
    try {
      const value = (await readFile(join(this.options.credentialsDir, SIDECAR_TOKEN_KEYS[key]), 'utf8')).trim();
      if (value) return value;
    } catch {
      // reported below
    }
    throw this.unavailable(`no ${key} in ${this.options.credentialsDir} yet (the operator writes Secret ${SIDECAR_TOKEN_SECRET} in governed namespaces)`);
  }

  /** The namespace the credentials are for: the pod's own. */
  namespace(): Promise<string> {
    return this.credential('namespace');
  }

  /** One connection pool, rebuilt when the CA in the Secret changes. */
  private async dispatcher(): Promise<Agent> {
    const ca = await this.credential('ca');
    if (this.agent?.ca !== ca) {
      void this.agent?.dispatcher.close();
      this.agent = { ca, dispatcher: new Agent({ connect: { ca, timeout: this.timeoutMs }, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs }) };
    }
    return this.agent.dispatcher;
  }

  /**
   * One call; `path` is relative to the namespace's URL of `group` (`api/v1` or `apis/<group>/<version>`),
   * e.g. `configmaps/name`. The answer's JSON, or {} when it is not JSON.
   */
  async call<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH', group: string, path: string, body?: unknown, contentType = 'application/json'): Promise<ApiAnswer<T>> {
    const [namespace, token, dispatcher] = await Promise.all([this.credential('namespace'), this.credential('token'), this.dispatcher()]);
    const url = `${this.options.server}/${group}/namespaces/${encodeURIComponent(namespace)}/${path}`;
    try {
      const res = await request(url, {
        method,
        dispatcher,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body ? { 'content-type': contentType } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const json = (await res.body.json().catch(() => ({}))) as T;
      return { status: res.statusCode, json };
    } catch (err) {
      throw this.unavailable(`the API server did not answer: ${(err as Error).message}`);
    }
  }

  async close(): Promise<void> {
    await this.agent?.dispatcher.close();
  }
}

/** The API server's reason only: its message may quote the object (a held call's arguments). */
export function apiFailure(what: string, status: number, json: unknown): string {
  const reason = (json as { reason?: unknown } | null)?.reason;
  return `${what}: the API server answered ${status}${typeof reason === 'string' && /^\w{1,64}$/.test(reason) ? ` ${reason}` : ''}`;
}
