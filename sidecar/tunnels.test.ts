// No blind tunnels: what a client sends first decides where a tunnel's bytes may go. Real curl as
// the client; CONNECT (proxy-env mode) and the transparent listener reached directly (its iptables
// side is proven in capture/ and in the pod suite).
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl } from '../e2e/harness/curl.js';
import { spawnSidecar, type LogLine, type SidecarProcess } from '../e2e/harness/sidecar-process.js';
import { createWorld, FORBIDDEN_TOOL_POLICY as POLICY, writePolicy, type World } from '../e2e/harness/world.js';

let world: World;
let sidecar: SidecarProcess;
let transparentPort: number;


const chat = (content: string, extra: object = {}): string => JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...extra });
const forbiddenTool = chat('drop it', {
  tools: [{ type: 'function', function: { name: 'delete_database', parameters: { type: 'object' } } }],
  tool_choice: { type: 'function', function: { name: 'delete_database' } },
});
const json = ['-H', 'content-type: application/json'];

beforeAll(async () => {
  world = await createWorld();
  const policy = await writePolicy(world.dir, 'tools', POLICY);
  sidecar = await spawnSidecar(['--policy', policy, '--ca-dir', world.caDir, ...world.upstreamFlags, '--transparent-port', '0']);
  transparentPort = Number(new URL(sidecar.transparent[0]!).port);
});

afterAll(async () => {
  await sidecar?.stop();
  await world?.close();
});

const audit = (match: (l: LogLine) => boolean): Promise<LogLine> => sidecar.waitForLine((l) => l.audit === true && match(l), 5_000);
const received = (marker: string): boolean => [...world.tls.received, ...world.plain.received].some((r) => r.body.includes(marker));

/** Sends `bytes` on a raw socket and resolves with everything read until the sidecar closes it. */
function rawExchange(port: number, first: string, then?: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    let text = '';
    let sent = false;
    socket.setTimeout(5_000, () => reject(new Error(`still open after 5 s; read ${JSON.stringify(text)}`)));
    socket.on('data', (d) => {
      text += d.toString('latin1');
      if (then && !sent && text.includes('\r\n\r\n')) (sent = true), socket.write(then);
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(text));
    socket.write(first);
  });
}

describe('CONNECT: the first bytes are read before any flow', () => {
  it('refuses TLS whose server name is not the CONNECT target (domain fronting to a host)', async () => {
    const marker = `fronted-${Date.now()}`;
    // curl's --connect-to makes it CONNECT to tunnel.example.test while its TLS names api.openai.com.
    const r = await curl(['-x', sidecar.proxyUrl, '--cacert', world.upstreamCaFile, '--connect-to', 'api.openai.com:443:tunnel.example.test:443',
      ...json, '-d', forbiddenTool.replace('drop it', marker), 'https://api.openai.com/v1/chat/completions']);
    expect(r.exitCode).not.toBe(0);
    const line = await audit((l) => l.host === 'tunnel.example.test' && l.decision === 'deny');
    expect(line).toMatchObject({ operation: 'tunnel', method: 'CONNECT', rules: ['egress'], status: 403 });
    expect(String(line.reason)).toMatch(/server name api\.openai\.com is not the CONNECT target tunnel\.example\.test \(domain fronting\)/);
    expect(received(marker)).toBe(false);
  });

  it("refuses TLS naming a provider through a CONNECT to the provider's IP address", async () => {
    const marker = `by-ip-${Date.now()}`;
    const r = await curl(['-x', sidecar.proxyUrl, '--cacert', world.upstreamCaFile, '--connect-to', `api.openai.com:443:127.0.0.1:${world.tls.port}`,
      ...json, '-d', chat(marker), 'https://api.openai.com/v1/chat/completions']);
    expect(r.exitCode).not.toBe(0);
    const line = await audit((l) => l.host === '127.0.0.1' && l.decision === 'deny');
    expect(String(line.reason)).toMatch(/domain fronting/);
    expect(received(marker)).toBe(false);
  });

  it('tunnels TLS without a server name to the CONNECT target it was decided on', async () => {
    // An IP literal carries no SNI; the upstream answers with its default certificate (-k).
    const r = await curl(['-x', sidecar.proxyUrl, '-k', `https://127.0.0.1:${world.tls.port}/v1/models`]);
    expect(r.exitCode).toBe(0);
    expect(await audit((l) => l.host === '127.0.0.1' && l.status === 200)).toMatchObject({ operation: 'tunnel', decision: 'allow' });
  });

  it('serves plain HTTP inside a CONNECT to an intercepted host with the full pipeline', async () => {
    // -p: curl tunnels http:// through CONNECT api.openai.com:80 instead of an absolute-URI request.
    const r = await curl(['-p', '-x', sidecar.proxyUrl, ...json, '-d', forbiddenTool, 'http://api.openai.com/v1/chat/completions']);
    expect(r.status).toBe(403);
    expect(r.headers['x-chaperone-rule']).toBe('tools');
    const ok = await curl(['-p', '-x', sidecar.proxyUrl, ...json, '-d', chat('plain in a tunnel'), 'http://api.openai.com/v1/chat/completions']);
    expect(ok.status).toBe(200);
    expect(await audit((l) => l.requestId === ok.headers['x-chaperone-request-id'])).toMatchObject({ provider: 'openai', operation: 'chat.completions' });
  });

  it('sends plain HTTP inside a CONNECT to its target whatever Host header it names', async () => {
    const marker = `host-${Date.now()}`;
    const r = await curl(['-p', '-x', sidecar.proxyUrl, ...json, '-H', 'Host: api.openai.com', '-d', chat(marker), 'http://plain.example.test/v1/chat/completions']);
    expect(r.status).toBe(200);
    const got = world.plain.received.find((q) => q.body.includes(marker))!;
    expect(got.headers.host).toBe('plain.example.test');
    expect(await audit((l) => l.requestId === r.headers['x-chaperone-request-id'])).toMatchObject({ provider: 'unknown', host: 'plain.example.test' });
  });

  it('refuses bytes it cannot read on a CONNECT to an intercepted host', async () => {
    const answer = await rawExchange(Number(new URL(sidecar.proxyUrl).port), 'CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n', Buffer.from('SSH-2.0-OpenSSH_9.2\r\n'));
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    const line = await audit((l) => l.host === 'api.openai.com' && l.operation === 'tunnel' && l.decision === 'deny');
    expect(String(line.reason)).toMatch(/neither TLS nor HTTP/);
  });
});

