// The data path end to end, with real clients: curl through HTTPS_PROXY with TLS interception,
// the official OpenAI and Anthropic SDKs, streams, tunnels, plain HTTP, and bad input.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { ProxyAgent, fetch as undiciFetch, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl } from '../e2e/harness/curl.js';
import { spawnSidecar, type SidecarProcess } from '../e2e/harness/sidecar-process.js';
import { createWorld, PASS_THROUGH_POLICY, writePolicy, type World } from '../e2e/harness/world.js';
import { EventStreamDecoder, headerString } from './providers/aws-eventstream.js';

let world: World;
let sidecar: SidecarProcess;
let ourCa: string;

const chatBody = (content: string, extra: object = {}) => JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...extra });

beforeAll(async () => {
  world = await createWorld();
  ourCa = await readFile(world.caCertFile, 'utf8');
  const policy = await writePolicy(world.dir, 'pass', PASS_THROUGH_POLICY);
  sidecar = await spawnSidecar(['--policy', policy, '--ca-dir', world.caDir, ...world.upstreamFlags, '--resolve', 'api.groq.com=127.0.0.1:1']);
});

afterAll(async () => {
  await sidecar?.stop();
  await world?.close();
});

const viaProxy = (url: string, ...args: string[]) => curl(['-x', sidecar.proxyUrl, '--cacert', world.caCertFile, url, ...args]);
const auditFor = (requestId: string | undefined) => sidecar.waitForLine((l) => l.audit === true && l.requestId === requestId, 5_000);

