import { describe, expect, it } from 'vitest';
import { DLP_DETECTORS, type DlpSpec } from '../../../api/index.js';
import { resolve } from './engine.js';
import { compileDlp, createDetector, enabledDetectors, redact, SENSITIVITY_DETECTORS, type Finding } from './index.js';

/** One sample of each built-in detector's data (all synthetic test values). */
const SAMPLES: Record<string, string> = {
  private_key: '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKB\n-----END PRIVATE KEY-----',
  aws_access_key: 'AKIAIOSFODNN7EXAMPLE',
  api_key: 'sk-proj-Ab3dEf6hIj9lMn2pQr5tUv8xYz1BcD4fGh7jKl0nOp3rSt6vWx9z',
  jwt: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
  credit_card: '4111 1111 1111 1111',
  ssn: '123-45-6789',
  iban: 'DE89 3704 0044 0532 0130 00',
  email: 'jane.doe@example.com',
  phone: '+1 415 555 2671',
};
const TEXT = Object.values(SAMPLES).join(' ... ');
const names = (spec: DlpSpec): string[] => [...new Set(compileDlp(spec).scan(TEXT).map((f) => f.detector))].sort();

describe('sensitivity', () => {
  it('chooses detectors by sensitivity: low < medium (default) < high', () => {
    expect(names({ sensitivity: 'low' })).toEqual(['api_key', 'aws_access_key', 'credit_card', 'jwt', 'private_key']);
    expect(names({})).toEqual(['api_key', 'aws_access_key', 'credit_card', 'email', 'iban', 'jwt', 'private_key', 'ssn']);
    expect(names({ sensitivity: 'high' })).toEqual([...DLP_DETECTORS].sort());
    expect(enabledDetectors({ sensitivity: 'low' })).toEqual(expect.arrayContaining([...SENSITIVITY_DETECTORS.low]));
  });

  it('lets an explicit list override the choice (phone at medium, email alone)', () => {
    expect(names({ detectors: ['phone', 'email'] })).toEqual(['email', 'phone']);
    expect(names({ detectors: [], custom: [] })).toEqual([]);
  });

  it('keeps sensitivity deciding how eager a listed detector is', () => {
    const text = 'ssn 123456789, key Zx9Qm3Lp7Rt2Vw8Ky4Bn6Hd1Fs5Gj0AcE3uWq7';
    expect(compileDlp({ detectors: ['ssn', 'api_key'] }).scan(text)).toEqual([]);
    expect(compileDlp({ detectors: ['ssn', 'api_key'], sensitivity: 'high' }).scan(text).map((f) => f.detector)).toEqual(['ssn', 'api_key']);
  });
});

describe('scanner', () => {
  it('finds each sample where it is, sorted and not overlapping', () => {
    const findings = compileDlp({ sensitivity: 'high' }).scan(TEXT);
    expect(findings.map((f) => [f.detector, TEXT.slice(f.start, f.end)])).toEqual(Object.entries(SAMPLES));
  });

  it('agrees with each detector run alone', () => {
    const scanner = compileDlp({ sensitivity: 'high' });
    // Alone, the generic secret detector (api_key at high) also sees the private key's body.
    const alone = DLP_DETECTORS.flatMap((d) => createDetector(d, 'high').find(TEXT).map((s) => ({ detector: d, ...s })));
    expect(scanner.scan(TEXT)).toEqual(resolve(alone));
  });

  it('runs custom detectors, named by their name', () => {
    const scanner = compileDlp({ detectors: ['email'], custom: [{ name: 'employee_id', pattern: 'EMP-[0-9]{6}' }] });
    expect(scanner.detectors).toEqual(['email', 'employee_id']);
    const text = 'EMP-123456 wrote to jane.doe@example.com';
    expect(scanner.scan(text).map((f) => [f.detector, text.slice(f.start, f.end)])).toEqual([['employee_id', 'EMP-123456'], ['email', 'jane.doe@example.com']]);
  });

  it('resolves overlaps: the earlier start wins, then the longer match', () => {
    const scanner = compileDlp({ detectors: ['email'], custom: [{ name: 'domain', pattern: 'example\\.com' }, { name: 'local', pattern: 'jane' }] });
    const text = 'jane@example.com';
    expect(scanner.scan(text)).toEqual([{ detector: 'email', start: 0, end: text.length }]);
  });

  it('skips custom patterns re2js cannot run and says why', () => {
    const scanner = compileDlp({ custom: [{ name: 'bad', pattern: '(x)\\1' }, { name: 'ok', pattern: 'OK-[0-9]+' }] });
    expect(scanner.errors).toEqual([expect.stringMatching(/^dlp custom detector bad: /)]);
    expect(scanner.scan('OK-1').map((f) => f.detector)).toEqual(['ok']);
  });

  it('compiles once per spec object', () => {
    const spec: DlpSpec = { sensitivity: 'high' };
    expect(compileDlp(spec)).toBe(compileDlp(spec));
    expect(compileDlp({ sensitivity: 'high' })).not.toBe(compileDlp(spec));
  });

  it('finds nothing in ordinary text, code and JSON', () => {
    const text = [
      'The meeting moved to 2024-05-12 at 10:30; 14 people, budget 12,500 EUR (ref 2024/117).',
      'const total = items.reduce((a, b) => a + b.price * 1.2, 0); // v1.22.3',
      '{"id":"3f2a9c1e-8b7d-4e6f-9a0b-1c2d3e4f5a6b","created":1700000000000,"order":48213377,"sku":"SKU-12345"}',
      '@Component({ selector: "app-root" }) import "@types/node"; sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b',
      'risk-management task-force: use sk-learn; see https://example.com/docs?page=2#section-3',
    ].join('\n');
    expect(compileDlp({ sensitivity: 'medium' }).scan(text)).toEqual([]);
  });

  it('handles empty and non-ASCII text', () => {
    const scanner = compileDlp({ sensitivity: 'high' });
    expect(scanner.scan('')).toEqual([]);
    const text = 'Grüße, 東京 — mail jürgen@example.com? No: juergen@example.com 😀';
    expect(scanner.scan(text).map((f) => text.slice(f.start, f.end))).toEqual(['jürgen@example.com', 'juergen@example.com']);
  });
});

