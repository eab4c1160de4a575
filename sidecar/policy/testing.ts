// For the checks' tests: a validated policy from a spec, and a neutral call with the defaults of an
// OpenAI chat completion, so each test names only what it is about.
import { validatePolicy, type GovernancePolicy } from '../../api/index.js';
import type { Call } from '../call.js';

/** The policy `spec` makes, validated as the sidecar validates it (throws naming what is wrong). */
export function testPolicy(spec: object, name = 'p'): GovernancePolicy {
  const { policy, errors } = validatePolicy({ apiVersion: 'chaperone.dev/v1alpha1', kind: 'GovernancePolicy', metadata: { name, namespace: 'ns' }, spec });
  if (!policy) throw new Error(errors.join('; '));
  return policy;
}

/** A chat completion to api.openai.com by agent `a`, with `over` on top. */
export function testCall(over: Partial<Call> = {}): Call {
  return {
    id: '1', provider: 'openai', agent: 'a', host: 'api.openai.com', port: 443, method: 'POST', path: '/v1/chat/completions',
    operation: 'chat.completions', toolsDefined: [], toolCalls: [], texts: [], stream: false, ...over,
  };
}
