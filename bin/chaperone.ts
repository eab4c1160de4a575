#!/usr/bin/env node
// The single `chaperone` binary: one image, every component.
import { governancePolicyCrdYaml } from '../api/index.js';
import { UsageError } from '../lib/cli.js';
import { VERSION } from '../lib/project.js';
import { caCommand } from './ca-init.js';
import { operatorCommand } from './operator.js';
import { policyValidate } from './policy-validate.js';
import { sidecarCommand } from './sidecar.js';
import { waitReadyCommand } from './wait-ready.js';

const HELP = `chaperone ${VERSION} - governs what AI agents send to LLM providers and tool servers

Usage: chaperone COMMAND [flags]   (every command takes --help)

Commands:
  sidecar                   the proxy sidecar (in a pod, or standalone with --policy)
  ca init --out DIR         a new CA for standalone TLS interception
  policy validate FILE...   validate GovernancePolicy YAML offline
  operator                  the cluster operator (policies -> per-namespace config, CA, trust)
  wait-ready                wait until the local sidecar is ready
  crd                       print the GovernancePolicy CRD (kubectl apply -f crds/ has the same)
  version                   print the version
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'sidecar':
      return sidecarCommand(rest);
    case 'ca':
      return caCommand(rest);
    case 'policy': {
      const [sub, ...files] = rest;
      if (sub !== 'validate') throw new UsageError(`policy ${sub ?? ''}: unknown subcommand (expected: validate)`);
      return policyValidate(files);
    }
    case 'operator':
      return operatorCommand(rest);
    case 'wait-ready':
      return waitReadyCommand(rest);
    case 'crd':
      if (rest.includes('--help') || rest.includes('-h')) {
        process.stdout.write('Usage: chaperone crd\n\nPrints the GovernancePolicy CustomResourceDefinition, generated from api/schema.ts.\n');
        return 0;
      }
      process.stdout.write(governancePolicyCrdYaml());
      return 0;
    case 'version':
    case '--version':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}" (see chaperone --help)`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    // One line, no stack: bad input is the user's to fix, and the message says how.
    process.stderr.write(`chaperone: ${err instanceof UsageError ? '' : ''}${err.message}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);
