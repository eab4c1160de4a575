import { describe, expect, it } from 'vitest';
import { parseInterceptHosts } from './intercept-hosts.js';
import { validatePolicy } from './validate.js';

describe('parseInterceptHosts', () => {
  it('splits, trims and lower-cases host names and wildcards, and names what is not one', () => {
    expect(parseInterceptHosts(' MCP.Example.com, *.tools.example.com,,not a host,a..b ')).toEqual({
      hosts: ['mcp.example.com', '*.tools.example.com'],
      invalid: ['not a host', 'a..b'],
    });
  });
  it('reads a missing annotation as no hosts', () => expect(parseInterceptHosts(undefined)).toEqual({ hosts: [], invalid: [] }));

  it("accepts exactly the host names a policy's spec.intercept.hosts accepts", () => {
    const candidates = ['mcp.example.com', '*.tools.example.com', 'localhost', `${'a'.repeat(63)}.com`, `${'a'.repeat(64)}.com`, `${'a.'.repeat(126)}com`, '-a.com', 'a-.com', 'a..b', '*', '*-x.com', 'a.*.com', 'under_score.com'];
    const policyTakes = (host: string) =>
      validatePolicy({ apiVersion: 'chaperone.dev/v1alpha1', kind: 'GovernancePolicy', metadata: { name: 'p' }, spec: { intercept: { hosts: [host] } } }).errors.length === 0;
    const annotationTakes = (host: string) => parseInterceptHosts(host).hosts.length === 1;
    expect(candidates.filter(policyTakes)).toEqual(['mcp.example.com', '*.tools.example.com', 'localhost', `${'a'.repeat(63)}.com`]);
    expect(candidates.filter(annotationTakes)).toEqual(candidates.filter(policyTakes));
  });
});
