import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { isUninjected } from './uninjected-pods.js';

const pod = (over: { ns?: string; inject?: string; containers?: string[]; init?: string[]; hostNetwork?: boolean }): V1Pod => ({
  metadata: { name: 'p', namespace: over.ns ?? 'team', annotations: over.inject === undefined ? {} : { 'chaperone.dev/inject': over.inject } },
  spec: {
    containers: (over.containers ?? ['app']).map((name) => ({ name })),
    initContainers: (over.init ?? []).map((name) => ({ name })),
    ...(over.hostNetwork ? { hostNetwork: true } : {}),
  },
});

describe('isUninjected', () => {
  it('flags an annotated pod without chaperone-proxy', () => expect(isUninjected(pod({ inject: 'true' }), 'chaperone-system')).toBe(true));
  it('accepts the sidecar as a container or an init container', () => {
    expect(isUninjected(pod({ inject: 'true', containers: ['app', 'chaperone-proxy'] }), 'chaperone-system')).toBe(false);
    expect(isUninjected(pod({ inject: 'true', init: ['chaperone-proxy'] }), 'chaperone-system')).toBe(false);
  });
  it('ignores pods not opted in, hostNetwork pods and never-injected namespaces', () => {
    expect(isUninjected(pod({}), 'chaperone-system')).toBe(false);
    expect(isUninjected(pod({ inject: 'false' }), 'chaperone-system')).toBe(false);
    expect(isUninjected(pod({ inject: 'true', hostNetwork: true }), 'chaperone-system')).toBe(false);
    expect(isUninjected(pod({ inject: 'true', ns: 'kube-system' }), 'chaperone-system')).toBe(false);
    expect(isUninjected(pod({ inject: 'true', ns: 'chaperone-system' }), 'chaperone-system')).toBe(false);
  });
});
