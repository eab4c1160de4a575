// `chaperone policy validate FILE...`: offline validation of GovernancePolicy YAML with exactly the
// rules the operator and the sidecar apply (api/). Exit 0 all valid, 1 any error, 2 usage error.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadPolicies } from '../api/index.js';

export const POLICY_VALIDATE_HELP = `Usage: chaperone policy validate FILE...

Validates GovernancePolicy YAML (multi-document, List or GovernancePolicyList allowed) with the
operator's own rules. FILE "-" reads standard input.
Prints "ok FILE: N policies" per valid file; every error goes to stderr on its own line, named by
file, policy and field. Exits 0 when all files are valid, 1 on any error, 2 on a usage error.
`;

export interface PolicyValidateIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  stdin: AsyncIterable<Buffer | string>;
}

async function readAll(stream: AsyncIterable<Buffer | string>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString('utf8');
}

export async function policyValidate(
  argv: string[],
  io: PolicyValidateIO = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin },
): Promise<number> {
  let files: string[];
  try {
    const parsed = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    if (parsed.values.help) {
      io.stdout.write(POLICY_VALIDATE_HELP);
      return 0;
    }
    files = parsed.positionals;
  } catch (err) {
    io.stderr.write(`chaperone policy validate: ${(err as Error).message.split('\n')[0]}\n`);
    return 2;
  }
  if (files.length === 0) {
    io.stderr.write('chaperone policy validate: no files given (usage: chaperone policy validate FILE...)\n');
    return 2;
  }

  let failed = false;
  for (const file of files) {
    const source = file === '-' ? '<stdin>' : file;
    let text: string;
    try {
      text = file === '-' ? await readAll(io.stdin) : await readFile(file, 'utf8');
    } catch (err) {
      io.stderr.write(`${source}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}\n`);
      failed = true;
      continue;
    }
    const { policies, errors } = loadPolicies(text, source);
    if (errors.length > 0) {
      failed = true;
      for (const e of errors) io.stderr.write(`${e}\n`);
    } else {
      io.stdout.write(`ok ${source}: ${policies.length} policies\n`);
    }
  }
  return failed ? 1 : 0;
}
