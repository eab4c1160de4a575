// How a CRD is written to crds/ and the chart. As YAML 1.1, the dialect kubectl and Helm read
// manifests in (sigs.k8s.io/yaml): there an unquoted `off`, `on`, `yes` or `no` is a boolean, so
// the enum value "off" must be quoted or the API server would be given `false` in its place.
import { stringify } from 'yaml';

export function crdYaml(crd: Record<string, unknown>, generatedFrom: string): string {
  return `# Generated from ${generatedFrom} by \`chaperone crd\`; do not edit by hand.\n${stringify(crd, { lineWidth: 0, version: '1.1' })}`;
}
