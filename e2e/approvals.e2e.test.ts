// Human approval on the real API server: a sidecar (a process here, as the namespace's own
// `chaperone-sidecar` ServiceAccount, with the token the in-process operator minted) holds tool
// calls as ApprovalRequest objects; people decide them with the real `kubectl chaperone` plugin
// under the `chaperone-approver` ClusterRole, checked by the `chaperone-approvals` admission policy.
// The agent's own ServiceAccount is refused; an approval passes exactly one execution, survives a
// sidecar restart, and covers no other arguments; expiry refuses; a tool call the model proposes
// (OpenAI Chat and Responses, Anthropic, Bedrock; whole and streamed) never reaches the agent
// before a person approved it.
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { ProxyAgent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKubeConfig } from '../lib/kube.js';
import { createLogger } from '../lib/logger.js';
import { PROJECT_ROOT } from '../lib/project.js';
import { startOperator, type Operator } from '../operator/main.js';
import { curl, type CurlResult } from './harness/curl.js';
import { installApprovalAdmission, installCrd, kubectl, kubectlOk, serviceAccountKubeconfig } from './harness/kubectl.js';
import { kubectlChaperone } from './harness/plugin.js';
import { spawnSidecar, type SidecarProcess } from './harness/sidecar-process.js';
import { createWorld, writePolicy, type World } from './harness/world.js';

const NS = `chaperone-e2e-ar-${randomBytes(3).toString('hex')}`;
const OWN_NS = 'chaperone-system';
const AGENT = 'mailer';
const POLL = { timeout: 30_000, interval: 200 };

let world: World;
let operator: Operator | undefined;
let removeAdmission: (() => Promise<void>) | undefined;
let credentials: string;
let server: string;
let policyFile: string;
let sidecar: SidecarProcess;

const POLICY = `apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: approvals, namespace: ${NS}, generation: 1}
spec:
  intercept: {hosts: [mcp.tools.example.com]}
  approvals: {tools: [send_email, wire_money], timeoutSeconds: 600}
---
apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: hurried, namespace: ${NS}, generation: 1}
spec:
  approvals: {tools: [page_oncall], timeoutSeconds: 3, timeoutAction: reject}
`;

/** The sidecar as the injector runs it: its own credentials, the pod's name and ServiceAccount. */
const startSidecar = () =>
  spawnSidecar(['--policy', policyFile, '--ca-dir', world.caDir, ...world.upstreamFlags, '--approvals-credentials', credentials, '--api-server', server], {
    POD_NAME: 'mailer-0',
    POD_UID: '00000000-0000-4000-8000-000000000001',
    POD_SERVICE_ACCOUNT: 'agent',
  });

interface AR {
  metadata: { name: string; namespace: string };
  spec: { agent: string; tool: string; pod?: string; serviceAccount?: string; argumentsPreview: string; heldAt: string; decision?: { by: string } };
  status?: { phase?: string; decidedBy?: string; usedBy?: string };
}
const getAr = async (name: string): Promise<AR> => JSON.parse(await kubectlOk(['get', 'approvalrequests.chaperone.dev', name, '-n', NS, '-o', 'json'])) as AR;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = POLL.timeout): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL.interval));
  }
}
const phaseOf = (name: string, phase: string) => waitFor(`${name} ${phase}`, async () => ((await getAr(name)).status?.phase === phase ? true : undefined));

const mcpCall = (id: number, tool: string, args: object, via = sidecar) =>
  curl(['-x', via.proxyUrl, '--cacert', world.caCertFile, '-H', 'content-type: application/json', '-H', `x-chaperone-agent: ${AGENT}`,
    '-d', JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, arguments: args } }), 'https://mcp.tools.example.com/mcp']);
/**
 * The approval a held call names. A held MCP tools/call is answered the MCP way (HTTP 200, the call's
 * result with isError); a held model call with 428 in its provider's error shape.
 */
const heldName = (r: CurlResult): string => {
  expect(r.headers['x-chaperone-decision'], r.body).toBe('hold');
  const body = JSON.parse(r.body) as { jsonrpc?: string; result?: { isError?: boolean } };
  if (body.jsonrpc === '2.0') {
    expect(r.status, r.body).toBe(200);
    expect(body.result?.isError).toBe(true);
  } else {
    expect(r.status, r.body).toBe(428);
  }
  return r.headers['x-chaperone-approval']!;
};
/** The text of a tool result the sidecar answered with. */
const resultText = (r: CurlResult): string => JSON.parse(r.body).result.content[0].text as string;
const approveAs = async (user: string, name: string) => kubectlChaperone(['approve', name, '-n', NS, '--as', user, '--reason', 'checked the recipient']);

