// `make demo` (the cluster story, on real pods) exits 0 and shows every decision, on the suite's cluster.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../lib/project.js';
import { kubeconfig } from './harness/kubectl.js';

describe('make demo', () => {
  it('installs the chart as pods, injects a pod, compiles the policy and shows every decision from inside the pod', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [join(PROJECT_ROOT, 'dist', 'e2e', 'demo', 'cluster.js')], { env: { ...process.env, KUBECONFIG: kubeconfig() }, timeout: 400_000, maxBuffer: 16 << 20 }, (err, out, errText) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: out, stderr: errText }),
      );
    });
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/STATUS: deployed/);
    expect(stdout).toMatch(/the webhook pod created its serving certificate and set the caBundle/);
    expect(stdout).toMatch(/Running and Ready on \S+ at \d+\.\d+\.\d+\.\d+/);
    expect(stdout).toMatch(/injected: native sidecar/);
    expect(stdout).toMatch(/GovernancePolicy chaperone-demo\/demo: Ready=True \(Compiled\)/);
    for (const decision of ['allow', 'redact', 'deny', 'rate_limited', 'hold', 'error']) expect(stdout).toMatch(new RegExp(`^   ${decision}\\t`, 'm'));
    // A person approved the held call with kubectl; the agent's resend passed once, the next was held again.
    expect(stdout).toMatch(/approvalrequest\.chaperone\.dev\/send-email-[0-9a-f]{8}-\w+ approved/);
    expect(stdout).toMatch(/allowed: the agent sends the same call again; the approval passes it\n   -> HTTP 200/);
    expect(stdout).toMatch(/held again: one approval passes one execution\n   -> HTTP 200, decision hold/);
    expect(stdout).toMatch(/the provider received: "Charge \[REDACTED:credit_card\] and mail \[REDACTED:email\]"/);
    expect(stdout).toMatch(/^   chaperone_webhook_admissions_total\{result="injected"\} [1-9]/m);
    expect(stdout).toMatch(/^demo finished/m);
  }, 420_000);
});
