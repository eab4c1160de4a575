// The demo's story, shared by the standalone and the cluster demo: one call of each kind through a
// running sidecar, then the audit lines and metrics they produced. Clients are passed in, so the
// standalone demo uses curl flags (-x, --cacert) and the cluster demo the pod's injected env.
import { request, type Dispatcher } from 'undici';
import type { FakeProvider } from '../fake-provider/server.js';
import type { CurlResult } from '../harness/curl.js';
import type { SidecarProcess } from '../harness/sidecar-process.js';

export interface DemoClients {
  /** curl through the forward proxy (HTTPS_PROXY, TLS interception trusted). */
  viaProxy(args: string[]): Promise<CurlResult>;
  /** curl straight to a URL (the sidecar's base-URL routes). */
  direct(args: string[]): Promise<CurlResult>;
  /** For an HTTPS admin port: a dispatcher that trusts its CA. */
  admin?: Dispatcher;
}

export const EXPECTED_DECISIONS = ['allow', 'redact', 'deny', 'rate_limited', 'hold', 'error'];
export const say = (text: string): void => void process.stdout.write(`${text}\n`);

/** Sends the demo calls (examples/policies/demo.yaml's rules) through `sidecar`. */
export async function demoCalls(sidecar: SidecarProcess, fake: FakeProvider, clients: DemoClients): Promise<void> {
  const show = async (label: string, answer: Promise<CurlResult>): Promise<CurlResult> => {
    say(`-- ${label}`);
    const a = await answer;
    const rule = a.headers['x-chaperone-rule'] ? `, rule ${a.headers['x-chaperone-rule']}` : '';
    say(`   -> HTTP ${a.status}, decision ${a.headers['x-chaperone-decision'] ?? '-'}${rule}`);
    return a;
  };
  const json = ['-H', 'content-type: application/json', '-H', 'authorization: Bearer sk-demo-not-logged'];
  const chat = (agent: string, content: string, extra = '') =>
    ['-H', `x-chaperone-agent: ${agent}`, '-d', `{"model":"gpt-4o-mini"${extra},"messages":[{"role":"user","content":${JSON.stringify(content)}}]}`];
  const route = (path: string): string => `${sidecar.proxyUrl}${path}`;

  await show('allowed: OpenAI chat completion through HTTPS_PROXY (TLS intercepted with the namespace CA)',
    clients.viaProxy([...json, ...chat('researcher', 'Summarise the news'), 'https://api.openai.com/v1/chat/completions']));
  await show('allowed: Anthropic stream through the base-URL route', clients.direct([
    ...json, '-H', 'x-chaperone-agent: writer',
    '-d', '{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Write a haiku"}]}', route('/anthropic/v1/messages'),
  ]));
  await show('redacted: a card number and an email never leave the pod',
    clients.direct([...json, ...chat('writer', 'Charge 4111 1111 1111 1111 and mail jane@example.com'), route('/openai/v1/chat/completions')]));
  say(`   the provider received: ${JSON.stringify((fake.received.at(-1)?.json as { messages: Array<{ content: string }> }).messages[0]?.content)}`);
  const denied = await show('denied: the model proposes a forbidden tool (shell_exec) in a stream: cut before the agent sees it', clients.direct([
    ...json, ...chat('researcher', 'please call tool shell_exec', ',"stream":true,"tools":[{"type":"function","function":{"name":"shell_exec"}}]'), route('/openai/v1/chat/completions'),
  ]));
  say(`   the stream ended with: ${denied.body.trim().split('\n').filter((l) => l.includes('error')).pop() ?? '(nothing)'}`);
  await show('denied: egress to an internal host, by CONNECT host name', clients.viaProxy(['https://billing.internal.example.com/']));
  await show('allowed: intern, first call of the minute', clients.direct([...json, ...chat('intern', 'one'), route('/openai/v1/chat/completions')]));
  await show('rate limited: intern, second call of the minute', clients.direct([...json, ...chat('intern', 'two'), route('/openai/v1/chat/completions')]));

  const mcp = (id: number, approval?: string) => [
    ...json, '-H', 'x-chaperone-agent: researcher', ...(approval ? ['-H', `x-chaperone-approval: ${approval}`] : []),
    '-d', JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'send_email', arguments: { to: 'the CEO', subject: 'Q3 numbers' } } }),
    'https://mcp.tools.example.com/mcp',
  ];
  const held = await show('held: an MCP tools/call to send_email waits for a person', clients.viaProxy(mcp(1)));
  const approvalId = (JSON.parse(held.body || '{}') as { approval_id?: string }).approval_id ?? '';
  say(`   202 body: ${held.body.trim()}`);
  say(`-- a person approves it: curl -X POST ${sidecar.adminUrl}/approvals/${approvalId}/approve`);
  const approved = await request(`${sidecar.adminUrl}/approvals/${approvalId}/approve`, { method: 'POST', ...(clients.admin ? { dispatcher: clients.admin } : {}) });
  await approved.body.text();
  say(`   -> HTTP ${approved.statusCode}`);
  await show('allowed: the agent resends with X-Chaperone-Approval', clients.viaProxy(mcp(2, approvalId)));
  await show('denied: the approval is single-use', clients.viaProxy(mcp(3, approvalId)));
  await show("error: malformed JSON gets a 400 in the provider's error shape", clients.direct([...json, '-d', '{"model":', route('/openai/v1/chat/completions')]));
}

/** Prints the audit lines and a metrics excerpt; throws when a decision kind is missing. */
export async function demoReport(sidecar: SidecarProcess, admin?: Dispatcher): Promise<void> {
  await new Promise((r) => setTimeout(r, 200));
  say('\n== Audit lines (one per decision; no bodies, no secrets, no credentials)');
  say('   decision\tstatus\tagent\tprovider\tmodel\trules\ttokens\tcostUsd');
  for (const a of sidecar.audits()) {
    say(`   ${a.decision}\t${a.status}\t${a.agent}\t${a.provider}\t${a.model ?? '-'}\t${(a.rules as string[]).join(',') || '-'}\t${JSON.stringify(a.tokens ?? null)}\t${a.costUsd ?? '-'}`);
  }
  say('\n== Sidecar metrics (excerpt of /metrics)');
  const metrics = await (await request(`${sidecar.adminUrl}/metrics`, admin ? { dispatcher: admin } : {})).body.text();
  for (const line of metrics.split('\n')) {
    if (/^chaperone_(requests_total|policy_violations_total|dlp_findings_total|tokens_total|cost_usd_total|approvals_pending)/.test(line)) say(`   ${line}`);
  }
  const decisions = new Set(sidecar.audits().map((a) => a.decision));
  const missing = EXPECTED_DECISIONS.filter((d) => !decisions.has(d));
  if (missing.length > 0) throw new Error(`the demo did not show: ${missing.join(', ')}`);
}
