import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import { NextFunction, Request, Response } from 'express';
import { DomainError } from '@plexus/domain';
import { PreconditionFailed } from '@plexus/event-store';
import { DependencyUnavailable } from '../infra/dependency-breakers';

const DOMAIN_STATUS: Record<DomainError['kind'], number> = {
  invalid: 400,
  'not-found': 404,
  exists: 409,
  conflict: 409,
};

/** Every error becomes DESIGN.md's `{statusCode, error, message}`. */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost) {
    if (host.getType() !== 'http') throw exception;
    const res = host.switchToHttp().getResponse<Response>();
    const { status, message } = this.describe(exception, res);
    // reqId joins this line to the request's own log line (http/request-log.ts).
    if (status >= 500 && status !== 503)
      this.logger.error({
        err: exception,
        reqId: host.switchToHttp().getRequest<{ id?: number }>().id,
      });
    res
      .status(status)
      .json({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', message });
  }

  private describe(exception: unknown, res: Response): { status: number; message: string } {
    if (exception instanceof DomainError)
      return { status: DOMAIN_STATUS[exception.kind], message: exception.message };
    if (exception instanceof PreconditionFailed) return { status: 412, message: exception.message };
    if (exception instanceof DependencyUnavailable) {
      res.setHeader('Retry-After', String(exception.retryAfterSeconds));
      return { status: 503, message: exception.message };
    }
    if (exception instanceof HttpException) {
      const body = exception.getResponse();
      const raw = typeof body === 'string' ? body : (body as { message?: unknown }).message;
      const message = Array.isArray(raw) ? raw.join('; ') : String(raw ?? exception.message);
      return { status: exception.getStatus(), message };
    }
    return { status: HttpStatus.INTERNAL_SERVER_ERROR, message: 'internal error' };
  }
}

/**
 * Express error middleware for the JSON body parser, which runs before Nest's routing: a
 * malformed or oversized body gets the same error shape as everything else.
 */
export function bodyParserErrors(err: any, _req: Request, res: Response, next: NextFunction) {
  if (!err) return next();
  const [status, message] =
    err.type === 'entity.too.large'
      ? [413, 'request body is larger than 1 MiB']
      : err.type === 'entity.parse.failed'
        ? [400, `body is not valid JSON: ${err.message}`]
        : [typeof err.status === 'number' ? err.status : 400, String(err.message ?? 'bad request')];
  res.status(status).json({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', message });
}