describe('TLS interception through HTTPS_PROXY (curl)', () => {
  it('answers an OpenAI chat completion, strips X-Chaperone-* headers, and audits without secrets', async () => {
    const r = await viaProxy(
      'https://api.openai.com/v1/chat/completions',
      '-H', 'content-type: application/json',
      '-H', 'authorization: Bearer sk-live-supersecret',
      '-H', 'x-chaperone-agent: researcher',
      '-H', 'x-chaperone-session: s-42',
      '-d', chatBody('hello there'),
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).choices[0].message.content).toBe('Echo: hello there');
    expect(r.headers['x-chaperone-decision']).toBe('allow');
    expect(r.headers['x-chaperone-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(r.headers['x-chaperone-latency-ms'])).toBeGreaterThan(0);

    const seen = world.tls.received.at(-1)!;
    expect(seen.path).toBe('/v1/chat/completions');
    expect(seen.headers.authorization).toBe('Bearer sk-live-supersecret');
    expect(Object.keys(seen.headers).filter((h) => h.startsWith('x-chaperone'))).toEqual([]);

    const audit = await auditFor(r.headers['x-chaperone-request-id']);
    expect(audit).toMatchObject({ agent: 'researcher', session: 's-42', provider: 'openai', operation: 'chat.completions', host: 'api.openai.com', model: 'gpt-4o-mini', decision: 'allow', status: 200 });
    expect(audit.tokens).toEqual({ inputTokens: 3, outputTokens: 5 });
    expect(JSON.stringify(sidecar.lines)).not.toContain('supersecret');
    expect(JSON.stringify(sidecar.lines)).not.toContain('hello there');
  });

  it('passes an Anthropic stream through as it comes, and reads its usage', async () => {
    const r = await viaProxy(
      'https://api.anthropic.com/v1/messages', '-N',
      '-H', 'content-type: application/json', '-H', 'x-api-key: sk-ant-secret', '-H', 'anthropic-version: 2023-06-01',
      '-d', JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'stream me' }] }),
    );
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/text\/event-stream/);
    const events = [...r.body.matchAll(/^event: (\S+)/gm)].map((m) => m[1]);
    expect(events[0]).toBe('message_start');
    expect(events.at(-1)).toBe('message_stop');
    expect(events).toContain('content_block_delta');
    const audit = await auditFor(r.headers['x-chaperone-request-id']);
    expect(audit).toMatchObject({ provider: 'anthropic', model: 'claude-sonnet-4-5', decision: 'allow' });
    expect((audit.tokens as { outputTokens: number }).outputTokens).toBeGreaterThan(0);
  });

  it('relays a Bedrock converse-stream in AWS event-stream framing, frame for frame', async () => {
    const body = JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'call tool lookup_order' }] }], toolConfig: { tools: [{ toolSpec: { name: 'lookup_order', inputSchema: { json: {} } } }] } });
    const res = await request('https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
      dispatcher: new ProxyAgent({ uri: sidecar.proxyUrl, requestTls: { ca: ourCa } }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/vnd.amazon.eventstream');
    const decoder = new EventStreamDecoder();
    const types: string[] = [];
    for await (const chunk of res.body) for (const m of decoder.push(chunk as Buffer)) types.push(headerString(m.headers, ':event-type') ?? '');
    expect(types).toContain('contentBlockStart');
    expect(types.at(-1)).toBe('metadata');
    const audit = await auditFor(String(res.headers['x-chaperone-request-id']));
    expect(audit).toMatchObject({ provider: 'bedrock', operation: 'converse-stream', toolCalls: ['lookup_order'] });
  });

  it('intercepts an MCP server named in spec.intercept.hosts and reads tools/call', async () => {
    const r = await viaProxy(
      'https://mcp.tools.example.com/mcp',
      '-H', 'content-type: application/json', '-H', 'accept: application/json, text/event-stream',
      '-d', JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'web_search', arguments: { q: 'kubernetes' } } }),
    );
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ jsonrpc: '2.0', id: 7 });
    const audit = await auditFor(r.headers['x-chaperone-request-id']);
    expect(audit).toMatchObject({ provider: 'mcp', operation: 'tools/call', host: 'mcp.tools.example.com' });
  });

  it('keeps the intercepted TLS connection alive across requests', async () => {
    const dispatcher = new ProxyAgent({ uri: sidecar.proxyUrl, requestTls: { ca: ourCa } });
    const before = world.tls.received.length;
    for (let i = 0; i < 3; i++) {
      const res = await request('https://api.openai.com/v1/chat/completions', { method: 'POST', body: chatBody(`n${i}`), headers: { 'content-type': 'application/json' }, dispatcher });
      expect(res.statusCode).toBe(200);
      await res.body.text();
    }
    expect(world.tls.received.length - before).toBe(3);
    const connects = sidecar.lines.filter((l) => l.msg === 'decision' && l.method === 'CONNECT').length;
    expect(connects).toBe(0); // intercepted CONNECTs are not tunnels
    await dispatcher.close();
  });

  it('delivers stream chunks as they arrive, not buffered whole', async () => {
    const res = await request('https://api.openai.com/v1/chat/completions', {
      method: 'POST',
      body: chatBody('a fairly long sentence so the fake streams it in several pieces', { stream: true, stream_options: { include_usage: true } }),
      headers: { 'content-type': 'application/json' },
      dispatcher: new ProxyAgent({ uri: sidecar.proxyUrl, requestTls: { ca: ourCa } }),
    });
    const arrivals: number[] = [];
    let text = '';
    for await (const chunk of res.body) {
      arrivals.push(Date.now());
      text += (chunk as Buffer).toString();
    }
    expect(text).toContain('data: [DONE]');
    expect(arrivals.length).toBeGreaterThanOrEqual(3);
    expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThanOrEqual(40); // frames 20 ms apart arrived apart
  });
});

