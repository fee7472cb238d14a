import { DynamicModule, Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { builtInModuleTypes, ModuleTypeRegistry } from '@plexus/module-runtime';
import { WorkerOptions } from './cli';
import { ControlPlaneClient } from './control-plane.client';
import { PROCESS_ID, WORKER_LOG, WORKER_OPTIONS } from './tokens';
import { WorkerService } from './worker.service';

/** The worker's providers: no HTTP platform, no database. */
@Module({})
export class WorkerModule {
  static forRoot(options: WorkerOptions, logger: Logger, processId: string): DynamicModule {
    return {
      module: WorkerModule,
      providers: [
        { provide: WORKER_OPTIONS, useValue: options },
        { provide: WORKER_LOG, useValue: logger },
        { provide: PROCESS_ID, useValue: processId },
        { provide: ModuleTypeRegistry, useFactory: builtInModuleTypes },
        ControlPlaneClient,
        WorkerService,
      ],
    };
  }
}
