// OpenAI's other endpoints (legacy completions, embeddings, speech, the Assistants API...) through the
// running sidecar with the official `openai` SDK: named operations in the audit, tokens counted, DLP
// redacting what leaves, forbidden tools stripped from an assistant and its proposals refused.
// What the upstream received is read off the fake provider.
import OpenAI from 'openai';
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSidecar, type LogLine, type SidecarProcess } from '../e2e/harness/sidecar-process.js';
import { createWorld, writePolicy, type World } from '../e2e/harness/world.js';
import { tokens } from '../e2e/fake-provider/model.js';

let world: World;
let sidecar: SidecarProcess;
let client: OpenAI;

const POLICY = `apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: endpoints, namespace: agents, generation: 1}
spec:
  mode: enforce
  tools:
    defaultAction: allow
    agents:
      - {name: researcher, forbidden: [shell_exec]}
    stripForbidden: true
  dlp: {mode: redact, sensitivity: medium}
`;

/** Secrets DLP finds at medium sensitivity. */
const API_KEY = 'sk-proj-' + 'Ab3dEf6hIj9lMn2pQr5tUv8xYz1BcD4fGh7jKl0nOp3rSt6vWx9z';
const CARD = '4111 1111 1111 1111';

beforeAll(async () => {
  world = await createWorld({ streamGapMs: 2 });
  const policy = await writePolicy(world.dir, 'endpoints', POLICY);
  sidecar = await spawnSidecar(['--policy', policy, '--ca-dir', world.caDir, ...world.upstreamFlags]);
  client = new OpenAI({ apiKey: 'sk-test', baseURL: `${sidecar.proxyUrl}/openai/v1`, defaultHeaders: { 'X-Chaperone-Agent': 'researcher' }, maxRetries: 0 });
});
afterAll(async () => {
  await sidecar?.stop();
  await world?.close();
});

const metrics = async () => (await fetch(`${sidecar.adminUrl}/metrics`)).text();
const tokenMetric = (text: string, model: string, type: 'input' | 'output') =>
  Number(new RegExp(`chaperone_tokens_total\\{provider="openai",model="${model.replace(/[.]/g, '\\.')}",type="${type}"\\} (\\d+)`).exec(text)?.[1] ?? NaN);
/** The audit line of the call that answered with these headers. */
const auditOf = (headers: Headers | Record<string, string | null | undefined> | undefined): Promise<LogLine> => {
  const id = headers instanceof Headers ? headers.get('x-chaperone-request-id') : headers?.['x-chaperone-request-id'];
  expect(id).toBeTruthy();
  return sidecar.waitForLine((l) => l.audit === true && l.requestId === id);
};
/** What the upstream (the TLS fake, as api.openai.com) answers a GET, asked directly, not through the sidecar. */
async function upstreamJson(path: string): Promise<unknown> {
  const dispatcher = new Agent({ connect: { ca: await readFile(world.upstreamCaFile, 'utf8'), servername: 'api.openai.com' } });
  try {
    const r = await request(`${world.tls.url}${path}`, { dispatcher, headers: { host: 'api.openai.com' } });
    return await r.body.json();
  } finally {
    await dispatcher.close();
  }
}
/** The last request the upstream received on a path ending so. */
const sentTo = (suffix: string) => [...world.tls.received].reverse().find((r) => r.path.split('?')[0]!.endsWith(suffix))!;

