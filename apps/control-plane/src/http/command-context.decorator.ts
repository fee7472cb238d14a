import { BadRequestException, createParamDecorator, ExecutionContext } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { CommandContext } from '@plexus/event-store';
import { ANONYMOUS_ACTOR } from '../auth/actors';
import { ApiRequest } from '../auth/bearer-token.guard';
import { parseIfMatch } from './version-headers';

/**
 * Who is writing, why, and against which version: actor from the token, `X-Correlation-Id`
 * (made up when absent), `X-Plexus-Reason`, and If-Match.
 */
export const WriteContext = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): CommandContext => {
    const req = ctx.switchToHttp().getRequest<ApiRequest>();
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const correlationId = header('x-correlation-id') ?? randomUUID();
    if (correlationId.length > 200)
      throw new BadRequestException('X-Correlation-Id must be at most 200 characters');
    const reason = header('x-plexus-reason');
    if (reason && reason.length > 1000)
      throw new BadRequestException('X-Plexus-Reason must be at most 1000 characters');
    return {
      actor: req.caller?.name ?? ANONYMOUS_ACTOR,
      correlationId,
      ...(reason ? { reason } : {}),
      expectedVersion: parseIfMatch(header('if-match')),
    };
  },
);