beforeAll(async () => {
  await installCrd();
  // The operator runs as its own ServiceAccount with exactly deploy/operator/rbac.yaml: the admission
  // policy knows it by that name, and the admin running this test is neither operator nor sidecar.
  await kubectlOk(['apply', '-f', join(PROJECT_ROOT, 'deploy', 'operator', 'rbac.yaml')]);
  const operatorKubeconfig = await serviceAccountKubeconfig('chaperone-operator', OWN_NS, await mkdtemp(join(tmpdir(), 'chaperone-ar-op-')));
  removeAdmission = await installApprovalAdmission(`system:serviceaccount:${OWN_NS}:chaperone-operator`, 'chaperone-e2e-ar');
  await kubectlOk(['create', 'namespace', NS]);
  await kubectlOk(['label', 'namespace', NS, 'chaperone.dev/injection=enabled']);
  await kubectlOk(['create', 'serviceaccount', 'agent', '-n', NS]);
  await kubectlOk(['create', 'rolebinding', 'alice-approves', '-n', NS, '--clusterrole', 'chaperone-e2e-ar-approver', '--user', 'alice']);
  const kc = loadKubeConfig(operatorKubeconfig);
  server = kc.getCurrentCluster()!.server;
  operator = await startOperator({ kubeconfig: kc, namespace: OWN_NS, leaderElection: false, healthAddr: '127.0.0.1:0', identity: 'e2e-approvals', log: createLogger('operator', 'warn') });

  // The operator mints the sidecar's token: write the Secret's files where the kubelet would.
  const secret = await waitFor('the sidecar token Secret', async () => {
    const r = await kubectl(['get', 'secret', 'chaperone-sidecar-token', '-n', NS, '-o', 'json']);
    return r.code === 0 ? (JSON.parse(r.stdout) as { data: Record<string, string> }) : undefined;
  });
  credentials = await mkdtemp(join(tmpdir(), 'chaperone-sidecar-token-'));
  for (const [key, value] of Object.entries(secret.data)) await writeFile(join(credentials, key), Buffer.from(value, 'base64'));

  world = await createWorld();
  policyFile = await writePolicy(world.dir, 'approvals', POLICY);
  sidecar = await startSidecar();
}, 180_000);

afterAll(async () => {
  await sidecar?.stop();
  await operator?.stop();
  await world?.close();
  await kubectl(['delete', 'namespace', NS, '--wait=false']);
  await removeAdmission?.();
});

