import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import { Response } from 'express';
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
    if (status >= 500 && status !== 503) this.logger.error(exception);
    res.status(status).json({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', message });
  }

  private describe(exception: unknown, res: Response): { status: number; message: string } {
    if (exception instanceof DomainError) return { status: DOMAIN_STATUS[exception.kind], message: exception.message };
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
    // body-parser errors (malformed JSON, too large) carry their status
    const e = exception as { status?: number; type?: string; message?: string };
    if (e?.type === 'entity.too.large') return { status: 413, message: 'request body is larger than 1 MiB' };
    if (e?.type === 'entity.parse.failed') return { status: 400, message: `body is not valid JSON: ${e.message}` };
    if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500)
      return { status: e.status, message: e.message ?? 'bad request' };
    return { status: HttpStatus.INTERNAL_SERVER_ERROR, message: 'internal error' };
  }
}
