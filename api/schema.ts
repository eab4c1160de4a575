// The one source of truth for the shape of a GovernancePolicy.
//
// `governancePolicySchema` is a structural OpenAPI v3 schema written as plain JSON-compatible data:
// the generic validator (validate.ts) walks it, and the CRD generator will emit it verbatim as the
// CRD's openAPIV3Schema. So: no functions, RegExps or undefined values in here, only keywords the
// Kubernetes API server understands, and a one-line `description` on every node (it becomes
// `kubectl explain` output). Rules a schema cannot express live in semantics.ts.

export const API_GROUP = 'chaperone.dev';
export const API_VERSION = 'chaperone.dev/v1alpha1';
export const KIND = 'GovernancePolicy';
export const LIST_KIND = 'GovernancePolicyList';

export const MODES = ['enforce', 'audit', 'off'] as const;
export const DLP_MODES = ['audit', 'enforce', 'redact', 'off'] as const;
export const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
export const DLP_DETECTORS = [
  'ssn', 'credit_card', 'email', 'phone', 'iban', 'aws_access_key', 'api_key', 'private_key', 'jwt',
] as const;
export const DLP_SENSITIVITIES = ['low', 'medium', 'high'] as const;
export const THREAT_CATEGORIES = ['sql_injection', 'command_injection', 'path_traversal', 'ssrf', 'exfiltration'] as const;
export const THREAT_SENSITIVITIES = ['low', 'medium', 'high'] as const;
export const THREAT_ACTIONS = ['block', 'redact'] as const;
/** spec.threats.clusterCidrs and clusterDomains when a policy leaves them out: the cluster's own addresses. */
export const THREAT_CLUSTER_CIDRS: readonly string[] = ['10.96.0.0/12'];
export const THREAT_CLUSTER_DOMAINS: readonly string[] = ['kubernetes', 'kubernetes.default', '*.svc', '*.svc.cluster.local', '*.pod.cluster.local'];
export const EGRESS_ACTIONS = ['allow', 'deny', 'log'] as const;
export const TOOLS_DEFAULT_ACTIONS = ['allow', 'deny'] as const;
export const APPROVAL_TIMEOUT_ACTIONS = ['reject', 'approve'] as const;
/** spec.approvals' defaults: how long a held call waits for a person, and what happens then. */
export const APPROVAL_DEFAULT_TIMEOUT_SECONDS = 1800;
export const APPROVAL_DEFAULT_TIMEOUT_ACTION = 'reject' satisfies (typeof APPROVAL_TIMEOUT_ACTIONS)[number];
export const LARGE_ANSWERS = ['refuse', 'checkPrefix'] as const;
export const SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

