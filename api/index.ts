// The GovernancePolicy model every component shares (sidecar, operator, webhook, CRD generator).
export * from './schema.js';
export * from './types.js';
export * from './validate.js';
export * from './semantics.js';
export * from './selector.js';
export * from './policy.js';
export * from './load.js';
export * from './linear-regex.js';
export * from './crd.js';
export * from './names.js';
export * from './pod-contract.js';
export * from './intercept-hosts.js';
export * from './approval-names.js';
export * from './approval-crd.js';
export * from './approval-admission.js';
