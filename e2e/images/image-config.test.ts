// The Dockerfile parser and the archive reader behind checkImageMatchesDockerfile. Builds nothing: the
// real Dockerfile is checked against fabricated OCI archives (one that agrees, several that do not).
// The real archive is checked by build-images.sh itself, which fails the build on any difference.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkImageMatchesDockerfile,
  compareConfig,
  expectedFromDockerfile,
  readImageArchive,
  splitWords,
  type ImageRuntimeConfig,
} from './image-config.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const dockerfile = join(repo, 'Dockerfile');
const expected = expectedFromDockerfile(readFileSync(dockerfile, 'utf8'));

const work = mkdtempSync(join(tmpdir(), 'image-config-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The config an image built from `expected` would carry, on top of a node-like base. */
function configFor(e: typeof expected): ImageRuntimeConfig {
  return {
    User: e.user,
    Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'NODE_VERSION=20.0.0', ...Object.entries(e.env).map(([k, v]) => `${k}=${v}`)],
    Entrypoint: e.entrypoint ?? null,
    Cmd: e.cmd ?? null,
    WorkingDir: e.workingDir ?? '',
    ExposedPorts: Object.fromEntries(e.exposedPorts.map((p) => [p, {}])),
  };
}

let archives = 0;
/** Writes an OCI image layout holding one image with this config and tars it with the system tar. */
function fabricateArchive(config: ImageRuntimeConfig, opts: { name?: string; tarFormat?: string; longEntry?: boolean } = {}): string {
  const dir = join(work, `layout-${++archives}`);
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (obj: unknown, mediaType: string) => {
    const data = Buffer.from(JSON.stringify(obj));
    const hex = createHash('sha256').update(data).digest('hex');
    writeFileSync(join(blobs, hex), data);
    return { mediaType, digest: `sha256:${hex}`, size: data.length };
  };
  const cfg = put({ architecture: 'amd64', os: 'linux', config, rootfs: { type: 'layers', diff_ids: [] } }, 'application/vnd.oci.image.config.v1+json');
  const manifest = put({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: cfg, layers: [] }, 'application/vnd.oci.image.manifest.v1+json');
  const name = opts.name ?? 'chaperone.dev/chaperone:test';
  const annotations = { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name.split(':').pop()! };
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...manifest, annotations }] }));
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  // A name past ustar's 100 bytes: the reader must follow GNU 'L' / pax 'path' records past it.
  if (opts.longEntry) writeFileSync(join(dir, 'x'.repeat(150)), 'long');
  const out = join(work, `image-${archives}.tar`);
  execFileSync('tar', [`--format=${opts.tarFormat ?? 'gnu'}`, '-cf', out, '-C', dir, '.']);
  return out;
}

