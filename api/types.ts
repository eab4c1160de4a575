// TypeScript view of the schema in schema.ts. Hand-written for readability; schema.test.ts proves
// the two agree (a fully populated example of these types validates against the schema, and every
// schema property appears in that example).
//
// Fields with a schema default are still optional here because the same types describe what users
// write. After validatePolicy() they are always present: see the "default" notes.

import type {
  APPROVAL_TIMEOUT_ACTIONS, DAYS, DLP_DETECTORS, DLP_MODES, DLP_SENSITIVITIES, EGRESS_ACTIONS, LARGE_ANSWERS, MODES,
  SELECTOR_OPERATORS, THREAT_ACTIONS, THREAT_CATEGORIES, THREAT_SENSITIVITIES, TOOLS_DEFAULT_ACTIONS,
} from './schema.js';

export type Mode = (typeof MODES)[number];
export type DlpMode = (typeof DLP_MODES)[number];
export type Day = (typeof DAYS)[number];
export type DlpDetector = (typeof DLP_DETECTORS)[number];
export type DlpSensitivity = (typeof DLP_SENSITIVITIES)[number];
export type ThreatCategoryName = (typeof THREAT_CATEGORIES)[number];
export type ThreatSensitivity = (typeof THREAT_SENSITIVITIES)[number];
export type ThreatAction = (typeof THREAT_ACTIONS)[number];
export type EgressAction = (typeof EGRESS_ACTIONS)[number];
export type ToolsDefaultAction = (typeof TOOLS_DEFAULT_ACTIONS)[number];
export type ApprovalTimeoutAction = (typeof APPROVAL_TIMEOUT_ACTIONS)[number];
export type LargeAnswers = (typeof LARGE_ANSWERS)[number];
export type SelectorOperator = (typeof SELECTOR_OPERATORS)[number];

export interface LabelSelectorRequirement {
  key: string;
  operator: SelectorOperator;
  values?: string[];
}

/** Kubernetes LabelSelector; empty or absent selects everything. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface InterceptSpec {
  hosts?: string[];
  /** host[/path] globs whose unreadable bodies on intercepted hosts are forwarded unread. */
  passThrough?: string[];
  /** A whole JSON answer over --max-response-bytes: refused (502), or checked on its first bytes and relayed unbuffered. */
  largeAnswers?: LargeAnswers;
}

export interface RateLimit {
  requestsPerMinute?: number;
  tokensPerMinute?: number;
}

export interface ScheduleHours {
  /** "HH:MM", inclusive. */
  start: string;
  /** "HH:MM", exclusive; before start means the window crosses midnight. */
  end: string;
}

export interface ScheduleSpec {
  mode?: Mode;
  days?: Day[];
  hours?: ScheduleHours;
  /** IANA zone; default "UTC". */
  timezone?: string;
}

export interface EgressRule {
  /** host[/path] glob with * wildcards. */
  match: string;
  action: EgressAction;
  reason?: string;
  rateLimit?: RateLimit;
  schedule?: ScheduleSpec;
}

export interface EgressSpec {
  mode?: Mode;
  /** default "allow". */
  defaultAction?: EgressAction;
  rules?: EgressRule[];
}

export interface ToolsAgent {
  name: string;
  permitted?: string[];
  forbidden?: string[];
}

export interface ToolsSpec {
  mode?: Mode;
  /** default "allow". */
  defaultAction?: ToolsDefaultAction;
  agents?: ToolsAgent[];
  /** default false. */
  stripForbidden?: boolean;
}

export interface AgentRateLimit extends RateLimit {
  name: string;
}

/** What fleet-wide rate limits and budgets do while the shared counter store cannot answer (default local). */
export type StoreFailureMode = 'failOpen' | 'failClosed' | 'local';

export interface RateLimitsSpec extends RateLimit {
  mode?: Mode;
  agents?: AgentRateLimit[];
  /**
   * With a shared counter store (sidecar --shared-limits-url), while it cannot answer: `local`
   * (default) counts on this replica's own counters, `failOpen` lets calls through uncounted,
   * `failClosed` refuses them (503). Without a store it changes nothing.
   */
  onStoreFailure?: StoreFailureMode;
}

