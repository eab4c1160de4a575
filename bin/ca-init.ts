// `chaperone ca init --out DIR`: a CA for standalone interception.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { parseFlags, UsageError, intFlag } from '../lib/cli.js';
import { createCa } from '../lib/x509.js';

export const CA_HELP = `Usage: chaperone ca init --out DIR [--name CN] [--days N]

Creates an ECDSA P-256 CA for standalone TLS interception:
  DIR/tls.crt        the CA certificate (give it to clients, e.g. curl --cacert, NODE_EXTRA_CA_CERTS)
  DIR/tls.key        its private key (mode 0600; give the directory to chaperone sidecar --ca-dir)
  DIR/ca-bundle.crt  public roots plus this CA (for SSL_CERT_FILE, REQUESTS_CA_BUNDLE, ...)
`;

export async function caCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h' || sub === undefined) {
    process.stdout.write(CA_HELP);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'init') throw new UsageError(`ca ${sub}: unknown subcommand (expected: init)`);
  const { values } = parseFlags(rest, { out: { type: 'string' }, name: { type: 'string' }, days: { type: 'string' } });
  if (values.help) {
    process.stdout.write(CA_HELP);
    return 0;
  }
  if (!values.out) throw new UsageError('ca init: --out DIR is required');
  const ca = await createCa(values.name ?? 'Chaperone interception CA', intFlag(values.days, 'days', 365));
  await mkdir(values.out, { recursive: true, mode: 0o700 });
  await writeFile(join(values.out, 'tls.crt'), ca.certPem);
  await writeFile(join(values.out, 'tls.key'), ca.keyPem, { mode: 0o600 });
  await writeFile(join(values.out, 'ca-bundle.crt'), [...rootCertificates, ca.certPem].join('\n'));
  process.stdout.write(`wrote ${join(values.out, 'tls.crt')}, tls.key and ca-bundle.crt\n`);
  return 0;
}
