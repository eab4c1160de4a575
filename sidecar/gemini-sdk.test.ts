// The Gemini adapter end to end: the official @google/genai SDK, pointed at the sidecar's /gemini base
// route, through the real sidecar binary (dist/) to a fake generativelanguage.googleapis.com with
// real TLS. Usage reaches the metrics; a forbidden function call the model proposes never reaches
// the SDK, whole or streamed (the SDK raises); DLP redacts or denies per policy; a malformed body
// gets 400 in Google's error shape.
import { ApiError, GoogleGenAI } from '@google/genai';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki } from '../e2e/fake-provider/certs.js';
import { tokens } from '../e2e/fake-provider/model.js';
import { startFakeProvider, type FakeProvider } from '../e2e/fake-provider/server.js';
import { spawnSidecar, type SidecarProcess } from '../e2e/harness/sidecar-process.js';
import { createWorld, writePolicy, type World } from '../e2e/harness/world.js';

const HOST = 'generativelanguage.googleapis.com';
const MODEL = 'gemini-2.5-flash';

let world: World;
/** The fake Gemini API, with a certificate for its real host name. */
let google: FakeProvider;
/** DLP redact; delete_database forbidden (and stripped from the tools a request offers). */
let sidecar: SidecarProcess;
/** DLP enforce. */
let strict: SidecarProcess;

const policy = (name: string, dlpMode: string) => `apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: ${name}, namespace: agents, generation: 1}
spec:
  mode: enforce
  tools:
    agents:
      - {name: gemini-agent, forbidden: [delete_database]}
    stripForbidden: true
  dlp: {mode: ${dlpMode}}
`;

beforeAll(async () => {
  world = await createWorld();
  const pki = await makeTestPki([HOST]);
  google = await startFakeProvider({ tls: { cert: pki.cert, key: pki.key }, streamGapMs: 20 });
  const caFile = join(world.dir, 'google-ca.crt');
  await writeFile(caFile, pki.caCert);
  const flags = ['--ca-dir', world.caDir, '--upstream-ca', caFile, '--resolve', `${HOST}=127.0.0.1:${google.port}`];
  [sidecar, strict] = await Promise.all([
    spawnSidecar(['--policy', await writePolicy(world.dir, 'gemini', policy('gemini', 'redact')), ...flags]),
    spawnSidecar(['--policy', await writePolicy(world.dir, 'gemini-strict', policy('strict', 'enforce')), ...flags]),
  ]);
});
afterAll(async () => {
  await Promise.all([sidecar?.stop(), strict?.stop()]);
  await google?.close();
  await world?.close();
});

/** The SDK as an agent would set it up, its base URL the sidecar's /gemini route. */
const client = (through: SidecarProcess = sidecar) =>
  new GoogleGenAI({ apiKey: 'gemini-test-key', httpOptions: { baseUrl: `${through.proxyUrl}/gemini`, headers: { 'X-Chaperone-Agent': 'gemini-agent' } } });
const weather = [{ functionDeclarations: [{ name: 'get_weather', description: 'the weather in a city', parametersJsonSchema: { type: 'object', properties: { q: { type: 'string' } } } }] }];
const metrics = async () => (await fetch(`${sidecar.adminUrl}/metrics`)).text();
const auditOf = (through: SidecarProcess, match: (l: Record<string, unknown>) => boolean) => through.waitForLine((l) => l.audit === true && match(l));

