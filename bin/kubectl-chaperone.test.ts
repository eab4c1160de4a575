// The kubectl plugin against a stand-in kubectl that records its arguments: what reaches kubectl
// (global flags on every call, a merge patch that is valid JSON whatever the reason holds) and the
// errors a person sees. The real thing, real kubectl and the real API server, is
// e2e/approvals-admission.e2e.test.ts.
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../lib/project.js';

const PLUGIN = join(PROJECT_ROOT, 'bin', 'kubectl-chaperone');

// Each call's arguments, NUL-separated, one call a line in calls.log. `auth whoami` answers $WHOAMI,
// `get NAME` answers $DECISION ("/" when undecided), `get` (a list) prints $TABLE, `patch` fails
// with $PATCH_ERROR when it is set.
const FAKE_KUBECTL = `#!/bin/sh
dir=$(dirname "$0")
for a in "$@"; do printf '%s\\0' "$a"; done >> "$dir/calls.log"
printf '\\n' >> "$dir/calls.log"
case " $* " in
  *" auth whoami "*) printf '%s' "$WHOAMI"; exit 0 ;;
  *" patch "*) if [ -n "\${PATCH_ERROR:-}" ]; then printf '%s\\n' "$PATCH_ERROR" >&2; exit 1; fi; exit 0 ;;
  *" get approvalrequests.chaperone.dev "*" -o jsonpath="*) printf '%s' "$DECISION"; exit 0 ;;
  *" get "*) printf '%s\\n' "$TABLE"; exit 0 ;;
esac
exit 0
`;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubectl-chaperone-'));
  await writeFile(join(dir, 'kubectl'), FAKE_KUBECTL);
  await chmod(join(dir, 'kubectl'), 0o755);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  calls: string[][];
}

