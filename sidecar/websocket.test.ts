// WebSockets through the real sidecar binary: upgrades every way in, OpenAI Realtime read and judged
// (tools, DLP, usage), other sockets relayed unread, and the closes of what cannot be read.
// Clients: the `ws` package, undici's WebSocket (through HTTPS_PROXY), and a raw socket for frames
// no well-behaved client would send. Upstream: the fake provider's Realtime server and echo.
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { ProxyAgent, WebSocket as UndiciWebSocket } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { curl } from '../e2e/harness/curl.js';
import { spawnSidecar, type LogLine, type SidecarProcess } from '../e2e/harness/sidecar-process.js';
import { createWorld, writePolicy, type World } from '../e2e/harness/world.js';
import { closePayload, encodeFrame, FrameReader, OPCODE, parseClose } from './websocket/frames.js';

const POLICY = `apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: sockets, namespace: agents, generation: 1}
spec:
  egress:
    defaultAction: allow
    rules:
      - {match: "denied.example.test", action: deny, reason: "no sockets to denied.example.test"}
  tools:
    agents:
      - {name: unknown, forbidden: [shell_exec, delete_database]}
  dlp: {mode: redact}
  approvals: {tools: [send_email]}
`;

let world: World;
let sidecar: SidecarProcess;
let ca: string;

beforeAll(async () => {
  world = await createWorld();
  ca = await readFile(world.caCertFile, 'utf8');
  sidecar = await spawnSidecar(['--policy', await writePolicy(world.dir, 'sockets', POLICY), '--ca-dir', world.caDir, ...world.upstreamFlags, '--resolve', `denied.example.test=127.0.0.1:${world.plain.port}`, '--transparent-port', '0']);
}, 60_000);

afterAll(async () => {
  await sidecar?.stop();
  await world?.close();
});

type Event = Record<string, unknown> & { type: string };

/** A `ws` client that keeps every event it receives, and how it closed. */
interface Session {
  ws: WebSocket;
  events: Event[];
  headers: Record<string, string | string[] | undefined>;
  waitFor(type: string, timeoutMs?: number): Promise<Event>;
  closed: Promise<{ code: number; reason: string }>;
  send(event: object): void;
}

function openSession(url: string, headers: Record<string, string> = {}): Promise<Session> {
  const ws = new WebSocket(url, { headers: { authorization: 'Bearer sk-test', ...headers } });
  const events: Event[] = [];
  const waiters: Array<{ type: string; resolve: (e: Event) => void }> = [];
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const event = JSON.parse(data.toString()) as Event;
    events.push(event);
    for (const w of waiters.filter((w) => w.type === event.type)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(event);
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  let headersSeen: Record<string, string | string[] | undefined> = {};
  ws.once('upgrade', (res) => (headersSeen = res.headers));
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () =>
      resolve({
        ws,
        events,
        headers: headersSeen,
        closed,
        send: (event) => ws.send(JSON.stringify(event)),
        waitFor: (type, timeoutMs = 5_000) => {
          const seen = events.find((e) => e.type === type);
          if (seen) return Promise.resolve(seen);
          return new Promise((res, rej) => {
            const timer = setTimeout(() => rej(new Error(`no ${type} event; got ${events.map((e) => e.type).join(', ')}`)), timeoutMs);
            waiters.push({ type, resolve: (e) => (clearTimeout(timer), res(e)) });
          });
        },
      }),
    );
  });
}

const wsBase = (): string => sidecar.proxyUrl.replace(/^http/, 'ws');
const realtimeUrl = (model = 'gpt-realtime'): string => `${wsBase()}/openai/v1/realtime?model=${model}`;
const userText = (text: string, id = 'evt_user') => ({ type: 'conversation.item.create', event_id: id, item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] } });
/** What the fake Realtime server received on its sockets (messages only). */
const receivedMessages = (): Array<Record<string, unknown>> =>
  [...world.tls.received, ...world.plain.received].filter((r) => r.method === 'WEBSOCKET' && r.json !== undefined).map((r) => r.json as Record<string, unknown>);
const auditOf = (match: (l: LogLine) => boolean): Promise<LogLine> => sidecar.waitForLine((l) => l.audit === true && match(l));
const metrics = async (): Promise<string> => (await fetch(`${sidecar.adminUrl}/metrics`)).text();

