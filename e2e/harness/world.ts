// A small world for sidecar integration tests: a fake provider with real TLS for the real provider
// host names, a plain-HTTP fake, an interception CA, and the flags that point the sidecar at them.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa } from '../../lib/x509.js';
import { makeTestPki } from '../fake-provider/certs.js';
import { startFakeProvider, type FakeProvider } from '../fake-provider/server.js';

/** Hosts the TLS fake answers for; the sidecar resolves each to it. */
export const FAKE_TLS_HOSTS = [
  'api.openai.com',
  'api.anthropic.com',
  'bedrock-runtime.us-east-1.amazonaws.com',
  'mcp.tools.example.com',
  'tunnel.example.test',
  'api.mistral.ai',
];

export interface World {
  dir: string;
  /** HTTPS fake provider (certificate for FAKE_TLS_HOSTS, from upstreamCaFile's CA). */
  tls: FakeProvider;
  /** Plain-HTTP fake provider. */
  plain: FakeProvider;
  /** Interception CA directory (tls.crt, tls.key) and its certificate file, for clients. */
  caDir: string;
  caCertFile: string;
  /** The CA that signed the fake's certificate: upstream TLS trust. */
  upstreamCaFile: string;
  /** The fake's certificate and key (FAKE_TLS_HOSTS), for another upstream the same flags can trust. */
  upstreamTls: { cert: string; key: string };
  /** --resolve and --upstream-ca flags pointing every fake host at the fakes. */
  upstreamFlags: string[];
  close(): Promise<void>;
}

export async function createWorld(opts: { streamGapMs?: number } = {}): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'chaperone-world-'));
  const pki = await makeTestPki(FAKE_TLS_HOSTS);
  const tls = await startFakeProvider({ tls: { cert: pki.cert, key: pki.key }, streamGapMs: opts.streamGapMs ?? 20 });
  const plain = await startFakeProvider({ streamGapMs: opts.streamGapMs ?? 20 });
  const caDir = join(dir, 'ca');
  const ca = await createCa('test interception CA', 1);
  await mkdir(caDir, { recursive: true });
  await writeFile(join(caDir, 'tls.crt'), ca.certPem);
  await writeFile(join(caDir, 'tls.key'), ca.keyPem, { mode: 0o600 });
  const upstreamCaFile = join(dir, 'upstream-ca.crt');
  await writeFile(upstreamCaFile, pki.caCert);
  const upstreamFlags = [
    '--upstream-ca',
    upstreamCaFile,
    ...FAKE_TLS_HOSTS.flatMap((h) => ['--resolve', `${h}=127.0.0.1:${tls.port}`]),
    '--resolve',
    `api.openai.com:80=127.0.0.1:${plain.port}`,
    '--resolve',
    `plain.example.test=127.0.0.1:${plain.port}`,
  ];
  return {
    dir,
    tls,
    plain,
    caDir,
    caCertFile: join(caDir, 'tls.crt'),
    upstreamCaFile,
    upstreamTls: { cert: pki.cert, key: pki.key },
    upstreamFlags,
    async close() {
      await Promise.all([tls.close(), plain.close()]);
    },
  };
}

export async function writePolicy(dir: string, name: string, yaml: string): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, yaml);
  return file;
}

export const PASS_THROUGH_POLICY = `apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: pass-through, namespace: agents, generation: 1}
spec:
  mode: enforce
  intercept: {hosts: [mcp.tools.example.com]}
`;

/** Standalone, the agent is whatever X-Chaperone-Agent says (else "unknown"): neither may call delete_database. */
export const FORBIDDEN_TOOL_POLICY = `apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: tools, namespace: agents, generation: 1}
spec:
  tools:
    agents:
      - {name: unknown, forbidden: [delete_database]}
      - {name: admin, forbidden: [delete_database]}
`;
