// Fail closed on intercepted hosts, through the running sidecar with curl: a body is read the way
// the provider would read it (JSON whatever the content type says, gzip, a BOM, UTF-16) and checked
// in that form; what cannot be read that way is refused, unless a policy lets it through unread.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl } from '../e2e/harness/curl.js';
import { spawnSidecar, type SidecarProcess } from '../e2e/harness/sidecar-process.js';
import { createWorld, writePolicy, type World } from '../e2e/harness/world.js';

let world: World;
let sidecar: SidecarProcess;

const POLICY = `apiVersion: chaperone.dev/v1alpha1
kind: GovernancePolicy
metadata: {name: closed, namespace: agents, generation: 1}
spec:
  intercept: {hosts: [mcp.tools.example.com], passThrough: ["mcp.tools.example.com/uploads/*"]}
  tools:
    agents:
      - {name: unknown, forbidden: [delete_database]}
`;

beforeAll(async () => {
  world = await createWorld();
  sidecar = await spawnSidecar(['--policy', await writePolicy(world.dir, 'closed', POLICY), '--ca-dir', world.caDir, ...world.upstreamFlags]);
});
afterAll(async () => {
  await sidecar?.stop();
  await world?.close();
});

let n = 0;
/** POSTs these exact bytes through the proxy (curl --data-binary @file), with these headers. */
async function post(url: string, bytes: Buffer, headers: string[]) {
  const file = join(world.dir, `body-${n++}`);
  await writeFile(file, bytes);
  return curl(['-x', sidecar.proxyUrl, '--cacert', world.caCertFile, ...headers.flatMap((h) => ['-H', h]), '--data-binary', `@${file}`, url]);
}
const MCP = 'https://mcp.tools.example.com/mcp';
const toolCall = (name: string) => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: { table: 'users' } } });
const utf16le = (s: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(s, 'utf16le')]);

describe('a forbidden MCP tools/call is refused however it is spelt', () => {
  it.each([
    ['with a UTF-8 BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(toolCall('delete_database'))]), ['content-type: application/json']],
    ['as UTF-16 with a BOM', utf16le(toolCall('delete_database')), ['content-type: application/json']],
    ['as UTF-16LE by charset, no BOM', Buffer.from(toolCall('delete_database'), 'utf16le'), ['content-type: application/json; charset=utf-16le']],
    ['gzip-encoded', gzipSync(toolCall('delete_database')), ['content-type: application/json', 'content-encoding: gzip']],
    ['typed text/plain', Buffer.from(toolCall('delete_database')), ['content-type: text/plain']],
    ['typed application/x-www-form-urlencoded', Buffer.from(toolCall('delete_database')), ['content-type: application/x-www-form-urlencoded']],
  ])('%s', async (_name, bytes, headers) => {
    const before = world.tls.received.length;
    const r = await post(MCP, bytes, headers);
    // Answered the MCP way: the call's result with isError, under its id (HTTP 200).
    expect([r.status, r.headers['x-chaperone-decision'], r.headers['x-chaperone-rule']], r.body).toEqual([200, 'deny', 'tools']);
    expect(JSON.parse(r.body)).toMatchObject({ jsonrpc: '2.0', result: { isError: true } });
    expect(world.tls.received.length).toBe(before);
  });

  it('a batch with one malformed element is refused, not passed unread', async () => {
    const before = world.tls.received.length;
    const batch = `[${toolCall('web_search')}, {"id": 2, "method": "tools/call", "params": {"name": "delete_database"}}]`;
    const r = await post(MCP, Buffer.from(batch), ['content-type: application/json']);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).error.message).toMatch(/\[1\].*JSON-RPC 2\.0 message/);
    expect(world.tls.received.length).toBe(before);
  });
});

