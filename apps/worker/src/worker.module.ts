import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { Logger } from 'pino';
import { builtInModuleTypes, ModuleTypeRegistry } from '@plexus/module-runtime';
import { WorkerOptions } from './cli';
import { StatusReporter } from './reporting/status.reporter';
import { ControlPlaneClient } from './seeding/control-plane.client';
import { NodeSeedingService } from './seeding/node-seeding.service';
import { PROCESS_ID, WORKER_LOG, WORKER_OPTIONS } from './tokens';
import { WorkerService } from './worker.service';

/** The worker's providers: no HTTP platform, no database. */
@Module({})
export class WorkerModule {
  /** `registry`: the built-ins and the users' module types main loaded (default: built-ins). */
  static forRoot(
    options: WorkerOptions,
    logger: Logger,
    processId: string,
    registry: ModuleTypeRegistry = builtInModuleTypes(),
  ): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        // Nest's own messages go to the worker's pino logger (main.ts: app.useLogger); with no
        // HTTP server there are no routes to log requests of.
        LoggerModule.forRoot({ pinoHttp: { logger }, forRoutes: [] }),
      ],
      providers: [
        { provide: WORKER_OPTIONS, useValue: options },
        { provide: WORKER_LOG, useValue: logger },
        { provide: PROCESS_ID, useValue: processId },
        { provide: ModuleTypeRegistry, useValue: registry },
        ControlPlaneClient,
        NodeSeedingService,
        StatusReporter,
        WorkerService,
      ],
    };
  }
}
