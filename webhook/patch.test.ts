import { describe, expect, it } from 'vitest';
import { applyJsonPatch, jsonPatch } from './patch.js';

describe('jsonPatch', () => {
  const before = { metadata: { annotations: { 'a/b': '1' } }, spec: { containers: [{ name: 'app' }] } };
  const after = { metadata: { annotations: { 'a/b': '2', 'c~d': '3' } }, spec: { containers: [{ name: 'proxy' }, { name: 'app' }] } };

  it('is empty for equal documents', () => {
    expect(jsonPatch(before, structuredClone(before))).toEqual([]);
  });

  it('escapes keys with "/" and "~" (RFC 6901) and round-trips', () => {
    const patch = jsonPatch(before, after);
    expect(patch).toContainEqual({ op: 'replace', path: '/metadata/annotations/a~1b', value: '2' });
    expect(patch).toContainEqual({ op: 'add', path: '/metadata/annotations/c~0d', value: '3' });
    expect(applyJsonPatch(before, patch)).toEqual(after);
  });

  it('applies to a copy', () => {
    const original = structuredClone(before);
    applyJsonPatch(before, jsonPatch(before, after));
    expect(before).toEqual(original);
  });

  it('throws on a patch that does not fit', () => {
    expect(() => applyJsonPatch({}, [{ op: 'replace', path: '/missing/x', value: 1 }])).toThrow();
  });
});
