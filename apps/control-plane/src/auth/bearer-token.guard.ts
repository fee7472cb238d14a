import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  HttpException,
  HttpStatus,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { hash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Counter } from 'prom-client';
import { AdminRole } from '@plexus/event-store';
import { ControlPlaneEnv } from '../env';
import { MetricsService } from '../metrics/metrics.service';
import { TokenCacheService } from '../tokens/token-cache.service';
import { BOOTSTRAP_ACTOR } from './actors';
import { AuthFailureLimit } from './auth-failure-limit';
import { IS_PUBLIC } from './public.decorator';
import { ROLES } from './roles.decorator';

/** A request of the admin API, with the caller the guard identified. */
export type ApiRequest = FastifyRequest & { caller?: Caller };

export interface Caller {
  /** The token's name: the actor of every event the call causes. */
  name: string;
  role: AdminRole;
}

/** One-shot (crypto.hash): half the cost of a Hash object per request. */
const digest = (s: string) => hash('sha256', s, 'buffer');

/**
 * Every call carries `Authorization: Bearer <token>`: the bootstrap admin token from
 * PLEXUS_ADMIN_TOKEN (actor "admin"), or a named token created through /tokens. 401 without a
 * valid token, 403 when the token's role may not call the route. A client address whose tokens
 * were refused PLEXUS_AUTH_FAILURE_LIMIT times within the window gets 429 until it ends, before
 * any token is looked at: guessing tokens costs the guesser time, not Postgres lookups.
 */
@Injectable()
export class BearerTokenGuard implements CanActivate {
  private readonly bootstrapDigest: Buffer;
  private readonly failures: AuthFailureLimit;
  private readonly limited: Counter;
  private readonly limitText: string;

  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenCacheService,
    env: ControlPlaneEnv,
    metrics: MetricsService,
  ) {
    this.bootstrapDigest = digest(env.PLEXUS_ADMIN_TOKEN);
    this.failures = new AuthFailureLimit({
      limit: env.PLEXUS_AUTH_FAILURE_LIMIT,
      windowMs: env.PLEXUS_AUTH_FAILURE_WINDOW_SECONDS * 1000,
    });
    this.limitText = `${env.PLEXUS_AUTH_FAILURE_LIMIT} refused tokens within ${env.PLEXUS_AUTH_FAILURE_WINDOW_SECONDS} s`;
    this.limited = metrics.register(
      new Counter({
        name: 'plexus_auth_rate_limited_total',
        help: 'Requests answered 429 without their token being checked: their client address had too many tokens refused (PLEXUS_AUTH_FAILURE_LIMIT per PLEXUS_AUTH_FAILURE_WINDOW_SECONDS)',
        registers: [],
      }),
    );
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const req = context.switchToHttp().getRequest<ApiRequest>();
    const retryAfter = this.failures.retryAfterSeconds(req.ip, Date.now());
    if (retryAfter) {
      this.limited.inc();
      context.switchToHttp().getResponse<FastifyReply>().header('Retry-After', String(retryAfter));
      throw new HttpException(
        `${this.limitText} from ${req.ip}: no token is checked from there for ${retryAfter} s (retry after Retry-After)`,
        HttpStatus.TOO_MANY_REQUESTS,
      );
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!match) throw new UnauthorizedException('Authorization: Bearer <token> header is required');
    const caller = await this.identify(match[1]);
    if (!caller) {
      // Only a token that was looked up and not found counts: no header costs no lookup, and a
      // 403 is a valid token.
      this.failures.failed(req.ip, Date.now());
      throw new UnauthorizedException('token is not valid');
    }
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
