// A hostile upstream's answers, through the running sidecar: where answers are checked, what the
// checks cannot read (JSON a lenient parser would still take, a repeated key, an SSE frame that is
// not JSON, broken AWS event-stream framing) never reaches the agent, and a last SSE event sent
// without its blank line is judged like any other.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl } from '../e2e/harness/curl.js';
import { spawnSidecar, type SidecarProcess } from '../e2e/harness/sidecar-process.js';
import { createWorld, writePolicy, type World } from '../e2e/harness/world.js';
import { encodeMessage } from './providers/aws-eventstream.js';

const POLICY = `apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: hostile, namespace: agents, generation: 1}
spec:
  tools:
    agents:
      - {name: unknown, forbidden: [delete_database]}
`;

const FORBIDDEN_CALL = '{"id":"call_1","type":"function","function":{"name":"delete_database","arguments":"{}"}}';
const chatAnswer = (extra: string) =>
  `{"id":"c1","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,"tool_calls":[${FORBIDDEN_CALL}]}}]${extra}}`;
const sseChunk = (toolName: string, index = 0) =>
  `{"id":"c1","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":${index},"id":"call_${index}","type":"function","function":{"name":"${toolName}","arguments":""}}]}}]}`;
const converseEvent = (type: string, payload: string) => encodeMessage({ ':message-type': 'event', ':event-type': type, ':content-type': 'application/json' }, payload);

/** What the hostile upstream answers, by path. */
const ANSWERS: Record<string, { type: string; body: Buffer }> = {
  '/nan/v1/chat/completions': { type: 'application/json', body: Buffer.from(chatAnswer(',"temperature":NaN')) },
  '/repeat/v1/chat/completions': { type: 'application/json', body: Buffer.from(chatAnswer(`,"choices":[{"index":0,"message":{"role":"assistant","content":"fine"}}]`)) },
  '/sse-nan/v1/chat/completions': { type: 'text/event-stream', body: Buffer.from(`data: ${sseChunk('web_search').replace('}]}', '}],"x":NaN}')}\n\ndata: [DONE]\n\n`) },
  '/sse-unended/v1/chat/completions': { type: 'text/event-stream', body: Buffer.from(`data: ${sseChunk('web_search')}\n\ndata: ${sseChunk('delete_database', 1)}`) },
  '/sse-renamed/v1/chat/completions': { type: 'text/event-stream', body: Buffer.from(`data: ${sseChunk('web_search')}\n\ndata: ${sseChunk('delete_database')}\n\ndata: [DONE]\n\n`) },
  '/model/anthropic.claude-3/converse-stream': {
    type: 'application/vnd.amazon.eventstream',
    body: (() => {
      const good = converseEvent('messageStart', '{"role":"assistant"}');
      const bad = converseEvent('contentBlockStart', '{"contentBlockIndex":0,"start":{"toolUse":{"toolUseId":"t1","name":"delete_database"}}}');
      bad[bad.length - 1]! ^= 0xff; // its message CRC
      return Buffer.concat([good, bad]);
    })(),
  },
};

let world: World;
let hostile: Server;
let sidecar: SidecarProcess;

beforeAll(async () => {
  world = await createWorld();
  hostile = createServer((req, res) => {
    const path = (req.url ?? '').replace(/^http:\/\/[^/]+/, '');
    const answer = ANSWERS[path];
    req.resume();
    if (!answer) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': answer.type, 'x-chaperone-decision': 'allow' }).end(answer.body);
  });
  await new Promise<void>((ok) => hostile.listen(0, '127.0.0.1', ok));
  const port = (hostile.address() as AddressInfo).port;
  sidecar = await spawnSidecar([
    '--policy',
    await writePolicy(world.dir, 'hostile', POLICY),
    '--resolve',
    `api.openai.com:80=127.0.0.1:${port}`,
    '--resolve',
    `bedrock-runtime.us-east-1.amazonaws.com:80=127.0.0.1:${port}`,
  ]);
});
afterAll(async () => {
  await sidecar?.stop();
  await new Promise((ok) => hostile?.close(ok));
  await world?.close();
});

const ask = (url: string, stream = false) =>
  curl(['-x', sidecar.proxyUrl, '-H', 'content-type: application/json', '-d', JSON.stringify({ model: 'gpt-4o', stream, messages: [{ role: 'user', content: 'hi' }] }), url]);

describe('a whole JSON answer the checks cannot read is not relayed', () => {
  it.each([
    ['JSON with NaN (Python reads it, JSON.parse does not)', '/nan', /cannot be checked: it is not JSON/],
    ['a repeated key with another value', '/repeat', /cannot be checked: it repeats the key "choices"/],
  ])('%s', async (_name, prefix, message) => {
    const r = await ask(`http://api.openai.com${prefix}/v1/chat/completions`);
    expect(r.status, r.body).toBe(502);
    expect(JSON.parse(r.body).error).toMatchObject({ code: 'upstream_unavailable', message: expect.stringMatching(message) });
    expect(r.body).not.toMatch(/delete_database/);
    expect(r.headers['x-chaperone-decision']).toBe('error');
  });
});

describe('a stream the checks cannot read is cut, not relayed', () => {
  it('an SSE frame whose data is not JSON', async () => {
    const r = await ask('http://api.openai.com/sse-nan/v1/chat/completions', true);
    expect(r.body).not.toMatch(/NaN/);
    expect(r.body).toMatch(/cannot be checked: its data is not JSON/);
  });

  it('a last event sent without its blank line is judged like the others', async () => {
    const r = await ask('http://api.openai.com/sse-unended/v1/chat/completions', true);
    expect(r.body).toMatch(/"name":"web_search"/);
    expect(r.body).not.toMatch(/"name":"delete_database"/);
    expect(r.body).toMatch(/delete_database.*forbidden|forbidden.*delete_database/);
  });

  it('a tool call renamed by a second name for the same index is judged by that name too', async () => {
    const r = await ask('http://api.openai.com/sse-renamed/v1/chat/completions', true);
    expect(r.body).toMatch(/"name":"web_search"/);
    expect(r.body).not.toMatch(/"name":"delete_database"/);
    expect(r.body).toMatch(/delete_database.*forbidden|forbidden.*delete_database/);
  });

  it('an AWS event-stream message with a broken CRC ends the stream with an exception', async () => {
    const r = await curl(['-x', sidecar.proxyUrl, '-H', 'content-type: application/json', '-d', '{"messages":[{"role":"user","content":[{"text":"hi"}]}]}', 'http://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3/converse-stream']);
    expect(r.status).toBe(200);
    expect(r.body).not.toMatch(/delete_database/);
    expect(r.body).toMatch(/event-stream framing is broken \(message CRC mismatch\)/);
  });
});
