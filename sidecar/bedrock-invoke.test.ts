// Bedrock InvokeModel and InvokeModelWithResponseStream end to end: the official Anthropic Bedrock
// SDK (SigV4 with fake credentials) through the real sidecar binary as HTTPS_PROXY, to the fake
// Bedrock runtime. A forbidden tool the model proposes is withheld, whole or streamed; DLP reads the
// model-specific body; usage is counted.
import AnthropicBedrock from '@anthropic-ai/bedrock-sdk';
import { readFile } from 'node:fs/promises';
import { ProxyAgent, fetch as undiciFetch, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokens } from '../e2e/fake-provider/model.js';
import { spawnSidecar, type SidecarProcess } from '../e2e/harness/sidecar-process.js';
import { createWorld, writePolicy, type World } from '../e2e/harness/world.js';
import { EventStreamDecoder, headerString } from './providers/aws-eventstream.js';

const HOST = 'bedrock-runtime.us-east-1.amazonaws.com';
const CLAUDE = 'anthropic.claude-3-5-sonnet-20241022-v2:0';
/** A card number that passes the Luhn check: DLP's credit_card detector finds it. */
const CARD = '4111 1111 1111 1111';

const policy = (name: string, dlpMode: string) => `apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: ${name}, namespace: agents, generation: 1}
spec:
  mode: enforce
  tools:
    agents:
      - {name: researcher, forbidden: [delete_database]}
  dlp: {mode: ${dlpMode}, sensitivity: medium}
`;

let world: World;
let sidecar: SidecarProcess;
let strict: SidecarProcess;
let ourCa: string;

beforeAll(async () => {
  world = await createWorld({ streamGapMs: 5 });
  ourCa = await readFile(world.caCertFile, 'utf8');
  const flags = ['--ca-dir', world.caDir, ...world.upstreamFlags];
  [sidecar, strict] = await Promise.all([
    spawnSidecar(['--policy', await writePolicy(world.dir, 'redact', policy('redact', 'redact')), ...flags]),
    spawnSidecar(['--policy', await writePolicy(world.dir, 'enforce', policy('enforce', 'enforce')), ...flags]),
  ]);
});
afterAll(async () => {
  await Promise.all([sidecar?.stop(), strict?.stop()]);
  await world?.close();
});

/** The SDK as an agent would configure it: default Bedrock base URL, the sidecar as its HTTPS proxy. */
function client(via: SidecarProcess = sidecar): AnthropicBedrock {
  const dispatcher = new ProxyAgent({ uri: via.proxyUrl, requestTls: { ca: ourCa } });
  return new AnthropicBedrock({
    awsAccessKey: 'AKIAFAKEFAKEFAKEFAKE',
    awsSecretKey: 'fake/secret/key',
    awsRegion: 'us-east-1',
    maxRetries: 0,
    defaultHeaders: { 'X-Chaperone-Agent': 'researcher' },
    fetch: ((url: string, init: object) => undiciFetch(url, { ...init, dispatcher })) as unknown as typeof fetch,
  });
}

const tools = [
  { name: 'web_search', description: 'Search the web', input_schema: { type: 'object' as const, properties: { q: { type: 'string' } } } },
  { name: 'delete_database', description: 'Drops everything', input_schema: { type: 'object' as const, properties: { q: { type: 'string' } } } },
];
const ask = (content: string) => ({ model: CLAUDE, max_tokens: 200, tools, messages: [{ role: 'user' as const, content }] });
const auditWhere = (via: SidecarProcess, match: (l: Record<string, unknown>) => boolean) => via.waitForLine((l) => l.audit === true && match(l), 5_000);
const received = () => world.tls.received.filter((r) => r.path.startsWith('/model/')).length;

