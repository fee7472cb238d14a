import { Module } from '@nestjs/common';
import { TokenCacheService } from './token-cache.service';
import { TokensController } from './tokens.controller';

/** Admin API tokens: issued, listed and revoked here, resolved through the cache. */
@Module({
  controllers: [TokensController],
  providers: [TokenCacheService],
  // The app-wide BearerTokenGuard resolves tokens through the cache.
  exports: [TokenCacheService],
})
export class TokensModule {}
