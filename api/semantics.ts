// Rules the schema cannot express. Each check receives the validator's copy of the spec, in which
// values that failed the schema are already removed (so present values are well-typed), but
// required fields may be missing and list items may be undefined: hence the guards.
//
// Uniqueness of names in keyed lists (tools.agents, rateLimits.agents, dlp.custom, budget.pricing)
// is not here: the schema declares those lists `x-kubernetes-list-type: map`, and validate.ts
// enforces that generically, as the API server does.

import { isIP } from 'node:net';
import { compileLinearPattern } from './linear-regex.js';
import { DLP_DETECTORS } from './schema.js';
import type { GovernancePolicySpec, ScheduleSpec } from './types.js';

type Check = (spec: GovernancePolicySpec, errors: string[]) => void;

export function isKnownTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function checkOneSchedule(s: ScheduleSpec | undefined, path: string, errors: string[]): void {
  if (!s) return;
  // The "HH:MM" format is a schema pattern; a window with end < start crosses midnight, but an
  // empty window (start == end) is almost certainly a mistake. Omit hours to allow the whole day.
  if (s.hours && s.hours.start !== undefined && s.hours.start === s.hours.end) {
    errors.push(`${path}.hours: start and end must differ (omit hours to allow the whole day)`);
  }
  if (s.timezone !== undefined && !isKnownTimeZone(s.timezone)) {
    errors.push(`${path}.timezone: unknown time zone ${JSON.stringify(s.timezone)}`);
  }
}

export const checkSchedules: Check = (spec, errors) => {
  checkOneSchedule(spec.schedule, 'spec.schedule', errors);
  spec.egress?.rules?.forEach((rule, i) => {
    if (rule) checkOneSchedule(rule.schedule, `spec.egress.rules[${i}].schedule`, errors);
  });
};

export const checkToolLists: Check = (spec, errors) => {
  spec.tools?.agents?.forEach((agent, i) => {
    if (!agent?.permitted || !agent.forbidden) return;
    const permitted = new Set(agent.permitted);
    for (const tool of new Set(agent.forbidden)) {
      if (permitted.has(tool)) errors.push(`spec.tools.agents[${i}]: ${JSON.stringify(tool)} is both permitted and forbidden`);
    }
  });
};

/**
 * Why a custom DLP pattern could not run in linear time, if it could not: backreferences and
 * lookaround are the features a linear-time (automaton) engine such as RE2 or V8's experimental
 * engine cannot support. Escapes and character classes are skipped so `\\1` or `[(?=]` are fine.
 */
export function nonLinearRegexFeature(pattern: string): string | undefined {
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      if (!inClass && next >= '1' && next <= '9') return `backreference \\${next}`;
      if (!inClass && next === 'k' && pattern[i + 2] === '<') return 'named backreference \\k<...>';
      i++; // skip the escaped character
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(' && pattern[i + 1] === '?') {
      const after = pattern.slice(i + 2, i + 4);
      if (after.startsWith('=')) return 'lookahead (?=';
      if (after.startsWith('!')) return 'negative lookahead (?!';
      if (after === '<=') return 'lookbehind (?<=';
      if (after === '<!') return 'negative lookbehind (?<!';
    }
  }
  return undefined;
}

const BUILTIN_DETECTORS: ReadonlySet<string> = new Set(DLP_DETECTORS);

export const checkDlpCustom: Check = (spec, errors) => {
  spec.dlp?.custom?.forEach((d, i) => {
    if (!d) return;
    const path = `spec.dlp.custom[${i}]`;
    if (d.name !== undefined && BUILTIN_DETECTORS.has(d.name)) {
      errors.push(`${path}.name: ${JSON.stringify(d.name)} is a built-in detector; choose another name`);
    }
    if (d.pattern !== undefined) checkCustomPattern(d.pattern, `${path}.pattern`, errors);
  });
};

