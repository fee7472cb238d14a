import { ArgumentsHost } from '@nestjs/common';
import { DatabaseError } from 'pg';
import { ErrorFilter } from './error.filter';

/** What the filter sends: status, headers and body, as Fastify's reply would get them. */
function answer(exception: unknown) {
  const sent = { status: 0, headers: {} as Record<string, string>, body: undefined as any };
  const reply = {
    status: (code: number) => ((sent.status = code), reply),
    header: (name: string, value: string) => ((sent.headers[name.toLowerCase()] = value), reply),
    send: (body: unknown) => ((sent.body = body), reply),
  };
  const host = {
    getType: () => 'http',
    switchToHttp: () => ({ getResponse: () => reply, getRequest: () => ({ id: 'req-1' }) }),
  } as unknown as ArgumentsHost;
  new ErrorFilter().catch(exception, host);
  return sent;
}

/** An error as node-postgres reports one from the server. */
function postgresError(code: string, message: string) {
  const err = new DatabaseError(message, 0, 'error');
  err.code = code;
  return err;
}

describe('ErrorFilter', () => {
  it.each([
    ['40P01', 'deadlock detected'],
    ['40001', 'could not serialize access due to concurrent update'],
  ])(
    'answers a conflict Postgres still reported after the retries (%s) with 503 and Retry-After',
    (code, message) => {
      const sent = answer(postgresError(code, message));
      expect(sent.status).toBe(503);
      expect(Number(sent.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(sent.body).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        message: expect.stringMatching(/postgres.*concurrent.*retry/i),
      });
    },
  );

  it('answers a statement Postgres cancelled (statement_timeout, 57014) with 503 naming the limit', () => {
    const sent = answer(postgresError('57014', 'canceling statement due to statement timeout'));
    expect(sent.status).toBe(503);
    expect(Number(sent.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(sent.body.message).toMatch(/DB_STATEMENT_TIMEOUT_MS/);
  });

  it('still answers 500 for an error it knows nothing about', () => {
    const sent = answer(new Error('a bug'));
    expect(sent.status).toBe(500);
    expect(sent.body).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      message: 'internal error',
    });
  });
});
