// A policy's own rules (spec.threats.custom): a regular expression each, with an action, `block`
// (deny the call) or `redact` (replace each match with [REDACTED:<name>] where the argument can be
// rewritten; threats.ts). Compiled as DLP's custom detectors are (api/linear-regex.ts: re2js, linear
// time, the same compilation the policy validator does), and matched against each leaf as sent.
import { compileCustom } from '../dlp/custom.js';
import type { Span } from '../dlp/index.js';

export interface CustomRule {
  readonly name: string;
  readonly action: 'block' | 'redact';
  find(text: string): Span[];
}

/** Compiles a rule, as DLP compiles its custom detectors; throws with a one-line reason when re2js cannot run its pattern. */
export function compileRule(name: string, pattern: string, action: 'block' | 'redact'): CustomRule {
  const { find } = compileCustom(name, pattern, 'threats custom rule');
  return { name, action, find };
}

/** Each match replaced with [REDACTED:<name>] (spans sorted, not overlapping). */
export function redactSpans(text: string, spans: readonly Span[], name: string): string {
  let out = '';
  let pos = 0;
  for (const s of spans) {
    if (s.start < pos) continue;
    out += text.slice(pos, s.start) + `[REDACTED:${name}]`;
    pos = s.end;
  }
  return out + text.slice(pos);
}
