import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  Get,
  Inject,
  NotFoundException,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Req,
} from '@nestjs/common';
import { ApiQuery, ApiTags } from '@nestjs/swagger';
import {
  createHook,
  Database,
  deleteHook,
  Hook,
  listHookDeliveries,
  listHooks,
  readHook,
} from '@plexus/event-store';
import { SecretsCipher } from '@plexus/secrets-crypto';
import { ApiRequest } from '../auth/bearer-token.guard';
import { ControlPlaneEnv } from '../env';
import { DependencyBreakers } from '../infra/dependency-breakers';
import { DATABASE, SECRETS } from '../infra/injection-tokens';
import {
  ApiAdminAuth,
  ApiAnswer,
  ApiBodyErrors,
  ApiErrors,
} from '../openapi/api-responses.decorator';
import { ApiUuidParam } from '../openapi/params.decorator';
import { arrayOf } from '../openapi/schema-ref';
import { CreateHookDto } from './dto/create-hook.dto';
import { parseWebhookTargetPolicy, targetHostProblem, WebhookTargetPolicy } from './targets';

export const DEFAULT_DELIVERIES_LIMIT = 50;
export const MAX_DELIVERIES_LIMIT = 500;

/** A hook as answered: its secret is never shown, not even to the admin who set it. */
const view = (hook: Hook) => ({ ...hook, secret: '******' });

const uuid = new ParseUUIDPipe({ errorHttpStatusCode: 400 });

/**
 * Webhooks: the chosen events, POSTed as signed JSON to a URL. Writes are for admins (the
 * guard's default), reads for every role.
 */
@ApiTags('hooks')
@ApiAdminAuth()
@Controller('hooks')
export class HooksController {
  private readonly targets: WebhookTargetPolicy;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(SECRETS) private readonly secrets: SecretsCipher,
    private readonly breakers: DependencyBreakers,
    env: ControlPlaneEnv,
  ) {
    this.targets = parseWebhookTargetPolicy(env.WEBHOOK_ALLOWED_HOSTS);
  }

  /**
   * Receives the chosen events recorded from now on. A literal address the target policy
   * refuses is a 400 here; a host name is checked at each delivery, after resolution.
   */
  @Post()
  @ApiAnswer(201, 'Hook', 'the hook (its secret never shown)')
  @ApiBodyErrors()
  @ApiErrors(403)
  async create(@Body() body: CreateHookDto, @Req() req: ApiRequest) {
    const refused = targetHostProblem(this.targets, new URL(body.url).hostname);
    if (refused) throw new BadRequestException(refused);
    const hook = await this.breakers.postgres(() =>
      createHook(this.db, {
        url: body.url,
        events: [...new Set(body.events)],
        secret: this.secrets.encrypt(body.secret), // stored encrypted, like module secrets
        createdBy: req.caller!.name,
      }),
    );
    return view(hook);
  }

  @Get()
  @ApiAnswer(200, arrayOf('Hook'), 'every live hook')
  async list() {
    return (await this.breakers.postgres(() => listHooks(this.db))).map(view);
  }

  @Get(':id')
  @ApiUuidParam('id', 'the hook')
  @ApiAnswer(200, 'Hook', 'the hook')
  @ApiErrors(400, 404)
  async get(@Param('id', uuid) id: string) {
    return view(await this.live(id));
  }

  /** Stops the hook: its pending deliveries are cancelled, its history stays. */
  @Delete(':id')
  @ApiUuidParam('id', 'the hook')
  @ApiAnswer(200, 'Hook', 'the deleted hook')
  @ApiErrors(400, 403, 404)
  async delete(@Param('id', uuid) id: string) {
    const deleted = await this.breakers.postgres(() => deleteHook(this.db, id));
    if (!deleted) throw new NotFoundException(`no webhook with id ${id}`);
    return view(deleted);
  }

  /** The hook's deliveries, newest first, each with every attempt and its outcome. */
  @Get(':id/deliveries')
  @ApiQuery({
    name: 'limit',
    required: false,
    description: `how many, 1-${MAX_DELIVERIES_LIMIT} (default ${DEFAULT_DELIVERIES_LIMIT})`,
    schema: {
      type: 'integer',
      minimum: 1,
      maximum: MAX_DELIVERIES_LIMIT,
      default: DEFAULT_DELIVERIES_LIMIT,
    },
  })
  @ApiUuidParam('id', 'the hook')
  @ApiAnswer(200, arrayOf('HookDelivery'), 'its deliveries, newest first, each with every attempt')
  @ApiErrors(400, 404)
  async deliveries(@Param('id', uuid) id: string, @Query('limit') limitParam?: string) {
    const limit = limitParam === undefined ? DEFAULT_DELIVERIES_LIMIT : Number(limitParam);
    if (!/^\d+$/.test(limitParam ?? '1') || limit < 1 || limit > MAX_DELIVERIES_LIMIT)
      throw new BadRequestException(`limit must be an integer from 1 to ${MAX_DELIVERIES_LIMIT}`);
    await this.live(id);
    return this.breakers.postgres(() => listHookDeliveries(this.db, id, limit));
  }

  private async live(id: string): Promise<Hook> {
    const hook = await this.breakers.postgres(() => readHook(this.db, id));
    if (!hook) throw new NotFoundException(`no webhook with id ${id}`);
    return hook;
  }
}
