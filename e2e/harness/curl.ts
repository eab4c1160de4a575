// The real curl as a client: status, headers and body of one call.
import { execFile } from 'node:child_process';

export interface CurlResult {
  status: number;
  headers: Record<string, string>;
  body: string;
  exitCode: number;
  stderr: string;
}

/** Runs curl with the given arguments and no proxy settings from the environment. */
export function curl(args: string[], timeoutMs = 20_000): Promise<CurlResult> {
  return runCurl(['--noproxy', '', ...args], {}, timeoutMs);
}

/** Runs curl as an app with this environment would (HTTPS_PROXY, NO_PROXY, SSL_CERT_FILE, ...). */
export function curlWithEnv(args: string[], env: Record<string, string>, timeoutMs = 20_000): Promise<CurlResult> {
  return runCurl(args, env, timeoutMs);
}

/** curl's arguments for parseCurl: silent but for errors, the heads on stdout before the body. */
export const CURL_BASE_ARGS = (timeoutMs: number): string[] => ['-sS', '-D', '-', '--max-time', String(Math.ceil(timeoutMs / 1000))];

/** The last response's head and the body, from the stdout of curl run with CURL_BASE_ARGS. */
export function parseCurl(stdout: string, stderr: string, exitCode: number): CurlResult {
  // With a proxy, curl prints the CONNECT answer's head too: the last head is the response's.
  const heads = [...stdout.matchAll(/^HTTP\/[\d.]+ (\d{3})[^\r\n]*\r\n((?:[^\r\n]+\r\n)*)\r\n/gm)];
  const last = heads[heads.length - 1];
  const headers: Record<string, string> = {};
  for (const line of (last?.[2] ?? '').split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const bodyStart = last ? (last.index ?? 0) + last[0].length : 0;
  return { status: last ? Number(last[1]) : 0, headers, body: stdout.slice(bodyStart), exitCode, stderr };
}

function runCurl(args: string[], env: Record<string, string>, timeoutMs: number): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile(
      'curl',
      [...CURL_BASE_ARGS(timeoutMs), ...args],
      { maxBuffer: 64 * 1024 * 1024, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } },
      (error, stdout, stderr) => resolve(parseCurl(stdout, stderr, error ? ((error as { code?: number }).code ?? 1) : 0)),
    );
  });
}
