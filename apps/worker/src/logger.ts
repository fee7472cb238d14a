import pino from 'pino';
import { REDACTED } from '@plexus/domain';
import type { Logger } from '@plexus/common';

/** Fields that may carry passwords, tokens or the users config of a security module. */
const REDACT_PATHS = [
  'password',
  'token',
  'authorization',
  'users',
  '*.password',
  '*.token',
  '*.authorization',
  '*.users',
  'config.users',
  'headers.authorization',
];

/**
 * JSON lines on stdout, written synchronously so nothing is lost on exit. Libraries log through
 * fieldLogger.
 */
export function createLogger(level: string, base: Record<string, unknown>): pino.Logger {
  return pino(
    {
      level,
      base: { service: 'plexus-worker', pid: process.pid, ...base },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Defence in depth: nothing should hand these to the logger, but if it does, they are masked.
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: 1, sync: true }),
  );
}

/** The (message, fields) logger the libraries (module runtime, bus) use, over pino. */
export function fieldLogger(logger: pino.Logger): Logger {
  return {
    log: (message, fields) => logger.info(fields ?? {}, message),
    warn: (message, fields) => logger.warn(fields ?? {}, message),
    error: (message, fields) => logger.error(fields ?? {}, message),
  };
}
