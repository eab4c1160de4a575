import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createServingBundle, renewServingBundle, servingNames } from './serving-cert.js';
import { FileTlsSource, type TlsPair } from './tls-source.js';

const REFRESH_MS = 20;
const NAMES = servingNames('chaperone-webhook', 'chaperone-system');

let first: TlsPair;
let second: TlsPair;
beforeAll(async () => {
  const bundle = await createServingBundle(NAMES, 3_600_000);
  const renewed = await renewServingBundle(bundle, NAMES, 3_600_000, new Date());
  first = { cert: bundle['tls.crt'], key: bundle['tls.key'] };
  second = { cert: renewed['tls.crt'], key: renewed['tls.key'] };
});

let dir: string;
let certFile: string;
let keyFile: string;
const sources: FileTlsSource[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chaperone-tls-source-'));
  certFile = join(dir, 'tls.crt');
  keyFile = join(dir, 'tls.key');
});

afterEach(async () => {
  for (const source of sources.splice(0)) source.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Replaces a file in one step, as the kubelet does, so a read never sees half of it. */
async function put(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.hrtime.bigint()}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

async function putPair(pair: TlsPair): Promise<void> {
  await put(certFile, pair.cert);
  await put(keyFile, pair.key);
}

function source(onError?: (err: Error) => void): FileTlsSource {
  const s = new FileTlsSource(certFile, keyFile, REFRESH_MS, onError);
  sources.push(s);
  return s;
}

/** Several refresh periods: long enough for any re-read to have happened. */
const refreshes = (n = 5): Promise<void> => new Promise((resolve) => setTimeout(resolve, REFRESH_MS * n));

describe('FileTlsSource', () => {
  it('has no pair before start, and reads the pair on start', async () => {
    await putPair(first);
    const s = source();
    expect(s.current()).toBeUndefined();
    await s.start();
    expect(s.current()).toEqual(first);
  });

  it('tells a listener of the first pair, then only of real changes', async () => {
    await putPair(first);
    const s = source();
    const seen: TlsPair[] = [];
    s.onChange((pair) => seen.push(pair));
    await s.start();
    expect(seen).toEqual([first]);

    // Rewritten with the same content, re-read many times: no change.
    await putPair(first);
    await refreshes();
    expect(seen).toEqual([first]);

    await putPair(second);
    await vi.waitFor(() => expect(seen).toHaveLength(2), { timeout: 2_000, interval: REFRESH_MS });
    expect(seen[1]).toEqual(second);
    expect(s.current()).toEqual(second);

    await refreshes();
    expect(seen).toHaveLength(2);
  });

  it('tells every listener', async () => {
    await putPair(first);
    const s = source();
    const a = vi.fn();
    const b = vi.fn();
    s.onChange(a);
    s.onChange(b);
    await s.start();
    await putPair(second);
    await vi.waitFor(() => expect(b).toHaveBeenCalledTimes(2), { timeout: 2_000, interval: REFRESH_MS });
    expect(a.mock.calls).toEqual([[first], [second]]);
    expect(b.mock.calls).toEqual([[first], [second]]);
  });

  it('sees a change of the key alone as a change', async () => {
    await putPair(first);
    const s = source();
    const listener = vi.fn();
    s.onChange(listener);
    await s.start();
    await put(keyFile, second.key);
    await vi.waitFor(() => expect(listener).toHaveBeenCalledTimes(2), { timeout: 2_000, interval: REFRESH_MS });
    expect(s.current()).toEqual({ cert: first.cert, key: second.key });
  });

  describe('errors', () => {
    it('fails to start on a certificate file without a PEM certificate, naming the file', async () => {
      await putPair({ cert: 'not a certificate\n', key: first.key });
      await expect(source().start()).rejects.toThrow(`${certFile}: no PEM certificate`);
    });

    it('fails to start on a key file without a PEM private key, naming the file', async () => {
      await putPair({ cert: first.cert, key: first.cert });
      await expect(source().start()).rejects.toThrow(`${keyFile}: no PEM private key`);
    });

    it('fails to start when a file is missing', async () => {
      await put(certFile, first.cert);
      await expect(source().start()).rejects.toThrow(/ENOENT/);
    });

    it('reports a bad re-read, keeps the pair it had, and recovers', async () => {
      await putPair(first);
      const errors: Error[] = [];
      const s = source((err) => errors.push(err));
      const listener = vi.fn();
      s.onChange(listener);
      await s.start();

      await put(certFile, 'garbage');
      await vi.waitFor(() => expect(errors.length).toBeGreaterThan(0), { timeout: 2_000, interval: REFRESH_MS });
      expect(errors[0]?.message).toBe(`${certFile}: no PEM certificate`);
      expect(s.current()).toEqual(first);
      expect(listener).toHaveBeenCalledTimes(1);

      await putPair(second);
      await vi.waitFor(() => expect(listener).toHaveBeenCalledTimes(2), { timeout: 2_000, interval: REFRESH_MS });
      expect(s.current()).toEqual(second);
    });

    it('does not throw out of the timer without an error callback', async () => {
      await putPair(first);
      const s = source();
      await s.start();
      await rm(keyFile);
      await refreshes();
      expect(s.current()).toEqual(first);
    });
  });

  it('stops re-reading once stopped', async () => {
    await putPair(first);
    const s = source();
    const listener = vi.fn();
    s.onChange(listener);
    await s.start();
    s.stop();
    await putPair(second);
    await refreshes();
    expect(listener).toHaveBeenCalledTimes(1);
    expect(s.current()).toEqual(first);
  });
});
