// Every policy outcome of docs/design.md §4 through the running sidecar, with curl and the official SDKs:
// status, headers and body shape, what the upstream received, metrics.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl } from '../e2e/harness/curl.js';
import { spawnSidecar, type SidecarProcess } from '../e2e/harness/sidecar-process.js';
import { createWorld, writePolicy, type World } from '../e2e/harness/world.js';

let world: World;
let sidecar: SidecarProcess;

/** A UTC window that is certainly not now: it starts in two hours. */
function closedWindow(): { start: string; end: string } {
  const hh = (h: number) => String(h % 24).padStart(2, '0');
  const now = new Date().getUTCHours();
  return { start: `${hh(now + 2)}:00`, end: `${hh(now + 3)}:00` };
}

const POLICY = () => `apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: main, namespace: agents, generation: 4}
spec:
  mode: enforce
  intercept: {hosts: [mcp.tools.example.com]}
  egress:
    defaultAction: allow
    rules:
      - {match: "*.internal.example.com", action: deny, reason: "internal APIs are off limits"}
      - {match: "api.openai.com/v1/files*", action: deny, reason: "no file uploads"}
      - {match: "plain.example.test/logged/*", action: log}
      - {match: "api.mistral.ai/*", action: allow, schedule: {hours: ${JSON.stringify(closedWindow())}, timezone: UTC}}
  tools:
    defaultAction: allow
    agents:
      - {name: researcher, permitted: [web_search, send_email, file_reader], forbidden: [shell_exec]}
  rateLimits:
    requestsPerMinute: 1000
    agents:
      - {name: limited, requestsPerMinute: 2}
      - {name: burst, requestsPerMinute: 3}
  dlp: {mode: redact, sensitivity: medium}
  approvals: {tools: [send_email], timeoutSeconds: 600}
  budget:
    maxCostPerAgentPerDayUSD: 5
    pricing: [{model: "expensive-model*", inputPerMTokUSD: 1000000, outputPerMTokUSD: 1000000}]
  circuitBreaker: {failureThreshold: 2, windowSeconds: 60, recoverySeconds: 2}
---
apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: observer, namespace: agents, generation: 1}
spec:
  mode: audit
  tools:
    agents:
      - {name: auditee, forbidden: [audited_tool]}
      - {name: stripper, forbidden: [shell_exec]}
    stripForbidden: true
`;

beforeAll(async () => {
  world = await createWorld();
  const policy = await writePolicy(world.dir, 'engine', POLICY());
  sidecar = await spawnSidecar(['--policy', policy, '--ca-dir', world.caDir, ...world.upstreamFlags]);
});
afterAll(async () => {
  await sidecar?.stop();
  await world?.close();
});

const chat = (agent: string, body: object, path = '/openai/v1/chat/completions', extra: string[] = []) =>
  curl(['-H', 'content-type: application/json', '-H', `x-chaperone-agent: ${agent}`, ...extra, '-d', JSON.stringify(body), `${sidecar.proxyUrl}${path}`]);
const msg = (content: string, extra: object = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...extra });
const tools = (...names: string[]) => names.map((name) => ({ type: 'function', function: { name, parameters: { type: 'object', properties: {} } } }));
const metrics = async () => (await fetch(`${sidecar.adminUrl}/metrics`)).text();

describe('egress', () => {
  it('denies a CONNECT tunnel to a denied host by name', async () => {
    const r = await curl(['-x', sidecar.proxyUrl, 'https://api.internal.example.com/']);
    expect(r.status).toBe(403);
    expect(r.headers['x-chaperone-rule']).toBe('egress');
    expect(r.headers['x-chaperone-policy']).toBe('agents/main');
    const audit = await sidecar.waitForLine((l) => l.audit === true && l.host === 'api.internal.example.com');
    expect(audit).toMatchObject({ method: 'CONNECT', decision: 'deny', rules: ['egress'], status: 403 });
    expect(await metrics()).toMatch(/chaperone_policy_violations_total\{policy="agents\/main",rule="egress",action="deny"\} [1-9]/);
  });

  it('denies a path rule on an intercepted host in the provider shape', async () => {
    const r = await chat('anyone', { purpose: 'fine-tune' }, '/openai/v1/files');
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body).error).toMatchObject({ message: expect.stringMatching(/no file uploads/) });
    expect(r.headers['x-chaperone-decision']).toBe('deny');
  });

  it('lets a `log` rule through and records it as audit', async () => {
    const r = await curl(['-x', sidecar.proxyUrl, 'http://plain.example.test/logged/v1/chat/completions', '-H', 'content-type: application/json', '-d', JSON.stringify(msg('hi'))]);
    expect(r.status).toBe(200);
    expect(r.headers['x-chaperone-decision']).toBe('audit');
    expect(r.headers['x-chaperone-rule']).toBe('egress');
  });

  it("applies a rule's own schedule", async () => {
    const r = await curl(['-x', sidecar.proxyUrl, '--cacert', world.caCertFile, '-H', 'content-type: application/json', '-d', JSON.stringify(msg('hi')), 'https://api.mistral.ai/v1/chat/completions']);
    expect(r.status).toBe(403);
    expect(r.headers['x-chaperone-rule']).toBe('schedule');
    expect(JSON.parse(r.body).error.message).toMatch(/outside the allowed schedule/);
  });
});

