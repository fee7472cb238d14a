import { ModuleLogger } from '../module-type';

/** Adds fixed fields to every line a logger writes. */
export function withLogFields(logger: ModuleLogger, fields: Record<string, unknown>): ModuleLogger {
  return {
    log: (message, more) => logger.log(message, { ...fields, ...more }),
    warn: (message, more) => logger.warn(message, { ...fields, ...more }),
    error: (message, more) => logger.error(message, { ...fields, ...more }),
  };
}
