// The fake provider as a pod (the e2e agent image), behind a Service on port 443, with a certificate
// for the real provider host names from a test CA. Agent pods reach it by those names through
// `hostAliases` to the Service's ClusterIP (there is no public DNS here), and their sidecars trust
// the test CA through the ConfigMap that --upstream-ca-configmap names. Used by the pod suite, the
// demo and the propagation bench.
import type { V1HostAlias, V1Pod } from '@kubernetes/client-node';
import { makeTestPki } from '../fake-provider/certs.js';
import { kubectlOk } from './kubectl.js';
import { AGENT_IMAGE, jsonLogLines, waitForReadyBySelector } from './pods.js';

export const FAKE_PROVIDER_APP = 'fake-provider';

export interface FakeProviderPod {
  /** The Service's ClusterIP, where the provider names lead. */
  serviceIp: string;
  /** For an agent pod's spec: every provider name to the Service. */
  hostAliases: V1HostAlias[];
  /** The request bodies the fake has received so far (its --log-requests lines), oldest first. */
  receivedBodies(): Promise<string[]>;
}

const apply = (obj: unknown): Promise<string> => kubectlOk(['apply', '-f', '-'], JSON.stringify(obj));

/**
 * Deploys the fake provider into `namespace` for `hosts`, and the ConfigMap `upstreamCaConfigMap`
 * with its CA (`ca.crt`); resolves once the pod is Ready.
 */
export async function deployFakeProvider(namespace: string, hosts: string[], upstreamCaConfigMap: string): Promise<FakeProviderPod> {
  const pki = await makeTestPki(hosts);
  await apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: upstreamCaConfigMap, namespace }, data: { 'ca.crt': pki.caCert } });
  await apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `${FAKE_PROVIDER_APP}-tls`, namespace }, stringData: { 'tls.crt': pki.cert, 'tls.key': pki.key } });
  await apply({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: FAKE_PROVIDER_APP, namespace },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: FAKE_PROVIDER_APP } },
      template: {
        metadata: { labels: { app: FAKE_PROVIDER_APP } },
        spec: {
          automountServiceAccountToken: false,
          containers: [{
            name: 'fake',
            image: AGENT_IMAGE,
            imagePullPolicy: 'Never',
            command: ['node', '/app/dist/e2e/fake-provider/main.js', '--host', '0.0.0.0', '--port', '8443', '--tls-cert', '/tls/tls.crt', '--tls-key', '/tls/tls.key', '--log-requests'],
            ports: [{ name: 'https', containerPort: 8443 }],
            readinessProbe: { tcpSocket: { port: 8443 }, periodSeconds: 1 },
            volumeMounts: [{ name: 'tls', mountPath: '/tls', readOnly: true }],
          }],
          volumes: [{ name: 'tls', secret: { secretName: `${FAKE_PROVIDER_APP}-tls` } }],
        },
      },
    },
  });
  await apply({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: FAKE_PROVIDER_APP, namespace },
    spec: { selector: { app: FAKE_PROVIDER_APP }, ports: [{ name: 'https', port: 443, targetPort: 8443 }] },
  });
  const serviceIp = (JSON.parse(await kubectlOk(['get', 'service', FAKE_PROVIDER_APP, '-n', namespace, '-o', 'json'])) as { spec: { clusterIP: string } }).spec.clusterIP;
  const pod: V1Pod = await waitForReadyBySelector(namespace, `app=${FAKE_PROVIDER_APP}`);
  const name = pod.metadata!.name!;
  return {
    serviceIp,
    hostAliases: [{ ip: serviceIp, hostnames: hosts }],
    async receivedBodies() {
      return (await jsonLogLines(namespace, name, 'fake')).filter((l) => l.received).map((l) => String((l.received as { body: string }).body));
    },
  };
}
