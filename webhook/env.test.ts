import type { V1Container, V1EnvVar } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { addAppEnv, exemptsIntercepted, noProxyDomain, removeAppEnv } from './env.js';

const PROXY = 'http://127.0.0.1:14001';
const DEFAULTS = 'localhost,127.0.0.1,::1';
const JAVA_PROXY = '-Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=14001 -Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=14001 -Dhttp.nonProxyHosts=localhost|127.0.0.1|[::1]';
const JAVA_TRUST = '-Djavax.net.ssl.trustStore=/etc/chaperone/trust/ca-bundle.jks -Djavax.net.ssl.trustStoreType=JKS';
const JAVA = `${JAVA_PROXY} ${JAVA_TRUST}`;
const container = (env?: V1EnvVar[]): V1Container => ({ name: 'app', ...(env ? { env } : {}) });
const valueOf = (c: V1Container, name: string) => c.env?.findLast((e) => e.name === name)?.value;
const fromSecret = { secretKeyRef: { name: 's', key: 'k' } };

describe('addAppEnv', () => {
  it('adds every variable to a container without env', () => {
    const c = container();
    const changes = addAppEnv(c);
    expect(changes.added).toEqual([
      'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy', 'NODE_USE_ENV_PROXY', 'JAVA_TOOL_OPTIONS',
      'SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'AWS_CA_BUNDLE', 'GIT_SSL_CAINFO', 'NODE_EXTRA_CA_CERTS',
    ]);
    expect(changes).toMatchObject({ merged: {}, skipped: [], warnings: [] });
    expect(valueOf(c, 'https_proxy')).toBe(PROXY);
    expect(valueOf(c, 'NO_PROXY')).toBe(DEFAULTS);
    expect(valueOf(c, 'NODE_USE_ENV_PROXY')).toBe('1');
    expect(valueOf(c, 'JAVA_TOOL_OPTIONS')).toBe(JAVA);
    expect(valueOf(c, 'REQUESTS_CA_BUNDLE')).toBe('/etc/chaperone/trust/ca-bundle.crt');
    expect(valueOf(c, 'NODE_EXTRA_CA_CERTS')).toBe('/etc/chaperone/trust/ca.crt');
  });

  it.each([
    ['HTTP_PROXY', { value: 'http://corp:3128' }, ['HTTP_PROXY', 'http_proxy']],
    ['http_proxy', { value: '' }, ['HTTP_PROXY', 'http_proxy']],
    ['https_proxy', { valueFrom: fromSecret }, ['HTTPS_PROXY', 'https_proxy']],
  ])('treats both spellings as one setting: the user set %s', (name, rest, skipped) => {
    const c = container([{ name, ...rest }]);
    const changes = addAppEnv(c);
    expect(changes.skipped).toEqual(skipped);
    expect(c.env?.filter((e) => skipped.includes(e.name))).toEqual([{ name, ...rest }]);
  });

  it('merges NO_PROXY: the user\'s hosts of both spellings, in order, once, then ours; both spellings', () => {
    const c = container([{ name: 'no_proxy', value: 'b.example.com, localhost,,a.example.com' }, { name: 'NO_PROXY', value: 'a.example.com,c.example.com' }]);
    const changes = addAppEnv(c);
    const merged = `a.example.com,c.example.com,b.example.com,localhost,127.0.0.1,::1`;
    expect(c.env?.slice(0, 2)).toEqual([{ name: 'no_proxy', value: merged }, { name: 'NO_PROXY', value: merged }]);
    expect(changes.merged).toEqual({ NO_PROXY: 'a.example.com,c.example.com', no_proxy: 'b.example.com, localhost,,a.example.com' });
    expect(changes.added).not.toContain('NO_PROXY');
  });

  it('adds the missing NO_PROXY spelling with the merged value', () => {
    const c = container([{ name: 'NO_PROXY', value: 'x.example.com' }]);
    const changes = addAppEnv(c);
    expect(valueOf(c, 'no_proxy')).toBe(`x.example.com,${DEFAULTS}`);
    expect(changes.merged).toEqual({ NO_PROXY: 'x.example.com' });
    expect(changes.added).toContain('no_proxy');
  });

  it('leaves NO_PROXY alone when either spelling comes from elsewhere', () => {
    const c = container([{ name: 'NO_PROXY', value: 'x' }, { name: 'no_proxy', valueFrom: fromSecret }]);
    const changes = addAppEnv(c);
    expect(changes.skipped).toEqual(['NO_PROXY', 'no_proxy']);
    expect(changes.merged).toEqual({});
    expect(valueOf(c, 'NO_PROXY')).toBe('x');
    expect(changes.warnings).toEqual(['no_proxy comes from valueFrom: it cannot be checked for entries that exempt intercepted hosts']);
  });

  it.each<[string, string, string[], string, string | undefined]>([
    ['a parent domain of a provider', '.openai.com,internal.example.com', [], 'internal.example.com',
      'NO_PROXY entry .openai.com removed: it would exempt intercepted host api.openai.com'],
    ['the example of the brief', 'api.openai.com:443, .openai.com, *', [], '',
      'NO_PROXY entries api.openai.com:443, .openai.com, * removed: they would exempt intercepted hosts api.openai.com, *.openai.azure.com, api.anthropic.com and 14 more'],
    ['an annotation host', 'mcp.tools.svc.cluster.local,db.svc.cluster.local', ['mcp.tools.svc.cluster.local'], 'db.svc.cluster.local',
      'NO_PROXY entry mcp.tools.svc.cluster.local removed: it would exempt intercepted host mcp.tools.svc.cluster.local'],
    ['a whole in-cluster domain over an annotation host', '.svc,.cluster.local', ['mcp.tools.svc'], '.cluster.local',
      'NO_PROXY entry .svc removed: it would exempt intercepted host mcp.tools.svc'],
    ['an annotation wildcard, by its base and by a subdomain', 'tools.example.com,a.tools.example.com,example.org', ['*.tools.example.com'], 'example.org',
      'NO_PROXY entries tools.example.com, a.tools.example.com removed: they would exempt intercepted host *.tools.example.com'],
    // s3.amazonaws.com would exempt bedrock-runtime.s3.amazonaws.com: not a real region, but the pattern's.
    ['Bedrock by region (and any X.amazonaws.com), Vertex by location',
      'bedrock-runtime.eu-west-1.amazonaws.com,sts.us-east-1.amazonaws.com,s3.amazonaws.com,europe-west4-aiplatform.googleapis.com', [], 'sts.us-east-1.amazonaws.com',
      'NO_PROXY entries bedrock-runtime.eu-west-1.amazonaws.com, s3.amazonaws.com, europe-west4-aiplatform.googleapis.com removed: they would exempt intercepted hosts '
        + 'bedrock-runtime.*.amazonaws.com, bedrock-runtime-fips.*.amazonaws.com, *-aiplatform.googleapis.com'],
    ['IP addresses and ranges', '10.0.0.0/8,169.254.169.254,[::1]:8080,fd00::/8', [], '10.0.0.0/8,169.254.169.254,[::1]:8080,fd00::/8', undefined],
    ['hosts beside an intercepted one', 'openai.com.evil.example,xapi.openai.com,azure.com.example', [], 'openai.com.evil.example,xapi.openai.com,azure.com.example', undefined],
  ])('removes the NO_PROXY entries that would exempt an intercepted host: %s', (_label, user, interceptHosts, kept, warning) => {
    const c = container([{ name: 'no_proxy', value: user }]);
    const changes = addAppEnv(c, {}, interceptHosts);
    expect(valueOf(c, 'no_proxy')).toBe(kept === '' ? DEFAULTS : `${kept},${DEFAULTS}`);
    expect(valueOf(c, 'NO_PROXY')).toBe(valueOf(c, 'no_proxy'));
    expect(changes.merged).toEqual({ no_proxy: user });
    expect(changes.warnings).toEqual(warning ? [warning] : []);
  });

  it('uses the last of repeated entries, as Kubernetes does', () => {
    const c = container([{ name: 'NO_PROXY', value: 'first' }, { name: 'NO_PROXY', value: 'last' }]);
    addAppEnv(c);
    expect(c.env?.slice(0, 2)).toEqual([{ name: 'NO_PROXY', value: 'first' }, { name: 'NO_PROXY', value: `last,${DEFAULTS}` }]);
  });

  it('never overrides a trust variable, and adds extra ones the same way', () => {
    const c = container([{ name: 'NODE_EXTRA_CA_CERTS', value: '/mine.pem' }, { name: 'CHAPERONE_QUIT_URL', value: 'mine' }]);
    const changes = addAppEnv(c, { CHAPERONE_QUIT_URL: 'ours', EXTRA: 'x' });
    expect(changes.skipped).toEqual(['NODE_EXTRA_CA_CERTS', 'CHAPERONE_QUIT_URL']);
    expect(changes.added.at(-1)).toBe('EXTRA');
    expect(valueOf(c, 'NODE_EXTRA_CA_CERTS')).toBe('/mine.pem');
  });

  it.each<[string, V1EnvVar[], boolean, string | undefined]>([
    ['the user set it', [{ name: 'NODE_USE_ENV_PROXY', value: '0' }], false, '0'],
    ['one proxy pair is ours', [{ name: 'HTTPS_PROXY', value: 'http://corp:3128' }], true, '1'],
    ['both pairs are the user\'s', [{ name: 'HTTPS_PROXY', value: 'http://corp:3128' }, { name: 'http_proxy', value: '' }], false, undefined],
    ['both pairs are ours, left over', [{ name: 'HTTPS_PROXY', value: PROXY }, { name: 'HTTP_PROXY', value: PROXY }], true, '1'],
  ])('switches Node to the proxy variables unless %s', (_label, env, added, value) => {
    const c = container(env);
    const changes = addAppEnv(c);
    expect(changes.added.includes('NODE_USE_ENV_PROXY')).toBe(added);
    expect(valueOf(c, 'NODE_USE_ENV_PROXY')).toBe(value);
  });

  describe('JAVA_TOOL_OPTIONS', () => {
    it.each<[string, string, string]>([
      ['none of ours', '-Xmx512m  -Dfile.encoding=UTF-8 ', `-Xmx512m  -Dfile.encoding=UTF-8 ${JAVA}`],
      ['an empty value', '', JAVA],
      ['their own trust store: the trust group is theirs', '-Djavax.net.ssl.trustStore=/mine.p12', `-Djavax.net.ssl.trustStore=/mine.p12 ${JAVA_PROXY}`],
      ['their own https proxy host: its port is theirs too', '-Dhttps.proxyHost=corp',
        `-Dhttps.proxyHost=corp -Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=14001 -Dhttp.nonProxyHosts=localhost|127.0.0.1|[::1] ${JAVA_TRUST}`],
      ['their own nonProxyHosts', '-Dhttp.nonProxyHosts=*.corp', `-Dhttp.nonProxyHosts=*.corp -Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=14001 -Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=14001 ${JAVA_TRUST}`],
    ])('appends the properties the user did not set: %s', (_label, user, merged) => {
      const c = container([{ name: 'JAVA_TOOL_OPTIONS', value: user }]);
      const changes = addAppEnv(c);
      expect(valueOf(c, 'JAVA_TOOL_OPTIONS')).toBe(merged);
      expect(changes.merged).toEqual({ JAVA_TOOL_OPTIONS: user });
      expect(changes.added).not.toContain('JAVA_TOOL_OPTIONS');
      expect(changes.warnings).toEqual(user.includes('proxyHost=corp') ? ['JAVA_TOOL_OPTIONS sets https.proxyHost itself: Java\'s https calls do not go through the sidecar'] : []);
    });

    it('is left alone when the user set every property', () => {
      const user = `-Xss1m ${JAVA.replace(/=127\.0\.0\.1/g, '=corp')}`;
      const c = container([{ name: 'JAVA_TOOL_OPTIONS', value: user }]);
      const changes = addAppEnv(c);
      expect(valueOf(c, 'JAVA_TOOL_OPTIONS')).toBe(user);
      expect(changes.skipped).toContain('JAVA_TOOL_OPTIONS');
      expect(changes.merged).toEqual({});
      expect(changes.warnings).toEqual(['JAVA_TOOL_OPTIONS sets http.proxyHost/https.proxyHost itself: Java\'s http/https calls do not go through the sidecar']);
    });

    it('sets the proxy properties only for the pairs that lead to the sidecar', () => {
      const c = container([{ name: 'HTTPS_PROXY', value: 'http://corp:3128' }, { name: 'HTTP_PROXY', valueFrom: fromSecret }]);
      addAppEnv(c);
      expect(valueOf(c, 'JAVA_TOOL_OPTIONS')).toBe(JAVA_TRUST);
    });

    it('is left alone, with a warning, when it comes from valueFrom', () => {
      const c = container([{ name: 'JAVA_TOOL_OPTIONS', valueFrom: fromSecret }]);
      const changes = addAppEnv(c);
      expect(changes.skipped).toContain('JAVA_TOOL_OPTIONS');
      expect(changes.warnings).toEqual(['JAVA_TOOL_OPTIONS comes from valueFrom: Java gets no proxy or trust-store properties']);
      expect(c.env?.filter((e) => e.name === 'JAVA_TOOL_OPTIONS')).toEqual([{ name: 'JAVA_TOOL_OPTIONS', valueFrom: fromSecret }]);
    });
  });
});

