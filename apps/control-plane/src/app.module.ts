import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { BearerTokenGuard } from './auth/bearer-token.guard';
import { BatchJobsController } from './batch-jobs/batch-jobs.controller';
import { BatchJobsService } from './batch-jobs/batch-jobs.service';
import { ControlPlaneEnv } from './env';
import { EventsController } from './events/events.controller';
import { EventsService } from './events/events.service';
import { HealthController } from './health/health.controller';
import { HookDeliveryService } from './hooks/hook-delivery.service';
import { HooksController } from './hooks/hooks.controller';
import { ErrorFilter } from './http/error.filter';
import { InfraModule } from './infra/infra.module';
import { PropertiesController } from './properties/properties.controller';
import { PropertiesService } from './properties/properties.service';
import { ModuleTypesController } from './module-types/module-types.controller';
import { NatsRepairService } from './nats-repair/nats-repair.service';
import { NodesController } from './nodes/nodes.controller';
import { NodesService } from './nodes/nodes.service';
import { MetricsController } from './metrics/metrics.controller';
import { MetricsService } from './metrics/metrics.service';
import { ConfigReportsService } from './processes/config-reports.service';
import { FailureDetectorService } from './processes/failure-detector.service';
import { MembershipService } from './processes/membership.service';
import { ProcessArchiverService } from './processes/process-archiver.service';
import { ProcessesController } from './processes/processes.controller';
import { RolloutController } from './processes/rollout.controller';
import { RolloutService } from './processes/rollout.service';
import { AutoscalerService } from './scaling/autoscaler.service';
import { ScalingController } from './scaling/scaling.controller';
import { ScalingService } from './scaling/scaling.service';
import { SeedingController } from './seeding/seeding.controller';
import { TokenCacheService } from './tokens/token-cache.service';
import { TokensController } from './tokens/tokens.controller';

@Module({})
export class AppModule {
  static forRoot(env: ControlPlaneEnv): DynamicModule {
    return {
      module: AppModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: {
            level: env.LOG_LEVEL,
            // Tokens and secrets never reach the log.
            redact: {
              paths: [
                'req.headers.authorization',
                'req.headers.cookie',
                '*.password',
                '*.secret',
                '*.token',
              ],
              censor: '******',
            },
          },
          // Request lines come from http/request-log.ts (main.ts), which costs nothing per call
          // while its level is off; nestjs-pino's own per-request middleware did not.
          forRoutes: [],
        }),
        TerminusModule,
        InfraModule.forRoot(env),
      ],
      controllers: [
        // Before NodesController: its POST :nodeId/modules/:moduleId/:action would take /batch-jobs.
        BatchJobsController,
        NodesController,
        HealthController,
        ModuleTypesController,
        ProcessesController,
        SeedingController,
        EventsController,
        PropertiesController,
        TokensController,
        RolloutController,
        MetricsController,
        HooksController,
        ScalingController,
      ],
      providers: [
        NodesService,
        MembershipService,
        FailureDetectorService,
        ProcessArchiverService,
        RolloutService,
        ConfigReportsService,
        MetricsService,
        ScalingService,
        AutoscalerService,
        EventsService,
        PropertiesService,
        TokenCacheService,
        HookDeliveryService,
        BatchJobsService,
        NatsRepairService,
        { provide: APP_GUARD, useClass: BearerTokenGuard },
        { provide: APP_FILTER, useClass: ErrorFilter },
      ],
    };
  }
}
