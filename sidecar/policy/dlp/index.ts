// DLP scanning: which detectors a policy's dlp section turns on, one compiled scanner per section,
// and redaction. The check that uses it is ../dlp.ts.
//
//   detector        low  medium  high   (an explicit `detectors` list replaces this choice;
//   private_key      x     x      x      sensitivity still sets how eager ssn and api_key are)
//   aws_access_key   x     x      x
//   api_key          x     x      x + generic high-entropy secrets
//   jwt              x     x      x
//   credit_card      x     x      x
//   ssn                    dashed x + nine bare digits
//   iban                   x      x
//   email                  x      x
//   phone                         x
import type { DlpDetector, DlpSensitivity, DlpSpec } from '../../../api/index.js';
import { createApiKey } from './api-key.js';
import { createAwsAccessKey } from './aws-access-key.js';
import { createCreditCard } from './credit-card.js';
import { compileCustom, type CustomDetector } from './custom.js';
import { createEmail } from './email.js';
import { buildScan, resolve, type Scan } from './engine.js';
import { createIban } from './iban.js';
import { createJwt } from './jwt.js';
import { createPhone } from './phone.js';
import { createPrivateKey } from './private-key.js';
import { createSsn } from './ssn.js';
import type { Detector, Finding } from './types.js';

export type { Detector, Finding, Span } from './types.js';
export type { CustomDetector } from './custom.js';
export { compileCustom, customPatternError } from './custom.js';

/** The detectors each sensitivity turns on when the policy lists none. */
export const SENSITIVITY_DETECTORS: Readonly<Record<DlpSensitivity, readonly DlpDetector[]>> = {
  low: ['private_key', 'aws_access_key', 'api_key', 'jwt', 'credit_card'],
  medium: ['private_key', 'aws_access_key', 'api_key', 'jwt', 'credit_card', 'ssn', 'iban', 'email'],
  high: ['private_key', 'aws_access_key', 'api_key', 'jwt', 'credit_card', 'ssn', 'iban', 'email', 'phone'],
};

/** Scan order: when two gates match at one position the earlier detector's is tried first. */
const ORDER: readonly DlpDetector[] = ['private_key', 'aws_access_key', 'api_key', 'jwt', 'iban', 'email', 'credit_card', 'ssn', 'phone'];

/** A built-in detector configured for a sensitivity. */
export function createDetector(name: DlpDetector, sensitivity: DlpSensitivity = 'medium'): Detector {
  const high = sensitivity === 'high';
  switch (name) {
    case 'ssn': return createSsn({ undashed: high });
    case 'credit_card': return createCreditCard();
    case 'iban': return createIban();
    case 'email': return createEmail();
    case 'phone': return createPhone();
    case 'aws_access_key': return createAwsAccessKey();
    case 'api_key': return createApiKey({ generic: high });
    case 'private_key': return createPrivateKey();
    case 'jwt': return createJwt();
  }
}

export interface DlpScanner {
  /** Names of the detectors that run: built-ins in scan order, then custom ones. */
  readonly detectors: readonly string[];
  /** Custom detectors that could not be compiled (and do not run), one line each. */
  readonly errors: readonly string[];
  /** Validated, non-overlapping findings, sorted by start. */
  scan(text: string): Finding[];
}

/** The built-in detectors a dlp section turns on. */
export function enabledDetectors(spec: DlpSpec): DlpDetector[] {
  const wanted = new Set<DlpDetector>(spec.detectors ?? SENSITIVITY_DETECTORS[spec.sensitivity ?? 'medium']);
  return ORDER.filter((d) => wanted.has(d));
}

function build(spec: DlpSpec): DlpScanner {
  const sensitivity = spec.sensitivity ?? 'medium';
  const builtins = enabledDetectors(spec).map((d) => createDetector(d, sensitivity));
  const scanBuiltins: Scan = buildScan(builtins);
  const customs: CustomDetector[] = [];
  const errors: string[] = [];
  for (const c of spec.custom ?? []) {
    try {
      customs.push(compileCustom(c.name, c.pattern));
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  return {
    detectors: [...builtins.map((d) => d.name), ...customs.map((c) => c.name)],
    errors,
    scan(text: string): Finding[] {
      const out: Finding[] = [];
      scanBuiltins(text, out);
      for (const c of customs) for (const s of c.find(text)) out.push({ detector: c.name, start: s.start, end: s.end });
      return resolve(out);
    },
  };
}

const cache = new WeakMap<DlpSpec, DlpScanner>();

/**
 * The scanner for a dlp section, compiled once per spec object: policies are immutable snapshots, so a
 * reload brings new objects and the old scanners go with the old snapshot.
 */
export function compileDlp(spec: DlpSpec): DlpScanner {
  let scanner = cache.get(spec);
  if (!scanner) {
    scanner = build(spec);
    cache.set(spec, scanner);
  }
  return scanner;
}

/** Replaces each finding (sorted, non-overlapping, as scan() returns them) with [REDACTED:<detector>]. */
export function redact(text: string, findings: readonly Finding[]): string {
  if (findings.length === 0) return text;
  let out = '';
  let pos = 0;
  for (const f of findings) {
    if (f.start < pos) continue;
    out += text.slice(pos, f.start) + `[REDACTED:${f.detector}]`;
    pos = f.end;
  }
  return out + text.slice(pos);
}

/** Findings by detector name: what verdicts, metrics and audit lines carry (never the values). */
export function countFindings(findings: Iterable<Finding>, into: Record<string, number> = {}): Record<string, number> {
  for (const f of findings) into[f.detector] = (into[f.detector] ?? 0) + 1;
  return into;
}
