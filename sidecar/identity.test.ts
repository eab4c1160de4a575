import { describe, expect, it } from 'vitest';
import type { ConfigSnapshot } from './config.js';
import { identify } from './identity.js';

const snapshot = (over: Partial<ConfigSnapshot>): ConfigSnapshot => ({ policies: [], interceptHosts: [], inPod: true, hash: 'h', loadedAt: new Date(0), ...over });

describe('identify', () => {
  it('in a pod, the pod names the agent: the header only adds a sub-agent', () => {
    expect(identify('admin', snapshot({ podAgent: 'researcher' }))).toEqual({ agent: 'researcher', subAgent: 'admin' });
    expect(identify(undefined, snapshot({ podAgent: 'researcher' }))).toEqual({ agent: 'researcher' });
    expect(identify('researcher', snapshot({ podAgent: 'researcher' }))).toEqual({ agent: 'researcher' });
  });

  it('in a pod without chaperone.dev/agent, the agent is "unknown" whatever the header claims', () => {
    expect(identify('writer', snapshot({}))).toEqual({ agent: 'unknown', subAgent: 'writer' });
    expect(identify('', snapshot({}))).toEqual({ agent: 'unknown' });
  });

  it('a new name per call changes only the sub-agent, never the identity limits key on', () => {
    const agents = new Set(Array.from({ length: 20 }, (_, i) => identify(`agent-${i}`, snapshot({ podAgent: 'bot' })).agent));
    expect([...agents]).toEqual(['bot']);
  });

  it('bounds the sub-agent to printable ASCII and 128 characters', () => {
    expect(identify(`x\u0000y\nz${'a'.repeat(300)}`, snapshot({ podAgent: 'bot' })).subAgent).toBe(`xyz${'a'.repeat(125)}`);
    expect(identify('\u200b\n', snapshot({ podAgent: 'bot' }))).toEqual({ agent: 'bot' });
  });

  it('standalone (no pod), the header names the agent as documented', () => {
    expect(identify('researcher', snapshot({ inPod: false }))).toEqual({ agent: 'researcher' });
    expect(identify(undefined, snapshot({ inPod: false }))).toEqual({ agent: 'unknown' });
  });
});