describe('the Dockerfile parser', () => {
  it('reads the real Dockerfile final stage: a non-root user, an exec-form entrypoint, ports', () => {
    // Structure only: the values themselves live in the Dockerfile and nowhere else.
    expect(expected.from).toMatch(/^node:/);
    expect(expected.user).toMatch(/^\d+(:\d+)?$/);
    expect(expected.entrypoint?.[0]).toBe('node');
    expect(expected.cmd?.length).toBeGreaterThan(0);
    expect(expected.workingDir).toMatch(/^\//);
    expect(Object.keys(expected.env)).toEqual(expect.arrayContaining(['NODE_ENV', 'NODE_OPTIONS']));
    expect(expected.env.NODE_OPTIONS).not.toMatch(/"/); // quotes are syntax, not part of the value
    expect(expected.exposedPorts.length).toBeGreaterThan(0);
    for (const p of expected.exposedPorts) expect(p).toMatch(/^\d+\/tcp$/);
  });

  it('follows docker semantics for ENV forms, quoting, continuations, WORKDIR, SHELL and CMD reset', () => {
    const e = expectedFromDockerfile(
      [
        '# escape=\\',
        'FROM debian AS base',
        'ENV A=1 B="two words" C=\'$A\' \\',
        '    # a comment inside a continuation is dropped',
        '    D=${A}x E=${UNSET:-dflt}',
        'ENV LEGACY value with spaces',
        'ENV F=${A}y',
        'ENV PATH=/opt/bin:$PATH',
        'WORKDIR /srv',
        'WORKDIR app/../data',
        'EXPOSE 80 53/UDP 8080/tcp',
        'LABEL org.example.k="v w"',
        'CMD ["base-cmd"]',
        'FROM base',
        'SHELL ["/bin/bash", "-ec"]',
        'ENTRYPOINT run --flag "$A"',
        'USER 1000:1000',
        'STOPSIGNAL SIGQUIT',
      ].join('\n'),
    );
    expect(e.from).toBe('debian');
    // One ENV expands against the environment before it: D does not see the A set beside it.
    expect(e.env).toEqual({ A: '1', B: 'two words', C: '$A', D: 'x', E: 'dflt', LEGACY: 'value with spaces', F: '1y', PATH: '/opt/bin:' });
    // Values that depend on the base image's environment are checked for presence only.
    expect(e.envUnknown).toEqual(['D', 'E', 'PATH']);
    expect(e.workingDir).toBe('/srv/data');
    expect(e.exposedPorts).toEqual(['80/tcp', '53/udp', '8080/tcp']);
    expect(e.labels).toEqual({ 'org.example.k': 'v w' });
    expect(e.entrypoint).toEqual(['/bin/bash', '-ec', 'run --flag "$A"']);
    expect(e.cmd).toBeNull(); // ENTRYPOINT resets the CMD inherited from the earlier stage
    expect(e.user).toBe('1000:1000');
    expect(e.stopSignal).toBe('SIGQUIT');
  });

  it('splits words like a shell would, minus globbing', () => {
    const vars = (n: string) => ({ X: 'ex' })[n];
    expect(splitWords(`a "b c" 'd $X' e\\ f $X "\\"q\\""`, vars)).toEqual({ words: ['a', 'b c', 'd $X', 'e f', 'ex', '"q"'], unknown: false });
    expect(splitWords('$NOPE', vars).unknown).toBe(true);
  });
});

describe('comparing an image config with the Dockerfile', () => {
  it('finds no difference in a config built from the declarations', () => {
    expect(compareConfig(expected, configFor(expected))).toEqual([]);
  });

  it('names each field that differs', () => {
    const good = configFor(expected);
    const cases: Array<[string, ImageRuntimeConfig]> = [
      ['User', { ...good, User: '' }],
      ['Entrypoint', { ...good, Entrypoint: ['docker-entrypoint.sh'] }],
      ['Cmd', { ...good, Cmd: ['node'] }],
      ['WorkingDir', { ...good, WorkingDir: '/' }],
      ['Env', { ...good, Env: good.Env!.filter((e) => !e.startsWith('NODE_OPTIONS=')) }],
      ['Env', { ...good, Env: [...good.Env!, 'NODE_ENV=development'] }],
      ['ExposedPorts', { ...good, ExposedPorts: {} }],
    ];
    for (const [field, config] of cases) {
      const diffs = compareConfig(expected, config);
      expect(diffs.length, field).toBeGreaterThan(0);
      for (const d of diffs) expect(d).toMatch(new RegExp(`^${field}:`));
    }
  });
});

describe('checkImageMatchesDockerfile on OCI archives', () => {
  for (const tarFormat of ['gnu', 'pax', 'ustar']) {
    it(`reads index.json -> manifest -> config from a ${tarFormat} tar`, async () => {
      const longEntry = tarFormat !== 'ustar';
      const archive = fabricateArchive(configFor(expected), { tarFormat, longEntry, name: 'chaperone.dev/chaperone:e2e' });
      const [image, ...rest] = await readImageArchive(archive);
      expect(rest).toEqual([]);
      expect(image!.names).toEqual(['chaperone.dev/chaperone:e2e', 'e2e']);
      expect(await checkImageMatchesDockerfile(archive, dockerfile)).toEqual([]);
    });
  }

  it('reports an archive whose image does not match', async () => {
    const archive = fabricateArchive({ ...configFor(expected), User: 'root', Cmd: ['node'] });
    const diffs = await checkImageMatchesDockerfile(archive, dockerfile);
    expect(diffs.map((d) => d.split(':')[0])).toEqual(['User', 'Cmd']);
  });

  it('rejects a blob that does not match its digest', async () => {
    const archive = fabricateArchive(configFor(expected));
    const dir = join(work, `layout-${archives}`);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    const manifestPath = join(dir, 'blobs', 'sha256', index.manifests[0].digest.slice('sha256:'.length));
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    writeFileSync(join(dir, 'blobs', 'sha256', manifest.config.digest.slice('sha256:'.length)), '{"config":{}}');
    execFileSync('tar', ['-cf', archive, '-C', dir, '.']);
    await expect(checkImageMatchesDockerfile(archive, dockerfile)).rejects.toThrow(/does not match its digest/);
  });
});