describe('official SDKs', () => {
  it('openai: base-URL route, JSON and a streamed tool call', async () => {
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: `${sidecar.proxyUrl}/openai/v1`, defaultHeaders: { 'X-Chaperone-Agent': 'sdk-agent' } });
    const done = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi sdk' }] });
    expect(done.choices[0]!.message.content).toBe('Echo: hi sdk');
    expect(done.usage?.prompt_tokens).toBeGreaterThan(0);

    const stream = client.chat.completions.stream({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'please call tool web_search' }],
      tools: [{ type: 'function', function: { name: 'web_search', parameters: { type: 'object', properties: {} } } }],
      stream_options: { include_usage: true },
    });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]!.message.tool_calls?.[0]).toMatchObject({ function: { name: 'web_search' } });
    const audit = await sidecar.waitForLine((l) => l.audit === true && l.agent === 'sdk-agent' && Array.isArray(l.toolCalls));
    expect(audit).toMatchObject({ provider: 'openai', toolCalls: ['web_search'], tools: ['web_search'] });
  });

  it('openai: through HTTPS_PROXY with the interception CA trusted', async () => {
    const dispatcher = new ProxyAgent({ uri: sidecar.proxyUrl, requestTls: { ca: ourCa } });
    const client = new OpenAI({
      apiKey: 'sk-test',
      fetch: ((url: string, init: object) => undiciFetch(url, { ...init, dispatcher })) as unknown as typeof fetch,
    });
    const r = await client.responses.create({ model: 'gpt-4.1', input: 'responses via proxy' });
    expect(r.output_text).toBe('Echo: responses via proxy');
    expect(r.usage?.output_tokens).toBeGreaterThan(0);
    await dispatcher.close();
  });

  it('anthropic: base-URL route, JSON and a stream', async () => {
    const client = new Anthropic({ apiKey: 'sk-ant-test', baseURL: `${sidecar.proxyUrl}/anthropic` });
    const msg = await client.messages.create({ model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'hi claude' }] });
    expect(msg.content[0]).toMatchObject({ type: 'text', text: 'Echo: hi claude' });
    const final = await client.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'streamed claude' }] }).finalMessage();
    expect(final.content[0]).toMatchObject({ type: 'text', text: 'Echo: streamed claude' });
    expect(final.usage.output_tokens).toBeGreaterThan(0);
  });
});

