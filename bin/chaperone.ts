#!/usr/bin/env node
// The single `chaperone` binary: one image, every component.
import { setFlagsFromString } from 'node:v8';
import { CRD_YAML } from '../api/index.js';
import { UsageError } from '../lib/cli.js';
import { VERSION } from '../lib/project.js';
// Each command's module is imported when that command runs, not up front: the sidecar's process
// then never loads the operator's and the webhook's Kubernetes client (~45 MB of resident memory
// and ~0.3 s of start-up for a process that never uses it; see bench/README.md, "Memory").

const HELP = `chaperone ${VERSION} - governs what AI agents send to LLM providers and tool servers

Usage: chaperone COMMAND [flags]   (every command takes --help)

Commands:
  sidecar                   the proxy sidecar (in a pod, or standalone with --policy)
  ca init --out DIR         a new CA for standalone TLS interception
  policy validate FILE...   validate GovernancePolicy YAML offline
  webhook                   the admission webhook that injects the sidecar
  operator                  the cluster operator (policies -> per-namespace config, CA, trust)
  inject -f FILE            inject the sidecar into Pod/workload YAML by hand (as the webhook would)
  wait-ready                wait until the local sidecar is ready
  capture-init              install the transparent-capture rules in the pod's network namespace (init container)
  crd [NAME]                print the CRDs, or the one named (kubectl apply -f crds/ has the same)
  version                   print the version
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'sidecar':
      // undici parses upstream answers with llhttp compiled to WebAssembly; V8 recompiles that
      // module with its optimising tier once it is hot, a ~35 MB transient that sets the sidecar's
      // peak resident set. The baseline (Liftoff) code costs no measurable CPU here (bench/README.md,
      // "Memory"). Set before the first upstream connection compiles the module.
      setFlagsFromString('--liftoff-only');
      return (await import('./sidecar.js')).sidecarCommand(rest);
    case 'ca':
      return (await import('./ca-init.js')).caCommand(rest);
    case 'policy': {
      const [sub, ...files] = rest;
      if (sub !== 'validate') throw new UsageError(`policy ${sub ?? ''}: unknown subcommand (expected: validate)`);
      return (await import('./policy-validate.js')).policyValidate(files);
    }
    case 'operator':
      return (await import('./operator.js')).operatorCommand(rest);
    case 'webhook':
      return (await import('./webhook.js')).webhookCommand(rest);
    case 'inject':
      return (await import('./inject.js')).injectCommand(rest);
    case 'wait-ready':
      return (await import('./wait-ready.js')).waitReadyCommand(rest);
    case 'capture-init':
      return (await import('./capture-init.js')).captureInitCommand(rest);
    case 'crd': {
      if (rest.includes('--help') || rest.includes('-h')) {
        process.stdout.write(
          `Usage: chaperone crd [NAME]\n\nPrints the CustomResourceDefinitions generated from api/ (all of them, as one multi-document\nYAML), or only the one named, by its name or plural: ${Object.keys(CRD_YAML).join(', ')}.\n`,
        );
        return 0;
      }
      if (rest.length > 1) throw new UsageError('crd: at most one CRD name');
      const wanted = rest[0];
      const names = Object.keys(CRD_YAML).filter((n) => wanted === undefined || n === wanted || n.split('.')[0] === wanted);
      if (names.length === 0) throw new UsageError(`crd: unknown CRD "${wanted}" (expected one of: ${Object.keys(CRD_YAML).join(', ')})`);
      process.stdout.write(names.map((n) => CRD_YAML[n]!()).join('---\n'));
      return 0;
    }
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
