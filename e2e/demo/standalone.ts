// `make demo` (standalone part): the sidecar in front of a local fake provider that speaks the real
// OpenAI and Anthropic wire formats over real TLS. Calls go through it three ways (HTTPS_PROXY
// with TLS interception, base-URL routes, streams) and the decisions and metrics are printed.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../lib/project.js';
import { createCa } from '../../lib/x509.js';
import { makeTestPki } from '../fake-provider/certs.js';
import { startFakeProvider } from '../fake-provider/server.js';
import { spawnSidecar } from '../harness/sidecar-process.js';

const POLICY = join(PROJECT_ROOT, 'examples', 'policies', 'minimal.yaml');
const run = promisify(execFile);

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'chaperone-demo-'));
  const say = (text: string): void => void process.stdout.write(`${text}\n`);

  say('== Chaperone standalone demo');
  const pki = await makeTestPki(['api.openai.com', 'api.anthropic.com']);
  const fake = await startFakeProvider({ tls: { cert: pki.cert, key: pki.key } });
  say(`fake provider (OpenAI + Anthropic wire formats, real TLS) on ${fake.url}`);
  const caDir = join(dir, 'ca');
  await mkdir(caDir);
  const ca = await createCa('Chaperone demo CA', 1);
  await writeFile(join(caDir, 'tls.crt'), ca.certPem);
  await writeFile(join(caDir, 'tls.key'), ca.keyPem, { mode: 0o600 });
  await writeFile(join(dir, 'upstream-ca.crt'), pki.caCert);

  const sidecar = await spawnSidecar([
    '--policy', POLICY, '--ca-dir', caDir, '--upstream-ca', join(dir, 'upstream-ca.crt'),
    '--resolve', `api.openai.com=127.0.0.1:${fake.port}`, '--resolve', `api.anthropic.com=127.0.0.1:${fake.port}`,
  ]);
  say(`sidecar: proxy ${sidecar.proxyUrl}, admin ${sidecar.adminUrl}, policy ${POLICY}\n`);

  const curl = async (label: string, args: string[]): Promise<void> => {
    say(`-- ${label}\n   curl ${args.map((a) => (/\s|[{}"]/.test(a) ? `'${a}'` : a)).join(' ')}`);
    const { stdout } = await run('curl', ['-sS', '--noproxy', '', '-o', '/dev/null', '-w', '%{http_code}', '-D', '-', ...args]).catch((e: { stdout: string }) => e);
    const status = stdout.slice(-3);
    const decision = /x-chaperone-decision: (\S+)/i.exec(stdout)?.[1] ?? '-';
    say(`   -> HTTP ${status}, X-Chaperone-Decision: ${decision}\n`);
  };
  const json = ['-H', 'content-type: application/json', '-H', 'authorization: Bearer sk-demo-not-logged'];
  await curl('OpenAI chat completion through HTTPS_PROXY (TLS intercepted with the demo CA)', [
    '-x', sidecar.proxyUrl, '--cacert', join(caDir, 'tls.crt'), ...json, '-H', 'x-chaperone-agent: researcher',
    '-d', '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Summarise the news"}]}', 'https://api.openai.com/v1/chat/completions',
  ]);
  await curl('Anthropic stream through the base-URL route', [
    ...json, '-H', 'x-chaperone-agent: writer',
    '-d', '{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Write a haiku"}]}', `${sidecar.proxyUrl}/anthropic/v1/messages`,
  ]);
  await curl('A model proposing a tool call (streamed OpenAI)', [
    ...json, '-H', 'x-chaperone-agent: researcher',
    '-d', '{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"tools":[{"type":"function","function":{"name":"web_search"}}],"messages":[{"role":"user","content":"please call tool web_search"}]}',
    `${sidecar.proxyUrl}/openai/v1/chat/completions`,
  ]);
  await curl('Malformed JSON gets a 400 in the provider\'s error shape', [...json, '-d', '{"model":', `${sidecar.proxyUrl}/openai/v1/chat/completions`]);

  await new Promise((r) => setTimeout(r, 200));
  say('== Audit lines (one per decision; no bodies, no credentials)');
  for (const a of sidecar.audits()) {
    say(`   ${a.decision}\t${a.status}\t${a.agent}\t${a.provider}\t${a.model ?? '-'}\t${a.path}\ttokens=${JSON.stringify(a.tokens ?? null)}\ttoolCalls=${JSON.stringify(a.toolCalls ?? [])}`);
  }
  say('\n== Metrics (excerpt of /metrics)');
  const metrics = await (await fetch(`${sidecar.adminUrl}/metrics`)).text();
  for (const line of metrics.split('\n')) {
    if (/^chaperone_(requests_total|tokens_total|config_reloads_total|policies_loaded)/.test(line)) say(`   ${line}`);
  }
  say('\n== /status');
  say(`   ${JSON.stringify(await (await fetch(`${sidecar.adminUrl}/status`)).json())}`);

  await sidecar.stop();
  await fake.close();
  const failed = sidecar.audits().filter((a) => a.status !== 200 && a.status !== 400);
  if (sidecar.audits().length < 4 || failed.length > 0) throw new Error(`demo calls did not behave: ${JSON.stringify(failed)}`);
  say('\ndemo finished');
}

main().catch((err: Error) => {
  process.stderr.write(`demo failed: ${err.message}\n`);
  process.exit(1);
});
