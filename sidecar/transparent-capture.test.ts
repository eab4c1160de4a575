// Transparent capture on the real kernel, end to end: an "app" network namespace whose only way out
// is a veth to an "outside" namespace where the fake provider answers as api.openai.com
// (192.0.2.10). In the app namespace, `chaperone capture-init` installs the rules, the real sidecar
// runs as its own UID, and agents that know nothing about proxies call out as another UID: Node's
// fetch and the openai SDK, curl with --noproxy '*', Python's urllib, raw TLS to the provider's
// address, IPv6, and a connection that is neither TLS nor HTTP. Needs root (CI runs as root).
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa } from '../lib/x509.js';
import { makeTestPki } from '../e2e/fake-provider/certs.js';
import { CHAPERONE_BIN, spawnLogging, spawnSidecar, type ChaperoneProcess, type LogLine, type SidecarProcess } from '../e2e/harness/sidecar-process.js';
import { PROJECT_ROOT } from '../lib/project.js';
import { FORBIDDEN_TOOL_POLICY as POLICY } from '../e2e/harness/world.js';

const APP = `chap-app-${process.pid}`;
const OUT = `chap-out-${process.pid}`;
const VETH = `chv${process.pid}`;
const PROXY_UID = 14001;
const AGENT_UID = 65532;
const PROVIDER_V4 = '192.0.2.10';
const PROVIDER_V6 = '2001:db8::10';
const HOSTS_DIR = `/etc/netns/${APP}`;


let dir: string;
let caFile: string;
let sidecar: SidecarProcess;
let tlsFake: ChaperoneProcess;
let plainFake: ChaperoneProcess;
let echo: ChaperoneProcess;
/** A TCP service that speaks neither TLS nor HTTP, at another outside address. */
const ECHO_V4 = '192.0.2.11';

const run = (cmd: string[]): string => execFileSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const inNs = (ns: string, ...cmd: string[]): string => run(['ip', 'netns', 'exec', ns, ...cmd]);
const asUser = (ns: string, uid: number, gid: number): string[] => ['ip', 'netns', 'exec', ns, 'setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups'];

/** Runs a command as the agent (no proxy variables at all), resolving with its output and exit code. */
function agent(cmd: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const full = [...asUser(APP, AGENT_UID, AGENT_UID), ...cmd];
  return new Promise((resolve) => {
    const child = spawn(full[0]!, full.slice(1), { env: { PATH: process.env.PATH!, HOME: '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => (clearTimeout(timer), resolve({ code, stdout, stderr })));
  });
}
const node = (script: string, env: Record<string, string> = {}) => agent([process.execPath, '--input-type=module', '-e', script], { NODE_EXTRA_CA_CERTS: caFile, ...env });

const spawnIn = (ns: string, cmd: string[]): ChaperoneProcess => spawnLogging(['ip', 'netns', 'exec', ns, ...cmd]);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'chaperone-capture-'));
  chmodSync(dir, 0o755);
  // The interception CA and the provider's certificate (from its own CA, which the sidecar trusts).
  const ca = await createCa('capture test CA', 1);
  mkdirSync(join(dir, 'ca'));
  writeFileSync(join(dir, 'ca', 'tls.crt'), ca.certPem);
  writeFileSync(join(dir, 'ca', 'tls.key'), ca.keyPem, { mode: 0o640 }); // group 0: the sidecar's
  caFile = join(dir, 'ca', 'tls.crt');
  const pki = await makeTestPki(['api.openai.com', 'tunnel.example.test']);
  writeFileSync(join(dir, 'upstream-ca.crt'), pki.caCert);
  writeFileSync(join(dir, 'provider.crt'), pki.cert);
  writeFileSync(join(dir, 'provider.key'), pki.key);
  writeFileSync(join(dir, 'policy.yaml'), POLICY);

  // Two namespaces joined by a veth: the app's only route out goes to the provider's addresses.
  run(['ip', 'netns', 'add', APP]);
  run(['ip', 'netns', 'add', OUT]);
  run(['ip', 'link', 'add', `${VETH}a`, 'netns', APP, 'type', 'veth', 'peer', 'name', `${VETH}o`, 'netns', OUT]);
  for (const [ns, dev, v4, v6] of [[APP, `${VETH}a`, '192.0.2.2/24', '2001:db8::2/64'], [OUT, `${VETH}o`, `${PROVIDER_V4}/24`, `${PROVIDER_V6}/64`]] as const) {
    inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
    inNs(ns, 'ip', 'addr', 'add', v4, 'dev', dev);
    inNs(ns, 'ip', '-6', 'addr', 'add', v6, 'dev', dev, 'nodad');
    inNs(ns, 'ip', 'link', 'set', dev, 'up');
  }
  inNs(OUT, 'ip', 'addr', 'add', `${ECHO_V4}/24`, 'dev', `${VETH}o`);
  inNs(APP, 'ip', 'route', 'add', 'default', 'via', PROVIDER_V4);
  // `ip netns exec` mounts /etc/netns/NAME/hosts over /etc/hosts: the app resolves the provider there.
  mkdirSync(HOSTS_DIR, { recursive: true });
  writeFileSync(join(HOSTS_DIR, 'hosts'), `127.0.0.1 localhost\n::1 localhost\n${PROVIDER_V4} api.openai.com tunnel.example.test\n`);

  const fakeMain = join(PROJECT_ROOT, 'dist', 'e2e', 'fake-provider', 'main.js');
  tlsFake = spawnIn(OUT, [process.execPath, fakeMain, '--host', PROVIDER_V4, '--port', '443', '--tls-cert', join(dir, 'provider.crt'), '--tls-key', join(dir, 'provider.key'), '--log-requests']);
  plainFake = spawnIn(OUT, [process.execPath, fakeMain, '--host', PROVIDER_V4, '--port', '80', '--log-requests']);
  echo = spawnIn(OUT, [process.execPath, '-e',
    `require('node:net').createServer((c) => c.on('data', (d) => c.end('echo:' + d))).listen(443, '${ECHO_V4}', () => console.log(JSON.stringify({ ready: true })))`]);
  await Promise.all([tlsFake.waitForLine((l) => 'url' in l), plainFake.waitForLine((l) => 'url' in l), echo.waitForLine((l) => l.ready === true)]);

  inNs(APP, process.execPath, CHAPERONE_BIN, 'capture-init', '--ports', '80,443', '--to-port', '14002', '--proxy-uid', String(PROXY_UID));
  sidecar = await spawnSidecar(
    ['--policy', join(dir, 'policy.yaml'), '--ca-dir', join(dir, 'ca'), '--upstream-ca', join(dir, 'upstream-ca.crt'), '--transparent-port', '14002'],
    {},
    asUser(APP, PROXY_UID, 0),
  );
}, 60_000);

