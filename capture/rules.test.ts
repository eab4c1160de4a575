// The transparent-capture rules as text: what iptables-restore and ip6tables-restore are given.
// capture.test.ts applies them to a real kernel.
import { describe, expect, it } from 'vitest';
import {
  CAPTURE_CHAIN,
  CAPTURE_JUMP_SPEC,
  CaptureSettingsError,
  captureJumpRule,
  captureRules,
  countRules,
  UDP_CHAIN,
  UDP_JUMP_SPEC,
  udpJumpRule,
  validateCaptureSettings,
  type CaptureSettings,
} from './rules.js';

const SETTINGS: CaptureSettings = { ports: [80, 443], toPort: 14002, proxyUid: 14001 };

/** The lines iptables-restore acts on (comments and blank lines dropped). */
function effective(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
}

describe('captureRules', () => {
  it('IPv4: declares (so flushes) our chain, jumps to it once from OUTPUT, exempts the proxy and loopback, redirects the ports', () => {
    expect(effective(captureRules(SETTINGS, 4))).toEqual([
      '*nat',
      ':CHAPERONE_OUTPUT - [0:0]',
      '-A OUTPUT -p tcp -j CHAPERONE_OUTPUT',
      '-A CHAPERONE_OUTPUT -m owner --uid-owner 14001 -j RETURN',
      '-A CHAPERONE_OUTPUT -o lo -j RETURN',
      '-A CHAPERONE_OUTPUT -d 127.0.0.0/8 -j RETURN',
      '-A CHAPERONE_OUTPUT -p tcp -m multiport --dports 80,443 -j REDIRECT --to-ports 14002',
      'COMMIT',
      '*filter',
      ':CHAPERONE_UDP - [0:0]',
      '-A OUTPUT -p udp -j CHAPERONE_UDP',
      '-A CHAPERONE_UDP -m owner --uid-owner 14001 -j RETURN',
      '-A CHAPERONE_UDP -o lo -j RETURN',
      '-A CHAPERONE_UDP -p udp -m multiport --dports 80,443 -j REJECT',
      'COMMIT',
    ]);
  });

  it('IPv6: the same rules with the IPv6 loopback', () => {
    const v4 = effective(captureRules(SETTINGS, 4));
    const v6 = effective(captureRules(SETTINGS, 6));
    expect(v6).toEqual(v4.map((l) => l.replace('-d 127.0.0.0/8', '-d ::1/128')));
    expect(v6.join('\n')).not.toContain('127.');
  });

  it('without the jump (it is already in OUTPUT, which --noflush keeps): only our chain', () => {
    for (const family of [4, 6] as const) {
      const text = effective(captureRules(SETTINGS, family, { jump: false, udpJump: false }));
      expect(text.filter((l) => l.startsWith('-A OUTPUT'))).toEqual([]);
      expect(text.filter((l) => l.startsWith(`-A ${CAPTURE_CHAIN} `))).toHaveLength(4);
      expect(text.filter((l) => l.startsWith(`-A ${UDP_CHAIN} `))).toHaveLength(3);
      expect(text).toEqual(effective(captureRules(SETTINGS, family)).filter((l) => l !== captureJumpRule() && l !== udpJumpRule()));
    }
  });

  it('the jump rules and the rule-specs iptables -C checks are the same rules', () => {
    expect(udpJumpRule()).toBe(`-A OUTPUT ${UDP_JUMP_SPEC.join(' ')}`);
    expect(captureJumpRule()).toBe(`-A OUTPUT ${CAPTURE_JUMP_SPEC.join(' ')}`);
    expect(captureJumpRule()).toBe('-A OUTPUT -p tcp -j CHAPERONE_OUTPUT');
  });

  it('only our chains are declared: nothing else is flushed under --noflush', () => {
    const lines = effective(captureRules(SETTINGS, 4));
    expect(lines.filter((l) => l.startsWith('*'))).toEqual(['*nat', '*filter']);
    expect(lines.filter((l) => l.startsWith(':'))).toEqual([`:${CAPTURE_CHAIN} - [0:0]`, `:${UDP_CHAIN} - [0:0]`]);
    expect(lines.filter((l) => /^-[FXZDIRNP] /.test(l))).toEqual([]);
  });

  it('the exemptions come before the redirect (first match wins in the chain)', () => {
    const rules = effective(captureRules(SETTINGS, 4)).filter((l) => l.startsWith(`-A ${CAPTURE_CHAIN}`));
    expect(rules.at(-1)).toMatch(/-j REDIRECT/);
    expect(rules.slice(0, -1).every((l) => l.endsWith('-j RETURN'))).toBe(true);
  });

  it('says why next to every rule, in comments iptables-restore skips', () => {
    const lines = captureRules(SETTINGS, 4).split('\n');
    lines.forEach((l, i) => {
      if (l.startsWith('-A ') || l.startsWith(':')) expect(lines[i - 1], `comment before ${l}`).toMatch(/^# /);
    });
  });

  it('keeps the order of the ports and takes one, or fifteen', () => {
    expect(captureRules({ ...SETTINGS, ports: [8443, 443, 80] }, 4)).toContain('--dports 8443,443,80 -j REDIRECT --to-ports 14002');
    expect(captureRules({ ...SETTINGS, ports: [443] }, 6)).toContain('--dports 443 -j REDIRECT');
    const fifteen = Array.from({ length: 15 }, (_, i) => 1000 + i);
    expect(captureRules({ ...SETTINGS, ports: fifteen }, 4)).toContain(`--dports ${fifteen.join(',')} `);
    expect(captureRules({ ports: [1, 65535], toPort: 2, proxyUid: 1 }, 4)).toContain('--uid-owner 1 ');
  });

  it('countRules counts the -A lines', () => {
    expect(countRules(captureRules(SETTINGS, 4))).toBe(9);
    expect(countRules(captureRules(SETTINGS, 6, { jump: false }))).toBe(8);
  });
});

describe('validateCaptureSettings', () => {
  it.each<[string, Partial<CaptureSettings>, RegExp]>([
    ['no ports', { ports: [] }, /^ports: at least one/],
    ['port 0', { ports: [0, 443] }, /^ports: 0 is not a port/],
    ['port 65536', { ports: [80, 65536] }, /^ports: 65536 is not a port/],
    ['a negative port', { ports: [-80] }, /^ports: -80 is not a port/],
    ['a fractional port', { ports: [80.5] }, /^ports: 80.5 is not a port/],
    ['NaN', { ports: [Number.NaN] }, /^ports: NaN is not a port/],
    ['a duplicate', { ports: [80, 443, 80] }, /^ports: 80 is listed twice/],
    ['16 ports', { ports: Array.from({ length: 16 }, (_, i) => 1000 + i) }, /^ports: 16 ports, at most 15/],
    ['to-port 0', { toPort: 0 }, /^to-port: 0 is not a port/],
    ['to-port 70000', { toPort: 70000 }, /^to-port: 70000 is not a port/],
    ['to-port among the ports', { ports: [80, 14002], toPort: 14002 }, /^to-port: 14002 is also a captured port/],
    ['uid 0 (root)', { proxyUid: 0 }, /^proxy-uid: 0 \(root\) cannot be the proxy/],
    ['a negative uid', { proxyUid: -1 }, /^proxy-uid: -1 is not a UID/],
    ['uid 2^32-1', { proxyUid: 2 ** 32 - 1 }, /^proxy-uid: 4294967295 is not a UID/],
    ['a fractional uid', { proxyUid: 1.5 }, /^proxy-uid: 1.5 is not a UID/],
  ])('rejects %s', (_name, change, message) => {
    const settings = { ...SETTINGS, ...change };
    expect(() => validateCaptureSettings(settings)).toThrow(CaptureSettingsError);
    expect(() => validateCaptureSettings(settings)).toThrow(message);
    // captureRules validates too: no text for settings that do not do what they say.
    expect(() => captureRules(settings, 4)).toThrow(message);
    expect(() => captureRules(settings, 6)).toThrow(message);
  });

  it('accepts the defaults', () => {
    expect(() => validateCaptureSettings(SETTINGS)).not.toThrow();
  });
});
