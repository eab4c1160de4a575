import { describe, expect, it } from 'vitest';
import { captureBypassWarnings, chooseCapture } from './capture.js';
import { defaultInjectionSettings } from './settings.js';

const settings = defaultInjectionSettings();

describe('chooseCapture', () => {
  const choose = (annotations: Record<string, string>, labels?: Record<string, string>, over = {}) => {
    const warnings: string[] = [];
    return { ...chooseCapture(annotations, labels, { ...settings, ...over }, warnings), warnings };
  };

  it('takes the pod annotation over the namespace label over the webhook setting', () => {
    expect(choose({}).mode).toBe('proxy-env');
    expect(choose({}, {}, { capture: 'transparent' }).mode).toBe('transparent');
    expect(choose({}, { 'chaperone.dev/capture': 'transparent' }).mode).toBe('transparent');
    expect(choose({ 'chaperone.dev/capture': 'proxy-env' }, { 'chaperone.dev/capture': 'transparent' }).mode).toBe('proxy-env');
    expect(choose({ 'chaperone.dev/capture': 'transparent' }, { 'chaperone.dev/capture': 'proxy-env' }).mode).toBe('transparent');
  });

  it('warns about values it does not know and keeps the default', () => {
    const c = choose({ 'chaperone.dev/capture': 'iptables' }, { 'chaperone.dev/capture': 'yes' });
    expect(c.mode).toBe('proxy-env');
    expect(c.warnings).toEqual([
      'namespace label chaperone.dev/capture: "yes" ignored (expected transparent or proxy-env)',
      'chaperone.dev/capture: "iptables" ignored (expected transparent or proxy-env)',
    ]);
  });

  it('reads the governed ports from the pod, refusing lists the rules cannot hold', () => {
    expect(choose({ 'chaperone.dev/capture-ports': '443, 8443' }).ports).toEqual([443, 8443]);
    for (const bad of ['', '0', '80,80', '14002', '70000', 'http', Array.from({ length: 16 }, (_, i) => 1000 + i).join(',')]) {
      const c = choose({ 'chaperone.dev/capture-ports': bad });
      expect(c.ports, bad).toEqual([80, 443]);
      expect(c.warnings[0], bad).toMatch(/^chaperone\.dev\/capture-ports: .* is not 1 to 15 distinct ports other than 14002; using 80,443$/);
    }
  });

  it.each(['baseline', 'restricted'])('falls back to proxy-env where Pod Security %s is enforced, saying why', (level) => {
    const c = choose({ 'chaperone.dev/capture': 'transparent' }, { 'pod-security.kubernetes.io/enforce': level });
    expect(c.mode).toBe('proxy-env');
    expect(c.fallback).toMatch(new RegExp(`enforces Pod Security "${level}"`));
    expect(c.warnings).toHaveLength(1);
  });

  it('keeps transparent capture where the level is privileged or not enforced', () => {
    expect(choose({ 'chaperone.dev/capture': 'transparent' }, { 'pod-security.kubernetes.io/enforce': 'privileged' }).mode).toBe('transparent');
    expect(choose({ 'chaperone.dev/capture': 'transparent' }, { 'pod-security.kubernetes.io/warn': 'restricted' }).mode).toBe('transparent');
  });
});

describe('captureBypassWarnings', () => {
  it('names every way around the rules the pod spec allows', () => {
    const warnings = captureBypassWarnings({ containers: [] }, [
      { name: 'same-uid', securityContext: { runAsUser: 14001 } },
      { name: 'privileged', securityContext: { privileged: true } },
      { name: 'net-admin', securityContext: { capabilities: { add: ['NET_ADMIN'] } } },
      { name: 'root', securityContext: { runAsUser: 0 } },
      { name: 'root-no-setuid', securityContext: { runAsUser: 0, capabilities: { drop: ['ALL'] } } },
      { name: 'own-proxy', env: [{ name: 'HTTPS_PROXY', value: 'http://corp:3128' }] },
      { name: 'fine', securityContext: { runAsUser: 1000 } },
    ]);
    expect(warnings.map((w) => w.split(' ')[1])).toEqual(['same-uid', 'privileged', 'net-admin', 'root', 'own-proxy']);
  });

  it('reads the UID from the pod when the container sets none', () => {
    expect(captureBypassWarnings({ containers: [], securityContext: { runAsUser: 14001 } }, [{ name: 'app' }])).toEqual([
      "container app runs as UID 14001, the sidecar's: its connections are not captured",
    ]);
  });
});