describe('what the sidecar decoded is what it forwards', () => {
  it('an allowed gzip-encoded UTF-16 call reaches the server as the UTF-8 JSON that was checked', async () => {
    const before = world.tls.received.length;
    const r = await post(MCP, gzipSync(utf16le(toolCall('web_search'))), ['content-type: application/json', 'content-encoding: gzip']);
    expect(r.status, r.body).toBe(200);
    const got = world.tls.received[before]!;
    expect(got.headers['content-encoding']).toBeUndefined();
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.json).toEqual(JSON.parse(toolCall('web_search')));
  });
});

describe('what cannot be read on an intercepted host is refused', () => {
  it.each([
    ['JSON lines', MCP, Buffer.from(`${toolCall('web_search')}\n${toolCall('delete_database')}\n`), ['content-type: application/jsonl'], /not JSON \(content-type "application\/jsonl"\)/, 'mcp'],
    ['form fields on a provider', 'https://api.openai.com/v1/chat/completions', Buffer.from('model=gpt-4o&prompt=hi'), ['content-type: application/x-www-form-urlencoded'], /not JSON/, 'openai'],
    ['an unknown content coding', MCP, Buffer.from(toolCall('delete_database')), ['content-type: application/json', 'content-encoding: compress'], /content-encoding "compress"/, 'mcp'],
    ['a charset it does not read', MCP, Buffer.from(toolCall('web_search')), ['content-type: application/json; charset=iso-8859-1'], /charset "iso-8859-1"/, 'mcp'],
  ])('%s: 415 in the likely provider shape, nothing forwarded', async (_name, url, bytes, headers, reason, shape) => {
    const before = world.tls.received.length;
    const r = await post(url, bytes, headers);
    expect(r.status, r.body).toBe(415);
    const body = JSON.parse(r.body);
    const message = shape === 'mcp' ? body.error.message : body.error.message;
    if (shape === 'mcp') expect(body.jsonrpc).toBe('2.0');
    else expect(body.error.code).toBe('invalid_request');
    expect(message).toMatch(reason);
    expect(message).toMatch(/spec\.intercept\.passThrough/);
    expect(world.tls.received.length).toBe(before);
  });

  it('arguments nested 10,000 deep get a 400, not a crash or an upstream error', async () => {
    const before = world.tls.received.length;
    const deep = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"web_search","arguments":{"q":${'['.repeat(10_000)}${']'.repeat(10_000)}}}}`;
    const r = await post(MCP, Buffer.from(deep), ['content-type: application/json']);
    expect(r.status, r.body).toBe(400);
    expect(JSON.parse(r.body).error.message).toMatch(/nests deeper than 128 levels/);
    expect(world.tls.received.length).toBe(before);
  });

  it('a key repeated with another value gets a 400: the server might read the copy the checks did not', async () => {
    const before = world.tls.received.length;
    const twice = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"web_search","arguments":{},"n\\u0061me":"delete_database"}}`;
    const r = await post(MCP, Buffer.from(twice), ['content-type: application/json']);
    expect(r.status, r.body).toBe(400);
    expect(JSON.parse(r.body).error.message).toMatch(/repeats the key "name" in \$\."params" with a different value/);
    expect(world.tls.received.length).toBe(before);
  });

  it('a path a policy lets through unread is forwarded as sent', async () => {
    const before = world.tls.received.length;
    const r = await post('https://mcp.tools.example.com/uploads/report.csv', Buffer.from('a,b\n1,2\n'), ['content-type: text/csv']);
    expect(r.status).not.toBe(415);
    expect(world.tls.received.length).toBe(before + 1);
    expect(world.tls.received[before]!.body).toBe('a,b\n1,2\n');
  });
});

