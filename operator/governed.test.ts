import { describe, expect, it } from 'vitest';
import { isGoverned, type NamespaceLike } from './governed.js';

const OWN = 'chaperone-system';
const ns = (name: string, labels?: Record<string, string>): NamespaceLike => ({ metadata: { name, ...(labels ? { labels } : {}) } });
const enabled = { 'chaperone.dev/injection': 'enabled' };

describe('isGoverned', () => {
  // [case, namespace, hasPolicies, hasInjectPods, expected]
  it.each<[string, NamespaceLike, boolean, boolean, boolean]>([
    ['nothing', ns('agents'), false, false, false],
    ['unrelated labels', ns('agents', { team: 'a' }), false, false, false],
    ['label enabled', ns('agents', enabled), false, false, true],
    ['label with another value', ns('agents', { 'chaperone.dev/injection': 'disabled' }), false, false, false],
    ['label value is case-sensitive', ns('agents', { 'chaperone.dev/injection': 'Enabled' }), false, false, false],
    ['label key without the prefix', ns('agents', { injection: 'enabled' }), false, false, false],
    ['holds a policy', ns('agents'), true, false, true],
    ['holds an inject pod', ns('agents'), false, true, true],
    ['everything', ns('agents', enabled), true, true, true],
    ['labels null (as some clients send)', { metadata: { name: 'agents', labels: null } }, false, true, true],
    ...(['kube-system', 'kube-public', 'kube-node-lease', OWN].map(
      (name): [string, NamespaceLike, boolean, boolean, boolean] => [`never ${name}`, ns(name, enabled), true, true, false],
    )),
    ['another namespace named like ours is fine', ns('chaperone-system-2', enabled), false, false, true],
    ['default is governable', ns('default', enabled), false, false, true],
  ])('%s', (_label, namespace, hasPolicies, hasInjectPods, expected) => {
    expect(isGoverned(namespace, hasPolicies, hasInjectPods, OWN)).toBe(expected);
  });

  it('takes the own namespace from the argument', () => {
    expect(isGoverned(ns('agents', enabled), false, false, 'agents')).toBe(false);
    expect(isGoverned(ns(OWN, enabled), false, false, 'agents')).toBe(true);
  });
});
