// Budgets through the running sidecar (dist/) with the official SDKs: calls in parallel reserve their
// worst-case cost, so they cannot all pass a cap only one fits; and no stream is free, whether or not
// the agent asked for its usage.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSidecar, type SidecarProcess } from '../e2e/harness/sidecar-process.js';
import { createWorld, writePolicy, type World } from '../e2e/harness/world.js';

let world: World;
let sidecar: SidecarProcess;

// budget-model: $1,000 per million tokens, $0.001 a token. A call asking for 400 output tokens
// reserves about $0.40; it really spends a few tens of tokens (the fake answers briefly).
const CAP_USD = 0.5;
const POLICY = `apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: budget, namespace: agents, generation: 1}
spec:
  mode: enforce
  budget:
    maxCostPerAgentPerDayUSD: ${CAP_USD}
    pricing: [{model: "budget-model*", inputPerMTokUSD: 1000, outputPerMTokUSD: 1000}]
`;

beforeAll(async () => {
  // Streams take a while (100 ms between frames), so the parallel calls are all in flight together.
  world = await createWorld({ streamGapMs: 100 });
  sidecar = await spawnSidecar(['--policy', await writePolicy(world.dir, 'budget', POLICY), '--ca-dir', world.caDir, ...world.upstreamFlags]);
});
afterAll(async () => {
  await sidecar?.stop();
  await world?.close();
});

const openai = (agent: string) => new OpenAI({ apiKey: 'sk-test', baseURL: `${sidecar.proxyUrl}/openai/v1`, defaultHeaders: { 'X-Chaperone-Agent': agent }, maxRetries: 0 });
const anthropic = (agent: string) => new Anthropic({ apiKey: 'sk-ant-test', baseURL: `${sidecar.proxyUrl}/anthropic`, defaultHeaders: { 'X-Chaperone-Agent': agent }, maxRetries: 0 });

/** The agent's settled spend today, from the admin status page. */
async function spentToday(agent: string): Promise<number> {
  const status = (await (await fetch(`${sidecar.adminUrl}/status`)).json()) as { spend?: { agents: Array<{ policy: string; agent: string; spentUsd: number }> } };
  return status.spend?.agents.find((a) => a.policy === 'agents/budget' && a.agent === agent)?.spentUsd ?? 0;
}

const auditOf = (requestId: string | null) => sidecar.waitForLine((l) => l.audit === true && l.requestId === requestId);

/** What the fake upstream received for the chat completion whose messages carry this text. */
function upstreamBodyWith(text: string): Record<string, unknown> {
  const rec = world.tls.received.find((r) => r.path.endsWith('/chat/completions') && r.body.includes(text));
  expect(rec, `upstream received "${text}"`).toBeDefined();
  return rec!.json as Record<string, unknown>;
}

describe('budget reservations', () => {
  it('20 parallel calls of ~$0.40 against a $0.50 daily cap: spend stays within the cap, the rest get 403 in the provider shape', async () => {
    const client = openai('parallel');
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, async (_, i) => {
        const stream = await client.chat.completions.create({ model: 'budget-model-1', max_tokens: 400, stream: true, messages: [{ role: 'user', content: `parallel call ${i}` }] });
        let text = '';
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
        return text;
      }),
    );
    const passed = results.filter((r) => r.status === 'fulfilled');
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(passed.length).toBeGreaterThanOrEqual(1);
    expect(refused.length).toBeGreaterThanOrEqual(15);
    for (const err of refused) {
      expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
      expect((err as InstanceType<typeof OpenAI.PermissionDeniedError>).status).toBe(403);
      expect((err as Error).message).toMatch(/agent parallel spent \$\d+\.\d+ of \$0\.50 today/);
    }
    // Every admitted call has settled (its audit line is out) before the total is read.
    await expect.poll(() => sidecar.audits().filter((l) => l.agent === 'parallel' && l.status === 200).length, { timeout: 10_000 }).toBe(passed.length);
    const spent = await spentToday('parallel');
    expect(spent).toBeGreaterThan(0);
    // One call's estimate error: its input was estimated at ~4 characters a token; allow 20 tokens.
    expect(spent).toBeLessThanOrEqual(CAP_USD + 0.02);
    const audits = sidecar.audits().filter((l) => l.agent === 'parallel');
    expect(audits.filter((l) => l.decision === 'deny' && l.status === 403)).toHaveLength(refused.length);
    const charged = audits.filter((l) => l.status === 200).reduce((sum, l) => sum + Number(l.costUsd ?? 0), 0);
    expect(charged).toBeCloseTo(spent, 6);
  });
});

