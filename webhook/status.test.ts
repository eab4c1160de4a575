import { describe, expect, it } from 'vitest';
import { canonicalStatus, parseStatus, type InjectionStatus } from './status.js';

const status: InjectionStatus = {
  version: '1.0.0',
  native: true,
  capture: 'proxy-env',
  containers: [],
  initContainers: ['chaperone-proxy'],
  volumes: ['chaperone-config'],
  mounts: { b: ['chaperone-trust'], a: ['chaperone-trust'] },
  env: { b: ['HTTP_PROXY'], a: [], c: ['NO_PROXY'] },
  envMerged: { a: { no_proxy: 'x', NO_PROXY: '' }, b: {} },
  envSkipped: {},
};

describe('canonicalStatus', () => {
  it('sorts the per-container maps and leaves out containers with nothing to record', () => {
    const canonical = canonicalStatus(status);
    expect(JSON.stringify(canonical)).toBe(
      '{"version":"1.0.0","native":true,"capture":"proxy-env","containers":[],"initContainers":["chaperone-proxy"],"volumes":["chaperone-config"],'
      + '"mounts":{"a":["chaperone-trust"],"b":["chaperone-trust"]},"env":{"b":["HTTP_PROXY"],"c":["NO_PROXY"]},'
      + '"envMerged":{"a":{"NO_PROXY":"","no_proxy":"x"}},"envSkipped":{}}',
    );
  });
});

describe('parseStatus', () => {
  it('reads what canonicalStatus wrote', () => {
    const canonical = canonicalStatus(status);
    expect(parseStatus(JSON.stringify(canonical))).toEqual(canonical);
  });

  it.each([
    ['not JSON', '{'],
    ['not an object', '[]'],
    ['a field missing', JSON.stringify({ ...status, envSkipped: undefined })],
    ['a wrong type', JSON.stringify({ ...status, native: 'yes' })],
    ['a list of numbers', JSON.stringify({ ...status, volumes: [1] })],
    ['a merged value that is not a string', JSON.stringify({ ...status, envMerged: { a: { NO_PROXY: null } } })],
  ])('rejects %s', (_label, text) => {
    expect(parseStatus(text)).toBeUndefined();
  });
});
