import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { BearerTokenGuard } from './auth/bearer-token.guard';
import { ControlPlaneEnv } from './env';
import { HealthController } from './health/health.controller';
import { ErrorFilter } from './http/error.filter';
import { InfraModule } from './infra/infra.module';
import { ModuleTypesController } from './module-types/module-types.controller';
import { NodesController } from './nodes/nodes.controller';
import { NodesService } from './nodes/nodes.service';
import { MembershipService } from './processes/membership.service';
import { ProcessesController } from './processes/processes.controller';
import { SeedingController } from './seeding/seeding.controller';

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
            // One line per request at debug level: at info a busy control plane would log more than it works.
            customLogLevel: (_req, res, err) =>
              err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'info' : 'debug',
            autoLogging: { ignore: (req) => req.url === '/health' },
            quietReqLogger: true,
          },
        }),
        TerminusModule,
        InfraModule.forRoot(env),
      ],
      controllers: [
        NodesController,
        HealthController,
        ModuleTypesController,
        ProcessesController,
        SeedingController,
      ],
      providers: [
        NodesService,
        MembershipService,
        { provide: APP_GUARD, useClass: BearerTokenGuard },
        { provide: APP_FILTER, useClass: ErrorFilter },
      ],
    };
  }
}
