import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { AdminRole } from '@plexus/event-store';
import { ControlPlaneEnv } from '../env';
import { TokenCacheService } from '../tokens/token-cache.service';
import { BOOTSTRAP_ACTOR } from './actors';
import { IS_PUBLIC } from './public.decorator';
import { ROLES } from './roles.decorator';

/** A request of the admin API, with the caller the guard identified. */
export type ApiRequest = FastifyRequest & { caller?: Caller };

export interface Caller {
  /** The token's name: the actor of every event the call causes. */
  name: string;
  role: AdminRole;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Every call carries `Authorization: Bearer <token>`: the bootstrap admin token from
 * PLEXUS_ADMIN_TOKEN (actor "admin"), or a named token created through /tokens. 401 without a
 * valid token, 403 when the token's role may not call the route.
 */
@Injectable()
export class BearerTokenGuard implements CanActivate {
  private readonly bootstrapDigest: Buffer;

  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenCacheService,
    env: ControlPlaneEnv,
  ) {
    this.bootstrapDigest = digest(env.PLEXUS_ADMIN_TOKEN);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const req = context.switchToHttp().getRequest<ApiRequest>();
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!match) throw new UnauthorizedException('Authorization: Bearer <token> header is required');
    const caller = await this.identify(match[1]);
    if (!caller) throw new UnauthorizedException('token is not valid');
    const allowed =
      this.reflector.getAllAndOverride<AdminRole[]>(ROLES, targets) ??
      (req.method === 'GET' || req.method === 'HEAD'
        ? ['admin', 'operator', 'auditor']
        : ['admin']);
    if (!allowed.includes(caller.role))
      throw new ForbiddenException(
        `role ${caller.role} may not ${req.method} ${req.routeOptions.url ?? req.url} (allowed: ${allowed.join(', ')})`,
      );
    req.caller = caller;
    return true;
  }

  private async identify(token: string): Promise<Caller | null> {
    // Digests compare in constant time whatever the token's length.
    if (timingSafeEqual(digest(token), this.bootstrapDigest))
      return { name: BOOTSTRAP_ACTOR, role: 'admin' };
    const found = await this.tokens.resolve(token);
    return found ? { name: found.name, role: found.role } : null;
  }
}
