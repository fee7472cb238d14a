import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import type { FastifyReply } from 'fastify';
import { DomainError } from '@plexus/domain';
import { isTransientConflict, PreconditionFailed } from '@plexus/event-store';
import { DependencyUnavailable } from '../infra/dependency-breakers';
import { BODY_LIMIT_TEXT } from './body-parsers';
import { statusOfDomainError } from './error-status';

/** Every error becomes DESIGN.md's `{statusCode, error, message}`. */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost) {
    if (host.getType() !== 'http') throw exception;
    const res = host.switchToHttp().getResponse<FastifyReply>();
    const { status, message } = this.describe(exception, res);
    // reqId joins this line to the request's own log line (http/request-log.ts).
    if (status >= 500 && status !== 503)
      this.logger.error({
        err: exception,
        reqId: host.switchToHttp().getRequest<{ id?: number }>().id,
      });
    res
      .status(status)
      .send({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', message });
  }

  private describe(exception: unknown, res: FastifyReply): { status: number; message: string } {
    if (exception instanceof DomainError)
      return { status: statusOfDomainError(exception.kind), message: exception.message };
    if (exception instanceof PreconditionFailed) return { status: 412, message: exception.message };
    if (exception instanceof DependencyUnavailable) {
      res.header('Retry-After', String(exception.retryAfterSeconds));
      return { status: 503, message: exception.message };
    }
    // Lost to concurrent writes on every attempt (Database retries a few times): nothing stored.
    if (isTransientConflict(exception)) {
      res.header('Retry-After', '1');
      return {
        status: 503,
        message:
          'postgres aborted the write on every attempt because it collided with concurrent writes (deadlock or serialization failure); nothing was stored: retry',
      };
    }
    if ((exception as { code?: unknown } | null)?.code === '57014') {
      res.header('Retry-After', '2');
      return {
        status: 503,
        message:
          'postgres cancelled a statement of this request: it ran longer than DB_STATEMENT_TIMEOUT_MS (or was cancelled by an administrator)',
      };
    }
    if (exception instanceof HttpException) {
      const body = exception.getResponse();
      const raw = typeof body === 'string' ? body : (body as { message?: unknown }).message;
      const message = Array.isArray(raw) ? raw.join('; ') : String(raw ?? exception.message);
      const status = exception.getStatus();
      // Only Fastify's body limit answers 413 (Nest hands on its error as an HttpException).
      if (status === 413)
        return { status, message: `request body is larger than ${BODY_LIMIT_TEXT}` };
      return { status, message };
    }
    return { status: HttpStatus.INTERNAL_SERVER_ERROR, message: 'internal error' };
  }
}