describe('answer headers', () => {
  // What an upstream (or anything posing as one) could claim in Chaperone's name.
  const FORGED = {
    'x-chaperone-approval': 'forged-approval',
    'x-chaperone-rule': 'forged-rule',
    'x-chaperone-policy': 'forged-policy',
    'x-chaperone-cost-usd': '999.000000',
    'x-chaperone-decision': 'hold',
    'x-chaperone-request-id': 'forged-id',
    'x-chaperone-something-new': 'forged',
    'x-upstream-own': 'kept',
  };
  const forging = ['-H', `x-fake-answer-headers: ${JSON.stringify(FORGED)}`];

  it.each([
    ['a JSON answer (intercepted TLS)', () => viaProxy('https://api.openai.com/v1/chat/completions', ...forging, '-H', 'content-type: application/json', '-d', chatBody('forge json'))],
    ['a stream (intercepted TLS)', () => viaProxy('https://api.openai.com/v1/chat/completions', ...forging, '-N', '-H', 'content-type: application/json', '-d', chatBody('forge stream', { stream: true }))],
    ['an answer relayed as bytes (intercepted host, no adapter)', () => viaProxy('https://api.openai.com/v1/not-a-known-endpoint', ...forging)],
    ['a base-URL route answer', () => curl([...forging, '-H', 'content-type: application/json', '-d', chatBody('forge route'), `${sidecar.proxyUrl}/openai/v1/chat/completions`])],
    ['a plain pass-through answer (host not intercepted)', () => curl(['-x', sidecar.proxyUrl, ...forging, 'http://plain.example.test/v1/whatever'])],
  ])('drops the upstream\'s X-Chaperone-* headers from %s, keeping its others', async (_what, send) => {
    const r = await send();
    expect(r.stderr).toBe('');
    expect(r.headers['x-upstream-own']).toBe('kept'); // the fake did send them
    expect(r.headers['x-chaperone-approval']).toBeUndefined();
    expect(r.headers['x-chaperone-rule']).toBeUndefined();
    expect(r.headers['x-chaperone-policy']).toBeUndefined();
    expect(r.headers['x-chaperone-something-new']).toBeUndefined();
    expect(r.headers['x-chaperone-cost-usd']).not.toBe('999.000000');
    expect(r.headers['x-chaperone-decision']).toBe('allow');
    expect(r.headers['x-chaperone-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.stringify(r.headers)).not.toContain('forged');
  });
});

describe('hosts that are not intercepted', () => {
  it('tunnels TLS byte for byte: the client sees the real server certificate', async () => {
    // Trusting only the upstream's CA works; trusting only ours fails: nobody re-signed it.
    const ok = await curl(['-x', sidecar.proxyUrl, '--cacert', world.upstreamCaFile, '-H', 'content-type: application/json', '-d', chatBody('tunnelled'), 'https://tunnel.example.test/v1/chat/completions']);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).choices[0].message.content).toBe('Echo: tunnelled');
    const refused = await curl(['-x', sidecar.proxyUrl, '--cacert', world.caCertFile, 'https://tunnel.example.test/v1/chat/completions']);
    expect(refused.exitCode).not.toBe(0);
    const audit = await sidecar.waitForLine((l) => l.audit === true && l.operation === 'tunnel' && l.host === 'tunnel.example.test');
    expect(audit).toMatchObject({ method: 'CONNECT', decision: 'allow', status: 200 });
  });

  it('forwards plain HTTP for other hosts, streaming the body', async () => {
    const r = await curl(['-x', sidecar.proxyUrl, '-H', 'content-type: application/json', '-d', chatBody('plain'), 'http://plain.example.test/v1/chat/completions']);
    expect(r.status).toBe(200);
    expect(r.headers['x-chaperone-decision']).toBe('allow');
    const audit = await auditFor(r.headers['x-chaperone-request-id']);
    expect(audit).toMatchObject({ provider: 'unknown', host: 'plain.example.test' });
  });

  it('inspects plain-HTTP absolute-URI calls to an intercepted host', async () => {
    const r = await curl(['-x', sidecar.proxyUrl, '-H', 'content-type: application/json', '-d', chatBody('plain openai'), 'http://api.openai.com/v1/chat/completions']);
    expect(r.status).toBe(200);
    const audit = await auditFor(r.headers['x-chaperone-request-id']);
    expect(audit).toMatchObject({ provider: 'openai', operation: 'chat.completions' });
    expect(world.plain.received.at(-1)!.path).toBe('/v1/chat/completions');
  });
});

