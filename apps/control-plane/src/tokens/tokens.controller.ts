import {
  Body,
  Controller,
  Delete,
  Get,
  Inject,
  NotFoundException,
  Param,
  ParseUUIDPipe,
  Post,
  Req,
} from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import {
  ApiAdminAuth,
  ApiAnswer,
  ApiBodyErrors,
  ApiErrors,
} from '../openapi/api-responses.decorator';
import { ApiUuidParam } from '../openapi/params.decorator';
import { arrayOf } from '../openapi/schema-ref';
import { conflict } from '@plexus/domain';
import {
  createAdminToken,
  Database,
  listAdminTokens,
  revokeAdminToken,
  TokenNameTaken,
} from '@plexus/event-store';
import { ApiRequest } from '../auth/bearer-token.guard';
import { Roles } from '../auth/roles.decorator';
import { DependencyBreakers } from '../infra/dependency-breakers';
import { DATABASE } from '../infra/injection-tokens';
import { CreateTokenDto } from './dto/create-token.dto';
import { TokenCacheService } from './token-cache.service';

/** Named admin tokens with a role. The clear token is shown once, in the creation answer. */
@ApiTags('tokens')
@ApiAdminAuth()
@ApiErrors(403)
@Roles('admin')
@Controller('tokens')
export class TokensController {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly breakers: DependencyBreakers,
    private readonly cache: TokenCacheService,
  ) {}

  @Post()
  @ApiAnswer(201, 'CreatedAdminToken', 'the token: its secret is shown this once')
  @ApiBodyErrors()
  @ApiErrors(409)
  async create(@Body() body: CreateTokenDto, @Req() req: ApiRequest) {
    try {
      return await this.breakers.postgres(() =>
        createAdminToken(this.db, body.name, body.role, req.caller!.name),
      );
    } catch (err) {
      if (err instanceof TokenNameTaken) throw conflict(err.message);
      throw err;
    }
  }

  @Get()
  @ApiAnswer(200, arrayOf('AdminToken'), 'every token, without its secret')
  list() {
    return this.breakers.postgres(() => listAdminTokens(this.db));
  }

  @Delete(':id')
  @ApiUuidParam('id', 'the token')
  @ApiAnswer(200, 'AdminToken', 'the revoked token')
  @ApiErrors(400, 404)
  async revoke(@Param('id', new ParseUUIDPipe({ errorHttpStatusCode: 400 })) id: string) {
    const revoked = await this.breakers.postgres(() => revokeAdminToken(this.db, id));
    if (!revoked) throw new NotFoundException(`no live token with id ${id}`);
    this.cache.revoked(id);
    return revoked;
  }
}
