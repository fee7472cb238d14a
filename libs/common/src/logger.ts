/**
 * Structured logging as libraries use it: a message and optional fields. The apps hand in a
 * pino-backed adapter; libraries never pick a logging framework themselves.
 */
export interface Logger {
  log(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** A logger that drops everything: the default where a caller passes none. */
export const silentLogger: Logger = {
  log: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
