import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.js';

describe('parseDuration', () => {
  it('reads Go-style durations', () => {
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('90m')).toBe(5_400_000);
    expect(parseDuration('45s')).toBe(45_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration(' 2m ')).toBe(120_000);
  });

  it('refuses what is not one', () => {
    for (const t of ['', '24', 'h', '1 h', '-1h', '1x', '1h-30m', 'forever', '1e3s']) expect(parseDuration(t), t).toBeUndefined();
  });

  it('formatDuration spells what parseDuration reads back', () => {
    for (const ms of [500, 1_000, 45_000, 5_400_000, 86_400_000, 86_400_000 + 1_500]) expect(parseDuration(formatDuration(ms))).toBe(ms);
    expect(formatDuration(86_400_000)).toBe('24h');
    expect(formatDuration(5_400_000)).toBe('1h30m');
  });
});