describe('legacy completions and embeddings: named, and their tokens counted', () => {
  it('completions (JSON): text, the audit names the operation, tokens in the metric', async () => {
    const prompt = 'Say this is a test';
    const { data, response } = await client.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt, max_tokens: 16 }).withResponse();
    expect(data.choices[0]!.text).toBe(`Echo: ${prompt}`);
    const audit = await auditOf(response.headers);
    expect(audit).toMatchObject({ provider: 'openai', operation: 'completions', model: 'gpt-3.5-turbo-instruct', decision: 'allow', tokens: { inputTokens: tokens(prompt.length), outputTokens: tokens(`Echo: ${prompt}`.length) } });
    const m = await metrics();
    expect(tokenMetric(m, 'gpt-3.5-turbo-instruct', 'input')).toBe(tokens(prompt.length));
    expect(tokenMetric(m, 'gpt-3.5-turbo-instruct', 'output')).toBe(tokens(`Echo: ${prompt}`.length));
  });

  it('completions (stream with include_usage): the SDK reads the deltas, the final usage is counted', async () => {
    const prompt = 'Stream me something';
    const { data: stream, response } = await client.completions.create({ model: 'davinci-002', prompt, stream: true, stream_options: { include_usage: true } }).withResponse();
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    expect(text).toBe(`Echo: ${prompt}`);
    const audit = await auditOf(response.headers);
    expect(audit).toMatchObject({ operation: 'completions', model: 'davinci-002', tokens: { inputTokens: tokens(prompt.length), outputTokens: tokens(text.length) } });
    expect(tokenMetric(await metrics(), 'davinci-002', 'output')).toBe(tokens(text.length));
  });

  it('embeddings: input tokens counted, no output tokens', async () => {
    const { data, response } = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['hello world', 'bonjour'] }).withResponse();
    expect(data.data).toHaveLength(2);
    expect(data.data[0]!.embedding).toHaveLength(8); // base64 floats, decoded by the SDK: relayed untouched
    const input = tokens('hello world'.length) + tokens('bonjour'.length);
    expect(await auditOf(response.headers)).toMatchObject({ operation: 'embeddings', model: 'text-embedding-3-small', tokens: { inputTokens: input, outputTokens: 0 } });
    const m = await metrics();
    expect(tokenMetric(m, 'text-embedding-3-small', 'input')).toBe(input);
    expect(tokenMetric(m, 'text-embedding-3-small', 'output')).toBe(0);
  });
});

describe('DLP on what leaves', () => {
  it('redacts a key in an embeddings input before the upstream sees it', async () => {
    const { response } = await client.embeddings.create({ model: 'text-embedding-3-large', input: `index this: ${API_KEY}` }).withResponse();
    expect(response.headers.get('x-chaperone-decision')).toBe('redact');
    expect(sentTo('/v1/embeddings').json).toMatchObject({ input: 'index this: [REDACTED:api_key]' });
    expect(await auditOf(response.headers)).toMatchObject({ operation: 'embeddings', decision: 'redact', dlp: { api_key: 1 } });
  });

  it('redacts a card number in the text to speak (audio.speech) before the upstream sees it', async () => {
    const speech = await client.audio.speech.create({ model: 'gpt-4o-mini-tts', voice: 'alloy', input: `Your card is ${CARD}.` });
    expect(sentTo('/v1/audio/speech').json).toMatchObject({ input: 'Your card is [REDACTED:credit_card].' });
    expect(speech.headers.get('x-chaperone-decision')).toBe('redact');
    const audit = await auditOf(speech.headers);
    expect(audit).toMatchObject({ operation: 'audio.speech', dlp: { credit_card: 1 } });
  });

  // Where answers are checked (any dlp or tools policy), a 2xx answer is read as JSON whatever its
  // content type; speech is the exception its adapter names (binaryAnswer): audio bytes, relayed.
  it('relays the audio bytes of a speech answer, where answers are checked', async () => {
    const speech = await client.audio.speech.create({ model: 'gpt-4o-mini-tts', voice: 'alloy', input: 'Hello there.' });
    expect(speech.headers.get('content-type')).toBe('audio/mpeg');
    expect([...Buffer.from(await speech.arrayBuffer()).subarray(0, 2)]).toEqual([0xff, 0xfb]);
  });

  it('redacts a thread message and a tool output; the fake model answers what it was sent', async () => {
    const thread = await client.beta.threads.create({ messages: [{ role: 'user', content: 'hello' }] });
    const { data: message, response } = await client.beta.threads.messages.create(thread.id, { role: 'user', content: [{ type: 'text', text: `my card is ${CARD}` }] }).withResponse();
    expect(sentTo(`/threads/${thread.id}/messages`).json).toMatchObject({ content: [{ type: 'text', text: 'my card is [REDACTED:credit_card]' }] });
    expect(message.content[0]).toMatchObject({ text: { value: 'my card is [REDACTED:credit_card]' } });
    expect(await auditOf(response.headers)).toMatchObject({ operation: 'threads.messages', decision: 'redact' });

    // A run proposing an allowed tool; its output carries a key, redacted on the way back to the model.
    await client.beta.threads.messages.create(thread.id, { role: 'user', content: 'please call tool get_weather' });
    const run = await client.beta.threads.runs.createAndPoll(thread.id, { assistant_id: 'asst_any' });
    expect(run.status).toBe('requires_action');
    const call = run.required_action!.submit_tool_outputs.tool_calls[0]!;
    expect(call.function.name).toBe('get_weather');
    const { data: done, response: submitted } = await client.beta.threads.runs.submitToolOutputs(run.id, { thread_id: thread.id, tool_outputs: [{ tool_call_id: call.id, output: `sunny; key ${API_KEY}` }] }).withResponse();
    expect(done.status).toBe('completed');
    expect(sentTo('/submit_tool_outputs').json).toMatchObject({ tool_outputs: [{ output: 'sunny; key [REDACTED:api_key]' }] });
    expect(await auditOf(submitted.headers)).toMatchObject({ operation: 'threads.runs.submit_tool_outputs', decision: 'redact', model: 'gpt-4o', tokens: { outputTokens: tokens('Echo: sunny; key [REDACTED:api_key]'.length) } });
  });
});

