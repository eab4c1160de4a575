// The fake provider (e2e/fake-provider) as the benchmarks' upstream, in its own process:
//   node dist/bench/fake-upstream.js --port 0 [--tls-cert F --tls-key F] [--stream-gap-ms N]
// Same flags and {"url": ...} line as e2e/fake-provider/main.js. The only difference: the record of
// received requests (kept for tests' assertions) is emptied continually, so hundreds of thousands of
// requests neither grow the heap nor slow the later contenders of a run with garbage collection.
import { main } from '../e2e/fake-provider/main.js';

main(process.argv.slice(2)).then(
  (fake) => {
    setInterval(() => {
      fake.received.length = 0;
    }, 100).unref();
    const stop = () => void fake.close().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  },
  (err: unknown) => {
    process.stderr.write(`fake-upstream: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
