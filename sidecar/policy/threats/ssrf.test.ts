import { describe, expect, it } from 'vitest';
import { classifyV4, classifyV6, dotted, embeddedIPv4, parseCidr, parseIPv4, parseIPv6 } from './addresses.js';
import { classifyHost, detectSsrfWith, parseUrl, type ClusterConfig } from './ssrf.js';
import { judge } from './testing.js';

const cluster: ClusterConfig = { cidrs: [parseCidr('10.96.0.0/12')!], domains: ['kubernetes', 'kubernetes.default', '*.svc', '*.svc.cluster.local'] };
const detect = detectSsrfWith(cluster);
const url = (u: string, s?: 'low' | 'medium' | 'high'): string | undefined => judge(detect, 'web_fetch', 'url', u, s);

describe('addresses', () => {
  it('reads every spelling inet_aton and URL parsers accept', () => {
    for (const h of ['127.0.0.1', '2130706433', '0x7f.1', '017700000001', '127.1', '0x7f000001', '0177.0.0.1', '0x7f.0x0.0x0.0x1']) expect(dotted(parseIPv4(h)!), h).toBe('127.0.0.1');
    for (const h of ['2852039166', '0xA9FEA9FE'.toLowerCase(), '0251.0376.0251.0376', '169.254.43518', '0xa9.0xfe.0xa9.0xfe']) expect(dotted(parseIPv4(h)!), h).toBe('169.254.169.254');
    expect(parseIPv4('0')).toBe(0);
    for (const h of ['256.1.1.1', '1.2.3.4.5', 'example.com', '08.1.1.1', '']) expect(parseIPv4(h), h).toBeUndefined();
  });

  it('reads IPv6 with embedded IPv4 and zone ids', () => {
    expect(parseIPv6('::1')).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    expect(parseIPv6('[::ffff:127.0.0.1]')).toEqual([0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]);
    expect(parseIPv6('::ffff:a9fe:a9fe')).toEqual([0, 0, 0, 0, 0, 0xffff, 0xa9fe, 0xa9fe]);
    expect(parseIPv6('fe80::1%eth0')).toEqual([0xfe80, 0, 0, 0, 0, 0, 0, 1]);
    expect(parseIPv6('1:2:3:4:5:6:1.2.3.4')).toEqual([1, 2, 3, 4, 5, 6, 0x102, 0x304]);
    expect(dotted(embeddedIPv4(parseIPv6('64:ff9b::169.254.169.254')!)!)).toBe('169.254.169.254');
    expect(dotted(embeddedIPv4(parseIPv6('2002:a9fe:a9fe::1')!)!)).toBe('169.254.169.254');
    for (const h of ['1::2::3', 'fe80', ':::', '12345::1']) expect(parseIPv6(h), h).toBeUndefined();
  });

  it('classifies what lies inside', () => {
    const v4 = (s: string): string => classifyV4(parseIPv4(s)!, cluster.cidrs);
    expect(['169.254.169.254', '127.0.0.5', '0.0.0.0', '169.254.1.1', '10.100.0.1', '10.0.0.1', '192.168.1.1', '100.64.0.1', '8.8.8.8'].map(v4)).toEqual([
      'metadata', 'loopback', 'unspecified', 'link_local', 'cluster', 'private', 'private', 'private', 'public',
    ]);
    const v6 = (s: string): string => classifyV6(parseIPv6(s)!, cluster.cidrs);
    expect(['fd00:ec2::254', '::1', '::', 'fe80::1', 'fd12::1', '::ffff:169.254.169.254', '2606:4700::1111'].map(v6)).toEqual([
      'metadata', 'loopback', 'unspecified', 'link_local', 'private', 'metadata', 'public',
    ]);
  });

  it('parses CIDRs of both families', () => {
    expect(parseCidr('10.96.0.0/12')).toEqual({ v6: false, net: parseIPv4('10.96.0.0'), bits: 12 });
    expect(parseCidr('fd00:10:96::/112')?.bits).toBe(112);
    for (const c of ['10.96.0.0/33', '10.96/12', 'x/8', '10.0.0.0/']) expect(parseCidr(c), c).toBeUndefined();
  });
});

