import { Controller, Get, Inject } from '@nestjs/common';
import type { ConfigSchema } from '@plexus/module-sdk';
import { ApiTags } from '@nestjs/swagger';
import { ClusterModuleTypes, describeConfig } from '@plexus/module-runtime';
import { CATALOG } from '../infra/injection-tokens';
import { ApiAdminAuth, ApiAnswer } from '../openapi/api-responses.decorator';
import { arrayOf } from '../openapi/schema-ref';

@ApiTags('module-types')
@ApiAdminAuth()
@Controller('module-types')
export class ModuleTypesController {
  constructor(@Inject(CATALOG) private readonly catalog: ClusterModuleTypes) {}

  /**
   * Every module type: the built-ins and those live processes registered, each with the
   * processes that provide it and the versions whose providers publish different schemas.
   */
  @Get()
  @ApiAnswer(200, arrayOf('ModuleType'), 'every module type with its config keys and providers')
  list() {
    return this.catalog.describe().map((t) => ({
      ...t,
      config: t.configSchema ? describeConfig(t.configSchema as ConfigSchema, t.secretKeys) : [],
    }));
  }
}