describe('tools', () => {
  it('denies a forced forbidden tool_choice; the SDK shows the reason', async () => {
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: `${sidecar.proxyUrl}/openai/v1`, defaultHeaders: { 'X-Chaperone-Agent': 'researcher' }, maxRetries: 0 });
    const err = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'go' }], tools: tools('shell_exec') as never, tool_choice: { type: 'function', function: { name: 'shell_exec' } } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((err as Error).message).toMatch(/shell_exec/);
  });

  it('stops a Responses answer proposing a built-in tool the client would execute (local_shell), whole or streamed', async () => {
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: `${sidecar.proxyUrl}/openai/v1`, defaultHeaders: { 'X-Chaperone-Agent': 'researcher' }, maxRetries: 0 });
    const ask = { model: 'gpt-5', input: 'please call tool local_shell', tools: [{ type: 'local_shell' as const }] };
    const err = await client.responses.create(ask).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((err as Error).message).toMatch(/the model called tool local_shell, which is not among the tools agent researcher is permitted to use/);
    // Streamed, the stream ends with the Responses API's own error event (the SDK hands it over as an
    // event) before the item that proposes the call.
    const seen: Array<{ type: string; message?: string }> = [];
    for await (const event of await client.responses.create({ ...ask, stream: true })) seen.push(event);
    expect(seen.at(-1)).toMatchObject({ type: 'error', message: expect.stringMatching(/tool local_shell, which is not among the tools/) });
    expect(JSON.stringify(seen)).not.toMatch(/local_shell_call/);
  });

  it('stops a JSON answer that proposes a forbidden tool before the agent sees it', async () => {
    const before = world.tls.received.length;
    const r = await chat('researcher', msg('please call tool shell_exec', { tools: tools('web_search', 'shell_exec') }));
    expect(world.tls.received.length).toBe(before + 1); // the model was asked...
    expect(r.status).toBe(403); // ...but its proposal never reached the agent
    expect(r.body).not.toMatch(/tool_calls/);
    expect(r.headers['x-chaperone-rule']).toBe('tools');
  });

  it('cuts an OpenAI stream as soon as a forbidden tool name arrives', async () => {
    const r = await chat('researcher', msg('please call tool shell_exec', { stream: true, tools: tools('shell_exec') }), '/openai/v1/chat/completions', ['-N']);
    expect(r.status).toBe(200);
    expect(r.body).not.toMatch(/"tool_calls"/);
    expect(r.body).toMatch(/data: \{"error":\{.*shell_exec/);
    const audit = await sidecar.waitForLine((l) => l.audit === true && l.agent === 'researcher' && l.decision === 'deny' && l.operation === 'chat.completions' && (l.toolCalls as string[] | undefined)?.includes('shell_exec') === true);
    expect(audit.rules).toContain('tools');
  });

  it('cuts an Anthropic stream with an error event the SDK raises', async () => {
    const client = new Anthropic({ apiKey: 'x', baseURL: `${sidecar.proxyUrl}/anthropic`, defaultHeaders: { 'X-Chaperone-Agent': 'researcher' }, maxRetries: 0 });
    const stream = client.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 50, tools: [{ name: 'shell_exec', input_schema: { type: 'object' } }], messages: [{ role: 'user', content: 'please call tool shell_exec' }] });
    await expect(stream.finalMessage()).rejects.toThrow(/shell_exec/);
  });

  it('denies an MCP tools/call before the tool runs', async () => {
    const before = world.tls.received.length;
    const r = await curl(['-x', sidecar.proxyUrl, '--cacert', world.caCertFile, '-H', 'content-type: application/json', '-H', 'x-chaperone-agent: researcher',
      '-d', JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'shell_exec', arguments: { cmd: 'rm -rf /' } } }), 'https://mcp.tools.example.com/mcp']);
    // Answered the MCP way: HTTP 200, the call's result with isError and why, under the request's id.
    expect([r.status, r.headers['x-chaperone-decision']]).toEqual([200, 'deny']);
    expect(JSON.parse(r.body)).toEqual({ jsonrpc: '2.0', id: 3, result: { content: [{ type: 'text', text: expect.stringMatching(/^chaperone: .*shell_exec/) }], isError: true } });
    expect(world.tls.received.length).toBe(before);
  });

  it('strips forbidden tools from the request when stripForbidden is set', async () => {
    const r = await chat('stripper', msg('hello', { tools: tools('web_search', 'shell_exec') }));
    expect(r.status).toBe(200);
    // The observer policy is in audit mode: the strip is recorded, not applied.
    expect(r.headers['x-chaperone-decision']).toBe('audit');
    const sent = world.tls.received.at(-1)!.json as { tools: Array<{ function: { name: string } }> };
    expect(sent.tools.map((t) => t.function.name)).toEqual(['web_search', 'shell_exec']);
  });

  it('records instead of denying under audit mode', async () => {
    const r = await chat('auditee', msg('go', { tools: tools('audited_tool'), tool_choice: { type: 'function', function: { name: 'audited_tool' } } }));
    expect(r.status).toBe(200);
    expect(r.headers['x-chaperone-decision']).toBe('audit');
    expect(r.headers['x-chaperone-rule']).toBe('tools');
    expect(r.headers['x-chaperone-policy']).toBe('agents/observer');
  });
});

