// Mimics how kubelet projects a ConfigMap or downward-API volume: files are symlinks into a
// `..data` symlink that points at a timestamped directory, and an update swaps `..data` atomically.
import { mkdir, rename, rm, symlink, writeFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

let generation = 0;

export async function writeProjectedVolume(dir: string, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  const version = `..${Date.now()}_${process.pid}_${generation++}`;
  await mkdir(join(dir, version));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, version, name), text);
  let previous: string | undefined;
  try {
    previous = await readlink(join(dir, '..data'));
  } catch {
    previous = undefined;
  }
  await symlink(version, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data')); // the atomic swap
  for (const name of Object.keys(files)) {
    try {
      await symlink(join('..data', name), join(dir, name));
    } catch {
      // already linked through ..data
    }
  }
  if (previous) await rm(join(dir, previous), { recursive: true, force: true });
}
