// CLI for the fake provider, for the demo and benchmarks:
//   node dist/e2e/fake-provider/main.js --port 0 [--host H] [--tls-cert F --tls-key F] [--delay-ms N] [--stream-gap-ms N] [--log-requests]
// Prints {"url": ...} as one JSON line on stdout once listening; closes on SIGTERM or SIGINT. With
// --log-requests, also one {"received": {method, path, host, body}} line per request (a test fake:
// bodies are what the tests look for; Chaperone itself never logs one).
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startFakeProvider, type FakeProvider, type FakeProviderOptions } from './server.js';

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name}: must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

/** Parses the flags and starts the server; exported for tests. */
export async function main(argv: string[], out: (line: string) => void = (l) => process.stdout.write(l + '\n')): Promise<FakeProvider> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'delay-ms': { type: 'string' },
      'stream-gap-ms': { type: 'string' },
      'log-requests': { type: 'boolean' },
    },
    strict: true,
  });
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw new Error('--tls-cert and --tls-key go together');
  const opts: FakeProviderOptions = {};
  const port = int('port', values.port);
  const delay = int('delay-ms', values['delay-ms']);
  const gap = int('stream-gap-ms', values['stream-gap-ms']);
  if (port !== undefined) opts.port = port;
  if (delay !== undefined) opts.delayMs = delay;
  if (gap !== undefined) opts.streamGapMs = gap;
  if (values.host !== undefined) opts.host = values.host;
  if (values['tls-cert'] !== undefined && values['tls-key'] !== undefined) {
    opts.tls = { cert: readFileSync(values['tls-cert'], 'utf8'), key: readFileSync(values['tls-key'], 'utf8') };
  }
  if (values['log-requests']) {
    opts.onRequest = (r) => out(JSON.stringify({ received: { method: r.method, path: r.path, host: r.headers.host, body: r.body } }));
  }
  const fake = await startFakeProvider(opts);
  out(JSON.stringify({ url: fake.url }));
  return fake;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (fake) => {
      const stop = () => void fake.close().then(() => process.exit(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    },
    (err: unknown) => {
      process.stderr.write(`fake-provider: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
