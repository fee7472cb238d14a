import { LoggerService } from '@nestjs/common';
import pino, { Logger } from 'pino';
import { REDACTED } from '@plexus/domain';
import type { ModuleLogger } from '@plexus/module-runtime';

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

/** JSON lines on stdout, written synchronously so nothing is lost on exit. */
export function createLogger(level: string, base: Record<string, unknown>): Logger {
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

/** The (message, fields) logger the module runtime and bus helpers use, over pino. */
export function fieldLogger(logger: Logger): ModuleLogger {
  return {
    log: (message, fields) => logger.info(fields ?? {}, message),
    warn: (message, fields) => logger.warn(fields ?? {}, message),
    error: (message, fields) => logger.error(fields ?? {}, message),
  };
}

/** Routes Nest's own messages (and @nestjs/microservices') into the same JSON log. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  private fields(context: unknown) {
    return typeof context === 'string' ? { context } : {};
  }

  log(message: unknown, context?: unknown) {
    this.logger.info(this.fields(context), String(message));
  }

  error(message: unknown, stack?: unknown, context?: unknown) {
    const fields = { ...this.fields(context ?? stack) };
    if (typeof stack === 'string' && context !== undefined) Object.assign(fields, { stack });
    this.logger.error(fields, message instanceof Error ? message.message : String(message));
  }

  warn(message: unknown, context?: unknown) {
    this.logger.warn(this.fields(context), String(message));
  }

  debug(message: unknown, context?: unknown) {
    this.logger.debug(this.fields(context), String(message));
  }

  verbose(message: unknown, context?: unknown) {
    this.logger.trace(this.fields(context), String(message));
  }

  fatal(message: unknown, context?: unknown) {
    this.logger.fatal(this.fields(context), String(message));
  }
}