async function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  await writeFile(join(dir, 'calls.log'), '');
  const r = await new Promise<Omit<Run, 'calls'>>((resolve) => {
    execFile(
      PLUGIN,
      args,
      { env: { PATH: `${dir}${delimiter}${process.env.PATH ?? ''}`, WHOAMI: 'alice@example.com', DECISION: '/', TABLE: '', ...env } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
  const log = await readFile(join(dir, 'calls.log'), 'utf8');
  const calls = log.split('\0\n').filter(Boolean).map((line) => line.split('\0'));
  return { ...r, calls };
}

const patchOf = (r: Run): unknown => {
  const call = r.calls.find((c) => c.includes('patch'))!;
  return JSON.parse(call[call.indexOf('-p') + 1]!);
};

describe('kubectl-chaperone', () => {
  it('is an executable POSIX shell script', async () => {
    expect((await stat(PLUGIN)).mode & 0o111).toBe(0o111);
    expect((await readFile(PLUGIN, 'utf8')).split('\n')[0]).toBe('#!/bin/sh');
  });

  it('approve: reads the user from kubectl auth whoami and merge-patches spec.decision with it', async () => {
    const r = await run(['approve', 'send-email-1a2b3c4d-x7k2p', '-n', 'agents']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('approvalrequest.chaperone.dev/send-email-1a2b3c4d-x7k2p approved by alice@example.com\n');
    expect(r.calls).toEqual([
      ['-n', 'agents', 'get', 'approvalrequests.chaperone.dev', 'send-email-1a2b3c4d-x7k2p', '-o', 'jsonpath={.spec.decision.action}/{.spec.decision.by}'],
      ['-n', 'agents', 'auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'],
      ['-n', 'agents', 'patch', 'approvalrequests.chaperone.dev', 'send-email-1a2b3c4d-x7k2p', '--type=merge', '-p', expect.any(String)],
    ]);
    expect(patchOf(r)).toEqual({ spec: { decision: { action: 'Approve', by: 'alice@example.com' } } });
  });

  it('deny with a reason: any text arrives as the same string, quotes, backslashes, newlines and all', async () => {
    const reason = 'said "no" \\ twice\n\tsee FIN-12 \u00e9\u2713 $(rm -rf /) `x` \'q\'';
    const r = await run(['deny', 'x', '--reason', reason], { WHOAMI: 'o"dd\\name' });
    expect(r.code).toBe(0);
    expect(patchOf(r)).toEqual({ spec: { decision: { action: 'Deny', by: 'o"dd\\name', reason } } });
    const eq = await run(['deny', 'x', `--reason=${reason}`]);
    expect((patchOf(eq) as { spec: { decision: { reason: string } } }).spec.decision.reason).toBe(reason);
  });

  it('drops control characters JSON forbids raw, keeping the rest of the reason', async () => {
    const r = await run(['approve', 'x', '--reason', 'a\u0001b\u001bc\rd']);
    expect((patchOf(r) as { spec: { decision: { reason: string } } }).spec.decision.reason).toBe('abc\rd');
  });

  it('passes every global kubectl flag, in either spelling, to every kubectl call', async () => {
    const globals = [
      '--kubeconfig', '/k', '--context=c', '--cluster', 'cl', '--user=u', '--as', 'alice', '--as-group', 'g1', '--as-group=g2',
      '--as-uid', 'uid', '--namespace=ns', '--token', 't', '-s', 'https://x', '--server=https://y', '--insecure-skip-tls-verify',
      '--certificate-authority', '/ca', '--client-certificate=/c', '--client-key', '/k2', '--tls-server-name', 'n', '--request-timeout=5s', '-v', '6', '-nother',
    ];
    const r = await run(['approve', ...globals.slice(0, 10), 'x', ...globals.slice(10)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.calls).toHaveLength(3);
    for (const call of r.calls) expect(call.slice(0, globals.length)).toEqual(globals);
  });

  it('list: pending (or not yet phased) first, oldest first, all namespaces with -A', async () => {
    const table = [
      'NAME   PHASE      AGENT    TOOL   DECIDED-BY   EXPIRES                AGE',
      'a      Used       mailer   mail   alice        2030-01-01T00:00:00Z   9m',
      'b      Pending    mailer   mail                2030-01-01T00:00:00Z   8m',
      'c                 mailer   mail                2030-01-01T00:00:00Z   7m',
      'd      Denied     mailer   mail   bob          2030-01-01T00:00:00Z   6m',
      'e      Pending    mailer   mail                2030-01-01T00:00:00Z   5m',
    ].join('\n');
    const r = await run(['list', '-A', '--as', 'alice'], { TABLE: table });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean).map((l) => l.split(/\s+/)[0])).toEqual(['NAME', 'b', 'c', 'e', 'a', 'd']);
    expect(r.calls).toEqual([['--as', 'alice', 'get', 'approvalrequests.chaperone.dev', '--all-namespaces', '--sort-by=.metadata.creationTimestamp']]);
    const json = await run(['list', '-o', 'json'], { TABLE: '{}' });
    expect(json.stdout).toBe('{}\n');
    expect(json.calls[0]).toEqual(['get', 'approvalrequests.chaperone.dev', '--sort-by=.metadata.creationTimestamp', '-o', 'json']);
  });

  it('refuses to decide a decided request, naming the decision, without patching', async () => {
    const r = await run(['approve', 'x'], { DECISION: 'Deny/bob' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('kubectl-chaperone: approvalrequest x is already decided: Deny by bob\n');
    expect(r.calls.some((c) => c.includes('patch'))).toBe(false);
  });

  it('a refused patch: prints kubectl\'s message and exits non-zero', async () => {
    const msg = 'Error from server (Forbidden): ... denied request: spec.decision.by must be your own user name';
    const r = await run(['approve', 'x'], { PATCH_ERROR: msg });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`${msg}\nkubectl-chaperone: could not approve x: the API server refused (see above)\n`);
  });

  it.each([
    [['approve'], 2, 'approve needs the NAME of an ApprovalRequest'],
    [['deny', '--reason', 'r'], 2, 'deny needs the NAME of an ApprovalRequest'],
    [['approve', 'x', '--reason'], 2, 'flag --reason needs a value'],
    [['approve', 'x', '--kubeconfig'], 2, 'flag --kubeconfig needs a value'],
    [['approve', 'x', 'y'], 2, 'unexpected argument "y"'],
    [['approve', 'x', '-A'], 2, 'approve takes -n NAMESPACE, not -A'],
    [['approve', 'x', '--frobnicate'], 2, 'unknown flag --frobnicate'],
    [['list', 'x'], 2, 'list takes no NAME'],
    [['frobnicate'], 2, 'unknown command "frobnicate"'],
  ])('%j: a clear error, no kubectl call', async (args, code, message) => {
    const r = await run(args);
    expect(r.code).toBe(code);
    expect(r.stderr).toContain(`kubectl-chaperone: ${message}`);
    expect(r.calls).toEqual([]);
  });

  it('an empty user name from whoami is an error, not a decision by nobody', async () => {
    const r = await run(['approve', 'x'], { WHOAMI: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot tell who you are');
    expect(r.calls.some((c) => c.includes('patch'))).toBe(false);
  });

  it('help (and -h) print usage and exit 0; no command prints it to stderr and exits 2', async () => {
    for (const args of [['help'], ['-h'], ['approve', '--help']]) {
      const r = await run(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('kubectl chaperone approve NAME [-n NAMESPACE] [--reason TEXT]');
    }
    const none = await run([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage:');
  });
});
