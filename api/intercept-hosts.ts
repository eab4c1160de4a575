// The chaperone.dev/intercept-hosts annotation: "api.example.com, *.tools.example.com". The webhook
// warns about what is not a host name; the sidecar uses what is (lower-cased).
const HOST_PATTERN = /^(\*\.)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;

export function parseInterceptHosts(value: string | undefined): { hosts: string[]; invalid: string[] } {
  const hosts: string[] = [];
  const invalid: string[] = [];
  for (const entry of (value ?? '').split(',').map((h) => h.trim()).filter((h) => h !== '')) {
    const host = entry.toLowerCase();
    if (host.length <= 253 && HOST_PATTERN.test(host)) hosts.push(host);
    else invalid.push(entry);
  }
  return { hosts, invalid };
}
