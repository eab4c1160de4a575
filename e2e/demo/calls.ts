// The demo's story, shared by the standalone and the cluster demo: one call of each kind through a
// running sidecar, then the audit lines and metrics they produced. Where the sidecar runs is behind
// DemoTarget: the standalone demo's curl flags (-x, --cacert) and child process, or the cluster
// demo's curl inside the agent pod with its injected env, and the pod's logs and admin port.
import type { CurlResult } from '../harness/curl.js';
import type { LogLine } from '../harness/sidecar-process.js';

export interface DemoTarget {
  /** curl through the forward proxy (HTTPS_PROXY, TLS interception trusted). */
  viaProxy(args: string[]): Promise<CurlResult>;
  /** curl straight to a URL, no proxy (the sidecar's base-URL routes). */
  direct(args: string[]): Promise<CurlResult>;
  /** The sidecar's proxy URL as the app sees it, for base-URL routes. */
  proxyUrl: string;
  /** The body of the provider's last received request. */
  lastReceivedBody(): Promise<string>;
  /** A person approves a held call (kubectl chaperone in a cluster, the admin API standalone): what it printed. */
  approve?(approvalId: string): Promise<string>;
  /** How the approval is made, for the reader. */
  approveHow?(approvalId: string): string;
  audits(): Promise<LogLine[]>;
  metrics(): Promise<string>;
}

export const EXPECTED_DECISIONS = ['allow', 'redact', 'deny', 'rate_limited', 'hold', 'error'];
export const say = (text: string): void => void process.stdout.write(`${text}\n`);

/** Sends the demo calls (examples/policies/demo.yaml's rules) through the target's sidecar. */
export async function demoCalls(target: DemoTarget): Promise<void> {
  const show = async (label: string, answer: Promise<CurlResult>): Promise<CurlResult> => {
    say(`-- ${label}`);
    const a = await answer;
    const rule = a.headers['x-chaperone-rule'] ? `, rule ${a.headers['x-chaperone-rule']}` : '';
    say(`   -> HTTP ${a.status}, decision ${a.headers['x-chaperone-decision'] ?? '-'}${rule}${a.status === 0 ? ` (${a.stderr.trim()})` : ''}`);
    return a;
  };
  const json = ['-H', 'content-type: application/json', '-H', 'authorization: Bearer sk-demo-not-logged'];
  const chat = (agent: string, content: string, extra = '') =>
    ['-H', `x-chaperone-agent: ${agent}`, '-d', `{"model":"gpt-4o-mini"${extra},"messages":[{"role":"user","content":${JSON.stringify(content)}}]}`];
  const route = (path: string): string => `${target.proxyUrl}${path}`;

  await show('allowed: OpenAI chat completion through HTTPS_PROXY (TLS intercepted with the namespace CA)',
    target.viaProxy([...json, ...chat('researcher', 'Summarise the news'), 'https://api.openai.com/v1/chat/completions']));
  await show('allowed: Anthropic stream through the base-URL route', target.direct([
    ...json, '-H', 'x-chaperone-agent: writer',
    '-d', '{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Write a haiku"}]}', route('/anthropic/v1/messages'),
  ]));
  await show('redacted: a card number and an email never leave the pod',
    target.direct([...json, ...chat('writer', 'Charge 4111 1111 1111 1111 and mail jane@example.com'), route('/openai/v1/chat/completions')]));
  const received = JSON.parse((await target.lastReceivedBody()) || '{}') as { messages?: Array<{ content: string }> };
  say(`   the provider received: ${JSON.stringify(received.messages?.[0]?.content)}`);
  const denied = await show('denied: the model proposes a forbidden tool (shell_exec) in a stream: cut before the agent sees it', target.direct([
    ...json, ...chat('researcher', 'please call tool shell_exec', ',"stream":true,"tools":[{"type":"function","function":{"name":"shell_exec"}}]'), route('/openai/v1/chat/completions'),
  ]));
  say(`   the stream ended with: ${denied.body.trim().split('\n').filter((l) => l.includes('error')).pop() ?? '(nothing)'}`);
  await show('denied: egress to an internal host, by CONNECT host name', target.viaProxy(['https://billing.internal.example.com/']));
  await show('allowed: intern, first call of the minute', target.direct([...json, ...chat('intern', 'one'), route('/openai/v1/chat/completions')]));
  await show('rate limited: intern, second call of the minute', target.direct([...json, ...chat('intern', 'two'), route('/openai/v1/chat/completions')]));

  const mcp = (id: number) => [
    ...json, '-H', 'x-chaperone-agent: researcher',
    '-d', JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'send_email', arguments: { to: 'the CEO', subject: 'Q3 numbers' } } }),
    'https://mcp.tools.example.com/mcp',
  ];
  const held = await show('held: an MCP tools/call to send_email waits for a person', target.viaProxy(mcp(1)));
  const approvalId = held.headers['x-chaperone-approval'] ?? '';
  say(`   the answer (the call's result with isError: the agent's MCP SDK hands it to the agent): ${held.body.trim()}`);
  if (target.approve) {
    say(`-- a person approves it: ${target.approveHow?.(approvalId) ?? ''}`);
    say(`   -> ${(await target.approve(approvalId)).trim()}`);
    await show('allowed: the agent sends the same call again; the approval passes it', target.viaProxy(mcp(2)));
    await show('held again: one approval passes one execution', target.viaProxy(mcp(3)));
  }
  await show("error: malformed JSON gets a 400 in the provider's error shape", target.direct([...json, '-d', '{"model":', route('/openai/v1/chat/completions')]));
}

/** Prints the audit lines and a metrics excerpt; throws when a decision kind is missing. */
export async function demoReport(target: DemoTarget): Promise<void> {
  await new Promise((r) => setTimeout(r, 200));
  const audits = await target.audits();
  say('\n== Audit lines (one per decision; no bodies, no secrets, no credentials)');
  say('   decision\tstatus\tagent\tprovider\tmodel\trules\ttokens\tcostUsd');
  for (const a of audits) {
    say(`   ${a.decision}\t${a.status}\t${a.agent}\t${a.provider}\t${a.model ?? '-'}\t${((a.rules as string[] | undefined) ?? []).join(',') || '-'}\t${JSON.stringify(a.tokens ?? null)}\t${a.costUsd ?? '-'}`);
  }
  say('\n== Sidecar metrics (excerpt of /metrics)');
  for (const line of (await target.metrics()).split('\n')) {
    if (/^chaperone_(requests_total|policy_violations_total|dlp_findings_total|tokens_total|cost_usd_total|approval_lookups_total)/.test(line)) say(`   ${line}`);
  }
  const decisions = new Set(audits.map((a) => a.decision));
  const missing = EXPECTED_DECISIONS.filter((d) => !decisions.has(d));
  if (missing.length > 0) throw new Error(`the demo did not show: ${missing.join(', ')}`);
}
