// Tests for bin/policy-validate.ts (kept here so `vitest run api` covers the whole policy model).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { policyValidate } from '../bin/policy-validate.js';

const dir = mkdtempSync(join(tmpdir(), 'policy-validate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

const policy = (name: string, spec = '{}') =>
  `apiVersion: chaperone.dev/v1alpha1\nkind: GovernancePolicy\nmetadata: {name: ${name}}\nspec: ${spec}\n`;

const good = file('good.yaml', `${policy('a')}---\n${policy('b', '{dlp: {mode: redact}}')}`);
const bad = file('bad.yaml', policy('c', '{dlp: {mode: block}, egress: {rules: [{action: deny}]}}'));
const broken = file('broken.yaml', 'spec: [\n');

async function run(argv: string[], stdinText = '') {
  let stdout = '';
  let stderr = '';
  const code = await policyValidate(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    stdin: Readable.from([Buffer.from(stdinText)]),
  });
  return { code, stdout, stderr };
}

describe('chaperone policy validate', () => {
  it('exits 0 and prints one ok line per valid file', async () => {
    const r = await run([good, join(import.meta.dirname, '../examples/policies/minimal.yaml')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`ok ${good}: 2 policies\nok ${join(import.meta.dirname, '../examples/policies/minimal.yaml')}: 1 policies\n`);
  });

  it('exits 1 and prints each error on its own line', async () => {
    const r = await run([good, bad]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`ok ${good}: 2 policies\n`);
    expect(r.stderr).toBe([
      `${bad}: GovernancePolicy/c: spec.egress.rules[0].match: required`,
      `${bad}: GovernancePolicy/c: spec.dlp.mode: must be one of audit, enforce, redact, off`,
      '',
    ].join('\n'));
  });

  it('exits 1 on YAML syntax errors and unreadable files', async () => {
    const r = await run([broken, join(dir, 'missing.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: line \\d+, column \\d+: `, 'm'));
    expect(r.stderr).toContain(`${join(dir, 'missing.yaml')}: no such file\n`);
  });

  it('reads - from standard input', async () => {
    expect(await run(['-'], policy('from-stdin'))).toEqual({ code: 0, stdout: 'ok <stdin>: 1 policies\n', stderr: '' });
    const r = await run(['-'], policy('x', '{mode: nope}'));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('<stdin>: GovernancePolicy/x: spec.mode: must be one of enforce, audit, off\n');
  });

  it('exits 2 on usage errors and 0 on --help', async () => {
    const none = await run([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no files given/);
    const unknown = await run(['--strict', good]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--strict/);
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: chaperone policy validate FILE\.\.\./);
    expect((await run(['-h'])).code).toBe(0);
  });

  it('treats files after -- as files', async () => {
    expect((await run(['--', good])).code).toBe(0);
  });
});