describe('@google/genai through the sidecar', () => {
  it('passes a plain generateContent, its usage counted in the metrics', async () => {
    const ask = 'What is the capital of France?';
    const r = await client().models.generateContent({ model: MODEL, contents: ask });
    expect(r.text).toBe(`Echo: ${ask}`);
    const rec = google.received.at(-1)!;
    expect(rec.path).toBe(`/v1beta/models/${MODEL}:generateContent`);
    expect(rec.headers.host).toBe(HOST);
    expect(rec.headers['x-goog-api-key']).toBe('gemini-test-key');
    const input = tokens(ask.length);
    const output = tokens(`Echo: ${ask}`.length);
    const audit = await auditOf(sidecar, (l) => l.operation === 'generateContent');
    expect(audit).toMatchObject({ provider: 'gemini', model: MODEL, decision: 'allow', status: 200, tokens: { inputTokens: input, outputTokens: output } });
    const text = await metrics();
    expect(text).toMatch(new RegExp(`chaperone_tokens_total\\{provider="gemini",model="[^"]*",type="input"\\} ${input}\\b`));
    expect(text).toMatch(new RegExp(`chaperone_tokens_total\\{provider="gemini",model="[^"]*",type="output"\\} ${output}\\b`));
  });

  it('streams an allowed answer (alt=sse) and counts its final usage', async () => {
    const ask = 'Tell me a story about a streaming cat';
    let text = '';
    for await (const c of await client().models.generateContentStream({ model: MODEL, contents: ask })) text += c.text ?? '';
    expect(text).toBe(`Echo: ${ask}`);
    expect(google.received.at(-1)!.path).toBe(`/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`);
    const audit = await auditOf(sidecar, (l) => l.operation === 'streamGenerateContent' && l.status === 200);
    expect(audit).toMatchObject({ provider: 'gemini', decision: 'allow', tokens: { inputTokens: tokens(ask.length), outputTokens: tokens(`Echo: ${ask}`.length) } });
  });

  it('lets an allowed function call through', async () => {
    const r = await client().models.generateContent({ model: MODEL, contents: 'please call tool get_weather for Paris', config: { tools: weather } });
    expect(r.functionCalls).toEqual([{ name: 'get_weather', args: { q: 'please call tool get_weather for Paris' } }]);
  });

  it('withholds an answer proposing a forbidden function: the SDK raises a 403', async () => {
    const before = google.received.length;
    const err = await client().models.generateContent({ model: MODEL, contents: 'please call tool delete_database now', config: { tools: weather } }).catch((e: unknown) => e);
    expect(google.received.length).toBe(before + 1); // the model was asked, its answer withheld
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(403);
    const body = JSON.parse((err as ApiError).message) as { error: { code: number; status: string; message: string } };
    expect(body.error).toMatchObject({ code: 403, status: 'PERMISSION_DENIED', message: expect.stringMatching(/delete_database/) });
  });

  it('cuts a streamed answer proposing a forbidden function: the SDK raises a 403 mid-stream', async () => {
    const seen: unknown[] = [];
    const stream = await client().models.generateContentStream({ model: MODEL, contents: 'please call tool delete_database now', config: { tools: weather } });
    const err = await (async () => {
      for await (const c of stream) seen.push(...(c.functionCalls ?? []));
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(403);
    expect((err as ApiError).message).toMatch(/PERMISSION_DENIED.*delete_database/);
    expect(seen).toEqual([]); // the call never reached the agent
    const audit = await auditOf(sidecar, (l) => l.operation === 'streamGenerateContent' && l.decision === 'deny');
    expect(audit).toMatchObject({ provider: 'gemini', rules: expect.arrayContaining(['tools']) });
  });

  it('denies a request forcing a forbidden function, or reporting on a call to one, before it leaves', async () => {
    const before = google.received.length;
    const offered = [{ functionDeclarations: [{ name: 'get_weather' }, { name: 'delete_database' }] }];
    const forced = { model: MODEL, contents: 'hi', config: { tools: offered, toolConfig: { functionCallingConfig: { mode: 'ANY' as never, allowedFunctionNames: ['delete_database'] } } } };
    const reported = {
      model: MODEL,
      contents: [
        { role: 'user', parts: [{ text: 'clean up' }] },
        { role: 'model', parts: [{ functionCall: { name: 'delete_database', args: { name: 'prod' } } }] },
        { role: 'user', parts: [{ functionResponse: { name: 'delete_database', response: { output: 'done' } } }] },
      ],
    };
    for (const ask of [forced, reported]) {
      const err = await client().models.generateContent(ask).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).status).toBe(403);
      expect((err as ApiError).message).toMatch(/delete_database/);
    }
    expect(google.received.length).toBe(before);
  });

  it('strips a forbidden function the request offers (stripForbidden) and forwards the rest', async () => {
    const tools = [{ functionDeclarations: [{ name: 'get_weather' }, { name: 'delete_database' }] }, { functionDeclarations: [{ name: 'delete_database' }] }];
    const r = await client().models.generateContent({ model: MODEL, contents: 'hello tools', config: { tools, toolConfig: { functionCallingConfig: { mode: 'ANY' as never, allowedFunctionNames: ['get_weather', 'delete_database'] } } } });
    expect(r.text).toBe('Echo: hello tools');
    const sent = google.received.at(-1)!.json as Record<string, unknown>;
    expect(sent.tools).toEqual([{ functionDeclarations: [{ name: 'get_weather' }] }]);
    expect(sent.toolConfig).toEqual({ functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] } });
    const audit = await auditOf(sidecar, (l) => Array.isArray(l.toolsRemoved));
    expect(audit).toMatchObject({ provider: 'gemini', decision: 'redact', toolsRemoved: ['delete_database'] });
  });

  it('redacts a card number in a prompt (redact policy)', async () => {
    const r = await client().models.generateContent({ model: MODEL, contents: 'my card is 4111 1111 1111 1111, thanks', config: { systemInstruction: 'mail jane.doe@example.com' } });
    const sent = google.received.at(-1)!.body;
    expect(sent).not.toMatch(/4111|jane\.doe/);
    expect(sent).toMatch(/\[REDACTED:credit_card\]/);
    expect(sent).toMatch(/\[REDACTED:email\]/);
    expect(r.text).toBe('Echo: my card is [REDACTED:credit_card], thanks'); // what the model saw
    const audit = await auditOf(sidecar, (l) => l.decision === 'redact' && l.dlp !== undefined);
    expect(audit).toMatchObject({ provider: 'gemini', dlp: { credit_card: 1, email: 1 } });
    expect(JSON.stringify(sidecar.lines)).not.toMatch(/4111 1111|jane\.doe/);
  });

  it('denies a card number in a prompt (enforce policy), naming the detector, not the value', async () => {
    const before = google.received.length;
    const err = await client(strict).models.generateContent({ model: MODEL, contents: 'my card is 4111 1111 1111 1111' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(403);
    expect((err as ApiError).message).toMatch(/PERMISSION_DENIED/);
    expect((err as ApiError).message).toMatch(/credit_card/);
    expect((err as ApiError).message).not.toMatch(/4111/);
    expect(google.received.length).toBe(before);
  });

  it("answers a malformed body with 400 in Google's shape, which the SDK raises", async () => {
    const before = google.received.length;
    const r = await fetch(`${sidecar.proxyUrl}/gemini/v1beta/models/${MODEL}:generateContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: { text: 'not a list' } }] }),
    });
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({ error: { code: 400, status: 'INVALID_ARGUMENT', message: expect.stringMatching(/contents\[0\]\.parts: must be an array/) } });
    // The SDK checks its own arguments: the bad field goes as extra body.
    const err = await client()
      .models.generateContent({ model: MODEL, contents: 'hi', config: { httpOptions: { extraBody: { tool_config: { function_calling_config: { mode: 'ANY' } } }, headers: { 'X-Chaperone-Agent': 'gemini-agent' } }, toolConfig: { functionCallingConfig: { mode: 'AUTO' as never } } } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    expect((err as ApiError).message).toMatch(/toolConfig: given twice.*INVALID_ARGUMENT/);
    expect(google.received.length).toBe(before);
  });
});
