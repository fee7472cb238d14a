import { LoggerService } from '@nestjs/common';
import pino, { Logger } from 'pino';
import type { BusLogger } from '@plexus/bus';
import type { ModuleLogger } from '@plexus/module-runtime';

/** JSON lines on stdout, written synchronously so nothing is lost on exit. */
export function createLogger(level: string, base: Record<string, unknown>): Logger {
  return pino(
    {
      level,
      base: { service: 'plexus-worker', pid: process.pid, ...base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: 1, sync: true }),
  );
}

/** The (message, fields) logger the module runtime and bus helpers use, over pino. */
export function fieldLogger(logger: Logger): ModuleLogger & BusLogger {
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
