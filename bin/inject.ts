// `chaperone inject -f FILE`: manual injection of workload manifests, with the webhook's own code,
// for clusters without the webhook and for reviewing what it would do.
import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { UsageError, boolFlag, parseFlags } from '../lib/cli.js';
import { SETTINGS_FLAGS, defaultInjectionSettings, settingsFlagsHelp, settingsFromFlags } from '../webhook/settings.js';
import { injectManifests } from '../webhook/workloads.js';

const DEFAULTS = defaultInjectionSettings();

export const INJECT_HELP = `Usage: chaperone inject -f FILE [flags]

Injects the Chaperone sidecar into the pods of Kubernetes manifests (multi-document YAML): Pods,
Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs and v1 Lists of them. Other
objects pass through unchanged. Every pod is injected unless it opts out (chaperone.dev/inject:
"false"), lives in a system namespace or uses hostNetwork. The manifests go to stdout; skipped
objects and warnings, one line each, to stderr.

  chaperone inject -f deploy.yaml | kubectl apply -f -

Flags:
  -f, --filename FILE           manifests to read ("-": standard input)
  -n, --namespace NS            namespace of objects that name none (default "default")
  --chaperone-namespace NS      Chaperone's own namespace, never injected (default ${DEFAULTS.ownNamespace})
  --cluster-supports-native-sidecars BOOL
                                whether the target cluster has native sidecars, Kubernetes >= 1.29
                                (default ${DEFAULTS.clusterSupportsNativeSidecars}); used by --native-sidecars auto
${settingsFlagsHelp(DEFAULTS)}`;

export interface InjectIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  stdin: AsyncIterable<Buffer | string>;
}

async function readSource(file: string, stdin: InjectIO['stdin']): Promise<string> {
  if (file === '-') return text(stdin);
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
}

export async function injectCommand(
  argv: string[],
  io: InjectIO = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin },
): Promise<number> {
  const { values } = parseFlags(argv, {
    filename: { type: 'string', short: 'f' },
    namespace: { type: 'string', short: 'n' },
    'chaperone-namespace': { type: 'string' },
    'cluster-supports-native-sidecars': { type: 'string' },
    ...SETTINGS_FLAGS,
  });
  if (values.help) {
    io.stdout.write(INJECT_HELP);
    return 0;
  }
  if (values.filename === undefined) throw new UsageError('-f FILE is required (see chaperone inject --help)');
  const settings = settingsFromFlags(values, {
    ...DEFAULTS,
    ownNamespace: values['chaperone-namespace'] || DEFAULTS.ownNamespace,
    clusterSupportsNativeSidecars: boolFlag(values['cluster-supports-native-sidecars'], 'cluster-supports-native-sidecars', DEFAULTS.clusterSupportsNativeSidecars),
  });
  const source = values.filename === '-' ? '<stdin>' : values.filename;
  const input = await readSource(values.filename, io.stdin);
  const { yaml, notes } = injectManifests(input, source, settings, values.namespace || 'default');
  for (const note of notes) io.stderr.write(`${note}\n`);
  io.stdout.write(yaml);
  return 0;
}