describe('no stream is free', () => {
  it('a streamed OpenAI chat without include_usage is charged; the agent sees no usage chunk', async () => {
    const { data: stream, response } = await openai('streamer')
      .chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'stream without usage please' }] })
      .withResponse();
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.some((c) => c.choices.length === 0)).toBe(false);
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).not.toBe('');
    // The sidecar asked the upstream for the usage.
    expect(upstreamBodyWith('stream without usage please').stream_options).toEqual({ include_usage: true });
    const audit = await auditOf(response.headers.get('x-chaperone-request-id'));
    expect(audit).toMatchObject({ provider: 'openai', decision: 'allow', status: 200, tokens: { inputTokens: expect.any(Number), outputTokens: expect.any(Number) } });
    expect(Number(audit.costUsd)).toBeGreaterThan(0);
    expect(await (await fetch(`${sidecar.adminUrl}/metrics`)).text()).toMatch(/chaperone_cost_usd_total\{provider="openai",model="gpt-4o-mini",agent="streamer"\} [0-9.e-]*[1-9]/);
  });

  it('with include_usage the agent gets its usage chunk as before', async () => {
    const { data: stream, response } = await openai('asker')
      .chat.completions.create({ model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream with usage please' }] })
      .withResponse();
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number) });
    expect(upstreamBodyWith('stream with usage please').stream_options).toEqual({ include_usage: true });
    const audit = await auditOf(response.headers.get('x-chaperone-request-id'));
    expect(audit.tokens).toEqual({ inputTokens: last.usage!.prompt_tokens, outputTokens: last.usage!.completion_tokens });
    expect(Number(audit.costUsd)).toBeGreaterThan(0);
  });

  it('the raw stream of a call without include_usage has no usage-only chunk and still ends with [DONE]', async () => {
    const res = await fetch(`${sidecar.proxyUrl}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-chaperone-agent': 'raw' },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'raw stream' }] }),
    });
    const body = await res.text();
    expect(res.status).toBe(200);
    expect(body).toMatch(/data: \[DONE\]\n\n$/);
    expect(body).not.toMatch(/"choices":\[\]/);
    expect(body).not.toMatch(/"prompt_tokens"/);
  });

  it('a streamed legacy completion without include_usage is counted too; the agent sees no usage chunk', async () => {
    const { data: stream, response } = await openai('completer')
      .completions.create({ model: 'gpt-3.5-turbo-instruct', stream: true, prompt: 'legacy stream without usage' })
      .withResponse();
    const chunks: OpenAI.Completions.Completion[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.some((c) => c.choices.length === 0 || c.usage)).toBe(false);
    const rec = world.tls.received.find((r) => r.path.endsWith('/v1/completions') && r.body.includes('legacy stream without usage'));
    expect((rec?.json as Record<string, unknown>).stream_options).toEqual({ include_usage: true });
    const audit = await auditOf(response.headers.get('x-chaperone-request-id'));
    expect(audit).toMatchObject({ provider: 'openai', operation: 'completions', status: 200, tokens: { inputTokens: expect.any(Number), outputTokens: expect.any(Number) } });
    expect((audit.tokens as { outputTokens: number }).outputTokens).toBeGreaterThan(0);
  });

  it('an Anthropic stream is charged', async () => {
    const { data: stream, response } = await anthropic('claude-streamer')
      .messages.create({ model: 'claude-haiku-4-5', max_tokens: 200, stream: true, messages: [{ role: 'user', content: 'stream me a few words' }] })
      .withResponse();
    let text = '';
    for await (const event of stream) if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
    expect(text).not.toBe('');
    const audit = await auditOf(response.headers.get('x-chaperone-request-id'));
    expect(audit).toMatchObject({ provider: 'anthropic', status: 200, tokens: { inputTokens: expect.any(Number), outputTokens: expect.any(Number) } });
    expect((audit.tokens as { outputTokens: number }).outputTokens).toBeGreaterThan(0);
    expect(Number(audit.costUsd)).toBeGreaterThan(0);
  });

  it('a stream the client cuts short, before any usage, is charged an estimate of what it streamed', async () => {
    const abort = new AbortController();
    const res = await fetch(`${sidecar.proxyUrl}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-chaperone-agent': 'quitter' },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'a fairly long sentence so the fake streams it in several pieces, slowly' }] }),
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toMatch(/^data: /);
    abort.abort();
    await reader.closed.catch(() => undefined);
    const audit = await auditOf(res.headers.get('x-chaperone-request-id'));
    expect(audit).toMatchObject({ provider: 'openai', tokens: { inputTokens: expect.any(Number), outputTokens: expect.any(Number) } });
    expect((audit.tokens as { inputTokens: number }).inputTokens).toBeGreaterThan(0);
    expect(Number(audit.costUsd)).toBeGreaterThan(0);
  });

  it('a look-alike that is not asked for usage (Mistral refuses the field) is charged an estimate of its stream', async () => {
    const res = await fetch(`${sidecar.proxyUrl}/proxy/https/api.mistral.ai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-chaperone-agent': 'lookalike' },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'a look-alike stream, no usage in it' }] }),
    });
    const body = await res.text();
    expect(res.status).toBe(200);
    expect(body).toMatch(/data: \[DONE\]/);
    expect(upstreamBodyWith('a look-alike stream, no usage in it')).not.toHaveProperty('stream_options');
    const audit = await auditOf(res.headers.get('x-chaperone-request-id'));
    const tokens = audit.tokens as { inputTokens: number; outputTokens: number };
    expect(tokens.inputTokens).toBe(Math.ceil('a look-alike stream, no usage in it'.length / 4));
    expect(tokens.outputTokens).toBeGreaterThan(0);
    expect(Number(audit.costUsd)).toBeGreaterThan(0);
  });
});