export interface DlpCustomDetector {
  name: string;
  pattern: string;
}

export interface DlpSpec {
  /** Absent: inherits spec.mode (enforce, audit or off). */
  mode?: DlpMode;
  /** default "medium". */
  sensitivity?: DlpSensitivity;
  /** Absent: the detectors sensitivity chooses. */
  detectors?: DlpDetector[];
  custom?: DlpCustomDetector[];
  /** default false. */
  scanResponses?: boolean;
}

export interface ThreatCustomRule {
  name: string;
  pattern: string;
  /** default "block". */
  action?: ThreatAction;
}

export interface ThreatsSpec {
  /** Absent: inherits spec.mode. */
  mode?: Mode;
  /** default "medium". */
  sensitivity?: ThreatSensitivity;
  /** Absent: every built-in category. */
  categories?: ThreatCategoryName[];
  /** default ["10.96.0.0/12"]. */
  clusterCidrs?: string[];
  /** default ["kubernetes", "kubernetes.default", "*.svc", "*.svc.cluster.local", "*.pod.cluster.local"]. */
  clusterDomains?: string[];
  custom?: ThreatCustomRule[];
}

export interface ApprovalsSpec {
  mode?: Mode;
  tools?: string[];
  /** default 1800. */
  timeoutSeconds?: number;
  /** default "reject". */
  timeoutAction?: ApprovalTimeoutAction;
}

export interface ModelPricing {
  model: string;
  inputPerMTokUSD: number;
  outputPerMTokUSD: number;
}

export interface BudgetSpec {
  mode?: Mode;
  maxCostPerRequestUSD?: number;
  maxCostPerAgentPerDayUSD?: number;
  maxCostPerSessionUSD?: number;
  pricing?: ModelPricing[];
  /**
   * With a shared counter store (sidecar --shared-limits-url) the day and session totals are the
   * fleet's; while the store cannot answer: `local` (default) judges on this replica's own totals,
   * `failOpen` lets calls through without the day and session caps, `failClosed` refuses them (503).
   */
  onStoreFailure?: StoreFailureMode;
}

export interface CircuitBreakerSpec {
  mode?: Mode;
  /** default 5. */
  failureThreshold?: number;
  /** default 60. */
  windowSeconds?: number;
  /** default 30. */
  recoverySeconds?: number;
}

/**
 * MCP tool pinning: the first tools/list of each MCP server in the namespace pins every tool's
 * definition (a digest of name, description, schemas, annotations); a later change is flagged.
 */
export interface ToolPinningSpec {
  mode?: Mode;
}

export interface GovernancePolicySpec {
  podSelector?: LabelSelector;
  /** default "enforce". */
  mode?: Mode;
  intercept?: InterceptSpec;
  egress?: EgressSpec;
  schedule?: ScheduleSpec;
  tools?: ToolsSpec;
  rateLimits?: RateLimitsSpec;
  dlp?: DlpSpec;
  threats?: ThreatsSpec;
  approvals?: ApprovalsSpec;
  budget?: BudgetSpec;
  circuitBreaker?: CircuitBreakerSpec;
  toolPinning?: ToolPinningSpec;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
}

export interface GovernancePolicyStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  selectedPods?: number;
}

/** The metadata fields we keep; validatePolicy drops the rest (resourceVersion, managedFields, ...). */
export interface PolicyMetadata {
  name: string;
  /** default "default" (objects from the API server always carry one). */
  namespace?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid?: string;
}

export interface GovernancePolicy {
  apiVersion: 'chaperone.dev/v1alpha1';
  kind: 'GovernancePolicy';
  metadata: PolicyMetadata;
  /** Always present after validatePolicy (default {} with mode enforce). */
  spec: GovernancePolicySpec;
  status?: GovernancePolicyStatus;
}

/** Sections that carry their own `mode` (with the Mode enum; dlp has its own). */
export type ModedSection = 'egress' | 'schedule' | 'tools' | 'rateLimits' | 'approvals' | 'budget' | 'circuitBreaker' | 'toolPinning' | 'threats';
/** The sections a policy check belongs to: every one with a mode, dlp's included. */
export type PolicySection = ModedSection | 'dlp';
