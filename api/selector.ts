// Which pods a policy selects: Kubernetes LabelSelector matching, and reading the pod's own labels
// from the downward-API file the sidecar gets mounted at /etc/chaperone/podinfo.

import type { LabelSelector } from './types.js';

/**
 * Kubernetes LabelSelector semantics: every matchLabels entry and every matchExpressions
 * requirement must hold. An empty or absent selector matches every pod.
 */
export function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  const has = (k: string) => Object.prototype.hasOwnProperty.call(labels, k);
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (!has(k) || labels[k] !== v) return false;
  }
  for (const req of selector.matchExpressions ?? []) {
    const values = req.values ?? [];
    switch (req.operator) {
      case 'In':
        if (!has(req.key) || !values.includes(labels[req.key]!)) return false;
        break;
      case 'NotIn': // as in Kubernetes, a pod without the label satisfies NotIn
        if (has(req.key) && values.includes(labels[req.key]!)) return false;
        break;
      case 'Exists':
        if (!has(req.key)) return false;
        break;
      case 'DoesNotExist':
        if (has(req.key)) return false;
        break;
      default: // unknown operator (validation rejects it): select nothing rather than everything
        return false;
    }
  }
  return true;
}

/**
 * Parses the downward-API format the kubelet writes for metadata.labels and metadata.annotations:
 * one `key="value"` per line, the value quoted like Go's strconv.Quote. Malformed lines are skipped.
 */
export function parseDownwardApiLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const value = goUnquote(line.slice(eq + 1));
    if (value !== undefined) out[line.slice(0, eq)] = value;
  }
  return out;
}

const SIMPLE_ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '"': 34, "'": 39 };

/** Decodes a Go double-quoted string literal; undefined if it is not one. */
export function goUnquote(quoted: string): string | undefined {
  if (quoted.length < 2 || !quoted.startsWith('"') || !quoted.endsWith('"')) return undefined;
  const s = quoted.slice(1, -1);
  // Work in bytes: \xHH and octal escapes denote single bytes of (possibly multi-byte) UTF-8.
  const bytes: number[] = [];
  const pushCodePoint = (cp: number) => bytes.push(...Buffer.from(String.fromCodePoint(cp), 'utf8'));
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"') return undefined; // an unescaped quote cannot appear inside
    if (c !== '\\') {
      const cp = s.codePointAt(i)!;
      pushCodePoint(cp);
      if (cp > 0xffff) i++; // surrogate pair
      continue;
    }
    const e = s[i + 1];
    if (e === undefined) return undefined;
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      bytes.push(simple);
      i++;
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const len = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = s.slice(i + 2, i + 2 + len);
      if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) return undefined;
      const n = parseInt(hex, 16);
      if (e === 'x') bytes.push(n);
      else if (n > 0x10ffff) return undefined;
      else pushCodePoint(n);
      i += 1 + len;
    } else if (/^[0-7]{3}$/.test(s.slice(i + 1, i + 4))) {
      const n = parseInt(s.slice(i + 1, i + 4), 8);
      if (n > 255) return undefined;
      bytes.push(n);
      i += 3;
    } else {
      return undefined;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
