import { describe, expect, it } from 'vitest';
import { UsageError } from '../lib/cli.js';
import { OPERATOR_HELP, operatorConfig } from './operator.js';

describe('chaperone operator flags', () => {
  it('defaults: 24 h sidecar tokens, 24 h approval retention, no notification', () => {
    const c = operatorConfig([], {})!;
    expect(c).toMatchObject({ namespace: 'chaperone-system', leaderElection: true, healthTls: true, sidecarTokenTtlMs: 86_400_000, approvalRetentionMs: 86_400_000 });
    expect(c.approvalNotifyUrl).toBeUndefined();
  });

  it('reads the approval and token flags', () => {
    const c = operatorConfig(['--sidecar-token-ttl', '2h', '--approval-retention=90m', '--approval-notify-url', 'https://hooks.example.com/T0/B0/x'], {})!;
    expect(c.sidecarTokenTtlMs).toBe(7_200_000);
    expect(c.approvalRetentionMs).toBe(5_400_000);
    expect(c.approvalNotifyUrl).toBe('https://hooks.example.com/T0/B0/x');
  });

  it('takes the notification URL from $CHAPERONE_APPROVAL_NOTIFY_URL (a Secret, in the chart); the flag wins', () => {
    expect(operatorConfig([], { CHAPERONE_APPROVAL_NOTIFY_URL: 'https://env.example.com/hook' })!.approvalNotifyUrl).toBe('https://env.example.com/hook');
    expect(operatorConfig(['--approval-notify-url', 'http://flag.example.com/'], { CHAPERONE_APPROVAL_NOTIFY_URL: 'https://env.example.com/hook' })!.approvalNotifyUrl).toBe('http://flag.example.com/');
    expect(operatorConfig([], { CHAPERONE_APPROVAL_NOTIFY_URL: '  ' })!.approvalNotifyUrl).toBeUndefined();
  });

  it('refuses bad values without echoing a URL (it may carry a secret)', () => {
    expect(() => operatorConfig(['--sidecar-token-ttl', '5m'], {})).toThrow(/at least 10m/);
    expect(() => operatorConfig(['--sidecar-token-ttl', '24'], {})).toThrow(UsageError);
    expect(() => operatorConfig(['--approval-retention', 'forever'], {})).toThrow(/--approval-retention forever/);
    let message = '';
    try {
      operatorConfig(['--approval-notify-url', 'ftp://secret-token@example.com/x'], {});
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/http:\/\/ or https:\/\//);
    expect(message).not.toContain('secret-token');
    expect(() => operatorConfig([], { CHAPERONE_APPROVAL_NOTIFY_URL: 'not a url' })).toThrow(/CHAPERONE_APPROVAL_NOTIFY_URL/);
  });

  it('--help documents every flag it accepts', () => {
    expect(operatorConfig(['--help'], {})).toBeUndefined();
    for (const flag of ['--sidecar-token-ttl', '--approval-retention', '--approval-notify-url', '--namespace', '--identity']) expect(OPERATOR_HELP).toContain(flag);
    expect(OPERATOR_HELP).toContain('(default 24h)');
    expect(OPERATOR_HELP).toContain('$CHAPERONE_APPROVAL_NOTIFY_URL');
  });
});
