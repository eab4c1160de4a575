import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../lib/canonical-json.js';
import { heldTool } from './approval-digest.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const terms = (args: unknown) => ({ agent: 'bot', tool: 'send_email', arguments: args, policy: 'ns/p', generation: 1, timeoutSeconds: 60, timeoutAction: 'reject' as const });

describe('heldTool', () => {
  it('is the same for equal arguments in any key order, and keeps a bounded preview', () => {
    const a = heldTool(terms({ to: 'x', cc: ['y', { b: 1, a: 2 }] }));
    expect(heldTool(terms({ cc: ['y', { a: 2, b: 1 }], to: 'x' }))).toEqual(a);
    expect(a.preview).toBe(canonicalJson({ cc: ['y', { a: 2, b: 1 }], to: 'x' }));
    expect(heldTool(terms({ to: 'y' })).digest).not.toBe(a.digest);
  });

  it('keeps nothing of large arguments but the preview: 40 held calls of 2 MB retain well under 10 MB', () => {
    gc();
    const before = process.memoryUsage().heapUsed;
    const held = Array.from({ length: 40 }, (_, i) => heldTool(terms({ to: `u${i}`, body: `${i}${'x'.repeat(2_000_000)}` })));
    gc();
    const retained = process.memoryUsage().heapUsed - before;
    expect(held.every((h) => h.truncated && h.preview.length === 1024)).toBe(true);
    expect(retained).toBeLessThan(10 * 1024 * 1024);
  });
});
