// Shared command-line plumbing: flag parsing with --help, and one-line errors with a non-zero exit.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {}

export type Flags = NonNullable<ParseArgsConfig['options']>;

/** Parses argv strictly; unknown flags and missing values become a UsageError naming them. */
export function parseFlags<T extends Flags>(argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]);
  }
}

export function intFlag(value: string | undefined, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} ${value}: expected an integer >= ${min}`);
  return n;
}
