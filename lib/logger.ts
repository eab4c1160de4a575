// One JSON logger for every component (pino). Audit lines and operational logs share stdout;
// audit lines carry `audit: true` so they can be told apart.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(component: string, level = process.env.CHAPERONE_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { component },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // Belt and braces: credentials never reach a log line, even if a header object is logged by mistake.
    redact: {
      paths: ['*.authorization', '*.cookie', '*["x-api-key"]', '*["proxy-authorization"]', 'headers.*'],
      censor: '[redacted]',
    },
  }, pino.destination({ dest: 1, sync: false }));
}
