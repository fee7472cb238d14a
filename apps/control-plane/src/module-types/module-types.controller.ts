import { Controller, Get, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { describeConfig, ModuleTypeRegistry } from '@plexus/module-runtime';
import { CATALOG } from '../infra/injection-tokens';

@ApiTags('module-types')
@ApiBearerAuth()
@Controller('module-types')
export class ModuleTypesController {
  constructor(@Inject(CATALOG) private readonly registry: ModuleTypeRegistry) {}

  @Get()
  list() {
    return this.registry.list().map((t) => ({
      type: t.type,
      version: t.version,
      description: t.description,
      provides: t.provides,
      requires: t.requires,
      secretKeys: t.secretKeys,
      singleProcess: t.singleProcess === true,
      config: describeConfig(t.configSchema, t.secretKeys),
      configSchema: t.configSchema,
    }));
  }
}
