// What the threat detectors share: categories, sensitivity, findings, and the view of one string
// leaf of a tool call's arguments that every detector reads (built once per leaf by leaves.ts).
import { THREAT_CATEGORIES, type ThreatCategoryName, type ThreatSensitivity } from '../../../api/index.js';
import type { JsonPath } from '../../call.js';

/** The built-in detectors (api/schema.ts), in the order they run (and report). */
export const BUILTIN_CATEGORIES = THREAT_CATEGORIES;
export type BuiltinCategory = ThreatCategoryName;

/** What a finding is about. Bounded: it is a metric label. */
export type ThreatCategory = BuiltinCategory | 'custom';

export type Sensitivity = ThreatSensitivity;

/** Sensitivity as a number: a signal counts when its level is at most the policy's. */
export const LEVEL: Readonly<Record<Sensitivity, 0 | 1 | 2>> = { low: 0, medium: 1, high: 2 };
export type Level = 0 | 1 | 2;

/** One finding. `detail` says what was seen in words: never the matched text itself. */
export interface ThreatFinding {
  category: ThreatCategory;
  /** Where in the arguments, e.g. `url`, `filters[0].value`; `(arguments)` for the whole value. */
  path: string;
  /** The same place as a JSON path inside the arguments. */
  jsonPath: JsonPath;
  detail: string;
  /** Custom rules: the rule's name and what it asks for. */
  rule?: string;
  action?: 'block' | 'redact';
}

/**
 * How a leaf is used, as far as its name, its tool's name and its shape tell. A leaf may have
 * several (a URL is also a value). Detectors pick the signals that fit each role: a pipe is normal
 * in a shell command and suspicious in a host name; `../` is normal in source code and suspicious
 * in a file name.
 */
export type Role =
  /** A SQL statement (starts like one, for a database tool or under a sql-like name). */
  | 'sql'
  /** A command line for a shell tool (`command`, `cmd`, `script`...). */
  | 'shell'
  /** A file-system path (`path`, `filename`, `dir`... or shaped like one). */
  | 'path'
  /** A whole URL. */
  | 'url'
  /** A host name or address (`host`, `ip`, `server`...). */
  | 'host'
  /** Free text: long or multi-line prose, code, a message body. Only strong signals count there. */
  | 'document'
  /** A short single value that a tool may paste into a query or a command line. */
  | 'value';

/** One string leaf, as the detectors read it. */
export interface LeafView {
  jsonPath: JsonPath;
  /** `filters[0].value`. */
  path: string;
  /** The leaf's own key (or, inside a list, the list's), lower case, '-' as '_'; '' at the root. */
  key: string;
  /** The tool's name, lower case. */
  tool: string;
  /** The string as sent, cut to the per-leaf bound. */
  raw: string;
  /** Whether `raw` is a cut of a longer string. */
  truncated: boolean;
  /**
   * The string as a tool would end up reading it: percent-escapes undone (twice: double encoding),
   * NFKC (full-width and circled forms), invisible characters removed, lower case.
   */
  text: string;
  roles: ReadonlySet<Role>;
}

/** What a detector is configured with (threats.ts compiles it once per policy section). */
export interface DetectOptions {
  level: Level;
}

/** A built-in detector: a description of what it saw in this leaf, or undefined. */
export type Detect = (leaf: LeafView, opts: DetectOptions) => string | undefined;
