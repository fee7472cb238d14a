import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import { BearerTokenGuard } from './auth/bearer-token.guard';
import { BatchJobsModule } from './batch-jobs/batch-jobs.module';
import { ControlPlaneEnv } from './env';
import { EventsModule } from './events/events.module';
import { HealthModule } from './health/health.module';
import { HooksModule } from './hooks/hooks.module';
import { ErrorFilter } from './http/error.filter';
import { InfraModule } from './infra/infra.module';
import { MetricsModule } from './metrics/metrics.module';
import { ModuleTypesModule } from './module-types/module-types.module';
import { NodesModule } from './nodes/nodes.module';
import { ProcessesModule } from './processes/processes.module';
import { PropertiesModule } from './properties/properties.module';
import { RuntimeStatusModule } from './runtime-status/runtime-status.module';
import { ScalingModule } from './scaling/scaling.module';
import { SeedingModule } from './seeding/seeding.module';
import { TokensModule } from './tokens/tokens.module';
import { WatchModule } from './watch/watch.module';

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
        InfraModule.forRoot(env),
        NodesModule,
        PropertiesModule,
        SeedingModule,
        ProcessesModule,
        RuntimeStatusModule,
        ScalingModule,
        BatchJobsModule,
        HooksModule,
        TokensModule,
        EventsModule,
        WatchModule,
        ModuleTypesModule,
        MetricsModule,
        HealthModule,
      ],
      providers: [
        // Every route needs a token unless marked @Public(); the guard resolves tokens through
        // TokensModule's cache.
        { provide: APP_GUARD, useClass: BearerTokenGuard },
        { provide: APP_FILTER, useClass: ErrorFilter },
      ],
    };
  }
}