describe('an MCP tools/call held for approval', () => {
  it('becomes an ApprovalRequest the sidecar wrote, which the agent cannot approve and a person with chaperone-approver can, once', async () => {
    const before = world.tls.received.length;
    const first = await mcpCall(1, 'send_email', { to: 'board@example.com', subject: 'Q3' });
    const name = heldName(first);
    expect(resultText(first)).toContain(`kubectl chaperone approve ${name} -n ${NS}`);
    const ar = await getAr(name);
    expect(ar.spec).toMatchObject({ agent: AGENT, tool: 'send_email', pod: 'mailer-0', serviceAccount: 'agent', heldAt: 'request', argumentsPreview: '{"subject":"Q3","to":"board@example.com"}' });
    await phaseOf(name, 'Pending');
    expect(world.tls.received.length).toBe(before);

    // The agent's ServiceAccount: no RBAC for it, and the admission policy would refuse it anyway.
    const asAgent = await approveAs(`system:serviceaccount:${NS}:agent`, name);
    expect(asAgent.code).not.toBe(0);
    expect(asAgent.stderr).toMatch(/forbidden/i);
    // Nor can the sidecar's own identity decide.
    const asSidecar = await kubectl(['patch', 'approvalrequests.chaperone.dev', name, '-n', NS, '--as', `system:serviceaccount:${NS}:chaperone-sidecar`, '--type=merge', '-p', JSON.stringify({ spec: { decision: { action: 'Approve', by: `system:serviceaccount:${NS}:chaperone-sidecar` } } })]);
    expect(asSidecar.code).not.toBe(0);
    expect(heldName(await mcpCall(2, 'send_email', { to: 'board@example.com', subject: 'Q3' }))).toBe(name);

    const listed = await kubectlChaperone(['list', '-n', NS]);
    expect(listed.stdout).toContain(name);
    const approved = await approveAs('alice', name);
    expect(approved.code, approved.stderr).toBe(0);
    expect((await getAr(name)).spec.decision?.by).toBe('alice');

    // Other arguments are not covered.
    expect(heldName(await mcpCall(3, 'send_email', { to: 'everyone@example.com', subject: 'Q3' }))).not.toBe(name);
    // The resend passes, once.
    const sent = await mcpCall(4, 'send_email', { to: 'board@example.com', subject: 'Q3' });
    expect(sent.status, sent.body).toBe(200);
    expect(world.tls.received.length).toBe(before + 1);
    const again = await mcpCall(5, 'send_email', { to: 'board@example.com', subject: 'Q3' });
    expect(heldName(again)).not.toBe(name);
    expect(world.tls.received.length).toBe(before + 1);
    const used = await getAr(name);
    expect(used.status).toMatchObject({ phase: 'Used', usedBy: sent.headers['x-chaperone-request-id'] });
    // Events tell the story on the ApprovalRequest.
    const events = await kubectlOk(['get', 'events', '-n', NS, '--field-selector', `involvedObject.name=${name}`, '-o', 'jsonpath={.items[*].reason}']);
    expect(events).toMatch(/Held/);
    expect(events).toMatch(/Approved/);
  });

  it('keeps the approval across a sidecar restart, and any replica of the agent honours it', async () => {
    const name = heldName(await mcpCall(10, 'wire_money', { amount: 100, to: 'acme' }));
    await sidecar.stop();
    expect((await approveAs('alice', name)).code).toBe(0);
    sidecar = await startSidecar();
    const replica = await startSidecar();
    try {
      const results = await Promise.all([mcpCall(11, 'wire_money', { amount: 100, to: 'acme' }), mcpCall(12, 'wire_money', { amount: 100, to: 'acme' }, replica)]);
      // Two executions race across two replicas for one approval: exactly one passes. The other lost
      // the race for the Used mark (denied: already used) or found it Used already (held anew).
      const decided = (r: CurlResult): string | undefined => r.headers['x-chaperone-decision'];
      const passed = results.filter((r) => decided(r) === 'allow');
      expect(passed).toHaveLength(1);
      const other = results.find((r) => decided(r) !== 'allow')!;
      if (decided(other) === 'deny') expect(resultText(other)).toMatch(/already used by another execution/);
      else expect(heldName(other)).not.toBe(name);
    } finally {
      await replica.stop();
    }
  });

  it('refuses once the request expired: the late decision is refused, and so is the resend', async () => {
    const name = heldName(await mcpCall(20, 'page_oncall', { who: 'sre' }));
    await phaseOf(name, 'Expired');
    const late = await approveAs('alice', name);
    expect(late.code).not.toBe(0);
    expect(late.stderr).toMatch(/Pending/);
    const resend = await mcpCall(21, 'page_oncall', { who: 'sre' });
    expect([resend.status, resend.headers['x-chaperone-decision']]).toEqual([200, 'deny']);
    expect(resultText(resend)).toMatch(/expired/);
  });

  it('refuses a batch that repeats a held call: one approval, one execution', async () => {
    const call = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'send_email', arguments: { to: 'x@example.com' } } });
    const r = await curl(['-x', sidecar.proxyUrl, '--cacert', world.caCertFile, '-H', 'content-type: application/json', '-H', `x-chaperone-agent: ${AGENT}`, '-d', JSON.stringify([call(30), call(31)]), 'https://mcp.tools.example.com/mcp']);
    expect([r.status, r.headers['x-chaperone-decision']]).toEqual([200, 'deny']);
    // One answer per request of the batch, each the call's result with isError.
    expect(JSON.parse(r.body).map((a: { id: number; result: { isError: boolean } }) => [a.id, a.result.isError])).toEqual([[30, true], [31, true]]);
    expect(r.body).toMatch(/one approval passes one execution/);
  });
});

/** One provider's request that makes the fake model propose `send_email`, and how to see the call in its answer. */
interface ProposalCase {
  name: string;
  url: string;
  body: object;
  /** The proposed call, as it would appear in the answer the agent receives (no hold message says it). */
  proposed: RegExp;
}
const ASK = 'please call tool send_email to the auditors';
const CASES: ProposalCase[] = [
  { name: 'OpenAI Chat Completions', url: 'https://api.openai.com/v1/chat/completions', body: { model: 'gpt-4o', messages: [{ role: 'user', content: ASK }], tools: [{ type: 'function', function: { name: 'send_email', parameters: { type: 'object' } } }] }, proposed: /"tool_calls"/ },
  { name: 'OpenAI Responses', url: 'https://api.openai.com/v1/responses', body: { model: 'gpt-4.1', input: ASK, tools: [{ type: 'function', name: 'send_email', parameters: { type: 'object' } }] }, proposed: /"function_call"/ },
  { name: 'Anthropic Messages', url: 'https://api.anthropic.com/v1/messages', body: { model: 'claude-haiku-4-5', max_tokens: 100, messages: [{ role: 'user', content: ASK }], tools: [{ name: 'send_email', input_schema: { type: 'object' } }] }, proposed: /"tool_use"/ },
  { name: 'Bedrock Converse', url: 'https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse', body: { messages: [{ role: 'user', content: [{ text: ASK }] }], toolConfig: { tools: [{ toolSpec: { name: 'send_email', inputSchema: { json: {} } } }] } }, proposed: /toolUse/ },
];

