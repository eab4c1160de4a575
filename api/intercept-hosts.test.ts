import { describe, expect, it } from 'vitest';
import { parseInterceptHosts } from './intercept-hosts.js';

describe('parseInterceptHosts', () => {
  it('splits, trims and lower-cases host names and wildcards, and names what is not one', () => {
    expect(parseInterceptHosts(' MCP.Example.com, *.tools.example.com,,not a host,a..b ')).toEqual({
      hosts: ['mcp.example.com', '*.tools.example.com'],
      invalid: ['not a host', 'a..b'],
    });
  });
  it('reads a missing annotation as no hosts', () => expect(parseInterceptHosts(undefined)).toEqual({ hosts: [], invalid: [] }));
});
