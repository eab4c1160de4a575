// isLoopback guards the sidecar against requests to itself (the transparent port's loop, the
// /proxy route naming the sidecar): every spelling that connects to this host must count.
import { describe, expect, it } from 'vitest';
import { parseAuthority } from './inner-server.js';
import { isLoopback, proxyRoute } from './proxy.js';

describe('isLoopback', () => {
  it.each(['127.0.0.1', '127.9.8.7', 'localhost', 'LOCALHOST.', 'a.localhost', '[::1]', '::ffff:127.0.0.1'])('%s is loopback', (h) => expect(isLoopback(h)).toBe(true));

  it.each(['0.0.0.0', '0', '127.1', '0x7f000001', '2130706433', '017700000001', '::', '0:0:0:0:0:0:0:1', '::ffff:7f00:1'])('%s reaches this host too', (h) => expect(isLoopback(h)).toBe(true));

  it.each(['10.0.0.1', '1.2.3.4', '::ffff:10.0.0.1', 'api.openai.com', 'deadbeef', '127.example.com', '2001:db8::1'])('%s is not loopback', (h) => expect(isLoopback(h)).toBe(false));

  it('the /proxy route refuses the sidecar in any of these spellings', () => {
    const self = (host: string, port: number): boolean => isLoopback(host) && port === 14001;
    for (const authority of ['127.1:14001', '0.0.0.0:14001', '[::]:14001', '2130706433:14001']) {
      expect(parseAuthority(authority, 80)).toBeDefined();
      expect(proxyRoute(`/proxy/http/${authority}/x`, () => false, self)).toMatchObject({ status: 400 });
    }
  });
});