/** A policy's own regular expression (dlp.custom, threats.custom): valid, linear-time, never matching "". */
function checkCustomPattern(pattern: string, path: string, errors: string[]): void {
  const feature = nonLinearRegexFeature(pattern);
  if (feature) {
    errors.push(`${path}: ${feature} is not allowed (custom patterns must run in linear time)`);
    return;
  }
  let re: RegExp;
  try {
    re = new RegExp(pattern, 'u');
  } catch (err) {
    errors.push(`${path}: invalid regular expression: ${(err as Error).message}`);
    return;
  }
  // A pattern that matches "" would flag (or redact) every position of every text.
  if (re.test('')) errors.push(`${path}: must not match the empty string`);
  // A few JavaScript forms (\p{Script=...}, [\b]) have no linear-time equivalent.
  try {
    compileLinearPattern(pattern);
  } catch (err) {
    errors.push(`${path}: cannot run in linear time: ${(err as Error).message}`);
  }
}

/** Why a string is not an IPv4 or IPv6 CIDR (an address, "/" and a prefix length), if it is not. */
export function cidrProblem(cidr: string): string | undefined {
  const slash = cidr.indexOf('/');
  const addr = slash < 0 ? cidr : cidr.slice(0, slash);
  const family = isIP(addr);
  if (family === 0 || addr.includes('%')) return `must be an IPv4 or IPv6 CIDR such as 10.96.0.0/12 (got ${JSON.stringify(cidr)})`;
  const bits = slash < 0 ? undefined : cidr.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  if (bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > max)) return `prefix length must be 0 to ${max} (got ${JSON.stringify(cidr)})`;
  return undefined;
}

export const checkThreats: Check = (spec, errors) => {
  spec.threats?.clusterCidrs?.forEach((c, i) => {
    if (c === undefined) return;
    const problem = cidrProblem(c);
    if (problem) errors.push(`spec.threats.clusterCidrs[${i}]: ${problem}`);
  });
  spec.threats?.custom?.forEach((r, i) => {
    if (r?.pattern !== undefined) checkCustomPattern(r.pattern, `spec.threats.custom[${i}].pattern`, errors);
  });
};

const EGRESS_HOST = /^[a-z0-9*][a-z0-9*.-]*$/;

/** Why an egress `match` is not of the form host[/path] with * wildcards, if it is not. */
export function egressMatchProblem(match: string): string | undefined {
  if (match === '') return 'must not be empty';
  if (match.includes('://')) return `must not include a scheme (write "host/path", got ${JSON.stringify(match)})`;
  if (/\s/.test(match)) return `must not contain whitespace (got ${JSON.stringify(match)})`;
  const slash = match.indexOf('/');
  const host = slash < 0 ? match : match.slice(0, slash);
  if (host === '') return `must start with a host, e.g. "*.example.com/v1/*" (got ${JSON.stringify(match)})`;
  if (!EGRESS_HOST.test(host)) {
    return `host ${JSON.stringify(host)} may only contain lowercase letters, digits, '-', '.' and '*' (form: host[/path])`;
  }
  return undefined;
}

export const checkEgressMatches: Check = (spec, errors) => {
  spec.egress?.rules?.forEach((rule, i) => {
    if (rule?.match === undefined) return;
    const problem = egressMatchProblem(rule.match);
    if (problem) errors.push(`spec.egress.rules[${i}].match: ${problem}`);
  });
};

export const checkSelector: Check = (spec, errors) => {
  spec.podSelector?.matchExpressions?.forEach((req, i) => {
    if (!req?.operator) return;
    const path = `spec.podSelector.matchExpressions[${i}].values`;
    const n = req.values?.length ?? 0;
    if ((req.operator === 'In' || req.operator === 'NotIn') && n === 0) {
      errors.push(`${path}: must be non-empty when operator is ${req.operator}`);
    }
    if ((req.operator === 'Exists' || req.operator === 'DoesNotExist') && n > 0) {
      errors.push(`${path}: must be empty when operator is ${req.operator}`);
    }
  });
};

export const SEMANTIC_CHECKS: readonly Check[] = [checkSelector, checkEgressMatches, checkSchedules, checkToolLists, checkDlpCustom, checkThreats];

/** Runs every semantic rule, appending "<field path>: <message>" errors. */
export function checkSemantics(spec: GovernancePolicySpec, errors: string[]): void {
  for (const check of SEMANTIC_CHECKS) check(spec, errors);
}
