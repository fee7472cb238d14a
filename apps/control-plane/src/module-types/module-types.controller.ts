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
      description: t.description,
      provides: t.provides,
      secretKeys: t.secretKeys,
      singleProcess: t.singleProcess === true,
      config: describeConfig(t.configSchema),
    }));
  }
}