describe('tools in the Assistants API', () => {
  const fn = (name: string) => ({ type: 'function' as const, function: { name, parameters: { type: 'object', properties: {} } } });

  it("strips a forbidden tool from an assistant's tool list (stripForbidden)", async () => {
    const { data: assistant, response } = await client.beta.assistants.create({ model: 'gpt-4o', instructions: 'Help.', tools: [fn('get_weather'), fn('shell_exec')] }).withResponse();
    expect(sentTo('/v1/assistants').json).toMatchObject({ tools: [fn('get_weather')] });
    expect(assistant.tools.map((t) => (t.type === 'function' ? t.function.name : t.type))).toEqual(['get_weather']);
    expect(await auditOf(response.headers)).toMatchObject({ operation: 'assistants', tools: ['get_weather', 'shell_exec'], toolsRemoved: ['shell_exec'], decision: 'redact' });
  });

  it('refuses a run that forces a forbidden tool (tool_choice): the SDK raises', async () => {
    const before = world.tls.received.length;
    const err = await client.beta.threads
      .createAndRun({ assistant_id: 'asst_any', thread: { messages: [{ role: 'user', content: 'go' }] }, tool_choice: { type: 'function', function: { name: 'shell_exec' } } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((err as Error).message).toMatch(/tool shell_exec is forbidden for agent researcher/);
    expect(world.tls.received.length).toBe(before);
  });

  it('refuses a run whose required_action proposes a forbidden tool, created or polled: the SDK raises', async () => {
    const thread = await client.beta.threads.create({ messages: [{ role: 'user', content: 'please call tool shell_exec' }] });
    const err = await client.beta.threads.runs.create(thread.id, { assistant_id: 'asst_any' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((err as Error).message).toMatch(/the model called tool shell_exec/);
    expect(await auditOf((err as InstanceType<typeof OpenAI.APIError>).headers as unknown as Headers)).toMatchObject({ operation: 'threads.runs', toolCalls: ['shell_exec'], decision: 'deny', rules: ['tools'] });
    // The run exists upstream; listing or polling it (bodiless GETs, read by the same adapter) is refused too.
    const listed = await client.beta.threads.runs.list(thread.id).catch((e: unknown) => e);
    expect(listed).toBeInstanceOf(OpenAI.PermissionDeniedError);
    const runId = ((await upstreamJson(`/v1/threads/${thread.id}/runs`)) as { data: Array<{ id: string; status: string }> }).data[0]!;
    expect(runId.status).toBe('requires_action');
    const polled = await client.beta.threads.runs.retrieve(runId.id, { thread_id: thread.id }).catch((e: unknown) => e);
    expect(polled).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(await auditOf((polled as InstanceType<typeof OpenAI.APIError>).headers as unknown as Headers)).toMatchObject({ provider: 'openai', method: 'GET', toolCalls: ['shell_exec'], decision: 'deny' });
  });

  it('cuts a run stream before the forbidden call reaches the agent: the AssistantStream raises', async () => {
    const stream = client.beta.threads.createAndRunStream({ assistant_id: 'asst_any', thread: { messages: [{ role: 'user', content: 'please call tool shell_exec' }] } });
    const seen: string[] = [];
    stream.on('event', (e) => seen.push(e.event));
    await expect(stream.finalRun()).rejects.toThrow(/the model called tool shell_exec/);
    expect(seen).toContain('thread.run.step.created');
    expect(seen).not.toContain('thread.run.step.delta'); // the delta naming the call never left
    expect(seen).not.toContain('thread.run.requires_action');
    const audit = await sidecar.waitForLine((l) => l.audit === true && l.operation === 'threads.runs' && l.decision === 'deny' && l.method === 'POST' && (l.path as string) === '/v1/threads/runs');
    expect(audit.toolCalls).toContain('shell_exec');
  });

  it('lets a streamed run with allowed tools through, text and usage read', async () => {
    const stream = client.beta.threads.createAndRunStream({ assistant_id: 'asst_any', model: 'gpt-4o-mini', thread: { messages: [{ role: 'user', content: 'What is 2+2?' }] } });
    const run = await stream.finalRun();
    expect(run.status).toBe('completed');
    expect((await stream.finalMessages())[0]!.content[0]).toMatchObject({ text: { value: 'Echo: What is 2+2?' } });
    const audit = await sidecar.waitForLine((l) => l.audit === true && l.operation === 'threads.runs' && l.model === 'gpt-4o-mini');
    expect(audit).toMatchObject({ decision: 'allow', tokens: { inputTokens: run.usage!.prompt_tokens, outputTokens: run.usage!.completion_tokens } });
  });
});

describe('the other named operations', () => {
  it('batches, realtime client secrets and moderations are named in the audit', async () => {
    const { response: b } = await client.batches.create({ input_file_id: 'file-abc', endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { run: 'nightly' } }).withResponse();
    expect(await auditOf(b.headers)).toMatchObject({ operation: 'batches', decision: 'allow' });
    const { data: secret, response: s } = await client.realtime.clientSecrets.create({ session: { type: 'realtime', model: 'gpt-realtime', instructions: 'Be brief.', tools: [{ type: 'function', name: 'shell_exec' }, { type: 'function', name: 'hang_up' }] } }).withResponse();
    expect(secret.value).toMatch(/^ek_fake/);
    expect(sentTo('/realtime/client_secrets').json).toMatchObject({ session: { tools: [{ type: 'function', name: 'hang_up' }] } });
    expect(await auditOf(s.headers)).toMatchObject({ operation: 'realtime.client_secrets', model: 'gpt-realtime', toolsRemoved: ['shell_exec'] });
    const { response: m } = await client.moderations.create({ model: 'omni-moderation-latest', input: `mail me at jane.doe@example.com` }).withResponse();
    expect(sentTo('/v1/moderations').json).toMatchObject({ input: 'mail me at [REDACTED:email]' });
    expect(await auditOf(m.headers)).toMatchObject({ operation: 'moderations', decision: 'redact' });
    expect(JSON.stringify(sidecar.lines)).not.toMatch(/4111 1111|jane\.doe|Ab3dEf6hIj9l/);
  });

  it("answers a malformed body in OpenAI's error shape, which the SDK raises", async () => {
    const err = await client.embeddings.create({ model: 'text-embedding-3-small', input: { not: 'allowed' } as never }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request', message: expect.stringMatching(/input: must be an array/) });
  });
});