describe('the transparent listener', () => {
  const to = (host: string, port = 443): string[] => ['--connect-to', `${host}:${port}:127.0.0.1:${transparentPort}`];

  it('intercepts TLS whose server name is a provider and runs the pipeline', async () => {
    const ok = await curl([...to('api.openai.com'), '--cacert', world.caCertFile, ...json, '-d', chat('captured'), 'https://api.openai.com/v1/chat/completions']);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).choices[0].message.content).toBe('Echo: captured');
    expect(await audit((l) => l.requestId === ok.headers['x-chaperone-request-id'])).toMatchObject({ provider: 'openai', host: 'api.openai.com' });
    const denied = await curl([...to('api.openai.com'), '--cacert', world.caCertFile, ...json, '-d', forbiddenTool, 'https://api.openai.com/v1/chat/completions']);
    expect(denied.status).toBe(403);
    expect(denied.headers['x-chaperone-rule']).toBe('tools');
  });

  it('tunnels TLS naming another host to that name, never to the address dialled', async () => {
    const r = await curl([...to('tunnel.example.test'), '--cacert', world.upstreamCaFile, 'https://tunnel.example.test/v1/models']);
    expect(r.exitCode).toBe(0);
    expect(await audit((l) => l.host === 'tunnel.example.test' && l.method === 'TLS')).toMatchObject({ operation: 'tunnel', decision: 'allow', status: 200 });
  });

  it('routes plain HTTP by its Host header', async () => {
    const r = await curl([...to('api.openai.com', 80), ...json, '-d', chat('plain captured'), 'http://api.openai.com/v1/chat/completions']);
    expect(r.status).toBe(200);
    expect(await audit((l) => l.requestId === r.headers['x-chaperone-request-id'])).toMatchObject({ provider: 'openai', host: 'api.openai.com' });
  });

  it('refuses to send a request to itself, which would loop without end', async () => {
    const self = await curl([...to('api.openai.com', 80), '-H', `Host: 127.0.0.1:${transparentPort}`, 'http://api.openai.com/v1/models']);
    expect(self.status).toBe(508);
    const viaProxy = await curl(['-x', sidecar.proxyUrl, `http://localhost:${transparentPort}/v1/models`]);
    expect(viaProxy.status).toBe(508);
    expect(viaProxy.body).toMatch(/is this sidecar: refusing to loop/);
    // The proxy port itself comes back once, in origin form: a base-URL route still answers.
    const once = await curl(['-x', sidecar.proxyUrl, '-H', 'content-type: application/json', '-d', chat('twice through'), `http://127.0.0.1:${new URL(sidecar.proxyUrl).port}/openai/v1/chat/completions`]);
    expect(once.status).toBe(200);
  });

  it('denies what names no host when its original destination is unknown', async () => {
    await rawExchange(transparentPort, 'SSH-2.0-OpenSSH_9.2\r\n');
    const line = await audit((l) => l.method === 'TCP' && l.decision === 'deny');
    expect(String(line.reason)).toMatch(/original destination is unknown/);
  });

  it('denies TLS without a server name that it cannot place', async () => {
    await new Promise<void>((resolve) => {
      const socket = tlsConnect({ port: transparentPort, host: '127.0.0.1', rejectUnauthorized: false });
      socket.on('error', () => resolve()).on('close', () => resolve());
    });
    expect(await audit((l) => l.method === 'TLS' && l.decision === 'deny')).toMatchObject({ host: 'unknown', rules: ['egress'] });
  });

  it('uses the interception CA only: a client that trusts just the public roots fails', async () => {
    const r = await curl([...to('api.openai.com'), '--cacert', world.upstreamCaFile, 'https://api.openai.com/v1/models']);
    expect(r.exitCode).toBe(60); // curl: peer certificate cannot be authenticated
  });
});
