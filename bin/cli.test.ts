// The `chaperone` binary as users meet it: help, one-line errors, ca init, policy validate.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CRD_YAML } from '../api/crd.js';
import { CA_CERT_FILE, READYZ_URL } from '../api/pod-contract.js';
import { CHAPERONE_BIN } from '../e2e/harness/sidecar-process.js';

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CHAPERONE_BIN, ...args], (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('chaperone CLI', () => {
  it.each([['--help'], ['sidecar', '--help'], ['ca', 'init', '--help'], ['wait-ready', '--help'], ['policy', 'validate', '--help']])('%s %s prints usage and exits 0', async (...args) => {
    const r = await run(args);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: chaperone/m);
  });

  it.each([
    [['frobnicate'], /unknown command "frobnicate"/],
    [['sidecar', '--no-such-flag'], /Unknown option '--no-such-flag'/],
    [['sidecar', '--max-body-bytes', 'lots'], /--max-body-bytes lots: expected an integer/],
    [['sidecar', '--resolve', 'nonsense', '--policy', 'examples/policies/minimal.yaml'], /--resolve nonsense: expected HOST=IP:PORT/],
    [['sidecar', '--policy', 'no-such-file.yaml'], /no-such-file\.yaml/],
    [['sidecar', '--policy', 'package.json'], /package\.json/],
    [['ca', 'init'], /--out DIR is required/],
    [['policy', 'validate'], /no files given/],
  ])('%j fails with a one-line reason', async (args, reason) => {
    const r = await run(args as string[]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(reason as RegExp);
  });

  it('ca init writes an ECDSA P-256 CA, a private key only its owner reads, and a bundle', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'chaperone-ca-')), 'ca');
    const r = await run(['ca', 'init', '--out', dir]);
    expect(r.code).toBe(0);
    const cert = new X509Certificate(await readFile(join(dir, 'tls.crt')));
    expect(cert.ca).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect((await stat(join(dir, 'tls.key'))).mode & 0o077).toBe(0);
    const bundle = await readFile(join(dir, 'ca-bundle.crt'), 'utf8');
    expect(bundle).toContain(cert.toString().trim());
    expect((bundle.match(/BEGIN CERTIFICATE/g) ?? []).length).toBeGreaterThan(50);
  });

  it('policy validate accepts the examples and rejects a bad policy naming the field', async () => {
    const ok = await run(['policy', 'validate', 'examples/policies/researcher.yaml', 'examples/policies/minimal.yaml']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^ok examples\/policies\/researcher.yaml/m);
    const bad = join(await mkdtemp(join(tmpdir(), 'chaperone-bad-')), 'bad.yaml');
    await writeFile(bad, 'apiVersion: chaperone.dev/v1alpha1\nkind: GovernancePolicy\nmetadata: {name: bad}\nspec:\n  dlp: {mode: shout}\n');
    const r = await run(['policy', 'validate', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/spec\.dlp\.mode: must be one of audit, enforce, redact, off/);
  });

  it('crd prints every CRD, or the one named (by name or plural): what make crds writes to crds/', async () => {
    const all = await run(['crd']);
    expect(all.code).toBe(0);
    expect(all.stdout).toBe(Object.values(CRD_YAML).map((y) => y()).join('---\n'));
    for (const [name, yaml] of Object.entries(CRD_YAML)) {
      for (const arg of [name, name.split('.')[0]!]) expect((await run(['crd', arg])).stdout, arg).toBe(yaml());
    }
    const bad = await run(['crd', 'widgets']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown CRD "widgets"/);
  });

  it('wait-ready gives up with a reason when nothing is listening', async () => {
    const r = await run(['wait-ready', '--url', 'http://127.0.0.1:1/readyz', '--timeout-ms', '500']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not ready/);
  });

  it("wait-ready waits, by default, for what the injector's hook names: the sidecar's https /readyz, trusting the pod's CA", async () => {
    const r = await run(['wait-ready', '--timeout-ms', '300']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${READYZ_URL} not ready`);
    // Outside a pod the namespace CA is absent: the https probe names the file it needs.
    expect(r.stderr).toContain(CA_CERT_FILE);
  });
});
