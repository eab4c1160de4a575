// MCP tool pins, shared by the sidecar (which writes them), the operator (which creates the empty
// ConfigMap in governed namespaces and lets the sidecar patch it, and only it) and the kubectl
// plugin (which lists and removes them, to re-pin).
import { createHash } from 'node:crypto';

/** The ConfigMap, one per governed namespace, whose data holds one entry per pinned MCP server. */
export const TOOL_PINS_CONFIGMAP = 'chaperone-tool-pins';

/**
 * The data key of a server's pins: the server (`host:port/path`) in the characters a ConfigMap key
 * allows, so a person can tell which is which, and a digest of it, so two servers never share one.
 */
export function toolPinKey(server: string): string {
  const readable = server.replace(/[^-._a-zA-Z0-9]+/g, '_').slice(0, 200);
  return `${readable}.${createHash('sha256').update(server).digest('hex').slice(0, 10)}`;
}
