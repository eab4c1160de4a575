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

/** "HOST:PORT" (IPv6 in brackets; an empty host means every interface). */
export function splitHostPort(value: string, flag: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]*):(\d+)$/.exec(value);
  const port = Number(m?.[2]);
  if (!m || port > 65535) throw new UsageError(`${flag} ${value}: expected HOST:PORT`);
  return { host: m[1]!.replace(/^\[|\]$/g, '') || '0.0.0.0', port };
}

export function boolFlag(value: string | undefined, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new UsageError(`--${name} ${value}: expected true or false`);
}

/** `--flag` alone means true; `--flag=false` or `--flag false` set it explicitly. */
export function normaliseBoolFlag(argv: string[], flag: string): string[] {
  return argv.flatMap((a, i) => {
    if (a !== flag) return [a];
    const next = argv[i + 1];
    return next === 'true' || next === 'false' ? [a] : [`${flag}=true`];
  });
}