describe('InvokeModel through the sidecar', () => {
  it('answers an allowed call, and counts its usage (audit and the tokens metric)', async () => {
    const r = await client().messages.create(ask('What is the capital of France?'));
    expect(r.content).toEqual([{ type: 'text', text: 'Echo: What is the capital of France?' }]);
    const audit = await auditWhere(sidecar, (l) => l.operation === 'invoke' && l.decision === 'allow');
    const input = tokens('What is the capital of France?'.length);
    const output = tokens('Echo: What is the capital of France?'.length);
    expect(audit).toMatchObject({ provider: 'bedrock', host: HOST, status: 200, tokens: { inputTokens: input, outputTokens: output } });
    const metrics = await (await fetch(`${sidecar.adminUrl}/metrics`)).text();
    const model = String(audit.model).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(metrics).toMatch(new RegExp(`chaperone_tokens_total\\{provider="bedrock",model="${model}",type="input"\\} ${input}\\b`));
    expect(metrics).toMatch(new RegExp(`chaperone_tokens_total\\{provider="bedrock",model="${model}",type="output"\\} ${output}\\b`));
  });

  it('withholds an answer proposing a forbidden tool: a 403 in Bedrock\'s shape, which the SDK raises', async () => {
    const before = received();
    const err = await client().messages.create(ask('please call tool delete_database now')).catch((e: unknown) => e);
    expect(received()).toBe(before + 1); // the model was asked...
    expect(err).toBeInstanceOf(AnthropicBedrock.PermissionDeniedError); // ...its proposal never reached the agent
    expect((err as Error).message).toMatch(/delete_database/);
    const e = err as InstanceType<typeof AnthropicBedrock.PermissionDeniedError>;
    expect(e.headers?.get('x-amzn-errortype')).toBe('AccessDeniedException');
    expect(e.error).toEqual({ message: expect.stringMatching(/^chaperone: .*delete_database/) });
    const audit = await auditWhere(sidecar, (l) => l.operation === 'invoke' && l.decision === 'deny');
    expect(audit).toMatchObject({ provider: 'bedrock', rules: ['tools'], toolCalls: ['delete_database'] });
  });

  it('cuts a streamed answer before the frame that names a forbidden tool; the SDK raises', async () => {
    const stream = client().messages.stream(ask('please call tool delete_database now'));
    const seen: string[] = [];
    stream.on('streamEvent', (e) => seen.push(e.type));
    await expect(stream.finalMessage()).rejects.toThrow(/delete_database/);
    expect(seen).toContain('message_start'); // the stream did flow...
    expect(seen).not.toContain('content_block_start'); // ...up to the tool's frame, not into it
    const audit = await auditWhere(sidecar, (l) => l.operation === 'invoke-with-response-stream' && l.decision === 'deny');
    expect(audit).toMatchObject({ provider: 'bedrock', rules: ['tools'], toolCalls: ['delete_database'] });
  });

  it('on the wire: chunks up to the tool call, then a validationException (no tool_use bytes)', async () => {
    const res = await request(`https://${HOST}/model/${encodeURIComponent(CLAUDE)}/invoke-with-response-stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-chaperone-agent': 'researcher' },
      body: JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 50, tools, messages: [{ role: 'user', content: 'please call tool delete_database now' }] }),
      dispatcher: new ProxyAgent({ uri: sidecar.proxyUrl, requestTls: { ca: ourCa } }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/vnd.amazon.eventstream');
    const decoder = new EventStreamDecoder();
    const messages = [];
    for await (const c of res.body) messages.push(...decoder.push(c as Buffer));
    const events = messages.map((m) =>
      headerString(m.headers, ':message-type') === 'exception'
        ? `exception:${headerString(m.headers, ':exception-type')}`
        : (JSON.parse(Buffer.from((JSON.parse(m.payload.toString()) as { bytes: string }).bytes, 'base64').toString()) as { type: string }).type,
    );
    expect(events).toEqual(['message_start', 'exception:validationException']);
    expect(JSON.parse(messages.at(-1)!.payload.toString())).toEqual({ message: expect.stringMatching(/^chaperone: .*delete_database/) });
  });

  it('counts a streamed answer\'s usage (Bedrock\'s invocation metrics)', async () => {
    const final = await client().messages.stream(ask('stream me a reply')).finalMessage();
    expect(final.content).toEqual([{ type: 'text', text: 'Echo: stream me a reply' }]);
    const audit = await auditWhere(sidecar, (l) => l.operation === 'invoke-with-response-stream' && l.decision === 'allow');
    expect(audit.tokens).toEqual({ inputTokens: tokens('stream me a reply'.length), outputTokens: tokens('Echo: stream me a reply'.length) });
  });

  it('DLP redacts a secret in the InvokeModel prompt before it leaves', async () => {
    const r = await client().messages.create(ask(`charge card ${CARD} please`));
    const sent = world.tls.received.at(-1)!;
    expect(sent.path).toMatch(/\/invoke$/);
    expect(sent.body).not.toContain(CARD);
    expect((sent.json as { messages: Array<{ content: string }> }).messages[0]!.content).toBe('charge card [REDACTED:credit_card] please');
    expect(r.content).toEqual([{ type: 'text', text: 'Echo: charge card [REDACTED:credit_card] please' }]);
    const audit = await auditWhere(sidecar, (l) => l.operation === 'invoke' && (l.dlp as Record<string, number> | undefined)?.credit_card === 1);
    expect(audit.decision).toBe('redact');
  });

  it('DLP under enforce denies it (403, the SDK raises) and the model is never asked', async () => {
    const before = received();
    const err = await client(strict).messages.create(ask(`charge card ${CARD} please`)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AnthropicBedrock.PermissionDeniedError);
    expect((err as Error).message).toMatch(/credit_card/);
    expect((err as Error).message).not.toContain(CARD);
    expect(received()).toBe(before);
  });
});
