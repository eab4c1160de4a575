// The peer proxies of a benchmark run, installed outside the project by bench/peers/install.sh:
//   mitmproxy     Debian's mitmdump in regular (forward proxy) mode with bench/peers/mitm_addon.py,
//                 plain HTTP and, in the TLS scenarios, intercepting CONNECT with its own CA
//   agentreserve  @agentreserve/proxy 0.1.0 from the npm registry, rules and SQLite audit log on
// Each is probed once per run; one that cannot run is reported as "not available: <reason>".
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PeerId } from '../model.js';
import { startPortServer, freePort, type Server } from '../procs.js';

export type Availability = { ok: true; version: string; detail: string } | { ok: false; reason: string };

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const ADDON = join(ROOT, 'bench', 'peers', 'mitm_addon.py');

export function peersDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'chaperone', 'bench', 'peers');
}
const agentreserveEntry = () => join(peersDir(), 'node_modules', '@agentreserve', 'proxy', 'dist', 'index.js');

function firstLine(err: unknown): string {
  const e = err as { stderr?: string | Buffer; message?: string };
  const text = String(e.stderr ?? '') || String(e.message ?? err);
  return text.trim().split('\n').slice(-1)[0]!.slice(0, 200);
}

/** Whether each peer can run here, and its version. Bounded (each probe is killed after 30 s). */
export function probePeers(): Record<PeerId, Availability> {
  const out = {} as Record<PeerId, Availability>;
  try {
    const v = execFileSync('mitmdump', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    const version = /^Mitmproxy:\s*(\S+)/m.exec(v)?.[1] ?? 'unknown';
    const python = /^Python:\s*(\S+)/m.exec(v)?.[1];
    out.mitmproxy = existsSync(ADDON)
      ? { ok: true, version, detail: `mitmdump ${version}${python ? ` (Python ${python})` : ''}, regular proxy mode, addon bench/peers/mitm_addon.py` }
      : { ok: false, reason: `${ADDON} is missing` };
  } catch (err) {
    out.mitmproxy = { ok: false, reason: (err as { code?: string }).code === 'ENOENT' ? 'mitmdump not installed (run bench/peers/install.sh)' : `mitmdump --version failed: ${firstLine(err)}` };
  }
  const entry = agentreserveEntry();
  if (!existsSync(entry)) {
    out.agentreserve = { ok: false, reason: `@agentreserve/proxy not installed in ${peersDir()} (run bench/peers/install.sh)` };
  } else {
    try {
      // Its audit store needs better-sqlite3's native binding, built by install.sh.
      execFileSync(process.execPath, ['-e', "new (require('better-sqlite3'))(':memory:').close()"], { cwd: peersDir(), stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
      const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string };
      out.agentreserve = { ok: true, version: pkg.version, detail: `@agentreserve/proxy ${pkg.version} on Node ${process.version}, plain-HTTP forwarding, rules + SQLite audit log` };
    } catch (err) {
      out.agentreserve = { ok: false, reason: `better-sqlite3 (its audit store) does not load: ${firstLine(err)}` };
    }
  }
  return out;
}

export interface PeerServer extends Server {
  /** Audit records written so far (call after stop): one per forwarded call. */
  auditRecords(): { lines: number; decisions: Record<string, number> };
  /** The CA a client must trust when the peer intercepts TLS (mitmproxy's, from its confdir). */
  caCert?: string;
}

/**
 * mitmdump on 127.0.0.1, regular proxy mode: `resolve` (HOST -> IP:PORT) sends the providers' hosts
 * to the fake upstream, as the other proxies' --resolve does.
 *
 * With `tls`, it also intercepts TLS (CONNECT): it terminates the client's TLS with a leaf from its own
 * CA (generated in the run's confdir on first start; `caCert` is that CA for the client to trust) and
 * opens its own TLS to the fake upstream, verifying it against `tls.upstreamCa` with the provider's
 * name as SNI. It connects upstream only once the request hook has sent the call to the fake upstream
 * (connection_strategy=lazy, upstream_cert=false: otherwise it would connect to the provider's public
 * name at CONNECT time, before the addon can redirect it, and open a second upstream connection per
 * client connection). Plain-HTTP runs keep mitmproxy's defaults.
 */
export async function startMitmproxy(
  tmp: string,
  tag: string,
  resolve: Record<string, string>,
  tls?: { upstreamCa: string },
): Promise<PeerServer> {
  const port = await freePort();
  const audit = join(tmp, `mitmproxy-${tag}.audit.jsonl`);
  writeFileSync(audit, '');
  // Per run (the bench's temporary directory), not ~/.mitmproxy: its CA and nothing else.
  const confdir = join(tmp, 'mitmproxy-conf');
  const args = [
    '--quiet',
    '--listen-host', '127.0.0.1',
    '--listen-port', String(port),
    '--scripts', ADDON,
    '--set', `bench_resolve=${Object.entries(resolve).map(([h, a]) => `${h}=${a}`).join(',')}`,
    '--set', `bench_audit=${audit}`,
    '--set', 'flow_detail=0',
    '--set', 'termlog_verbosity=error',
    '--set', `confdir=${confdir}`,
    ...(tls
      ? ['--set', `ssl_verify_upstream_trusted_ca=${tls.upstreamCa}`, '--set', 'connection_strategy=lazy', '--set', 'upstream_cert=false']
      : []),
  ];
  const server = await startPortServer('mitmproxy', 'mitmdump', args, port, join(tmp, `mitmproxy-${tag}.log`), { env: { PYTHONDONTWRITEBYTECODE: '1' } });
  const caCert = join(confdir, 'mitmproxy-ca-cert.pem');
  if (tls && !existsSync(caCert)) {
    await server.stop();
    throw new Error(`mitmproxy wrote no CA at ${caCert}`);
  }
  return {
    ...server,
    ...(tls ? { caCert } : {}),
    auditRecords: () => {
      const decisions: Record<string, number> = {};
      let lines = 0;
      for (const line of readFileSync(audit, 'utf8').split('\n')) {
        if (!line) continue;
        lines++;
        let d = '(unparsed)';
        try {
          d = String((JSON.parse(line) as { decision?: string }).decision ?? '(none)');
        } catch {
          // counted as unparsed
        }
        decisions[d] = (decisions[d] ?? 0) + 1;
      }
      return { lines, decisions };
    },
  };
}

/**
 * @agentreserve/proxy with rules like the every-check policy's egress section (deny rules to walk
 * past, then an allow rule with a rate limit and a time restriction that never refuse), its SQLite
 * audit log and its pino log (to a file). No dashboard.
 *
 * It has no --resolve: it forwards to the request URL's host. So its calls name the fake upstream
 * (http://127.0.0.1:PORT/...) instead of the provider's host, which only changes which rule matches;
 * the bench never lets a contender resolve a public name.
 */
export async function startAgentreserve(tmp: string, tag: string, upstreamHost: string): Promise<PeerServer> {
  const port = await freePort();
  const db = join(tmp, `agentreserve-${tag}.db`);
  const config = join(tmp, `agentreserve-${tag}.yaml`);
  const allDays = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
  writeFileSync(
    config,
    [
      `proxy: {port: ${port}, host: "127.0.0.1", dashboard: false}`,
      'rules:',
      '  - {match: "*.internal.example.com/*", action: deny, reason: "internal APIs are off limits"}',
      '  - {match: "pastebin.com/*", action: deny, reason: "paste sites are off limits"}',
      `  - {match: "${upstreamHost}/v1/files*", action: deny, reason: "no file uploads"}`,
      `  - match: "${upstreamHost}/v1/*"`,
      '    action: allow',
      '    policies:',
      '      - {type: rate_limit, max_requests_per_minute: 100000000}',
      `      - {type: time_restriction, allowed_days: [${allDays.join(', ')}]}`,
      '  - {match: "*", action: deny, reason: "not on the allow list"}',
      `audit: {store: sqlite, path: "${db}"}`,
      '',
    ].join('\n'),
  );
  const entry = agentreserveEntry();
  const server = await startPortServer('agentreserve', process.execPath, [entry, '--config', config, '--no-dashboard'], port, join(tmp, `agentreserve-${tag}.log`), {
    cwd: tmp,
    env: { LOG_LEVEL: 'info' },
  });
  return {
    ...server,
    auditRecords: () => {
      const decisions: Record<string, number> = {};
      let lines = 0;
      try {
        const req = createRequire(join(peersDir(), 'package.json'));
        const Database = req('better-sqlite3') as new (file: string, opts?: { readonly?: boolean }) => {
          prepare(sql: string): { all(): Array<{ decision: string; n: number }> };
          close(): void;
        };
        const conn = new Database(db, { readonly: true });
        for (const r of conn.prepare('SELECT decision, COUNT(*) AS n FROM audit_logs GROUP BY decision').all()) {
          decisions[r.decision] = r.n;
          lines += r.n;
        }
        conn.close();
      } catch {
        decisions['(unreadable)'] = 1;
      }
      return { lines, decisions };
    },
  };
}
