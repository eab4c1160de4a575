// The e2e suite's cluster: KUBECONFIG when it is set (kind or any cluster), else the local control
// plane, started here and stopped afterwards. Tests read the kubeconfig path from KUBECONFIG.
import { down, up } from './control-plane/cluster.js';

export default async function setup(): Promise<() => Promise<void>> {
  if (process.env.KUBECONFIG) {
    process.stderr.write(`e2e: using the cluster in KUBECONFIG=${process.env.KUBECONFIG}\n`);
    return async () => {};
  }
  process.env.KUBECONFIG = await up();
  return async () => {
    await down();
  };
}
