import { describe, expect, it } from 'vitest';
import type { DlpSpec } from '../../../api/index.js';
import { compileDlp, SCAN_CALL_COST, SCAN_MARGIN, SCAN_SLICE, scanSteps, scanWindows, type DlpScanner, type Finding, type Steps } from './index.js';
import { SeededRandom } from '../../../lib/seeded-random.js';

/** Runs steps to the end, returning what they return and the size each step announced. */
function run<T>(steps: Steps<T>): { value: T; announced: number[] } {
  const announced: number[] = [];
  for (;;) {
    const r = steps.next();
    if (r.done) return { value: r.value, announced };
    announced.push(r.value);
  }
}

/** A small deterministic random source: the same texts on every run. */
const random = (seed: number): (() => number) => new SeededRandom(seed).next;

/** Pieces texts are made of: secrets of every detector, look-alikes, and what folding reads through. */
const PIECES = [
  '4111 1111 1111 1111', '4111-1111-1111-1111', '4111111111111111', '378282246310005', '４１１１ １１１１ １１１１ １１１１',
  '4111\u200b1111\u200b1111\u200b1111', '123-45-6789', '123456789', '123\u201145\u20116789', 'DE89 3704 0044 0532 0130 00',
  'GB82WEST12345698765432', 'jane.doe@example.com', 'ｊａｎｅ@example.com', 'jöse@exämple.de', 'user@localhost', '+1 415 555 2671',
  '(415) 555-2671', '+44 20 7946 0958', 'AKIAIOSFODNN7EXAMPLE', 'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
  'sk-proj-Ab3dEf6hIj9lMn2pQr5tUv8xYz1BcD4fGh7jKl0nOp3rSt6vWx9z', 'ghp_Ab3dEf6hIj9lMn2pQr5tUv8xYz1BcD4fGh7j',
  'Zx9Qm3Lp7Rt2Vw8Ky4Bn6Hd1Fs5Gj0AcE3uWq7', 'NDExMSAxMTExIDExMTEgMTExMQ==',
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
  '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKB\n-----END PRIVATE KEY-----',
  '-----BEGIN RSA PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKB\n', 'EMP-123456',
  '2024-01-02', 'v1.2.3', '1234 5678', '😀', '👍🏽', 'e\u0301', '\ufeff', '\u00a0', ' ', '  ', '\n', '-', '.', '@', 'x', 'lorem ipsum ',
];

function randomText(next: () => number, length: number): string {
  let s = '';
  while (s.length < length) s += PIECES[Math.floor(next() * PIECES.length)]! + (next() < 0.5 ? ' ' : '');
  return s;
}

const SPECS: DlpSpec[] = [
  { sensitivity: 'low' },
  { sensitivity: 'medium' },
  { sensitivity: 'high', custom: [{ name: 'employee_id', pattern: 'EMP-[0-9]{6}' }] },
  { detectors: ['phone', 'email', 'credit_card'] },
];

describe('scanWindows', () => {
  it('scans a text that fits in one window whole', () => {
    expect(scanWindows('x'.repeat(SCAN_SLICE + 2 * SCAN_MARGIN))).toEqual([]);
  });

  it('cuts a long text into adjacent slices, each read with a margin on both sides', () => {
    const text = 'x'.repeat(3 * SCAN_SLICE + 10);
    expect(scanWindows(text)).toEqual([
      { from: 0, to: SCAN_SLICE + SCAN_MARGIN, keepFrom: 0, keepTo: SCAN_SLICE },
      { from: SCAN_SLICE - SCAN_MARGIN, to: 2 * SCAN_SLICE + SCAN_MARGIN, keepFrom: SCAN_SLICE, keepTo: 2 * SCAN_SLICE },
      { from: 2 * SCAN_SLICE - SCAN_MARGIN, to: text.length, keepFrom: 2 * SCAN_SLICE, keepTo: 3 * SCAN_SLICE },
      { from: 3 * SCAN_SLICE - SCAN_MARGIN, to: text.length, keepFrom: 3 * SCAN_SLICE, keepTo: text.length },
    ]);
  });

  it('never cuts a surrogate pair, at a slice boundary or at a window edge', () => {
    const text = 'ab😀cd😀ef😀gh'.repeat(20);
    for (const [slice, margin] of [[5, 3], [6, 4], [7, 2]] as const) {
      const windows = scanWindows(text, slice, margin);
      expect(windows.length).toBeGreaterThan(10);
      for (const w of windows) {
        for (const i of [w.from, w.to, w.keepFrom, w.keepTo]) {
          const c = text.charCodeAt(i);
          expect(i === text.length || !(c >= 0xdc00 && c <= 0xdfff), `${i}`).toBe(true);
        }
      }
      for (let k = 1; k < windows.length; k++) expect(windows[k]!.keepFrom).toBe(windows[k - 1]!.keepTo);
      expect(windows.at(-1)!.keepTo).toBe(text.length);
    }
  });
});

describe('scanSteps', () => {
  it('finds what a scan of the whole text finds, wherever the windows cut (random texts, small windows)', () => {
    const next = random(15);
    const scanners = SPECS.map(compileDlp);
    let windowed = 0;
    let findings = 0;
    for (let round = 0; round < 60; round++) {
      const text = randomText(next, 2_000 + Math.floor(next() * 6_000));
      // Slices down to a few characters put a boundary inside almost every secret; the margin (for
      // these pieces) holds any finding and what the detectors read around it.
      const slice = 3 + Math.floor(next() * 400);
      for (const scanner of scanners) {
        const whole = scanner.scan(text);
        const { value, announced } = run(scanSteps(scanner, text, slice, 600));
        expect(value, `round ${round} slice ${slice} ${scanner.detectors.join(',')}`).toEqual(whole);
        windowed += announced.length;
        findings += whole.length;
      }
    }
    expect(windowed).toBeGreaterThan(1_000);
    expect(findings).toBeGreaterThan(1_000);
  });

  it('scans a short text whole, in one step', () => {
    const scanner = compileDlp({});
    const text = 'mail jane.doe@example.com';
    const { value, announced } = run(scanSteps(scanner, text));
    expect(value).toEqual(scanner.scan(text));
    expect(announced).toEqual([text.length + SCAN_CALL_COST]);
  });

  it('scans no more than one window (slice and both margins) per step, and announces it before', () => {
    const inner = compileDlp({ sensitivity: 'high' });
    let read = 0;
    const counting: Pick<DlpScanner, 'scan'> = {
      scan: (text: string): Finding[] => {
        read += text.length;
        return inner.scan(text);
      },
    };
    const text = randomText(random(7), 50_000);
    const steps = scanSteps(counting, text, 2_000, 300);
    const perStep: number[] = [];
    let announced = 0;
    for (let r = steps.next(); ; r = steps.next()) {
      perStep.push(read);
      read = 0;
      if (r.done) break;
      expect(r.value).toBeGreaterThan(0);
      announced += r.value;
    }
    // The first entry is what ran before the first announcement: nothing.
    expect(perStep[0]).toBe(0);
    // (+1: a slice boundary moved back off a surrogate pair makes that slice one character longer.)
    expect(Math.max(...perStep)).toBeLessThanOrEqual(2_000 + 2 * 300 + 1);
    expect(perStep.length).toBeGreaterThanOrEqual(26);
    expect(announced).toBeGreaterThanOrEqual(perStep.reduce((a, b) => a + b, 0));
  });
});
