import { Logger as NestLogger } from '@nestjs/common';
import type { Logger } from '@plexus/common';

/** The libs' logger (message and fields) on a Nest logger: the fields follow as JSON. */
export function fieldLogger(logger: NestLogger): Logger {
  const fields = (f?: Record<string, unknown>) => (f ? ` ${JSON.stringify(f)}` : '');
  return {
    log: (m, f) => logger.log(m + fields(f)),
    warn: (m, f) => logger.warn(m + fields(f)),
    error: (m, f) => logger.error(m + fields(f)),
  };
}