/** The subset of OpenAPI v3 (as restricted by Kubernetes structural schemas) that we use. */
export interface SchemaNode {
  type: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description: string;
  properties?: Record<string, SchemaNode>;
  /** For string-keyed maps (e.g. matchLabels): the schema of every value. */
  additionalProperties?: SchemaNode;
  required?: string[];
  items?: SchemaNode;
  enum?: string[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  /** OpenAPI v3.0 style: when true, `minimum` itself is not allowed. */
  exclusiveMinimum?: boolean;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  /** `map`: items are objects keyed by `x-kubernetes-list-map-keys`; `set`: scalar items, unique. */
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  /** Bounds the API server's CEL cost estimate; the validator enforces it too. */
  maxItems?: number;
  /**
   * CEL rules the API server runs. The validator does not read these: each has a TypeScript twin in
   * semantics.ts, and the e2e suite proves both reject the same objects with the same field named.
   */
  'x-kubernetes-validations'?: Array<{ rule: string; message: string; fieldPath?: string; reason?: string }>;
}

// Patterns used below. Kept as named constants so PATTERN_MESSAGES can explain them in words.
export const HHMM_PATTERN = '^([01][0-9]|2[0-3]):[0-5][0-9]$';
/** A lowercase DNS name (labels of at most 63 characters), optionally starting with "*.". */
export const HOST_PATTERN = '^(\\*\\.)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$';
/** The longest DNS name. */
export const HOST_MAX_LENGTH = 253;
export const IDENTIFIER_PATTERN = '^[a-z][a-z0-9_]*$';

/** Human wording for pattern failures; the validator falls back to quoting the pattern. */
export const PATTERN_MESSAGES: Record<string, string> = {
  [HHMM_PATTERN]: 'must be "HH:MM" between 00:00 and 23:59',
  [HOST_PATTERN]: 'must be a lowercase host name, optionally starting with "*."',
  [IDENTIFIER_PATTERN]: 'must be a lowercase identifier (a-z, 0-9 and _, starting with a letter)',
};

// Every section may override spec.mode; absent means "inherit spec.mode", hence no default.
/** A section's onStoreFailure: what it does while the shared counter store cannot answer. */
function storeFailureField(what: string, local: string): SchemaNode {
  return {
    type: 'string',
    enum: ['failOpen', 'failClosed', 'local'],
    description: `With a shared counter store (the sidecar's --shared-limits-url), what ${what} do while it cannot answer: local (the default) counts on ${local}, failOpen lets calls through uncounted, failClosed refuses them (503). Without a store it changes nothing.`,
  };
}

function sectionMode(section: string): SchemaNode {
  return {
    type: 'string',
    enum: [...MODES],
    description: `Mode for ${section} only (enforce, audit or off); absent inherits spec.mode.`,
  };
}

const perMinuteFields = (what: string): Record<string, SchemaNode> => ({
  requestsPerMinute: {
    type: 'integer', minimum: 1, description: `Maximum requests per minute ${what}.`,
  },
  tokensPerMinute: {
    type: 'integer', minimum: 1, description: `Maximum LLM tokens (input plus output) per minute ${what}.`,
  },
});

const scheduleSchema: SchemaNode = {
  type: 'object',
  description: 'Time window in which calls are allowed; outside it they are denied.',
  properties: {
    mode: sectionMode('the schedule'),
    days: {
      type: 'array',
      description: 'Days of the week on which calls are allowed; absent means every day.',
      'x-kubernetes-list-type': 'set',
      items: { type: 'string', enum: [...DAYS], description: 'A day of the week (Mon..Sun).' },
    },
    hours: {
      type: 'object',
      description: 'Daily time window; end before start crosses midnight; absent means all day.',
      required: ['start', 'end'],
      'x-kubernetes-validations': [{ rule: 'self.start != self.end', message: 'start and end must differ (leave hours out for all day)', fieldPath: '.end' }],
      properties: {
        start: { type: 'string', pattern: HHMM_PATTERN, maxLength: 5, description: 'Start of the window, "HH:MM" (inclusive).' },
        end: { type: 'string', pattern: HHMM_PATTERN, maxLength: 5, description: 'End of the window, "HH:MM" (exclusive).' },
      },
    },
    timezone: {
      type: 'string',
      default: 'UTC',
      minLength: 1,
      description: 'IANA time zone the days and hours are read in, e.g. Europe/Berlin.',
    },
  },
};

const labelSelectorSchema: SchemaNode = {
  type: 'object',
  description: 'Pods (by label) this policy applies to; empty or absent selects every pod in the namespace.',
  properties: {
    matchLabels: {
      type: 'object',
      description: 'Labels a pod must carry with exactly these values.',
      additionalProperties: { type: 'string', description: 'Required label value.' },
    },
    matchExpressions: {
      type: 'array',
      description: 'Label requirements, all of which must hold (Kubernetes LabelSelector semantics).',
      items: {
        type: 'object',
        description: 'One label requirement.',
        required: ['key', 'operator'],
        properties: {
          key: { type: 'string', minLength: 1, description: 'Label key the requirement applies to.' },
          operator: {
            type: 'string',
            enum: [...SELECTOR_OPERATORS],
            description: 'How the label relates to values: In, NotIn, Exists or DoesNotExist.',
          },
          values: {
            type: 'array',
            description: 'Label values; non-empty for In and NotIn, empty for Exists and DoesNotExist.',
            items: { type: 'string', description: 'A label value.' },
          },
        },
      },
    },
  },
};

export const governancePolicySpecSchema: SchemaNode = {
  type: 'object',
  description: 'What the sidecar enforces for the selected pods.',
  default: {},
  properties: {
    podSelector: labelSelectorSchema,
    mode: {
      type: 'string',
      enum: [...MODES],
      default: 'enforce',
      description: 'Default mode of every section: enforce (block), audit (only record) or off.',
    },
    intercept: {
      type: 'object',
      description: 'Extra hosts whose TLS traffic the sidecar intercepts, beyond the built-in LLM providers.',
      properties: {
        hosts: {
          type: 'array',
          description: 'Host names to intercept, e.g. mcp.internal.example.com or *.example.com.',
          items: { type: 'string', pattern: HOST_PATTERN, maxLength: HOST_MAX_LENGTH, description: 'Host name, optionally with a leading "*." wildcard.' },
        },
        passThrough: {
          type: 'array',
          description:
            'Requests on intercepted hosts whose body the sidecar cannot read (not JSON, an unknown content coding or charset) are refused; these host[/path] globs (egress-rule syntax) let such bodies through unread, e.g. "api.openai.com/v1/files*" for multipart uploads. Egress rules still apply.',
          items: { type: 'string', minLength: 1, maxLength: 512, description: 'Glob of the form host[/path] with * wildcards.' },
        },
        largeAnswers: {
          type: 'string',
          enum: [...LARGE_ANSWERS],
          description:
            'A whole JSON answer larger than the sidecar holds (--max-response-bytes): refuse (502, nothing relayed; what applies when no policy says) or checkPrefix (the checks read the answer\'s first --max-response-bytes, made whole, and it is relayed unbuffered; a stop or a needed redaction refuses it). Refuse in any selected policy wins.',
        },
      },
    },
    egress: {
      type: 'object',
      description: 'Which hosts and paths agents may call; the first matching rule wins.',
      properties: {
        mode: sectionMode('egress'),
        defaultAction: {
          type: 'string',
          enum: [...EGRESS_ACTIONS],
          default: 'allow',
          description: 'Action when no rule matches: allow, deny or log.',
        },
        rules: {
          type: 'array',
          description: 'Ordered egress rules; the first one whose match fits the request decides.',
          maxItems: 256,
          items: {
            type: 'object',
            description: 'One egress rule.',
            required: ['match', 'action'],
            properties: {
              match: {
                type: 'string',
                minLength: 1,
                description: 'Glob of the form host[/path] with * wildcards, e.g. "*.example.com/v1/*".',
              },
              action: {
                type: 'string',
                enum: [...EGRESS_ACTIONS],
                description: 'What to do with a matching request: allow, deny or log.',
              },
              reason: { type: 'string', description: 'Explanation returned to the agent and written to the audit log.' },
              rateLimit: {
                type: 'object',
                description: 'Rate limit applied to requests matching this rule (per pod).',
                properties: perMinuteFields('matching this rule'),
              },
              schedule: { ...scheduleSchema, description: 'Only apply this rule inside this time window.' },
            },
          },
        },
      },
    },
    schedule: scheduleSchema,
    tools: {
      type: 'object',
      description: 'Which tools each agent may call; forbidden tools are denied (or stripped).',
      properties: {
        mode: sectionMode('tools'),
        defaultAction: {
          type: 'string',
          enum: [...TOOLS_DEFAULT_ACTIONS],
          default: 'allow',
          description: 'What an agent without an entry (or a tool not listed) gets: allow or deny.',
        },
        agents: {
          type: 'array',
          description: 'Tool allow- and deny-lists per agent identity.',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
          maxItems: 100,
          items: {
            type: 'object',
            description: 'Tool lists for one agent.',
            required: ['name'],
            'x-kubernetes-validations': [
              {
                rule: '!has(self.permitted) || !has(self.forbidden) || !self.permitted.exists(t, t in self.forbidden)',
                message: 'a tool cannot be both permitted and forbidden for one agent',
                fieldPath: '.forbidden',
              },
            ],
            properties: {
              name: { type: 'string', minLength: 1, maxLength: 253, description: 'Agent identity (X-Chaperone-Agent or chaperone.dev/agent).' },
              permitted: {
                type: 'array',
                description: 'Tools this agent may call (globs with *).',
                maxItems: 100,
                items: { type: 'string', minLength: 1, maxLength: 128, description: 'Tool name.' },
              },
              forbidden: {
                type: 'array',
                description: 'Tools this agent must never call (globs with *); forbidden wins over permitted.',
                maxItems: 100,
                items: { type: 'string', minLength: 1, maxLength: 128, description: 'Tool name.' },
              },
            },
          },
        },
        stripForbidden: {
          type: 'boolean',
          default: false,
          description: 'Also remove forbidden tools from the tool list a request offers to the model.',
        },
      },
    },
    rateLimits: {
      type: 'object',
      description: 'Request and token rate limits, per agent.',
      properties: {
        mode: sectionMode('rate limits'),
        ...perMinuteFields('for each agent without its own entry'),
        onStoreFailure: storeFailureField('the limits', "each replica's own counters (the limits hold per replica)"),
        agents: {
          type: 'array',
          description: 'Rate limits for specific agents, replacing the defaults above.',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
          items: {
            type: 'object',
            description: 'Rate limits for one agent.',
            required: ['name'],
            properties: {
              name: { type: 'string', minLength: 1, description: 'Agent identity.' },
              ...perMinuteFields('for this agent'),
            },
          },
        },
      },
    },
    dlp: {
      type: 'object',
      description: 'Data-loss prevention: detect sensitive data in requests (and optionally responses).',
      properties: {
        mode: {
          type: 'string',
          enum: [...DLP_MODES],
          description: 'audit (record), enforce (deny), redact (mask and forward) or off; absent inherits spec.mode.',
        },
        sensitivity: {
          type: 'string',
          enum: [...DLP_SENSITIVITIES],
          default: 'medium',
          description: 'How eagerly detectors fire: low, medium or high.',
        },
        detectors: {
          type: 'array',
          description: 'Built-in detectors to run; absent means those chosen by sensitivity.',
          'x-kubernetes-list-type': 'set',
          items: { type: 'string', enum: [...DLP_DETECTORS], description: 'Built-in detector name.' },
        },
        custom: {
          type: 'array',
          description: 'Additional detectors defined by a regular expression.',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
          items: {
            type: 'object',
            description: 'One custom detector.',
            required: ['name', 'pattern'],
            properties: {
              name: {
                type: 'string',
                pattern: IDENTIFIER_PATTERN,
                maxLength: 63,
                description: 'Detector name as it appears in metrics and audit logs (lowercase identifier).',
              },
              pattern: {
                type: 'string',
                minLength: 1,
                description: 'JavaScript regular expression (u flag; no backreferences or lookaround).',
              },
            },
          },
        },
        scanResponses: {
          type: 'boolean',
          default: false,
          description: 'Also scan model responses, not only requests.',
        },
      },
    },
    threats: {
      type: 'object',
      description: 'Threat detection in tool-call arguments: SQL and command injection, path traversal, SSRF, exfiltration, and your own patterns.',
      properties: {
        mode: sectionMode('threat detection'),
        sensitivity: {
          type: 'string',
          enum: [...THREAT_SENSITIVITIES],
          default: 'medium',
          description: 'Which signals count: low (only the unambiguous), medium, or high (also private networks, any ../, large-ish blobs).',
        },
        categories: {
          type: 'array',
          description: 'Built-in detectors to run; absent means all of them.',
          'x-kubernetes-list-type': 'set',
          items: { type: 'string', enum: [...THREAT_CATEGORIES], description: 'A built-in threat category.' },
        },
        clusterCidrs: {
          type: 'array',
          description: "The cluster's own address ranges (Service and Pod CIDRs): a URL or host in them is SSRF into the cluster. Replaces the default.",
          default: [...THREAT_CLUSTER_CIDRS],
          maxItems: 64,
          'x-kubernetes-list-type': 'set',
          items: { type: 'string', minLength: 1, maxLength: 64, description: 'An IPv4 or IPv6 CIDR, e.g. 10.96.0.0/12.' },
        },
        clusterDomains: {
          type: 'array',
          description: "The cluster's own DNS names: a URL or host under them is SSRF into the cluster. Replaces the default.",
          default: [...THREAT_CLUSTER_DOMAINS],
          maxItems: 64,
          'x-kubernetes-list-type': 'set',
          items: { type: 'string', pattern: HOST_PATTERN, maxLength: HOST_MAX_LENGTH, description: 'A host name, or "*." and a domain for every name under it.' },
        },
        custom: {
          type: 'array',
          description: 'Your own patterns, matched against every string of a tool call\'s arguments.',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
          maxItems: 64,
          items: {
            type: 'object',
            description: 'One custom rule.',
            required: ['name', 'pattern'],
            properties: {
              name: {
                type: 'string',
                pattern: IDENTIFIER_PATTERN,
                maxLength: 63,
                description: 'Rule name as it appears in reasons and audit logs (lowercase identifier).',
              },
              pattern: {
                type: 'string',
                minLength: 1,
                description: 'JavaScript regular expression (u flag; no backreferences or lookaround).',
              },
              action: {
                type: 'string',
                enum: [...THREAT_ACTIONS],
                default: 'block',
                description: 'block (deny the call) or redact (replace each match where the argument can be rewritten, else deny).',
              },
            },
          },
        },
      },
    },
    approvals: {
      type: 'object',
      description: 'Tool calls that wait for a human approval before they are forwarded.',
      properties: {
        mode: sectionMode('approvals'),
        tools: {
          type: 'array',
          description: 'Tool names (globs) that require approval.',
          items: { type: 'string', minLength: 1, description: 'Tool name glob, e.g. execute_*.' },
        },
        timeoutSeconds: {
          type: 'integer',
          minimum: 1,
          maximum: 86400,
          default: APPROVAL_DEFAULT_TIMEOUT_SECONDS,
          description: 'How long a pending approval waits before timeoutAction applies.',
        },
        timeoutAction: {
          type: 'string',
          enum: [...APPROVAL_TIMEOUT_ACTIONS],
          default: APPROVAL_DEFAULT_TIMEOUT_ACTION,
          description: 'What happens to a pending approval when it times out: reject or approve.',
        },
      },
    },
    budget: {
      type: 'object',
      description: 'Spending caps in US dollars, computed from token usage and pricing.',
      properties: {
        mode: sectionMode('the budget'),
        maxCostPerRequestUSD: {
          type: 'number', minimum: 0, exclusiveMinimum: true, description: 'Maximum estimated cost of one request.',
        },
        maxCostPerAgentPerDayUSD: {
          type: 'number', minimum: 0, exclusiveMinimum: true, description: 'Maximum cost per agent per UTC day.',
        },
        maxCostPerSessionUSD: {
          type: 'number', minimum: 0, exclusiveMinimum: true, description: 'Maximum cost per session (X-Chaperone-Session).',
        },
        onStoreFailure: storeFailureField('the day and session caps', "each replica's own totals (its own spend plus the fleet's as last read)"),
        pricing: {
          type: 'array',
          description: 'Prices per model, overriding the built-in price table.',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['model'],
          items: {
            type: 'object',
            description: 'Price of one model (or a glob of models).',
            required: ['model', 'inputPerMTokUSD', 'outputPerMTokUSD'],
            properties: {
              model: { type: 'string', minLength: 1, description: 'Model name glob, e.g. gpt-4o*.' },
              inputPerMTokUSD: { type: 'number', minimum: 0, description: 'Price of one million input tokens in USD.' },
              outputPerMTokUSD: { type: 'number', minimum: 0, description: 'Price of one million output tokens in USD.' },
            },
          },
        },
      },
    },
    circuitBreaker: {
      type: 'object',
      description: 'Stop calling an upstream that keeps failing, and retry after a pause.',
      properties: {
        mode: sectionMode('the circuit breaker'),
        failureThreshold: {
          type: 'integer', minimum: 1, default: 5, description: 'Failures within windowSeconds that open the circuit.',
        },
        windowSeconds: {
          type: 'integer', minimum: 1, default: 60, description: 'Sliding window over which failures are counted.',
        },
        recoverySeconds: {
          type: 'integer', minimum: 1, default: 30, description: 'How long the circuit stays open before a trial request.',
        },
      },
    },
    toolPinning: {
      type: 'object',
      description: "Pin each MCP server's tool definitions at its first tools/list in the namespace; a changed or added tool (a rug pull) is flagged, and in enforce mode removed from the list and refused until a person re-pins the server.",
      properties: {
        mode: sectionMode('tool pinning'),
      },
    },
  },
};

export const governancePolicyStatusSchema: SchemaNode = {
  type: 'object',
  description: 'Observed state, written by the operator.',
  properties: {
    observedGeneration: { type: 'integer', description: 'The metadata.generation the operator last compiled.' },
    conditions: {
      type: 'array',
      description: 'Current conditions of the policy (e.g. Ready).',
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
      items: {
        type: 'object',
        description: 'One condition.',
        required: ['type', 'status'],
        properties: {
          type: { type: 'string', description: 'Condition type, e.g. Ready.' },
          status: { type: 'string', enum: ['True', 'False', 'Unknown'], description: 'True, False or Unknown.' },
          reason: { type: 'string', description: 'Machine-readable CamelCase reason for the last transition.' },
          message: { type: 'string', description: 'Human-readable details.' },
          observedGeneration: { type: 'integer', description: 'The generation this condition was set for.' },
          lastTransitionTime: { type: 'string', format: 'date-time', description: 'When the status last changed.' },
        },
      },
    },
    selectedPods: { type: 'integer', description: 'Number of running pods the policy currently selects.' },
  },
};

/**
 * The whole object, as the CRD's openAPIV3Schema. metadata is left to the API server (and checked
 * lightly by validatePolicy); status is never validated, only described.
 */
export const governancePolicySchema: SchemaNode = {
  type: 'object',
  description: 'GovernancePolicy governs what the selected agent pods may send to LLM providers and tool servers.',
  properties: {
    apiVersion: { type: 'string', description: 'API version, chaperone.dev/v1alpha1.' },
    kind: { type: 'string', description: 'Kind, GovernancePolicy.' },
    metadata: { type: 'object', description: 'Standard Kubernetes object metadata.' },
    spec: governancePolicySpecSchema,
    status: governancePolicyStatusSchema,
  },
};