describe('ssrf', () => {
  it.each([
    ['http://169.254.169.254/latest/meta-data/iam/security-credentials/', 'metadata'],
    ['http://metadata.google.internal/computeMetadata/v1/', 'metadata'],
    ['http://[fd00:ec2::254]/latest/meta-data/', 'metadata'],
    ['http://100.100.100.200/latest/meta-data/', 'metadata'],
    ['http://2852039166/', 'metadata'],
    ['http://0xa9.0xfe.0xa9.0xfe/', 'metadata'],
    ['http://[::ffff:169.254.169.254]/', 'metadata'],
    ['http://good.example@169.254.169.254/', 'metadata'],
    ['http://169.254.169.254.nip.io/', 'metadata'],
    ['http://\u2460\u2465\u2468.\u2461\u2464\u2463.\u2460\u2465\u2468.\u2461\u2464\u2463/', 'metadata'],
    ['http://localhost:14090/status', 'loopback'],
    ['http://127.1/', 'loopback'],
    ['http://2130706433/', 'loopback'],
    ['http://0x7f.1/', 'loopback'],
    ['http://017700000001/', 'loopback'],
    ['http://[::1]/', 'loopback'],
    ['http://[::ffff:127.0.0.1]/', 'loopback'],
    ['http://0.0.0.0:8080/', 'unspecified'],
    ['http://localtest.me/', 'loopback'],
    ['http://LOCALHOST./admin', 'loopback'],
    ['http://[fe80::1%25eth0]/', 'link-local'],
    ['https://kubernetes.default.svc/api/v1/secrets', 'cluster'],
    ['http://redis.cache.svc.cluster.local:6379/', 'cluster'],
    ['http://10.96.0.1/', 'cluster'],
    ['http://vault:8200/v1/secret', 'cluster'],
    ['file:///etc/passwd', 'file:'],
    ['gopher://127.0.0.1:6379/_FLUSHALL', 'gopher'],
    ['dict://127.0.0.1:11211/stats', 'dict'],
    ['jar:http://evil.example/x.jar!/', 'jar'],
    ['https://example.com/proxy?target=http%3A%2F%2F127.0.0.1%3A2375%2F', 'query parameter target'],
    ['https://example.com/redirect?url=http://169.254.169.254/', 'query parameter url'],
  ])('%s: %s', (u, what) => {
    expect(url(u)).toMatch(new RegExp(what, 'i'));
  });

  it.each([
    'https://api.github.com/repos/nodejs/node', 'http://example.com', 'https://1.1.1.1/dns-query', 'http://[2001:4860:4860::8888]/', 'https://user@github.com/org/repo.git',
    'https://example.com/oauth/authorize?redirect_uri=http://localhost:3000/callback', 'https://metadata.example.com/v1', 'https://169-254-169-254.example.com/',
    'https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html', 'mailto:team@example.com', 'ftp://ftp.gnu.org/gnu/', 'https://en.wikipedia.org/wiki/169.254.169.254',
  ])('%s is public', (u) => {
    expect(url(u)).toBeUndefined();
  });

  it('counts private ranges and internal names only at high, metadata from low', () => {
    expect(url('http://10.0.0.5/admin')).toBeUndefined();
    expect(url('http://10.0.0.5/admin', 'high')).toMatch(/private/);
    expect(url('http://db.corp/', 'high')).toMatch(/private/);
    expect(url('http://localhost/', 'low')).toBeUndefined();
    expect(url('http://169.254.169.254/', 'low')).toMatch(/metadata/);
    expect(url('http://good.example@evil.example/', 'high')).toMatch(/userinfo/);
  });

  it('reads host fields, but not a bare name there ("origin", "staging")', () => {
    expect(judge(detect, 'connect_db', 'host', '169.254.169.254')).toMatch(/metadata/);
    expect(judge(detect, 'smtp_send', 'server', 'fd00:ec2::254')).toMatch(/metadata/);
    expect(judge(detect, 'connect_db', 'host', 'localhost:6379')).toMatch(/loopback/);
    expect(judge(detect, 'git_push', 'remote', 'origin')).toBeUndefined();
    expect(judge(detect, 'deploy', 'target', 'staging')).toBeUndefined();
    expect(judge(detect, 'connect_db', 'host', 'db.example.com')).toBeUndefined();
  });

  it('reads URLs inside other text for the metadata service and the Kubernetes API only', () => {
    expect(judge(detect, 'run_command', 'command', 'curl -s http://169.254.169.254/latest/meta-data/')).toMatch(/metadata/);
    expect(judge(detect, 'run_command', 'command', 'curl -sk https://kubernetes.default.svc/api/v1/secrets')).toMatch(/cluster/);
    expect(judge(detect, 'run_command', 'command', 'curl -sf localhost:8080/healthz && curl http://127.0.0.1:3000/')).toBeUndefined();
    expect(judge(detect, 'slack_post', 'text', 'the app runs on http://localhost:3000 now')).toBeUndefined();
  });

  it('takes both readings when a backslash makes parsers disagree', () => {
    expect(parseUrl('http://good.example\\@169.254.169.254/')?.hosts).toEqual(['169.254.169.254', 'good.example']);
    expect(classifyHost('127.0.0.1.sslip.io', cluster)).toEqual({ cls: 'loopback', how: 'through sslip.io' });
  });
});
