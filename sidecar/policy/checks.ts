// The registry of policy checks, in the order they run. Each lives in its own file in this folder.
// The data path ships with none: every call passes (the policy-engine issue fills this in).
import type { RequestCheck, ResponseCheck } from './pipeline.js';

export const REQUEST_CHECKS: readonly RequestCheck[] = [];
export const RESPONSE_CHECKS: readonly ResponseCheck[] = [];
