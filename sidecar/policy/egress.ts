// The egress section: which hosts and paths an agent may reach. Rules are tried in order; the first
// whose `match` (a `host[/path]` glob: api/host-glob.ts, api/glob.ts) fits the call decides:
//   deny  → the call is denied (rule 'egress'), with the rule's reason if it gives one;
//   log   → the call goes through, recorded as an audit finding (rule 'egress');
//   allow → the call goes through, within the rule's own schedule (outside it: denied, rule
//           'schedule') and its own rateLimit (enforced by rate-limit.ts, egressRateLimitCheck).
// No rule fits → defaultAction (allow | deny | log).
//
// Matching:
// - No path part ("api.openai.com") means any path. The path part is matched against the call's
//   path without its query string, so "api.openai.com/v1/*" fits "/v1/chat/completions?x=1".
//   That path is canonical (canonical-path.ts): "/v1/./files", "/v1//files", "/v1/fil%65s" and
//   "/v1/x/../files" are all "/v1/files" by the time a rule reads them. A trailing slash (kept only
//   for hosts the sidecar does not intercept) does not escape a rule: "/v1/files/" fits it as
//   "/v1/files" does.
// - A CONNECT tunnel (method CONNECT, operation 'tunnel', path '') shows only its host. A rule
//   that covers every path (no path part, or "/*") is judged by host alone; a rule with a
//   narrower path ("host/v1/*") cannot be decided without seeing the path, so tunnels skip it and
//   the next rule decides. Write "host" or "host/*" to deny a host outright, tunnels included.
//
// A rule's schedule: for allow and log rules it bounds when the rule lets calls through (outside:
// denied, rule 'schedule'; a `mode` on the schedule itself may soften that to audit or off). A
// deny rule is only in force inside its schedule: outside it, the rule is skipped and the next
// rule decides ("Only apply this rule inside this time window", as the schema says).
import { policyKey, type EgressRule, type EgressSpec, type GovernancePolicy } from '../../api/index.js';
import type { Call } from '../call.js';
import { pathGlob } from '../../api/glob.js';
import { hostGlob } from '../../api/host-glob.js';
import type { Check } from './pipeline.js';
import { inWindow, outsideSchedule } from './schedule.js';
import type { Verdict } from './verdict.js';
import { boundedMemo } from '../../lib/bounded-memo.js';

/** A rule's match split into its host glob and optional path glob. */
interface ParsedMatch {
  host: string;
  /** Starts with '/'; undefined when the match names a host only. */
  path?: string;
}

/** A rule's `host[/path]`, split once per match (lib/bounded-memo.ts). */
const parseMatch = boundedMemo((match: string): ParsedMatch => {
  const slash = match.indexOf('/');
  return slash < 0 ? { host: match } : { host: match.slice(0, slash), path: match.slice(slash) };
});

/** Does a `host[/path]` glob fit this host and path (path and query; the query is not matched)? */
export function matchesHostPath(match: string, host: string, path: string): boolean {
  const m = parseMatch(match);
  return hostGlob(m.host, host) && (m.path === undefined || pathGlob(m.path, pathOnly(path)));
}

/** May a body (or a WebSocket's messages) on this host and path go through unread? A policy's spec.intercept.passThrough says so. */
export function passesUnread(policies: readonly GovernancePolicy[], host: string, path: string): boolean {
  return policies.some((p) => (p.spec.intercept?.passThrough ?? []).some((m) => matchesHostPath(m, host, path)));
}

/** Does the rule's path part cover every path, so a tunnel (host only) can be judged by it? */
function coversAnyPath(path: string | undefined): boolean {
  return path === undefined || path === '/*';
}

