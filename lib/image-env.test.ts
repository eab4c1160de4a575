import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { imageEnv, imageNodeOptions } from './image-env.js';

describe('imageEnv', () => {
  it("reads the project Dockerfile's NODE_OPTIONS and MALLOC_ARENA_MAX", () => {
    expect(imageEnv()).toEqual({ NODE_OPTIONS: expect.stringContaining('--max-old-space-size='), MALLOC_ARENA_MAX: expect.stringMatching(/^\d+$/) });
  });

  it('takes quoted and bare values, and gives nothing for what a Dockerfile does not set', () => {
    const dir = mkdtempSync(join(tmpdir(), 'image-env-'));
    const file = join(dir, 'Dockerfile');
    writeFileSync(file, 'FROM x\nENV NODE_OPTIONS="--a=1 --b"\nENV MALLOC_ARENA_MAX=4\n');
    expect(imageEnv(file)).toEqual({ NODE_OPTIONS: '--a=1 --b', MALLOC_ARENA_MAX: '4' });
    writeFileSync(file, 'FROM x\n');
    expect(imageEnv(file)).toEqual({ NODE_OPTIONS: '' });
    expect(imageNodeOptions(join(dir, 'missing'))).toBe('');
  });
});