describe('bad input never crashes it', () => {
  it('answers malformed JSON with 400 in the OpenAI shape', async () => {
    const r = await curl(['-H', 'content-type: application/json', '-d', '{"model": "gpt-4o", "messages": [', `${sidecar.proxyUrl}/openai/v1/chat/completions`]);
    expect(r.status).toBe(400);
    const body = JSON.parse(r.body);
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toMatch(/malformed JSON/);
    expect(r.headers['x-chaperone-request-id']).toBeTruthy();
    expect(r.headers['x-chaperone-decision']).toBe('error');
    expect(await auditFor(r.headers['x-chaperone-request-id'])).toMatchObject({ decision: 'error', status: 400, provider: 'openai' });
  });

  it('answers malformed JSON with 400 in the Anthropic shape', async () => {
    const r = await curl(['-H', 'content-type: application/json', '-d', '{nope', `${sidecar.proxyUrl}/anthropic/v1/messages`]);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  });

  it.each([
    // V8 quotes the text around the error in these two ("..."api_key": sk-live-SE"...").
    ['/openai/v1/chat/completions', '{"api_key": sk-live-SECRET123}', 'unexpected character at byte 12'],
    ['/anthropic/v1/messages', 'sk-live-SECRET123', 'unexpected character at byte 0'],
    ['/openai/v1/responses', '{"api_key": "sk-live-SECRET123", ', 'unexpected end of the body at byte 33'],
    ['/openai/v1/chat/completions', '{"model": "gpt-4o", "api_key": "sk-live-SECRET123" "x": 1}', "expected ',' or '}' at byte 51"],
  ])('never quotes a malformed body (%s, %j): the 400 and the audit name only where it broke', async (route, body, where) => {
    const before = sidecar.lines.length;
    const r = await curl(['-H', 'content-type: application/json', '--data-binary', body, `${sidecar.proxyUrl}${route}`]);
    expect(r.status).toBe(400);
    const audit = await auditFor(r.headers['x-chaperone-request-id']);
    const said = [r.body, JSON.stringify(r.headers), JSON.stringify(sidecar.lines.slice(before)), sidecar.stderr()].join('\n');
    for (const fragment of ['sk-live', 'SECRET', 'api_key']) expect(said).not.toContain(fragment);
    expect(JSON.parse(r.body).error.message).toBe(`chaperone: malformed JSON body: ${where}`);
    expect(audit).toMatchObject({ decision: 'error', status: 400, error: `malformed JSON body: ${where}` });
  });

  it('names the field when the JSON does not fit the format', async () => {
    const r = await curl(['-H', 'content-type: application/json', '-d', '{"model":"gpt-4o","messages":"hi"}', `${sidecar.proxyUrl}/openai/v1/chat/completions`]);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).error.message).toMatch(/messages/);
  });

  it('answers 502 in the provider shape when the upstream is unreachable', async () => {
    const r = await viaProxy('https://api.groq.com/openai/v1/chat/completions', '-H', 'content-type: application/json', '-d', chatBody('x'));
    expect(r.status).toBe(502);
    expect(JSON.parse(r.body).error.message).toMatch(/unreachable/);
    expect(r.headers['x-chaperone-decision']).toBe('error');
  });

  it('answers malformed HTTP with 400 and an unknown route with 404', async () => {
    const raw = await new Promise<string>((resolve) => {
      const s = connect(Number(new URL(sidecar.proxyUrl).port), '127.0.0.1', () => s.write('THIS IS NOT HTTP\r\n\r\n'));
      let data = '';
      s.on('data', (d) => (data += d.toString()));
      s.on('close', () => resolve(data));
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400/);
    const r = await curl([`${sidecar.proxyUrl}/nowhere`]);
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body).error.message).toMatch(/HTTP\(S\)_PROXY/);
  });

  it('answers a CONNECT without a port or host with 400', async () => {
    const raw = await new Promise<string>((resolve) => {
      const s = connect(Number(new URL(sidecar.proxyUrl).port), '127.0.0.1', () => s.write('CONNECT not/a/host HTTP/1.1\r\nHost: x\r\n\r\n'));
      let data = '';
      s.on('data', (d) => (data += d.toString()));
      s.on('close', () => resolve(data));
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400/);
  });

  it('is still healthy after all of it', async () => {
    const res = await fetch(`${sidecar.adminUrl}/healthz`);
    expect(res.status).toBe(200);
    expect((await fetch(`${sidecar.adminUrl}/status`)).status).toBe(200); // no admin token configured: open as before
    expect(sidecar.proc.exitCode).toBeNull();
  });
});

