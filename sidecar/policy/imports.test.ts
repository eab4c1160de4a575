// The policy checks are pure and know nothing of HTTP, stores or the sidecar around them: what they
// import is api/, lib/, the neutral Call types (sidecar/call.ts) and each other. A store or a
// metric they need is an interface defined here and implemented outside (shared-limits.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const allowed = (target: string): boolean =>
  target.startsWith('api/') || target.startsWith('lib/') || target.startsWith('sidecar/policy/') || target === 'sidecar/call.ts';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );
}

describe('sidecar/policy', () => {
  it('imports only api/, lib/, sidecar/call.ts and itself', () => {
    const outside: string[] = [];
    for (const file of sources(here)) {
      for (const m of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
        const target = relative(root, resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
        if (!allowed(target)) outside.push(`${relative(root, file)} -> ${target}`);
      }
    }
    expect(sources(here).length).toBeGreaterThan(20);
    expect(outside).toEqual([]);
  });
});
