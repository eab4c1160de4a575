// The GovernancePolicy CustomResourceDefinition, generated from the one schema in schema.ts, so the
// API server, the operator and the sidecar can never disagree about a field, an enum or a default.
// `crds/governancepolicies.chaperone.dev.yaml` is this function's output (a test keeps it in step).
import { approvalRequestCrdYaml } from './approval-crd.js';
import { crdYaml } from './crd-yaml.js';
import { APPROVAL_CRD_NAME } from './approval-names.js';
import { API_GROUP, KIND, LIST_KIND, governancePolicySchema, type SchemaNode } from './schema.js';

export const CRD_NAME = `governancepolicies.${API_GROUP}`;

export function governancePolicyCrd(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: CRD_NAME,
      labels: { 'app.kubernetes.io/name': 'chaperone', 'app.kubernetes.io/part-of': 'chaperone' },
    },
    spec: {
      group: API_GROUP,
      scope: 'Namespaced',
      names: {
        kind: KIND,
        listKind: LIST_KIND,
        plural: 'governancepolicies',
        singular: 'governancepolicy',
        shortNames: ['gp'],
        categories: ['chaperone'],
      },
      versions: [
        {
          name: 'v1alpha1',
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Mode', type: 'string', jsonPath: '.spec.mode', description: 'Default mode of every section.' },
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Compiled into the namespace config.' },
            { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason', description: 'Why it is (not) ready.' },
            { name: 'Pods', type: 'integer', jsonPath: '.status.selectedPods', description: 'Injected pods the policy selects.' },
            { name: 'DLP', type: 'string', jsonPath: '.spec.dlp.mode', priority: 1, description: 'DLP mode.' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: { openAPIV3Schema: crdSchema() },
        },
      ],
    },
  };
}

/**
 * The schema as the API server takes it: identical to the validator's, except that a CRD may say
 * nothing about metadata beyond its type (the server validates metadata itself).
 */
export function crdSchema(): SchemaNode {
  return { ...governancePolicySchema, properties: { ...governancePolicySchema.properties, metadata: { type: 'object' } as SchemaNode } };
}

export function governancePolicyCrdYaml(): string {
  return crdYaml(governancePolicyCrd(), 'api/schema.ts');
}

/**
 * Every CRD the project ships, by name: `crds/<name>.yaml` and the chart's `crds/<name>.yaml` are
 * exactly these (a test compares them; `make crds` writes them with `chaperone crd <name>`).
 */
export const CRD_YAML: Readonly<Record<string, () => string>> = {
  [CRD_NAME]: governancePolicyCrdYaml,
  [APPROVAL_CRD_NAME]: approvalRequestCrdYaml,
};
