import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { MicroserviceOptions, Transport } from '@nestjs/microservices';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger, PinoLogger } from 'nestjs-pino';
import { CONTROL_PLANE_QUEUE, natsAuthOptions } from '@plexus/bus';
import { raw } from 'express';
import { AppModule } from './app.module';
import { PROPERTIES_MEDIA_TYPES, PROPERTIES_PATH } from './module-config/module-config.controller';
import { bodyParserErrors } from './http/error.filter';
import { jsonBody } from './http/json-body';
import { requestLog } from './http/request-log';
import { ControlPlaneEnv, validateEnv } from './env';
import { validationPipe } from './http/validation';

export async function createControlPlane(env: ControlPlaneEnv) {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(env), {
    bufferLogs: true,
    bodyParser: false,
  });
  app.useLogger(app.get(Logger));
  app.use(requestLog((await app.resolve(PinoLogger)).logger));
  app.set('etag', false); // ETag is the node version, set by the controllers
  // DESIGN.md: bodies over 1 MiB are refused with 413; errors keep the API's error shape.
  // POST /module-config/properties also takes the file itself, as bytes: its parser decodes them
  // strictly as UTF-8 and names the line of a bad byte. Other routes stay JSON only.
  app.use(PROPERTIES_PATH, raw({ type: PROPERTIES_MEDIA_TYPES, limit: '1mb' }));
  app.use(jsonBody(1024 * 1024), bodyParserErrors);
  app.useGlobalPipes(validationPipe);
  app.enableShutdownHooks();
  app.connectMicroservice<MicroserviceOptions>(
    {
      transport: Transport.NATS,
      options: { ...natsAuthOptions(env.NATS_URL, env.NATS_CREDS), queue: CONTROL_PLANE_QUEUE },
    },
    { inheritAppConfig: true },
  );
  const docs = new DocumentBuilder()
    .setTitle('Plexus admin API')
    .setDescription('Nodes, modules, processes and events of a Plexus cluster (DESIGN.md)')
    .addBearerAuth()
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, docs));
  await app.startAllMicroservices();
  return app;
}

async function main() {
  let env: ControlPlaneEnv;
  try {
    env = validateEnv(process.env);
  } catch (err) {
    process.stderr.write(`plexus control-plane: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const app = await createControlPlane(env);
  await app.listen(env.PORT, '0.0.0.0');
  app.get(Logger).log(`control plane listening on :${env.PORT} (admin API, docs at /docs)`);
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`plexus control-plane failed to start: ${err?.stack ?? err}\n`);
    process.exit(1);
  });
}
