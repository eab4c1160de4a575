// `make demo` (standalone part): the sidecar in front of a local fake provider that speaks the real
// OpenAI, Anthropic and MCP wire formats over real TLS. It sends allowed, denied, redacted,
// rate-limited and held calls through it (HTTPS_PROXY with TLS interception, and base-URL routes),
// approves the held one on the admin port, and prints the decisions and the metrics.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { PROJECT_ROOT } from '../../lib/project.js';
import { createCa } from '../../lib/x509.js';
import { makeTestPki } from '../fake-provider/certs.js';
import { startFakeProvider } from '../fake-provider/server.js';
import { curl } from '../harness/curl.js';
import { spawnSidecar } from '../harness/sidecar-process.js';
import { demoCalls, demoReport, say, type DemoTarget } from './calls.js';

const POLICY = join(PROJECT_ROOT, 'examples', 'policies', 'demo.yaml');

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'chaperone-demo-'));
  say('== Chaperone standalone demo');
  const pki = await makeTestPki(['api.openai.com', 'api.anthropic.com', 'mcp.tools.example.com']);
  const fake = await startFakeProvider({ tls: { cert: pki.cert, key: pki.key } });
  say(`fake provider (OpenAI, Anthropic, MCP wire formats; real TLS) on ${fake.url}`);
  const caDir = join(dir, 'ca');
  await mkdir(caDir);
  const ca = await createCa('Chaperone demo CA', 1);
  await writeFile(join(caDir, 'tls.crt'), ca.certPem);
  await writeFile(join(caDir, 'tls.key'), ca.keyPem, { mode: 0o600 });
  await writeFile(join(dir, 'upstream-ca.crt'), pki.caCert);
  // A standalone sidecar's approvals are decided on its admin port, with this token only.
  const token = randomBytes(16).toString('hex');
  const tokenFile = join(dir, 'admin-token');
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });

  const sidecar = await spawnSidecar([
    '--admin-token-file', tokenFile,
    '--policy', POLICY, '--ca-dir', caDir, '--upstream-ca', join(dir, 'upstream-ca.crt'),
    ...['api.openai.com', 'api.anthropic.com', 'mcp.tools.example.com'].flatMap((h) => ['--resolve', `${h}=127.0.0.1:${fake.port}`]),
  ]);
  say(`sidecar: proxy ${sidecar.proxyUrl}, admin ${sidecar.adminUrl}, policy ${POLICY}\n`);

  const viaProxy = ['-x', sidecar.proxyUrl, '--cacert', join(caDir, 'tls.crt')];
  const target: DemoTarget = {
    viaProxy: (args) => curl([...viaProxy, ...args]),
    direct: (args) => curl(args),
    proxyUrl: sidecar.proxyUrl,
    lastReceivedBody: async () => fake.received.at(-1)?.body ?? '',
    approveHow: (id) => `curl -X POST -H "authorization: Bearer $(cat ${tokenFile})" ${sidecar.adminUrl}/approvals/${id}/approve`,
    approve: async (id) => {
      const res = await request(`${sidecar.adminUrl}/approvals/${id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      return `HTTP ${res.statusCode} ${await res.body.text()}`;
    },
    audits: async () => sidecar.audits(),
    metrics: async () => (await request(`${sidecar.adminUrl}/metrics`)).body.text(),
  };
  await demoCalls(target);
  await demoReport(target);
  await sidecar.stop();
  await fake.close();
  say('\ndemo finished: allow, redact, deny, rate_limited, hold and error all shown');
}

main().catch((err: Error) => {
  process.stderr.write(`demo failed: ${err.message}\n`);
  process.exit(1);
});