describe('rate limits', () => {
  it('answers 429 with Retry-After past the per-agent limit', async () => {
    expect((await chat('limited', msg('one'))).status).toBe(200);
    expect((await chat('limited', msg('two'))).status).toBe(200);
    const r = await chat('limited', msg('three'));
    expect(r.status).toBe(429);
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(r.headers['x-chaperone-rule']).toBe('rate_limit');
    expect(JSON.parse(r.body).error.code).toBe('rate_limit_exceeded');
  });

  it('lets exactly the limit through when calls arrive in parallel', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => chat('burst', msg(`parallel ${i}`))));
    expect(results.filter((r) => r.status === 200)).toHaveLength(3);
    expect(results.filter((r) => r.status === 429)).toHaveLength(7);
  });
});

describe('DLP', () => {
  it('redacts a card number and an email before they leave, and says so', async () => {
    const r = await chat('writer', msg('card 4111 1111 1111 1111, mail jane.doe@example.com, thanks'));
    expect(r.status).toBe(200);
    expect(r.headers['x-chaperone-decision']).toBe('redact');
    const sent = JSON.stringify(world.tls.received.at(-1)!.json);
    expect(sent).not.toMatch(/4111|jane\.doe/);
    expect(sent).toMatch(/\[REDACTED:credit_card\].*\[REDACTED:email\]/);
    expect(await metrics()).toMatch(/chaperone_dlp_findings_total\{detector="credit_card",action="redact"\} 1/);
    const audit = await sidecar.waitForLine((l) => l.audit === true && l.requestId === r.headers['x-chaperone-request-id']);
    expect(audit.dlp).toEqual({ credit_card: 1, email: 1 });
    expect(JSON.stringify(sidecar.lines)).not.toMatch(/4111 1111|jane\.doe/);
  });
});