describe('OpenAI Realtime through the base route', () => {
  it('upgrades, answers with the X-Chaperone-* headers, passes credentials and strips the extension offer', async () => {
    const s = await openSession(realtimeUrl(), { 'openai-beta': 'realtime=v1' });
    expect(s.headers['x-chaperone-decision']).toBe('allow');
    expect(s.headers['x-chaperone-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    // ws offered permessage-deflate; where frames are read, it is never negotiated.
    expect(s.headers['sec-websocket-extensions']).toBeUndefined();
    const created = await s.waitFor('session.created');
    expect(created.session).toMatchObject({ model: 'gpt-realtime' });
    const upgrade = world.tls.received.filter((r) => r.path === '/v1/realtime?model=gpt-realtime').at(-1)!;
    expect(upgrade.headers).toMatchObject({ authorization: 'Bearer sk-test', 'openai-beta': 'realtime=v1', upgrade: 'websocket' });
    expect(upgrade.headers['sec-websocket-extensions']).toBeUndefined();
    s.ws.close(1000, 'done');
    expect(await s.closed).toMatchObject({ code: 1000 });
    const line = await auditOf((l) => l.requestId === s.headers['x-chaperone-request-id'] && l.status === 101);
    expect(line).toMatchObject({ provider: 'openai', operation: 'realtime', decision: 'allow', websocket: { messages: { fromClient: 0, fromServer: 1 }, closeCode: 1000 } });
  });

  it('refuses a session.update that offers a forbidden tool with an error event, and the session goes on', async () => {
    const s = await openSession(realtimeUrl());
    await s.waitFor('session.created');
    const tool = (name: string) => ({ type: 'function', name, description: `the ${name} tool`, parameters: { type: 'object', properties: {} } });
    s.send({ type: 'session.update', event_id: 'evt_tools', session: { instructions: 'be brief', tools: [tool('web_search'), tool('shell_exec')] } });
    const error = await s.waitFor('error');
    expect(error.error).toMatchObject({ type: 'invalid_request_error', code: 'forbidden', event_id: 'evt_tools', message: expect.stringMatching(/^chaperone: .*shell_exec/) });
    expect(receivedMessages().some((m) => m.event_id === 'evt_tools')).toBe(false);
    // Still open: an allowed update goes through.
    s.send({ type: 'session.update', event_id: 'evt_ok', session: { tools: [tool('web_search')] } });
    await s.waitFor('session.updated');
    expect(receivedMessages().some((m) => m.event_id === 'evt_ok')).toBe(true);
    const line = await auditOf((l) => l.websocket !== undefined && (l.websocket as { event?: string }).event === 'session.update' && l.decision === 'deny');
    expect(line).toMatchObject({ rules: ['tools'], status: 403, tools: ['web_search', 'shell_exec'] });
    s.ws.close();
    await s.closed;
  });

  it('never shows the client a forbidden function call the model proposes: error event, then close 1008', async () => {
    const s = await openSession(realtimeUrl());
    await s.waitFor('session.created');
    s.send(userText('please call delete_database now'));
    await s.waitFor('conversation.item.created');
    s.send({ type: 'response.create', event_id: 'evt_resp' });
    const error = await s.waitFor('error');
    expect(error.error).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/delete_database/) });
    expect(await s.closed).toMatchObject({ code: 1008 });
    // Not its item, not its arguments, not its name anywhere.
    expect(s.events.filter((e) => e.type.startsWith('response.function_call_arguments') || e.type === 'response.output_item.added')).toEqual([]);
    expect(JSON.stringify(s.events.filter((e) => e.type !== 'error'))).not.toMatch(/delete_database"/);
    const line = await auditOf((l) => Array.isArray(l.toolCalls) && (l.toolCalls as string[]).includes('delete_database') && l.method === 'WEBSOCKET');
    expect(line).toMatchObject({ decision: 'deny', rules: ['tools'], status: 403, websocket: { from: 'server', event: 'response.output_item.added' } });
  });

  it('refuses a proposed call that needs approval, with the reason (a socket cannot wait for a person)', async () => {
    const s = await openSession(realtimeUrl());
    await s.waitFor('session.created');
    s.send(userText('please call send_email to my boss'));
    s.send({ type: 'response.create' });
    const error = await s.waitFor('error');
    expect(error.error).toMatchObject({ code: 'approval_required', message: expect.stringMatching(/send_email needs a person's approval, and a WebSocket session cannot wait for one/) });
    expect(await s.closed).toMatchObject({ code: 1008 });
    expect(s.events.some((e) => e.type === 'response.output_item.added')).toBe(false);
    const line = await auditOf((l) => Array.isArray(l.toolCalls) && (l.toolCalls as string[]).includes('send_email') && l.method === 'WEBSOCKET');
    expect(line).toMatchObject({ decision: 'deny', rules: ['approval'], status: 403 });
  });

  it('relays an allowed function call whole, and judges and records it', async () => {
    const s = await openSession(realtimeUrl());
    await s.waitFor('session.created');
    s.send(userText('please call web_search for me'));
    s.send({ type: 'response.create' });
    const done = await s.waitFor('response.function_call_arguments.done');
    expect(done).toMatchObject({ name: 'web_search', arguments: '{"q":"fake argument"}' });
    await s.waitFor('response.done');
    const line = await auditOf((l) => Array.isArray(l.toolCalls) && (l.toolCalls as string[]).includes('web_search') && l.method === 'WEBSOCKET');
    expect(line).toMatchObject({ decision: 'allow', status: 101, websocket: { from: 'server' } });
    s.ws.close();
    await s.closed;
    const session = await auditOf((l) => l.requestId === s.headers['x-chaperone-request-id'] && l.status === 101);
    expect(session).toMatchObject({ toolCalls: ['web_search'], websocket: { toolCallsJudged: 1 } });
  });

  it('redacts a secret in conversation.item.create before the server sees it', async () => {
    const s = await openSession(realtimeUrl());
    await s.waitFor('session.created');
    s.send(userText('my card is 4111 1111 1111 1111, thanks', 'evt_card'));
    await s.waitFor('conversation.item.created');
    const sent = receivedMessages().find((m) => m.event_id === 'evt_card')!;
    expect(JSON.stringify(sent)).not.toMatch(/4111/);
    expect(JSON.stringify(sent)).toMatch(/\[REDACTED:credit_card\]/);
    const line = await auditOf((l) => (l.websocket as { event?: string } | undefined)?.event === 'conversation.item.create' && l.decision === 'redact');
    expect(line).toMatchObject({ rules: ['dlp'], dlp: { credit_card: 1 } });
    expect(JSON.stringify(sidecar.lines)).not.toMatch(/4111 1111/);
    s.ws.close();
    await s.closed;
  });

  it('counts the usage of each response in /metrics as it ends', async () => {
    const model = 'gpt-realtime-mini';
    const inputTokens = (text: string): number => Number(new RegExp(`chaperone_tokens_total\\{provider="openai",model="${model}",type="input"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    const before = inputTokens(await metrics());
    const s = await openSession(realtimeUrl(model));
    await s.waitFor('session.created');
    s.send(userText('hello'));
    s.send({ type: 'response.create' });
    expect(await s.waitFor('response.done')).toMatchObject({ response: { usage: { input_tokens: 11, output_tokens: 7 } } });
    await expect.poll(async () => inputTokens(await metrics())).toBe(before + 11);
    expect(await metrics()).toMatch(new RegExp(`chaperone_cost_usd_total\\{provider="openai",model="${model}",agent="unknown"\\} [0-9.e-]+`));
    s.ws.close();
    await s.closed;
    const line = await auditOf((l) => l.status === 101 && l.model === model);
    expect(line).toMatchObject({ tokens: { inputTokens: 11, outputTokens: 7 } });
  });

  it('closes with 1009 on a message over 8 MiB, which the server never gets', async () => {
    const s = await openSession(realtimeUrl());
    await s.waitFor('session.created');
    s.send({ type: 'conversation.item.create', event_id: 'evt_huge', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'x'.repeat(9 * 1024 * 1024) }] } });
    expect((await s.closed).code).toBe(1009);
    expect(receivedMessages().some((m) => m.event_id === 'evt_huge')).toBe(false);
    expect(await auditOf((l) => l.status === 101 && (l.websocket as { closeCode?: number } | undefined)?.closeCode === 1009)).toMatchObject({ error: expect.stringMatching(/8388608/) });
  });

  it('closes with 1009 on a server message over 8 MiB', async () => {
    const s = await openSession(realtimeUrl());
    await s.waitFor('session.created');
    s.send({ type: 'fake.huge', bytes: 9 * 1024 * 1024 });
    expect((await s.closed).code).toBe(1009);
    expect(s.events.some((e) => e.type === 'fake.huge')).toBe(false);
  });

  it('closes with 1002 when the server sends a frame with a reserved bit set', async () => {
    const s = await openSession(realtimeUrl());
    await s.waitFor('session.created');
    s.send({ type: 'fake.malformed_frame' });
    expect((await s.closed).code).toBe(1002);
  });

  it('closes with 1007 on a message that is not JSON, and 1003 on a binary one', async () => {
    const text = await openSession(realtimeUrl());
    text.ws.send('not json at all');
    expect((await text.closed).code).toBe(1007);
    const binary = await openSession(realtimeUrl());
    binary.ws.send(Buffer.from([1, 2, 3]));
    expect((await binary.closed).code).toBe(1003);
  });

  it('relays the upstream refusing the upgrade as an HTTP answer', async () => {
    const ws = new WebSocket(`${wsBase()}/openai/status/401/v1/realtime`);
    const res = await new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
      ws.once('unexpected-response', (_req, r) => resolve({ status: r.statusCode ?? 0, headers: r.headers }));
      ws.once('open', () => reject(new Error('opened')));
      ws.once('error', () => undefined);
    });
    expect(res.status).toBe(401);
    expect(res.headers['x-chaperone-decision']).toBe('allow');
  });
});

describe('every way in', () => {
  it('through HTTPS_PROXY (CONNECT, TLS intercepted), with undici WebSocket', async () => {
    const ws = new UndiciWebSocket('wss://api.openai.com/v1/realtime?model=gpt-realtime', {
      dispatcher: new ProxyAgent({ uri: sidecar.proxyUrl, requestTls: { ca } }),
      headers: { authorization: 'Bearer sk-proxy' },
    });
    const events: Event[] = [];
    const got = new Promise<Event>((resolve) =>
      ws.addEventListener('message', (m) => {
        const event = JSON.parse(String(m.data)) as Event;
        events.push(event);
        if (event.type === 'error') resolve(event);
      }),
    );
    await new Promise((resolve, reject) => {
      ws.addEventListener('open', resolve);
      ws.addEventListener('error', reject);
    });
    ws.send(JSON.stringify({ type: 'session.update', event_id: 'evt_via_proxy', session: { tool_choice: { type: 'function', name: 'shell_exec' } } }));
    expect((await got).error).toMatchObject({ code: 'forbidden', event_id: 'evt_via_proxy' });
    expect(events[0]).toMatchObject({ type: 'session.created' });
    const upgrade = world.tls.received.filter((r) => r.headers.authorization === 'Bearer sk-proxy').at(-1)!;
    expect(upgrade.headers['sec-websocket-extensions']).toBeUndefined();
    ws.close();
  });

  it('through the /proxy route', async () => {
    const s = await openSession(`${wsBase()}/proxy/wss/api.openai.com/v1/realtime?model=gpt-realtime`);
    await s.waitFor('session.created');
    s.send(userText('hello'));
    s.send({ type: 'response.create' });
    await s.waitFor('response.done');
    s.ws.close();
    await s.closed;
  });

  it('an absolute-URI upgrade (HTTP_PROXY) to a host that is not intercepted: bytes relayed unread', async () => {
    const socket = await rawUpgrade('GET ws://plain.example.test/echo HTTP/1.1', 'plain.example.test');
    expect(socket.head).toMatch(/^HTTP\/1\.1 101/);
    socket.write(encodeFrame(OPCODE.text, Buffer.from('hello echo'), { mask: true }));
    const frame = await socket.nextFrame();
    expect(frame).toMatchObject({ opcode: OPCODE.text });
    expect(frame.payload.toString()).toBe('hello echo');
    socket.destroy();
  });

  it('a socket to a host that is not intercepted keeps its extension (deflate) and echoes text and binary', async () => {
    const ws = new WebSocket(`${wsBase()}/proxy/ws/plain.example.test/echo`);
    const upgraded = new Promise<Record<string, unknown>>((resolve) => ws.once('upgrade', (res) => resolve(res.headers)));
    await new Promise((resolve) => ws.once('open', resolve));
    const headers = await upgraded;
    // Negotiated end to end: the sidecar did not read these frames, so it did not need to.
    expect(headers['sec-websocket-extensions']).toMatch(/permessage-deflate/);
    const echoes: Array<{ data: string; binary: boolean }> = [];
    const two = new Promise<void>((resolve) =>
      ws.on('message', (data, binary) => {
        echoes.push({ data: data.toString(), binary });
        if (echoes.length === 2) resolve();
      }),
    );
    ws.send('a secret 4111 1111 1111 1111 nobody reads here');
    ws.send(Buffer.from('bytes'));
    await two;
    expect(echoes).toEqual([
      { data: 'a secret 4111 1111 1111 1111 nobody reads here', binary: false },
      { data: 'bytes', binary: true },
    ]);
    ws.close();
    const line = await auditOf((l) => l.host === 'plain.example.test' && l.status === 101);
    expect(line).toMatchObject({ provider: 'unknown', operation: 'websocket', decision: 'allow', websocket: { bytes: { fromClient: expect.any(Number) } } });
    expect((line.websocket as { messages?: unknown }).messages).toBeUndefined();
  });

  it('denies by egress with 403 and no upgrade', async () => {
    const ws = new WebSocket(`${wsBase()}/proxy/ws/denied.example.test/echo`);
    const res = await new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve) => {
      ws.once('unexpected-response', (_req, r) => {
        let body = '';
        r.on('data', (c: Buffer) => (body += c.toString()));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, body }));
      });
      ws.once('error', () => undefined);
    });
    expect(res.status).toBe(403);
    expect(res.headers).toMatchObject({ 'x-chaperone-decision': 'deny', 'x-chaperone-rule': 'egress', 'x-chaperone-policy': 'agents/sockets' });
    expect(JSON.parse(res.body).error.message).toMatch(/no sockets to denied\.example\.test/);
    expect(world.plain.received.some((r) => r.path === '/echo' && r.headers.host === 'denied.example.test')).toBe(false);
    expect(await auditOf((l) => l.host === 'denied.example.test')).toMatchObject({ decision: 'deny', status: 403, operation: 'websocket' });
  });

  it('closes with 1002 a client frame with a reserved bit set, on an intercepted host', async () => {
    const socket = await rawUpgrade('GET /openai/v1/realtime?model=gpt-realtime HTTP/1.1', '127.0.0.1');
    expect(socket.head).toMatch(/^HTTP\/1\.1 101/);
    expect(JSON.parse((await socket.nextFrame()).payload.toString())).toMatchObject({ type: 'session.created' });
    const frame = encodeFrame(OPCODE.text, Buffer.from('{"type":"x"}'), { mask: true });
    frame[0] = frame[0]! | 0x40; // RSV1: "compressed", though nothing was negotiated
    socket.write(frame);
    const close = await socket.nextFrame();
    expect(close.opcode).toBe(OPCODE.close);
    expect(parseClose(close.payload).code).toBe(1002);
    socket.write(encodeFrame(OPCODE.close, closePayload(1002, ''), { mask: true }));
    socket.destroy();
  });
});

describe('other upgrades', () => {
  it('serves an upgrade to something else (curl --http2 asks for h2c) as plain HTTP/1.1, body and all', async () => {
    const r = await curl(['--http2', '-H', 'content-type: application/json', '-d', JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }), `${sidecar.proxyUrl}/openai/v1/chat/completions`]);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).choices[0].message.content).toBe('Echo: hi');
    const sent = world.tls.received.at(-1)!;
    expect(sent.headers.upgrade).toBeUndefined();
    expect(sent.headers['http2-settings']).toBeUndefined();
  });
});

describe('tunnels and transparent capture', () => {
  const echoThrough = async (socket: RawSocket): Promise<void> => {
    expect(socket.head).toMatch(/^HTTP\/1\.1 101/);
    socket.write(encodeFrame(OPCODE.text, Buffer.from('hello'), { mask: true }));
    expect((await socket.nextFrame()).payload.toString()).toBe('hello');
    socket.destroy();
  };

  it('plain HTTP inside a CONNECT tunnel', async () => {
    await echoThrough(await rawUpgrade('GET /echo HTTP/1.1', 'plain.example.test', await connectTunnel('plain.example.test:80')));
  });

  it('plain HTTP captured transparently, routed by its Host header', async () => {
    const socket = connect(Number(new URL(sidecar.transparent[0]!).port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    await echoThrough(await rawUpgrade('GET /echo HTTP/1.1', 'plain.example.test', socket));
  });

  it('TLS captured transparently for an intercepted host: terminated, then read as Realtime', async () => {
    const socket = tlsConnect({ port: Number(new URL(sidecar.transparent[0]!).port), host: '127.0.0.1', servername: 'api.openai.com', ca });
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    const raw = await rawUpgrade('GET /v1/realtime?model=gpt-realtime HTTP/1.1', 'api.openai.com', socket);
    expect(raw.head).toMatch(/^HTTP\/1\.1 101/);
    expect(JSON.parse((await raw.nextFrame()).payload.toString())).toMatchObject({ type: 'session.created' });
    raw.write(encodeFrame(OPCODE.text, Buffer.from('not json'), { mask: true }));
    const close = await raw.nextFrame();
    expect(parseClose(close.payload).code).toBe(1007);
    raw.destroy();
  });
});

describe('DLP that refuses', () => {
  let strict: SidecarProcess;
  beforeAll(async () => {
    const policy = POLICY.replace('name: sockets', 'name: strict').replace('dlp: {mode: redact}', 'dlp: {mode: enforce}');
    strict = await spawnSidecar(['--policy', await writePolicy(world.dir, 'strict', policy), ...world.upstreamFlags]);
  });
  afterAll(async () => {
    await strict?.stop();
  });

  it('refuses a conversation.item.create carrying a secret: an error event, nothing sent, the session open', async () => {
    const s = await openSession(`${strict.proxyUrl.replace(/^http/, 'ws')}/openai/v1/realtime?model=gpt-realtime`);
    await s.waitFor('session.created');
    s.send(userText('my card is 4111 1111 1111 1111', 'evt_strict_card'));
    const error = await s.waitFor('error');
    expect(error.error).toMatchObject({ code: 'forbidden', event_id: 'evt_strict_card', message: expect.stringMatching(/credit_card/) });
    expect(receivedMessages().some((m) => m.event_id === 'evt_strict_card')).toBe(false);
    s.send(userText('nothing secret', 'evt_fine'));
    await s.waitFor('conversation.item.created');
    s.ws.close();
    await s.closed;
  });
});

/** A raw client socket after its upgrade request: the answer head, then frames from the server. */
interface RawSocket extends Socket {
  head: string;
  nextFrame(): Promise<{ opcode: number; payload: Buffer }>;
}

/** A TCP connection to the proxy port. */
async function proxyConnection(): Promise<Socket> {
  const socket = connect(Number(new URL(sidecar.proxyUrl).port), '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  return socket;
}

/** A connection through a CONNECT tunnel (after its 200). */
async function connectTunnel(authority: string): Promise<Socket> {
  const socket = await proxyConnection();
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  let answer = '';
  await new Promise<void>((resolve) => {
    const onData = (chunk: Buffer): void => {
      answer += chunk.toString('latin1');
      if (!answer.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      resolve();
    };
    socket.on('data', onData);
  });
  expect(answer).toMatch(/^HTTP\/1\.1 200/);
  return socket;
}

/** Sends an upgrade request on `socket` (a new connection to the proxy port by default). */
async function rawUpgrade(requestLine: string, host: string, connection?: Socket): Promise<RawSocket> {
  const socket = (connection ?? (await proxyConnection())) as RawSocket;
  socket.write(`${requestLine}\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
  const reader = new FrameReader({ masked: false });
  const frames: Array<{ opcode: number; payload: Buffer }> = [];
  const waiters: Array<(f: { opcode: number; payload: Buffer }) => void> = [];
  let buffered = Buffer.alloc(0);
  let headDone: (head: string) => void;
  const head = new Promise<string>((resolve) => (headDone = resolve));
  let gotHead = false;
  socket.on('data', (chunk: Buffer) => {
    let bytes = chunk;
    if (!gotHead) {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      gotHead = true;
      headDone(buffered.subarray(0, end).toString());
      bytes = buffered.subarray(end + 4);
    }
    for (const f of reader.push(bytes)) {
      const w = waiters.shift();
      if (w) w(f);
      else frames.push(f);
    }
  });
  socket.head = await head;
  socket.nextFrame = () => {
    const f = frames.shift();
    return f ? Promise.resolve(f) : new Promise((resolve) => waiters.push(resolve));
  };
  return socket;
}