describe('noProxyDomain', () => {
  it.each<[string, string | undefined]>([
    ['*', '*'], [' .Example.COM ', 'example.com'], ['*.example.com', 'example.com'], ['example.com.', 'example.com'],
    ['example.com:443', 'example.com'], ['localhost', 'localhost'],
    ['10.1.2.3', undefined], ['10.0.0.0/8', undefined], ['::1', undefined], ['[::1]:443', undefined], ['fd00::/8', undefined],
    ['10.1.2.3:80', undefined], ['.', undefined],
  ])('%j → %j', (entry, domain) => expect(noProxyDomain(entry)).toBe(domain));
});

describe('exemptsIntercepted', () => {
  it.each<[string, string, boolean]>([
    ['api.openai.com', 'api.openai.com', true],
    ['openai.com', 'api.openai.com', true],
    ['com', 'api.openai.com', true],
    ['x.api.openai.com', 'api.openai.com', false],
    ['xapi.openai.com', 'api.openai.com', false],
    ['openai.azure.com', '*.openai.azure.com', true],
    ['azure.com', '*.openai.azure.com', true],
    ['myres.openai.azure.com', '*.openai.azure.com', true],
    ['a.b.openai.azure.com', '*.openai.azure.com', true],
    ['evil-openai.azure.com', '*.openai.azure.com', false],
    ['amazonaws.com', 'bedrock-runtime.*.amazonaws.com', true],
    ['us-east-1.amazonaws.com', 'bedrock-runtime.*.amazonaws.com', true],
    ['s3.us-east-1.amazonaws.com', 'bedrock-runtime.*.amazonaws.com', false],
    ['googleapis.com', '*-aiplatform.googleapis.com', true],
    ['aiplatform.googleapis.com', '*-aiplatform.googleapis.com', false],
    ['*', 'api.openai.com', true],
  ])('%s exempts part of %s: %s', (domain, pattern, want) => expect(exemptsIntercepted(domain, pattern)).toBe(want));
});

describe('removeAppEnv', () => {
  it.each<[string, V1EnvVar[] | undefined]>([
    ['no env', undefined],
    ['the user\'s env', [
      { name: 'A', value: '1' },
      { name: 'no_proxy', value: 'x.example.com' },
      { name: 'HTTPS_PROXY', valueFrom: fromSecret },
      { name: 'NO_PROXY', value: '' },
    ]],
    ['removed NO_PROXY entries and merged JAVA_TOOL_OPTIONS', [
      { name: 'NO_PROXY', value: '*,.openai.com,db.internal,mcp.tools.svc' },
      { name: 'JAVA_TOOL_OPTIONS', value: '-Xmx1g -Dhttps.proxyHost=corp' },
      { name: 'NODE_USE_ENV_PROXY', value: '' },
    ]],
  ])('restores %s exactly', (_label, env) => {
    const c = container(structuredClone(env));
    const changes = addAppEnv(c, {}, ['mcp.tools.svc']);
    removeAppEnv(c, changes.added, changes.merged);
    expect(c).toEqual(container(env));
    expect('env' in c).toBe(env !== undefined);
  });
});
