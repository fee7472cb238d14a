import { IncomingMessage, ServerResponse } from 'node:http';
import type { Level, Logger } from 'pino';

/** Success at debug: at info a busy control plane would log more than it works. */
export const requestLogLevel = (statusCode: number): Level =>
  statusCode >= 500 ? 'error' : statusCode >= 400 ? 'info' : 'debug';

/**
 * One log line per request (not for /health), in pino-http's shape. Unlike pino-http it builds
 * nothing until the answer is known and its level is enabled: pino-http made two child loggers
 * and serialised the request for every call, and nestjs-pino's request context switched on async
 * hooks for every promise, together about a fifth of a write's CPU time.
 */
export function requestLog(logger: Logger) {
  let lastId = 0;
  return (req: IncomingMessage & { id?: number }, res: ServerResponse, next: () => void) => {
    if (req.url === '/health') return next();
    const startedAt = Date.now();
    req.id = ++lastId;
    res.once('close', () => {
      const level = requestLogLevel(res.statusCode);
      if (!logger.isLevelEnabled(level)) return;
      logger[level](
        {
          req: {
            id: req.id,
            method: req.method,
            url: req.url,
            headers: req.headers,
            remoteAddress: req.socket.remoteAddress,
            remotePort: req.socket.remotePort,
          },
          res: { statusCode: res.statusCode, headers: res.getHeaders() },
          responseTime: Date.now() - startedAt,
        },
        res.writableFinished ? 'request completed' : 'request aborted',
      );
    });
    next();
  };
}