describe('limits and timeouts', () => {
  let tight: SidecarProcess;
  let interceptionCa: string;
  beforeAll(async () => {
    interceptionCa = await readFile(world.caCertFile, 'utf8');
    const policy = await writePolicy(world.dir, 'tight', PASS_THROUGH_POLICY);
    tight = await spawnSidecar(['--policy', policy, '--ca-dir', world.caDir, ...world.upstreamFlags, '--max-body-bytes', '2048', '--upstream-timeout-ms', '700', '--client-timeout-ms', '1000']);
  });
  afterAll(async () => {
    await tight?.stop();
  });

  it('answers a body over the limit with 413 in the provider shape', async () => {
    const r = await curl(['-H', 'content-type: application/json', '-d', chatBody('x'.repeat(5000)), `${tight.proxyUrl}/anthropic/v1/messages`]);
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body)).toMatchObject({ type: 'error', error: { type: 'request_too_large' } });
  });

  it('answers 413 for a chunked body that grows past the limit', async () => {
    const r = await curl(['-H', 'content-type: application/json', '-H', 'transfer-encoding: chunked', '-d', chatBody('y'.repeat(5000)), `${tight.proxyUrl}/openai/v1/chat/completions`]);
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).error.message).toMatch(/2048-byte limit/);
  });

  it('times out a dead upstream with 504', async () => {
    const started = Date.now();
    const r = await curl(['-x', tight.proxyUrl, '--cacert', world.caCertFile, 'https://api.openai.com/hang']);
    expect(r.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('times out a client that never finishes its request', async () => {
    const started = Date.now();
    const raw = await new Promise<string>((resolve) => {
      const s = connect(Number(new URL(tight.proxyUrl).port), '127.0.0.1', () => s.write('POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"partial":'));
      let data = '';
      s.on('data', (d) => (data += d.toString()));
      s.on('close', () => resolve(data));
    });
    expect(raw).toMatch(/^HTTP\/1\.1 408/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  /** Opens a connection to the tight sidecar, lets `after` act on it, and resolves with how long it stayed open. */
  const lifetime = (after: (s: Socket) => void, connectTo = 'api.openai.com:443'): Promise<number> =>
    new Promise((resolve) => {
      const started = Date.now();
      const s = connect(Number(new URL(tight.proxyUrl).port), '127.0.0.1', () => {
        if (!connectTo) return after(s);
        s.write(`CONNECT ${connectTo} HTTP/1.1\r\nHost: ${connectTo}\r\n\r\n`);
        let head = '';
        const onData = (d: Buffer): void => {
          head += d.toString('latin1');
          if (!head.includes('\r\n\r\n')) return;
          s.off('data', onData);
          after(s);
        };
        s.on('data', onData);
      });
      s.on('error', () => undefined);
      s.on('close', () => resolve(Date.now() - started));
    });
  const overTls = (s: Socket, then: (t: TLSSocket) => void): void => {
    const t = tlsConnect({ socket: s, servername: 'api.openai.com', ca: interceptionCa }, () => then(t));
    t.on('error', () => undefined);
    t.resume(); // read what comes (a 408), so the close is seen
  };

  it.each([
    ['the proxy port, never a byte', (_s: Socket) => undefined, ''],
    ['a CONNECT to an intercepted host, silent after its 200', (_s: Socket) => undefined, 'api.openai.com:443'],
    ['half a ClientHello', (s: Socket) => void s.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])), 'api.openai.com:443'],
    ['TLS done, then no request', (s: Socket) => overTls(s, () => undefined), 'api.openai.com:443'],
    ['TLS done, then half a request', (s: Socket) => overTls(s, (t) => void t.write('POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 100\r\n\r\n{"a":')), 'api.openai.com:443'],
  ])('closes a silent connection: %s', async (_name, after, connectTo) => {
    const open = await lifetime(after, connectTo);
    expect(open).toBeGreaterThanOrEqual(900);
    expect(open).toBeLessThan(4_000);
  });

  it('keeps a connection whose request waits on its upstream longer than the client timeout', async () => {
    const patient = await spawnSidecar(['--policy', await writePolicy(world.dir, 'patient', PASS_THROUGH_POLICY), '--ca-dir', world.caDir, ...world.upstreamFlags, '--client-timeout-ms', '500']);
    world.tls.setDelay(1_500);
    try {
      const r = await curl(['-x', patient.proxyUrl, '--cacert', world.caCertFile, '-H', 'content-type: application/json', '-d', chatBody('wait for me'), 'https://api.openai.com/v1/chat/completions']);
      expect(r.status, r.stderr).toBe(200);
      expect(JSON.parse(r.body).choices[0].message.content).toMatch(/wait for me/);
    } finally {
      world.tls.setDelay(0);
      await patient.stop();
    }
  });
});
