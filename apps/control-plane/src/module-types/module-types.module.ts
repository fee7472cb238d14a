import { Module } from '@nestjs/common';
import { ModuleTypesController } from './module-types.controller';

/** The module types this control plane knows and the config keys each takes. */
@Module({
  controllers: [ModuleTypesController],
})
export class ModuleTypesModule {}
