// `make demo` (standalone part): the sidecar in front of a local fake provider that speaks the real
// OpenAI, Anthropic and MCP wire formats over real TLS. It sends allowed, denied, redacted,
// rate-limited and held calls through it (HTTPS_PROXY with TLS interception, and base-URL routes),
// approves the held one on the admin port, and prints the decisions and the metrics.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../lib/project.js';
import { createCa } from '../../lib/x509.js';
import { makeTestPki } from '../fake-provider/certs.js';
import { startFakeProvider } from '../fake-provider/server.js';
import { curl, type CurlResult } from '../harness/curl.js';
import { spawnSidecar } from '../harness/sidecar-process.js';

const POLICY = join(PROJECT_ROOT, 'examples', 'policies', 'demo.yaml');
const say = (text: string): void => void process.stdout.write(`${text}\n`);

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

  const sidecar = await spawnSidecar([
    '--policy', POLICY, '--ca-dir', caDir, '--upstream-ca', join(dir, 'upstream-ca.crt'),
    ...['api.openai.com', 'api.anthropic.com', 'mcp.tools.example.com'].flatMap((h) => ['--resolve', `${h}=127.0.0.1:${fake.port}`]),
  ]);
  say(`sidecar: proxy ${sidecar.proxyUrl}, admin ${sidecar.adminUrl}, policy ${POLICY}\n`);

  const call = async (label: string, args: string[]): Promise<CurlResult> => {
    say(`-- ${label}`);
    const answer = await curl(args);
    const rule = answer.headers['x-chaperone-rule'] ? `, rule ${answer.headers['x-chaperone-rule']}` : '';
    say(`   -> HTTP ${answer.status}, decision ${answer.headers['x-chaperone-decision'] ?? '-'}${rule}`);
    return answer;
  };
  const json = ['-H', 'content-type: application/json', '-H', 'authorization: Bearer sk-demo-not-logged'];
  const viaProxy = ['-x', sidecar.proxyUrl, '--cacert', join(caDir, 'tls.crt')];
  const chat = (agent: string, content: string, extra = '') =>
    ['-H', `x-chaperone-agent: ${agent}`, '-d', `{"model":"gpt-4o-mini"${extra},"messages":[{"role":"user","content":${JSON.stringify(content)}}]}`];

  await call('allowed: OpenAI chat completion through HTTPS_PROXY (TLS intercepted with the demo CA)', [
    ...viaProxy, ...json, ...chat('researcher', 'Summarise the news'), 'https://api.openai.com/v1/chat/completions',
  ]);
  await call('allowed: Anthropic stream through the base-URL route', [
    ...json, '-H', 'x-chaperone-agent: writer',
    '-d', '{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Write a haiku"}]}', `${sidecar.proxyUrl}/anthropic/v1/messages`,
  ]);
  await call('redacted: a card number and an email never leave the pod', [
    ...json, ...chat('writer', 'Charge 4111 1111 1111 1111 and mail jane@example.com'), `${sidecar.proxyUrl}/openai/v1/chat/completions`,
  ]);
  say(`   the provider received: ${JSON.stringify((fake.received.at(-1)?.json as { messages: Array<{ content: string }> }).messages[0]?.content)}`);
  const denied = await call('denied: the model proposes a forbidden tool (shell_exec) in a stream: cut before the agent sees it', [
    ...json, ...chat('researcher', 'please call tool shell_exec', ',"stream":true,"tools":[{"type":"function","function":{"name":"shell_exec"}}]'),
    `${sidecar.proxyUrl}/openai/v1/chat/completions`,
  ]);
  say(`   the stream ended with: ${denied.body.trim().split('\n').filter((l) => l.includes('error')).pop() ?? '(nothing)'}`);
  await call('denied: egress to an internal host, by CONNECT host name', [...viaProxy, 'https://billing.internal.example.com/']);
  await call('allowed: intern, first call of the minute', [...json, ...chat('intern', 'one'), `${sidecar.proxyUrl}/openai/v1/chat/completions`]);
  await call('rate limited: intern, second call of the minute', [...json, ...chat('intern', 'two'), `${sidecar.proxyUrl}/openai/v1/chat/completions`]);

  const mcp = (id: number, approval?: string) => [
    ...viaProxy, ...json, '-H', 'x-chaperone-agent: researcher', ...(approval ? ['-H', `x-chaperone-approval: ${approval}`] : []),
    '-d', JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'send_email', arguments: { to: 'the CEO', subject: 'Q3 numbers' } } }),
    'https://mcp.tools.example.com/mcp',
  ];
  const held = await call('held: an MCP tools/call to send_email waits for a person', mcp(1));
  const approvalId = (JSON.parse(held.body || '{}') as { approval_id?: string }).approval_id ?? '';
  say(`   202 body: ${held.body.trim()}`);
  say(`-- a person approves it: curl -X POST ${sidecar.adminUrl}/approvals/${approvalId}/approve`);
  const approved = await fetch(`${sidecar.adminUrl}/approvals/${approvalId}/approve`, { method: 'POST' });
  say(`   -> HTTP ${approved.status}`);
  await call('allowed: the agent resends with X-Chaperone-Approval', mcp(2, approvalId));
  await call('denied: the approval is single-use', mcp(3, approvalId));
  await call('error: malformed JSON gets a 400 in the provider\'s error shape', [...json, '-d', '{"model":', `${sidecar.proxyUrl}/openai/v1/chat/completions`]);

  await new Promise((r) => setTimeout(r, 200));
  say('\n== Audit lines (one per decision; no bodies, no secrets, no credentials)');
  say('   decision\tstatus\tagent\tprovider\tmodel\trules\ttokens\tcostUsd');
  for (const a of sidecar.audits()) {
    say(`   ${a.decision}\t${a.status}\t${a.agent}\t${a.provider}\t${a.model ?? '-'}\t${(a.rules as string[]).join(',') || '-'}\t${JSON.stringify(a.tokens ?? null)}\t${a.costUsd ?? '-'}`);
  }
  say('\n== Metrics (excerpt of /metrics)');
  const metrics = await (await fetch(`${sidecar.adminUrl}/metrics`)).text();
  for (const line of metrics.split('\n')) {
    if (/^chaperone_(requests_total|policy_violations_total|dlp_findings_total|tokens_total|cost_usd_total|approvals_pending)/.test(line)) say(`   ${line}`);
  }

  await sidecar.stop();
  await fake.close();
  const decisions = new Set(sidecar.audits().map((a) => a.decision));
  const missing = ['allow', 'redact', 'deny', 'rate_limited', 'hold', 'error'].filter((d) => !decisions.has(d));
  if (missing.length > 0) throw new Error(`the demo did not show: ${missing.join(', ')}`);
  say('\ndemo finished: allow, redact, deny, rate_limited, hold and error all shown');
}

main().catch((err: Error) => {
  process.stderr.write(`demo failed: ${err.message}\n`);
  process.exit(1);
});
