// The environment the production image gives every process (the Dockerfile's `ENV NODE_OPTIONS` and
// `ENV MALLOC_ARENA_MAX`), read from the Dockerfile itself, so the benchmarks and the tests that
// measure memory run the sidecar as a pod would, and cannot drift from the image.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './project.js';

/** The value of `ENV NAME=...` in a Dockerfile, quotes removed; undefined when it sets none (or cannot be read). */
function dockerfileEnv(name: string, dockerfile: string): string | undefined {
  try {
    const m = new RegExp(`^ENV\\s+${name}=("([^"]*)"|(\\S+))\\s*$`, 'm').exec(readFileSync(dockerfile, 'utf8'));
    return m ? (m[2] ?? m[3] ?? '').trim() : undefined;
  } catch {
    return undefined;
  }
}

/** The image's NODE_OPTIONS ('' when it sets none). */
export function imageNodeOptions(dockerfile = join(PROJECT_ROOT, 'Dockerfile')): string {
  return dockerfileEnv('NODE_OPTIONS', dockerfile) ?? '';
}

/** The image's NODE_OPTIONS and MALLOC_ARENA_MAX, for a process spawned as the image would run it. */
export function imageEnv(dockerfile = join(PROJECT_ROOT, 'Dockerfile')): Record<string, string> {
  const arenas = dockerfileEnv('MALLOC_ARENA_MAX', dockerfile);
  return { NODE_OPTIONS: imageNodeOptions(dockerfile), ...(arenas ? { MALLOC_ARENA_MAX: arenas } : {}) };
}
