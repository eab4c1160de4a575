// A policy's own rules (spec.threats.custom): a regular expression each, with an action, `block`
// (deny the call) or `redact` (replace each match with [REDACTED:<name>] where the argument can be
// rewritten; threats.ts). Compiled as DLP's custom detectors are (api/linear-regex.ts: re2js, linear
// time, the same compilation the policy validator does), and matched against each leaf as sent.
import type { RE2JS } from 're2js';
import { compileLinearPattern } from '../../../api/linear-regex.js';
import type { Span } from '../dlp/index.js';

export interface CustomRule {
  readonly name: string;
  readonly action: 'block' | 'redact';
  find(text: string): Span[];
}

/** Compiles a rule; throws with a one-line reason when re2js cannot run its pattern. */
export function compileRule(name: string, pattern: string, action: 'block' | 'redact'): CustomRule {
  let re: RE2JS;
  try {
    re = compileLinearPattern(pattern);
  } catch (err) {
    throw new Error(`threats custom rule ${name}: pattern cannot run in linear time: ${(err as Error).message}`);
  }
  return {
    name,
    action,
    find(text: string): Span[] {
      if (text.length === 0 || !re.test(text)) return [];
      const out: Span[] = [];
      const m = re.matcher(text);
      let from = 0;
      while (from <= text.length && m.find(from)) {
        const start = m.start();
        const end = m.end();
        if (end > start) out.push({ start, end });
        from = end > start ? end : start + 1;
      }
      return out;
    },
  };
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