/** The path without its query or fragment. */
function pathOnly(path: string): string {
  const cut = path.search(/[?#]/);
  return cut < 0 ? path : path.slice(0, cut);
}

/**
 * Does a rule's path glob fit the call's path? Paths arrive canonical (canonical-path.ts); only a
 * host the sidecar does not intercept keeps a trailing slash, and `/admin/` is read as `/admin`
 * too, so a rule `host/admin` holds against both spellings.
 */
function pathFits(glob: string, path: string): boolean {
  if (pathGlob(glob, path)) return true;
  return path.length > 1 && path.endsWith('/') && pathGlob(glob, path.slice(0, -1));
}

export interface MatchedRule {
  rule: EgressRule;
  /** Position in spec.rules, from 0. */
  index: number;
}

/**
 * The first rule that fits a host and path. `path` '' (or undefined) means the path is unknown,
 * as for a CONNECT tunnel: only rules covering every path are considered. With `now`, a deny rule
 * whose own schedule excludes that moment is skipped; without it, schedules are not looked at.
 */
export function firstMatchingRule(spec: EgressSpec, host: string, path: string | undefined, now?: Date): MatchedRule | undefined {
  const rules = spec.rules ?? [];
  const tunnel = path === undefined || path === '';
  const callPath = tunnel ? '' : pathOnly(path);
  for (let index = 0; index < rules.length; index++) {
    const rule = rules[index];
    if (!rule || typeof rule.match !== 'string') continue;
    const m = parseMatch(rule.match);
    if (!hostGlob(m.host, host)) continue;
    if (tunnel ? !coversAnyPath(m.path) : m.path !== undefined && !pathFits(m.path, callPath)) continue;
    if (now && rule.action === 'deny' && rule.schedule && rule.schedule.mode !== 'off' && !inWindow(rule.schedule, now)) continue;
    return { rule, index };
  }
  return undefined;
}

/** The rule that governs a call, if any (the call's host and path, schedules as of `now`). */
/**
 * The rule that decides a call, remembered per call: the egress check and the egress rate limit
 * both ask, in request() and again in admit(), within one evaluation (one `now`).
 */
const decided = new WeakMap<Call, Map<EgressSpec, MatchedRule | null>>();

export function ruleForCall(spec: EgressSpec, call: Call, now: Date): MatchedRule | undefined {
  let perCall = decided.get(call);
  if (!perCall) decided.set(call, (perCall = new Map()));
  const known = perCall.get(spec);
  if (known !== undefined) return known ?? undefined;
  const matched = firstMatchingRule(spec, call.host, isTunnel(call) ? '' : call.path, now);
  perCall.set(spec, matched ?? null);
  return matched;
}

export function isTunnel(call: Call): boolean {
  return call.method.toUpperCase() === 'CONNECT' || call.operation === 'tunnel';
}

/** Rules are numbered from 1 in what the agent reads. */
const ruleName = (index: number): string => `rule ${index + 1}`;

export const egressCheck: Check = {
  section: 'egress',
  request(call, policy, ctx): Verdict | undefined {
    const spec = policy.spec.egress;
    if (!spec) return undefined;
    const key = policyKey(policy);
    const matched = ruleForCall(spec, call, ctx.now);
    const action = matched ? matched.rule.action : spec.defaultAction ?? 'allow';
    const by = matched ? ruleName(matched.index) : 'default';
    if (action === 'deny') {
      return { decision: 'deny', rule: 'egress', policy: key, reason: matched?.rule.reason ?? `egress to ${call.host} is denied by ${by}` };
    }
    const schedule = matched?.rule.schedule;
    if (schedule && schedule.mode !== 'off' && !inWindow(schedule, ctx.now)) {
      const verdict = outsideSchedule(schedule, key, `for egress to ${call.host}`);
      return schedule.mode === 'audit' ? { ...verdict, decision: 'audit' } : verdict;
    }
    if (action === 'log') {
      return { decision: 'audit', rule: 'egress', policy: key, reason: matched?.rule.reason ?? `egress to ${call.host} is logged by ${by}` };
    }
    return undefined;
  },
};
