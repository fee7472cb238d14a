import { CanActivate, ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { createHash, timingSafeEqual } from 'node:crypto';
import { Request } from 'express';
import { ControlPlaneEnv } from '../env';
import { IS_PUBLIC } from './public.decorator';

export interface Caller {
  name: string;
  role: 'admin' | 'operator' | 'auditor';
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Every call carries `Authorization: Bearer <token>`. For now the only token is the bootstrap
 * admin token from PLEXUS_ADMIN_TOKEN (named tokens with roles are a later issue).
 */
@Injectable()
export class BearerTokenGuard implements CanActivate {
  private readonly adminDigest: Buffer;

  constructor(
    private readonly reflector: Reflector,
    env: ControlPlaneEnv,
  ) {
    this.adminDigest = digest(env.PLEXUS_ADMIN_TOKEN);
  }

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    if (
      this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [
        context.getHandler(),
        context.getClass(),
      ])
    )
      return true;
    const req = context.switchToHttp().getRequest<Request & { caller?: Caller }>();
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!match) throw new UnauthorizedException('Authorization: Bearer <token> header is required');
    // Compare digests so that the comparison takes the same time whatever the token's length.
    if (!timingSafeEqual(digest(match[1]), this.adminDigest))
      throw new UnauthorizedException('token is not valid');
    req.caller = { name: 'admin', role: 'admin' };
    return true;
  }
}