describe('redact', () => {
  it('replaces each finding with [REDACTED:<detector>]', () => {
    const text = `card ${SAMPLES.credit_card}, mail ${SAMPLES.email}.`;
    const findings = compileDlp({}).scan(text);
    expect(redact(text, findings)).toBe('card [REDACTED:credit_card], mail [REDACTED:email].');
  });

  it('leaves text without findings alone, and handles findings at both ends', () => {
    expect(redact('nothing here', [])).toBe('nothing here');
    const text = `${SAMPLES.email} ${SAMPLES.email}`;
    expect(redact(text, compileDlp({}).scan(text))).toBe('[REDACTED:email] [REDACTED:email]');
  });

  it('ignores overlapping findings it is handed', () => {
    const f: Finding[] = [{ detector: 'a', start: 0, end: 4 }, { detector: 'b', start: 2, end: 6 }];
    expect(redact('0123456789', f)).toBe('[REDACTED:a]456789');
  });
});

describe('hostile input', () => {
  // Every built-in search and validator is linear in the text: these would take seconds (or hours)
  // with a quadratic or backtracking step. 1 MB each.
  const MB = 1 << 20;
  const fill = (unit: string): string => unit.repeat(Math.ceil(MB / unit.length)).slice(0, MB);
  const scanner = compileDlp({ sensitivity: 'high', custom: [{ name: 'x', pattern: '(a|aa)*b' }] });
  it.each([
    ['eyJ', fill('eyJ')],
    ['a long JWT-like token', ` eyJ${fill('a')}`],
    ['dotted JWT-like segments', fill(' eyJa.eyJb.')],
    ['@', fill('@')],
    ['local parts', fill('a@')],
    ['dotted domains', `x@${fill('a.')}`],
    ['digits', fill('1')],
    ['grouped digits', fill('1234 ')],
    ['single digits', fill('1 ')],
    ['phone-like', fill('+1 (415) ')],
    ['PEM headers', fill('-----BEGIN RSA PRIVATE KEY-----\n')],
    ['PEM header then base64', `-----BEGIN PRIVATE KEY-----\n${fill('QUJD\n')}`],
    ['sk-', fill('sk-')],
    ['sk- tokens', fill(' sk-a')],
    ['gh', fill('gh')],
    ['ghp_ tokens', fill(' ghp_1')],
    ['secret hints', fill('aws_secret ')],
    ['AKIA', fill('AKIA')],
    ['IBAN-like', fill('DE89 ')],
    ['upper case and digits', fill('AB12 ')],
    ['base64', fill('Ab3+')],
    ['words', fill('lorem ipsum ')],
  ])('%s', (_what, text) => {
    const t0 = performance.now();
    scanner.scan(text);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
