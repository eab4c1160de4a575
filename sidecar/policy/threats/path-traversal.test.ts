import { describe, expect, it } from 'vitest';
import { detectPathTraversal, normalisePath } from './path-traversal.js';
import { judge } from './testing.js';

const path = (p: string, s?: 'low' | 'medium' | 'high'): string | undefined => judge(detectPathTraversal, 'read_file', 'path', p, s);

describe('path traversal', () => {
  it.each([
    ['../../../../etc/passwd', 'climbs out'],
    ['..\\..\\..\\windows\\win.ini', 'climbs out'],
    ['%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd', 'encoded'],
    ['..%2f..%2f..%2fetc/shadow', 'encoded'],
    ['%252e%252e%252fetc%252fpasswd', 'encoded'],
    ['..%c0%af..%c0%afetc/passwd', 'encoded'],
    ['%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd', 'encoded'],
    ['....//....//....//etc/passwd', '....//'],
    ['..;/..;/WEB-INF/web.xml', '..;/'],
    ['\uff0e\uff0e/\uff0e\uff0e/\uff0e\uff0e/etc/passwd', 'obfuscated'],
    ['..\u2215..\u2215..\u2215etc/passwd', 'look-alike'],
    ['/var/www/html/../../../etc/passwd', 'system account'],
    ['/etc/shadow', 'shadow'],
    ['/proc/self/environ', 'environ'],
    ['~/.ssh/id_rsa', 'SSH private key'],
    ['/home/ubuntu/.aws/credentials', 'cloud credentials'],
    ['/var/run/secrets/kubernetes.io/serviceaccount/token', 'service-account'],
    ['C:\\Windows\\System32\\config\\SAM', 'SAM'],
    ['C:/Windows/System32/drivers/etc/hosts', 'Windows'],
    ['report.pdf%00.png', 'null byte'],
    ['../../config.php\u0000.jpg', 'null byte'],
    ['../../.env', 'climbs out'],
    ['\\\\attacker.example\\share\\x.dll', 'UNC'],
    ['/var/run/docker.sock', 'runtime socket'],
  ])('%s: %s', (p, what) => {
    expect(path(p)).toMatch(new RegExp(what.replace(/[.()]/g, '\\$&'), 'i'));
  });

  it.each([
    'src/index.ts', './docs/../README.md', '/home/user/project/data.csv', '/tmp/out.json', '/etc/nginx/nginx.conf', 'C:\\Users\\dev\\report.docx',
    '~/projects/app/.env.example', '.github/workflows/ci.yml', 'notes...txt', '/opt/app/../app/config.yaml', '../package.json', 'a/b/c/../../d.txt',
    '/proc/cpuinfo', 'My Documents/Q3 Plan (final).pdf', 'My%20File.pdf', 'docs/api/v1..v2-migration.md', '/etc/ssl/certs/ca-certificates.crt',
  ])('%s stays inside', (p) => {
    expect(path(p)).toBeUndefined();
  });

  it('counts a single ../, .env and anything under /etc only at high', () => {
    expect(path('../package.json', 'high')).toMatch(/climbs out/);
    expect(path('.env', 'high')).toBeUndefined(); // relative, not climbing: the project's own
    expect(path('/app/.env', 'high')).toMatch(/\.env/);
    expect(path('/etc/nginx/nginx.conf', 'high')).toMatch(/system files/);
  });

  it('reads ../ in a URL query parameter, not in its path (clients resolve that)', () => {
    expect(judge(detectPathTraversal, 'http_get', 'url', 'https://files.example.com/download?file=../../../../etc/passwd')).toMatch(/query parameter/);
    expect(judge(detectPathTraversal, 'http_get', 'url', 'https://github.com/org/repo/blob/main/docs/../README.md')).toBeUndefined();
  });

  it('normalises paths the way the kernel resolves them', () => {
    expect(normalisePath('/a/b/../../../../etc/passwd')).toMatchObject({ path: '/etc/passwd', ups: 4, absolute: true });
    expect(normalisePath('../../x')).toMatchObject({ path: '../../x', escape: 2 });
    expect(normalisePath('./docs/../README.md')).toMatchObject({ path: 'README.md', escape: 0 });
    expect(normalisePath('$HOME/.ssh/id_rsa').path).toBe('/.ssh/id_rsa');
    expect(normalisePath('file:///etc/shadow').path).toBe('/etc/shadow');
  });

  it('is not read in documents, SQL or shell commands', () => {
    expect(judge(detectPathTraversal, 'write_file', 'content', "import { x } from '../../../lib/x.js';\nexport const y = x + 1; // see ../../../docs for the details of this module")).toBeUndefined();
  });
});
