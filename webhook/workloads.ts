// Manual injection (`chaperone inject`): the pod templates inside workload manifests go through the
// webhook's own injectPod, and everything around them stays as it was.
import type { V1Pod } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { isPlainObject } from '../api/index.js';
import { UsageError } from '../lib/cli.js';
import { injectPod } from './inject.js';
import type { InjectionSettings } from './settings.js';

/** Where each kind keeps its pod template; a Pod is its own. */
const TEMPLATE_PATHS: ReadonlyMap<string, readonly string[]> = new Map([
  ['Pod', []],
  ['Deployment', ['spec', 'template']],
  ['StatefulSet', ['spec', 'template']],
  ['DaemonSet', ['spec', 'template']],
  ['ReplicaSet', ['spec', 'template']],
  ['Job', ['spec', 'template']],
  ['CronJob', ['spec', 'jobTemplate', 'spec', 'template']],
]);

export interface InjectedObject {
  object: unknown;
  /** One line per skipped pod template or warning, naming the object. */
  notes: string[];
}

const getAt = (value: unknown, path: readonly string[]): unknown => path.reduce((v, key) => (isPlainObject(v) ? v[key] : undefined), value);

/** A copy of `value` with `replacement` at `path`; the objects along the path are copied, nothing else. */
function setAt(value: unknown, path: readonly string[], replacement: unknown): unknown {
  const [key, ...rest] = path;
  if (key === undefined || !isPlainObject(value)) return replacement;
  return { ...value, [key]: setAt(value[key], rest, replacement) };
}

/**
 * Injects the pod template of one manifest object (each item of a v1 List), as `kubectl apply` of it
 * would have the webhook do, except that asking is opting in. Objects of other kinds come back as
 * they are. `namespace` is for objects that name none.
 */
export function injectObject(object: unknown, settings: InjectionSettings, namespace: string): InjectedObject {
  if (!isPlainObject(object)) return { object, notes: [] };
  if (object.kind === 'List' && Array.isArray(object.items)) {
    const items = object.items.map((item) => injectObject(item, settings, namespace));
    return { object: { ...object, items: items.map((i) => i.object) }, notes: items.flatMap((i) => i.notes) };
  }
  const path = typeof object.kind === 'string' ? TEMPLATE_PATHS.get(object.kind) : undefined;
  if (!path) return { object, notes: [] };

  const metadata = isPlainObject(object.metadata) ? object.metadata : {};
  const name = `${object.kind as string}/${typeof metadata.name === 'string' ? metadata.name : '(unnamed)'}`;
  const template = getAt(object, path);
  if (!isPlainObject(template)) return { object, notes: [`${name}: skipped: no pod template at ${path.join('.')}`] };
  const result = injectPod(template as V1Pod, settings, {
    namespace: typeof metadata.namespace === 'string' && metadata.namespace ? metadata.namespace : namespace,
    namespaceOptedIn: false,
    manual: true,
  });
  if (result.action === 'skipped') return { object, notes: [`${name}: skipped: ${result.reason}`] };
  return { object: setAt(object, path, result.pod), notes: result.warnings.map((w) => `${name}: warning: ${w}`) };
}

/**
 * Injects every object of a multi-document YAML text; the result is YAML again, one document per
 * non-empty input document. A document that does not parse is a UsageError naming it.
 */
export function injectManifests(text: string, source: string, settings: InjectionSettings, namespace: string): { yaml: string; notes: string[] } {
  const documents: string[] = [];
  const notes: string[] = [];
  parseAllDocuments(text).forEach((doc, index) => {
    const bad = (message: string): UsageError => new UsageError(`${source}: document ${index + 1}: ${message.split('\n')[0]}`);
    const error = doc.errors[0];
    if (error) throw bad(error.message);
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      throw bad((err as Error).message);
    }
    if (value === null || value === undefined) return;
    const injected = injectObject(value, settings, namespace);
    documents.push(stringify(injected.object, { lineWidth: 0, aliasDuplicateObjects: false }));
    notes.push(...injected.notes);
  });
  return { yaml: documents.join('---\n'), notes };
}