describe('an upstream answer too large to check', () => {
  it('is refused with 502 in the provider shape instead of being buffered whole', async () => {
    const small = await spawnSidecar(['--policy', await writePolicy(world.dir, 'closed-small', POLICY), '--ca-dir', world.caDir, ...world.upstreamFlags, '--max-response-bytes', '64']);
    try {
      const ask = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'an answer longer than 64 bytes, please' }] });
      const r = await curl(['-H', 'content-type: application/json', '-d', ask, `${small.proxyUrl}/openai/v1/chat/completions`]);
      expect(r.status).toBe(502);
      expect(JSON.parse(r.body).error).toMatchObject({ code: 'upstream_unavailable', message: expect.stringMatching(/exceeds the 64-byte limit \(--max-response-bytes\)/) });
      expect(r.body).not.toMatch(/Echo:/);
    } finally {
      await small.stop();
    }
  });

  describe('with largeAnswers: checkPrefix', () => {
    let small: SidecarProcess;
    beforeAll(async () => {
      const policy = POLICY.replace('metadata: {name: closed,', 'metadata: {name: prefix,').replace('intercept: {hosts', 'intercept: {largeAnswers: checkPrefix, hosts');
      small = await spawnSidecar(['--policy', await writePolicy(world.dir, 'closed-prefix', policy), '--ca-dir', world.caDir, ...world.upstreamFlags, '--max-response-bytes', '64']);
    });
    afterAll(async () => {
      await small?.stop();
    });
    const ask = (content: string) =>
      curl(['-H', 'content-type: application/json', '-d', JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content }] }), `${small.proxyUrl}/openai/v1/chat/completions`]);

    it('relays an answer over the limit that its first bytes let pass, whole and unchanged', async () => {
      const r = await ask('an answer longer than 64 bytes, please');
      expect(r.status, r.body).toBe(200);
      expect(JSON.parse(r.body).choices[0].message.content).toBe('Echo: an answer longer than 64 bytes, please');
      const audit = await small.waitForLine((l) => l.audit === true && l.status === 200);
      expect(audit.checkedBytes).toBeGreaterThan(64);
    });

    it('refuses one whose first bytes propose a forbidden tool call: nothing of it has been sent', async () => {
      const r = await ask('call tool delete_database now');
      expect(r.status, r.body).toBe(403);
      expect(r.headers['x-chaperone-rule']).toBe('tools');
      expect(JSON.parse(r.body).error.message).toMatch(/too large to hold: refused/);
      expect(r.body).not.toMatch(/"tool_calls"/);
    });
  });
});

describe('a request body over the limit', () => {
  let small: SidecarProcess;
  beforeAll(async () => {
    small = await spawnSidecar(['--policy', await writePolicy(world.dir, 'closed-limit', POLICY), '--ca-dir', world.caDir, ...world.upstreamFlags, '--max-body-bytes', '1000']);
  });
  afterAll(async () => {
    await small?.stop();
  });
  const big = async () => {
    const file = join(world.dir, 'big-body');
    await writeFile(file, JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(3_000_000) }] }));
    return file;
  };

  it.each([
    ['declared with Content-Length, sent at once', ['-H', 'Expect:']],
    ['declared, asking 100-continue first: answered before the body is sent', ['-H', 'Expect: 100-continue']],
    ['chunked, no length declared', ['-H', 'Expect:', '-H', 'Transfer-Encoding: chunked']],
  ])('%s: the client reads the 413 in the provider shape', async (_name, headers) => {
    const before = world.tls.received.length;
    const r = await curl(['-H', 'content-type: application/json', ...headers, '--data-binary', `@${await big()}`, `${small.proxyUrl}/openai/v1/chat/completions`]);
    expect(r.stderr).not.toMatch(/send failure|reset|Failed sending/i);
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).error).toMatchObject({ code: 'request_too_large', message: expect.stringMatching(/1000-byte limit/) });
    expect(world.tls.received.length).toBe(before);
  });

  it('is never invited: no 100 Continue for a body declared over the limit', async () => {
    const heads = await new Promise<string>((resolve) =>
      execFile('curl', ['-sS', '--noproxy', '', '-D', '-', '-o', '/dev/null', '-H', 'content-type: application/json', '-H', 'Expect: 100-continue', '--data-binary', `@${join(world.dir, 'big-body')}`, `${small.proxyUrl}/openai/v1/chat/completions`], (_e, out) => resolve(out)),
    );
    expect(heads).toMatch(/^HTTP\/1\.1 413/m);
    expect(heads).not.toMatch(/100 Continue/);
  });
});
