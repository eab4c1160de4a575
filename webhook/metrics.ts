// The webhook's Prometheus metrics (docs/design.md §5): admissions by result, admission latency, and when
// the serving certificate expires (alert on it well before the apiserver starts refusing us).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** injected: patched; skipped: nothing to do; error: injection failed, pod admitted as is; invalid: not an AdmissionReview. */
export type AdmissionResult = 'injected' | 'skipped' | 'error' | 'invalid';

export interface WebhookMetrics {
  registry: Registry;
  admissions: Counter<'result'>;
  admissionDuration: Histogram<'result'>;
  certificateExpiry: Gauge;
}

export function createWebhookMetrics(): WebhookMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    admissions: new Counter({
      name: 'chaperone_webhook_admissions_total',
      help: 'AdmissionReviews answered, by result (injected, skipped, error, invalid).',
      labelNames: ['result'],
      registers: [registry],
    }),
    admissionDuration: new Histogram({
      name: 'chaperone_webhook_admission_duration_seconds',
      help: 'Time from receiving an AdmissionReview to answering it.',
      labelNames: ['result'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    certificateExpiry: new Gauge({
      name: 'chaperone_webhook_certificate_expiry_timestamp_seconds',
      help: 'When the serving certificate expires (Unix seconds).',
      registers: [registry],
    }),
  };
}