describe('a tool call the model proposes is held before the agent sees it', () => {
  const ask = (c: ProposalCase, stream: boolean) => {
    const url = stream && c.url.endsWith('/converse') ? `${c.url}-stream` : c.url;
    const body = stream && !c.url.endsWith('/converse') ? { ...c.body, stream: true } : c.body;
    return curl(['-x', sidecar.proxyUrl, '--cacert', world.caCertFile, '-N', '-H', 'content-type: application/json', '-H', `x-chaperone-agent: ${AGENT}`, '-d', JSON.stringify(body), url]);
  };

  for (const c of CASES) {
    for (const stream of [false, true]) {
      it(`${c.name}${stream ? ', streamed' : ''}`, async () => {
        const asked = world.tls.received.length;
        const held = await ask(c, stream);
        if (process.env.E2E_DEBUG) process.stderr.write(`${c.name} ${stream}: ${held.status} ${held.body}\n`);
        // The model was asked (and paid for); its answer stayed with the sidecar.
        expect(world.tls.received.length).toBe(asked + 1);
        expect(held.body).not.toMatch(c.proposed);
        const name = stream ? /ApprovalRequest [\w-]+\/([\w-]+)/.exec(held.body)?.[1] : heldName(held);
        expect(name, held.body).toBeDefined();
        const ar = await getAr(name!);
        expect(ar.spec).toMatchObject({ tool: 'send_email', heldAt: 'response' });
        expect((await approveAs('alice', name!)).code).toBe(0);
        const released = await ask(c, stream);
        expect(released.status).toBe(200);
        expect(released.body).toMatch(/send_email/);
        expect(released.body).toMatch(c.proposed);
        expect((await getAr(name!)).status?.phase).toBe('Used');
        // Used: the same proposal is held again.
        expect((await ask(c, stream)).body).not.toMatch(c.proposed);
      });
    }
  }

  it('the agent reports the approved call and its result to the model without a second approval', async () => {
    const chat = CASES[0]!;
    const ask = { ...chat.body, messages: [{ role: 'user', content: `${ASK} (follow-up)` }] };
    const send = (body: object) => curl(['-x', sidecar.proxyUrl, '--cacert', world.caCertFile, '-H', 'content-type: application/json', '-H', `x-chaperone-agent: ${AGENT}`, '-d', JSON.stringify(body), chat.url]);
    const name = heldName(await send(ask));
    expect((await approveAs('alice', name)).code).toBe(0);
    const released = await send(ask);
    expect(released.status).toBe(200);
    const call = (JSON.parse(released.body) as { choices: Array<{ message: { tool_calls: Array<{ id: string }> } }> }).choices[0]!.message.tool_calls[0]!;
    const before = (await kubectlOk(['get', 'ar', '-n', NS, '-o', 'name'])).split('\n').filter(Boolean).length;
    const report = await send({ ...ask, messages: [...ask.messages, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: call.id, content: 'sent to the auditors' }] });
    expect(report.status, report.body).toBe(200);
    expect(JSON.parse(report.body).choices[0].message.content).toMatch(/sent to the auditors/);
    expect((await kubectlOk(['get', 'ar', '-n', NS, '-o', 'name'])).split('\n').filter(Boolean).length).toBe(before);
  });

  it('the official openai and Anthropic SDKs raise an error naming the ApprovalRequest', async () => {
    const dispatcher = new ProxyAgent({ uri: sidecar.proxyUrl, requestTls: { ca: await import('node:fs/promises').then((f) => f.readFile(world.caCertFile, 'utf8')) } });
    const viaProxy = ((url: string, init: object) => undiciFetch(url, { ...init, dispatcher })) as unknown as typeof fetch;
    const openai = new OpenAI({ apiKey: 'sk-test', fetch: viaProxy, maxRetries: 0, defaultHeaders: { 'X-Chaperone-Agent': AGENT } });
    const err = (await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `${ASK} (sdk)` }], tools: [{ type: 'function', function: { name: 'send_email', parameters: { type: 'object' } } }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(428);
    expect(err.message).toMatch(new RegExp(`ApprovalRequest ${NS}/send-email-[0-9a-f]{8}-`));
    const anthropic = new Anthropic({ apiKey: 'sk-ant-test', fetch: viaProxy, maxRetries: 0, defaultHeaders: { 'X-Chaperone-Agent': AGENT } });
    const aerr = (await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 50, messages: [{ role: 'user', content: `${ASK} (sdk)` }], tools: [{ name: 'send_email', input_schema: { type: 'object' } }] }).catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(aerr).toBeInstanceOf(Anthropic.APIError);
    expect(aerr.status).toBe(428);
    expect(aerr.message).toMatch(/kubectl chaperone approve send-email-/);
    await dispatcher.close();
  });
});
