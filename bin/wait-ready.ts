// `chaperone wait-ready`: blocks until the local sidecar answers /readyz (for pods without native
// sidecars, as a postStart hook on the proxy container so app containers start after it).
import { intFlag, parseFlags } from '../lib/cli.js';

export const WAIT_READY_HELP = `Usage: chaperone wait-ready [--url URL] [--timeout-ms N]

Exits 0 once URL (default http://127.0.0.1:14090/readyz) answers 200; 1 after the timeout (default 60000).
`;

export async function waitReadyCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { url: { type: 'string' }, 'timeout-ms': { type: 'string' } });
  if (values.help) {
    process.stdout.write(WAIT_READY_HELP);
    return 0;
  }
  const url = values.url ?? 'http://127.0.0.1:14090/readyz';
  const deadline = Date.now() + intFlag(values['timeout-ms'], 'timeout-ms', 60_000);
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return 0;
      last = `${res.status} ${(await res.text()).trim()}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  process.stderr.write(`chaperone wait-ready: ${url} not ready: ${last}\n`);
  return 1;
}
