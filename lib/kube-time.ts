// Times as the Kubernetes API server keeps them (metav1.Time): RFC 3339 in whole seconds, UTC
// ("2025-01-02T03:04:05Z"). Written this way, what a component reads back is what it wrote.

/** The moment, cut to its whole second. */
export function kubeTime(d: Date): string {
  return new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
