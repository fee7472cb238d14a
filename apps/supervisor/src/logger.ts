import pino, { Logger } from 'pino';

/** JSON lines on stdout like the worker's (the workers it runs write theirs to the same stdout). */
export function createLogger(level: string, base: Record<string, unknown>): Logger {
  return pino(
    {
      level,
      base: { service: 'plexus-supervisor', pid: process.pid, ...base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: 1, sync: true }),
  );
}
