// `chaperone wait-ready`: blocks until the local sidecar answers /readyz (for pods without native
// sidecars, as a postStart hook on the proxy container so app containers start after it).
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'undici';
import { CA_CERT_FILE, READYZ_URL } from '../api/pod-contract.js';
import { intFlag, parseFlags } from '../lib/cli.js';

export const WAIT_READY_HELP = `Usage: chaperone wait-ready [--url URL] [--ca-file FILE] [--timeout-ms N]

Exits 0 once URL (default ${READYZ_URL}, the injected sidecar's) answers 200; 1 after the timeout
(default 60000).
--ca-file: trust this CA for an https URL (default ${CA_CERT_FILE}: the namespace CA, which signs the
injected sidecar's admin certificate once it has loaded).
`;

/** One attempt: the status and body, or the error. The CA file is read each time: it may appear late. */
async function probe(url: string, caFile: string): Promise<{ status: number; body: string }> {
  // Only TLS needs the CA: a plain-http URL must not wait for a file it will never use.
  const dispatcher = url.startsWith('https:') ? new Agent({ connect: { ca: await readFile(caFile, 'utf8') } }) : undefined;
  try {
    const res = await request(url, { ...(dispatcher ? { dispatcher } : {}), headersTimeout: 2_000, bodyTimeout: 2_000 });
    return { status: res.statusCode, body: await res.body.text() };
  } finally {
    await dispatcher?.close();
  }
}

export async function waitReadyCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { url: { type: 'string' }, 'ca-file': { type: 'string' }, 'timeout-ms': { type: 'string' } });
  if (values.help) {
    process.stdout.write(WAIT_READY_HELP);
    return 0;
  }
  const url = values.url ?? READYZ_URL;
  const caFile = values['ca-file'] ?? CA_CERT_FILE;
  const deadline = Date.now() + intFlag(values['timeout-ms'], 'timeout-ms', 60_000);
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const { status, body } = await probe(url, caFile);
      if (status === 200) return 0;
      last = `${status} ${body.trim()}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  process.stderr.write(`chaperone wait-ready: ${url} not ready: ${last}\n`);
  return 1;
}
