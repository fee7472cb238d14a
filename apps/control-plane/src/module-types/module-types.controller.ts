import { Controller, Get, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ClusterModuleTypes, describeConfig } from '@plexus/module-runtime';
import { CATALOG } from '../infra/injection-tokens';

@ApiTags('module-types')
@ApiBearerAuth()
@Controller('module-types')
export class ModuleTypesController {
  constructor(@Inject(CATALOG) private readonly catalog: ClusterModuleTypes) {}

  /**
   * Every module type: the built-ins and those live processes registered, each with the
   * processes that provide it and the versions whose providers publish different schemas.
   */
  @Get()
  list() {
    return this.catalog.describe().map((t) => {
      const builtIn = t.builtIn ? this.catalog.builtIn(t.type) : undefined;
      return {
        ...t,
        // The built-ins' class-validator rules, as before (SDK types have configSchema).
        ...(builtIn && !builtIn.jsonSchema ? { config: describeConfig(builtIn.configSchema) } : {}),
      };
    });
  }
}
