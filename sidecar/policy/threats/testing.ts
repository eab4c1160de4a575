// For the detectors' tests: one leaf judged as the scanner judges it, by tool, key and value.
import { leafContext, rolesOf } from './leaves.js';
import { readable } from './text.js';
import { LEVEL, type Detect, type LeafView, type Sensitivity } from './types.js';

/** The view of a string at `key` of a call to `tool`. */
export function leaf(tool: string, key: string, value: string): LeafView {
  const text = readable(value);
  return { jsonPath: [key], path: key, key, tool: tool.toLowerCase(), raw: value, truncated: false, text, roles: rolesOf(key, text, leafContext(tool), value) };
}

/** What `detect` says of the string at `key` of a call to `tool` (sensitivity medium unless given). */
export function judge(detect: Detect, tool: string, key: string, value: string, sensitivity: Sensitivity = 'medium'): string | undefined {
  return detect(leaf(tool, key, value), { level: LEVEL[sensitivity] });
}
