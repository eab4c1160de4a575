// A free TCP port on 127.0.0.1 (for components that cannot listen on port 0 and report it).
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Where the API server can call a webhook run by the tests: 127.0.0.1 for the local control plane;
 * on kind, the host's address on the kind network (e2e/kind.sh sets E2E_WEBHOOK_HOST).
 */
export const WEBHOOK_HOST = process.env.E2E_WEBHOOK_HOST || '127.0.0.1';