describe('approvals (standalone: in memory, decided on the admin port with the admin token)', () => {
  const TOKEN = 'approver-token';
  let held: SidecarProcess;
  beforeAll(async () => {
    const tokenFile = join(world.dir, 'approver-token');
    await writeFile(tokenFile, `${TOKEN}\n`);
    held = await spawnSidecar(['--policy', await writePolicy(world.dir, 'approvals', POLICY()), '--ca-dir', world.caDir, ...world.upstreamFlags, '--admin-token-file', tokenFile]);
  });
  afterAll(async () => {
    await held?.stop();
  });
  const admin = (path: string, method = 'GET', token = TOKEN) => fetch(`${held.adminUrl}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
  const decide = async (id: string, verdict: 'approve' | 'deny') => expect((await admin(`/approvals/${id}/${verdict}`, 'POST')).status).toBe(200);
  const sendEmail = (id: number, to: string, headers: string[] = []) =>
    curl(['-x', held.proxyUrl, '--cacert', world.caCertFile, '-H', 'content-type: application/json', '-H', 'x-chaperone-agent: researcher', ...headers.flatMap((h) => ['-H', h]),
      '-d', JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'send_email', arguments: { to, subject: 'hi' } } }), 'https://mcp.tools.example.com/mcp']);
  const heldId = (r: { headers: Record<string, string> }) => r.headers['x-chaperone-approval']!;
  /** What the sidecar answered a tools/call with: status and decision, and the text of the result (isError) it gave. */
  const outcome = (r: { status: number; headers: Record<string, string> }) => `${r.status} ${r.headers['x-chaperone-decision']}`;
  const resultText = (r: { body: string }): string => {
    const answer = JSON.parse(r.body) as { result: { isError: boolean; content: Array<{ text: string }> } };
    expect(answer.result.isError).toBe(true);
    return answer.result.content[0]!.text;
  };

  it('holds the MCP way (the call\'s result with isError), passes the resend once approved, and binds to the arguments', async () => {
    const before = world.tls.received.length;
    const first = await sendEmail(1, 'ceo@example.com');
    expect(outcome(first)).toBe('200 hold');
    const id = heldId(first);
    expect(JSON.parse(first.body)).toMatchObject({ jsonrpc: '2.0', id: 1 });
    expect(resultText(first)).toContain(id);
    expect(resultText(first)).toMatch(/send the same request again/);
    expect(world.tls.received.length).toBe(before);

    const list = (await (await admin('/approvals')).json()) as { approvals: Array<{ id: string; tool: string; phase: string; arguments_preview: string }> };
    expect(list.approvals.find((a) => a.id === id)).toMatchObject({ tool: 'send_email', phase: 'Pending', arguments_preview: '{"subject":"hi","to":"ceo@example.com"}' });

    // Still pending: the resend waits on the same approval.
    expect(heldId(await sendEmail(2, 'ceo@example.com'))).toBe(id);
    await decide(id, 'approve');
    // Other arguments do not ride on this approval.
    const other = await sendEmail(3, 'everyone@example.com');
    expect(outcome(other)).toBe('200 hold');
    expect(heldId(other)).not.toBe(id);

    const sent = await sendEmail(4, 'ceo@example.com');
    // It ran: the fake server echoes the arguments, and DLP on answers masks the address in its result.
    expect(outcome(sent)).toBe('200 redact');
    expect(JSON.parse(sent.body).result.isError).toBe(false);
    expect(world.tls.received.length).toBe(before + 1);
    // Used: the same call again needs a new approval.
    const again = await sendEmail(5, 'ceo@example.com');
    expect(outcome(again)).toBe('200 hold');
    expect(heldId(again)).not.toBe(id);
    expect(world.tls.received.length).toBe(before + 1);
    expect(await (await fetch(`${held.adminUrl}/metrics`)).text()).toMatch(/chaperone_approval_lookups_total\{result="passed"\} 1/);
  });

  it('turns a denied approval into a denial, and answers 202 to a client that prefers it', async () => {
    const r = await sendEmail(6, 'board@example.com', ['prefer: respond-async']);
    expect(r.status).toBe(202);
    expect(r.headers['preference-applied']).toBe('respond-async');
    const body = JSON.parse(r.body);
    expect(body).toMatchObject({ status: 'pending', approval_id: heldId(r), approvals: [{ name: heldId(r), tool: 'send_email', phase: 'Pending', expires_at: expect.any(String) }] });
    await decide(body.approval_id, 'deny');
    const denied = await sendEmail(7, 'board@example.com');
    expect(outcome(denied)).toBe('200 deny');
    expect(denied.headers['x-chaperone-rule']).toBe('approval');
    expect(resultText(denied)).toMatch(/was denied by admin-token/);
  });

  it('cannot be approved from loopback without the token, whatever a header claims', async () => {
    const id = heldId(await sendEmail(8, 'cfo@example.com'));
    expect((await admin(`/approvals/${id}/approve`, 'POST', '')).status).toBe(401);
    const selfApproved = await fetch(`${held.adminUrl}/approvals/${id}/approve`, { method: 'POST', headers: { 'x-chaperone-approver': 'the-ceo' } });
    expect(selfApproved.status).toBe(401);
    // Without a token configured, nobody approves on the admin port at all.
    expect((await fetch(`${sidecar.adminUrl}/approvals`)).status).toBe(403);
    expect((await fetch(`${sidecar.adminUrl}/approvals/${id}/approve`, { method: 'POST' })).status).toBe(403);
    expect(outcome(await sendEmail(9, 'cfo@example.com'))).toBe('200 hold');
  });

  it('holds a tool call the model proposes before the agent sees it: the openai SDK raises an error naming the approval, streamed or not', async () => {
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: `${held.proxyUrl}/openai/v1`, defaultHeaders: { 'X-Chaperone-Agent': 'researcher' }, maxRetries: 0 });
    const ask = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'please call tool send_email to the board' }], tools: tools('send_email') as never };
    const err = (await client.chat.completions.create(ask).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(428);
    const id = /approval ([0-9a-f-]{36})|ApprovalRequest ([0-9a-f-]{36})/.exec(err.message)?.slice(1).find(Boolean);
    expect(id).toBeDefined();

    const seen: unknown[] = [];
    const streamErr = await (async () => {
      for await (const chunk of await client.chat.completions.create({ ...ask, stream: true })) seen.push(chunk);
    })().catch((e: unknown) => e);
    expect(streamErr).toBeInstanceOf(OpenAI.APIError);
    expect((streamErr as Error).message).toContain(id!);
    expect(JSON.stringify(seen)).not.toMatch(/tool_calls/);

    await decide(id!, 'approve');
    const answer = await client.chat.completions.create(ask);
    expect(answer.choices[0]!.message.tool_calls![0]).toMatchObject({ function: { name: 'send_email' } });
    // One approval, one answer: the stream asking the same is held again.
    const again = await (async () => {
      for await (const _ of await client.chat.completions.create({ ...ask, stream: true })) void _;
    })().catch((e: unknown) => e);
    expect(again).toBeInstanceOf(OpenAI.APIError);
    expect((again as Error).message).not.toContain(id!);
  });

  it('the Anthropic SDK raises an error naming the approval, streamed or not', async () => {
    const client = new Anthropic({ apiKey: 'sk-ant-test', baseURL: `${held.proxyUrl}/anthropic`, defaultHeaders: { 'X-Chaperone-Agent': 'researcher' }, maxRetries: 0 });
    const ask = { model: 'claude-haiku-4-5', max_tokens: 100, tools: [{ name: 'send_email', input_schema: { type: 'object' as const } }], messages: [{ role: 'user' as const, content: 'please call tool send_email now' }] };
    const err = (await client.messages.create(ask).catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err.status).toBe(428);
    expect(err.message).toMatch(/needs a person's approval/);
    const streamErr = await client.messages.stream(ask).finalMessage().catch((e: unknown) => e);
    expect(streamErr).toBeInstanceOf(Anthropic.APIError);
    expect((streamErr as Error).message).toMatch(/ApprovalRequest|approval/);
  });
});

describe('budget', () => {
  it('prices the call, counts the spend, and denies the agent past its daily cap', async () => {
    const first = await chat('spender', { model: 'expensive-model-1', messages: [{ role: 'user', content: 'hello' }] });
    expect(first.status).toBe(200);
    expect(Number(first.headers['x-chaperone-cost-usd'])).toBeGreaterThanOrEqual(5);
    expect(await metrics()).toMatch(/chaperone_cost_usd_total\{provider="openai",model="expensive-model-1",agent="spender"\} \d+/);
    const second = await chat('spender', msg('again'));
    expect(second.status).toBe(403);
    expect(second.headers['x-chaperone-rule']).toBe('budget');
    // Other agents keep working.
    expect((await chat('thrifty', msg('hi'))).status).toBe(200);
  });
});

describe('circuit breaker', () => {
  it('opens after upstream failures, answers 503 without calling upstream, then recovers', async () => {
    const failing = '/openai/status/503/v1/chat/completions';
    expect((await chat('flaky', msg('a'), failing)).status).toBe(503);
    expect((await chat('flaky', msg('b'), failing)).status).toBe(503);
    const before = world.tls.received.length;
    const open = await chat('flaky', msg('c'));
    expect(open.status).toBe(503);
    expect(open.headers['x-chaperone-rule']).toBe('circuit');
    expect(Number(open.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(world.tls.received.length).toBe(before);
    expect(await metrics()).toMatch(/chaperone_circuit_open\{upstream="api.openai.com"\} 1/);
    expect((await chat('healthy', msg('other agents are unaffected'))).status).toBe(200);

    await new Promise((r) => setTimeout(r, 2_200));
    expect((await chat('flaky', msg('trial'))).status).toBe(200);
    expect((await chat('flaky', msg('closed again'))).status).toBe(200);
    expect(await metrics()).toMatch(/chaperone_circuit_open\{upstream="api.openai.com"\} 0/);
  });
});

describe('violations metric', () => {
  it('counts findings by policy, rule and action', async () => {
    const text = await metrics();
    expect(text).toMatch(/chaperone_policy_violations_total\{policy="agents\/main",rule="tools",action="deny"\} [1-9]/);
    expect(text).toMatch(/chaperone_policy_violations_total\{policy="agents\/observer",rule="tools",action="audit"\} [1-9]/);
    expect(text).toMatch(/chaperone_policy_violations_total\{policy="agents\/main",rule="rate_limit",action="rate_limited"\} [1-9]/);
  });
});

describe('DLP enforce and the admin token', () => {
  let strict: SidecarProcess;
  beforeAll(async () => {
    const policy = await writePolicy(world.dir, 'strict', `apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: strict, namespace: agents}
spec:
  dlp: {mode: enforce, custom: [{name: employee_id, pattern: "EMP-[0-9]{6}"}]}
  approvals: {tools: [send_email]}
`);
    const tokenFile = join(world.dir, 'admin-token');
    await writeFile(tokenFile, 's3cret-token\n');
    strict = await spawnSidecar(['--policy', policy, '--ca-dir', world.caDir, ...world.upstreamFlags, '--admin-token-file', tokenFile]);
  });
  afterAll(async () => {
    await strict?.stop();
  });

  it('blocks a prompt with a custom-detector finding, naming the detector but not the value', async () => {
    const before = world.tls.received.length;
    const r = await curl(['-H', 'content-type: application/json', '-d', JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'look up EMP-123456' }] }), `${strict.proxyUrl}/anthropic/v1/messages`]);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ type: 'error', error: { type: 'permission_error', message: expect.stringMatching(/employee_id/) } });
    expect(r.body).not.toMatch(/EMP-123456/);
    expect(world.tls.received.length).toBe(before);
  });

  it('requires the bearer token to read or decide approvals', async () => {
    const r = await request(`${strict.proxyUrl}/openai/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'send_email', arguments: '{"to":"x"}' } }] }] }),
    });
    expect(r.statusCode).toBe(428);
    const approval = String(r.headers['x-chaperone-approval']);
    expect((await r.body.json()) as object).toMatchObject({ error: { code: 'approval_required', message: expect.stringContaining(approval) } });
    expect((await fetch(`${strict.adminUrl}/approvals`)).status).toBe(401);
    expect((await fetch(`${strict.adminUrl}/approvals/${approval}/approve`, { method: 'POST', headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${strict.adminUrl}/approvals/${approval}/approve`, { method: 'POST', headers: { authorization: 'Bearer s3cret-token' } })).status).toBe(200);
    expect(JSON.stringify(strict.lines)).not.toMatch(/s3cret-token/);
  });

  it('requires the bearer token to read /status (agents, sessions, spend); health, readiness and metrics stay open', async () => {
    const r = await curl(['-H', 'content-type: application/json', '-H', 'x-chaperone-agent: status-reader', '-H', 'x-chaperone-session: sess-private-1',
      '-d', JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }), `${strict.proxyUrl}/openai/v1/chat/completions`]);
    expect(r.status).toBe(200);
    await strict.waitForLine((l) => l.audit === true && l.requestId === r.headers['x-chaperone-request-id']);
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: 's3cret-token' }] as Record<string, string>[]) {
      const refused = await fetch(`${strict.adminUrl}/status`, { headers });
      expect(refused.status).toBe(401);
      expect(await refused.text()).not.toMatch(/status-reader|agents/);
    }
    const allowed = await fetch(`${strict.adminUrl}/status`, { headers: { authorization: 'Bearer s3cret-token' } });
    expect(allowed.status).toBe(200);
    expect(((await allowed.json()) as { agents: Record<string, unknown> }).agents['status-reader']).toEqual({ allow: 1 });
    for (const open of ['/healthz', '/readyz', '/metrics']) expect((await fetch(`${strict.adminUrl}${open}`)).status, open).toBe(200);
  });
});

