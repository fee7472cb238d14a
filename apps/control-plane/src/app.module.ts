import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { BearerTokenGuard } from './auth/bearer-token.guard';
import { HealthController } from './health/health.controller';
import { ErrorFilter } from './http/error.filter';
import { InfraModule } from './infra/infra.module';
import { ModuleTypesController } from './module-types/module-types.controller';
import { NodesController } from './nodes/nodes.controller';
import { NodesService } from './nodes/nodes.service';
import { MembershipService } from './processes/membership.service';
import { ProcessesController } from './processes/processes.controller';
import { SeedingController } from './seeding/seeding.controller';

@Module({
  imports: [
    LoggerModule.forRoot({
      pinoHttp: {
        level: process.env.LOG_LEVEL ?? 'info',
        // Tokens and secrets never reach the log.
        redact: {
          paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.secret', '*.token'],
          censor: '******',
        },
        autoLogging: { ignore: (req) => req.url === '/health' },
        quietReqLogger: true,
      },
    }),
    TerminusModule,
    InfraModule,
  ],
  controllers: [NodesController, HealthController, ModuleTypesController, ProcessesController, SeedingController],
  providers: [
    NodesService,
    MembershipService,
    { provide: APP_GUARD, useClass: BearerTokenGuard },
    { provide: APP_FILTER, useClass: ErrorFilter },
  ],
})
export class AppModule {}