afterAll(async () => {
  await sidecar?.stop();
  await tlsFake?.stop();
  await plainFake?.stop();
  await echo?.stop();
  for (const ns of [APP, OUT]) {
    try {
      run(['ip', 'netns', 'delete', ns]);
    } catch {
      // not created
    }
  }
  rmSync(HOSTS_DIR, { recursive: true, force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const audit = (match: (l: LogLine) => boolean): Promise<LogLine> => sidecar.waitForLine((l) => l.audit === true && match(l), 5_000);
const receivedWith = (marker: string): number => [...tlsFake.lines, ...plainFake.lines].filter((l) => JSON.stringify(l.received ?? '').includes(marker)).length;

describe('transparent capture on the real kernel', () => {
  it('governs Node fetch and the openai SDK, which ignore every proxy variable', async () => {
    const r = await agent([process.execPath, join(PROJECT_ROOT, 'dist', 'e2e', 'agent-clients', 'plain-node.js')], { NODE_EXTRA_CA_CERTS: caFile, OPENAI_BASE_URL: 'https://api.openai.com/v1' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.fetch).toMatchObject({ status: 200, decision: 'allow', content: 'Echo: plain fetch: hello' });
    expect(out.sdk).toMatchObject({ status: 200, decision: 'allow', content: 'Echo: plain sdk: hello' });
    expect(out.sdkForbiddenTool).toMatchObject({ status: 403, decision: 'deny', rule: 'tools' });
    expect(out.fetchAsAdmin).toMatchObject({ status: 403, rule: 'tools' });
    // One audit line per call and one request upstream: the sidecar's own connection was not captured again.
    expect(sidecar.audits().filter((l) => l.provider === 'openai' && l.host === 'api.openai.com').length).toBe(4);
    expect(receivedWith('plain fetch: hello')).toBe(1);
  });

  it("governs curl --noproxy '*' and Python's urllib, over TLS and plain HTTP", async () => {
    const denied = await agent(['curl', '-sS', '--noproxy', '*', '--cacert', caFile, '-o', '/dev/null', '-w', '%{http_code}', '-H', 'content-type: application/json',
      '-d', JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }], tool_choice: { type: 'function', function: { name: 'delete_database' } }, tools: [{ type: 'function', function: { name: 'delete_database' } }] }),
      'https://api.openai.com/v1/chat/completions']);
    expect(denied.stdout).toBe('403');
    const plain = await agent(['curl', '-sS', '--noproxy', '*', '-H', 'content-type: application/json', '-d', '{"model":"m","messages":[{"role":"user","content":"plain http captured"}]}', 'http://api.openai.com/v1/chat/completions']);
    expect(JSON.parse(plain.stdout).choices[0].message.content).toBe('Echo: plain http captured');
    expect(await audit((l) => l.provider === 'openai' && l.status === 200 && receivedWith('plain http captured') === 1)).toBeTruthy();
    const py = await agent(['/usr/bin/python3', '-c', [
      'import json, urllib.request',
      "req = urllib.request.Request('https://api.openai.com/v1/chat/completions', data=json.dumps({'model': 'm', 'messages': [{'role': 'user', 'content': 'from python'}]}).encode(), headers={'content-type': 'application/json'})",
      'r = urllib.request.urlopen(req)',
      "print(r.status, r.headers['x-chaperone-decision'], json.load(r)['choices'][0]['message']['content'])",
    ].join('\n')], { SSL_CERT_FILE: caFile });
    expect(py.stdout.trim(), py.stderr).toBe('200 allow Echo: from python');
  });

  it("governs raw TLS to the provider's address, over IPv4 and IPv6", async () => {
    const script = (host: string) => `
      import { connect } from 'node:tls';
      import { readFileSync } from 'node:fs';
      const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'raw' }], tools: [{ type: 'function', function: { name: 'delete_database' } }], tool_choice: { type: 'function', function: { name: 'delete_database' } } });
      const s = connect({ host: '${host}', port: 443, servername: 'api.openai.com', ca: readFileSync(process.env.NODE_EXTRA_CA_CERTS) }, () =>
        s.write('POST /v1/chat/completions HTTP/1.1\\r\\nHost: api.openai.com\\r\\nContent-Type: application/json\\r\\nConnection: close\\r\\nContent-Length: ' + Buffer.byteLength(body) + '\\r\\n\\r\\n' + body));
      let text = ''; s.on('data', (d) => (text += d)); s.on('end', () => console.log(text.split('\\r\\n')[0]));`;
    for (const host of [PROVIDER_V4, PROVIDER_V6]) {
      const r = await node(script(host));
      expect(r.stdout.trim(), r.stderr).toBe('HTTP/1.1 403 Forbidden');
    }
  });

  it('denies a connection that is neither TLS nor HTTP, naming its original destination from conntrack', async () => {
    await node(`import { connect } from 'node:net'; const s = connect(443, '${PROVIDER_V4}', () => s.write('SSH-2.0-OpenSSH_9.2\\r\\n')); s.on('close', () => {}); s.on('error', () => {});`);
    const line = await audit((l) => l.method === 'TCP' && l.decision === 'deny');
    expect(line.host).toBe(PROVIDER_V4);
    expect(String(line.reason)).toContain(`${PROVIDER_V4}:443`);
  });

  it('with --opaque-traffic egress, such a connection is judged by the egress rules on its original destination', async () => {
    await sidecar.stop();
    writeFileSync(join(dir, 'egress.yaml'), `${POLICY}  egress:\n    defaultAction: allow\n    rules:\n      - {match: "${PROVIDER_V4}", action: deny, reason: no raw bytes to the provider}\n`);
    sidecar = await spawnSidecar(
      ['--policy', join(dir, 'egress.yaml'), '--ca-dir', join(dir, 'ca'), '--upstream-ca', join(dir, 'upstream-ca.crt'), '--transparent-port', '14002', '--opaque-traffic', 'egress'],
      {},
      asUser(APP, PROXY_UID, 0),
    );
    const raw = (host: string) => node(`import { connect } from 'node:net'; let t = ''; const s = connect(443, '${host}', () => s.write('SSH-2.0-x')); s.on('data', (d) => (t += d)); s.on('close', () => console.log(JSON.stringify(t))); s.on('error', () => {});`);
    expect(JSON.parse((await raw(ECHO_V4)).stdout)).toBe('echo:SSH-2.0-x');
    expect(await audit((l) => l.method === 'TCP' && l.host === ECHO_V4)).toMatchObject({ decision: 'allow', status: 200, operation: 'tunnel' });
    expect(JSON.parse((await raw(PROVIDER_V4)).stdout)).toBe('');
    expect(await audit((l) => l.method === 'TCP' && l.host === PROVIDER_V4)).toMatchObject({ decision: 'deny', rules: ['egress'], status: 403 });
    // Named traffic is still judged by its name: the provider's name is not the denied address.
    const r = await agent(['curl', '-sS', '--cacert', caFile, '-o', '/dev/null', '-w', '%{http_code}', '-H', 'content-type: application/json',
      '-d', '{"model":"m","messages":[{"role":"user","content":"named"}]}', 'https://api.openai.com/v1/chat/completions']);
    expect(r.stdout).toBe('200');
  });
});
