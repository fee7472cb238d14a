import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { AppModule } from '../app.module';
import { BATCH_JOBS_SCHEMAS } from '../batch-jobs/batch-jobs.schemas';
import { ControlPlaneEnv } from '../env';
import { EVENTS_SCHEMAS } from '../events/events.schemas';
import { HEALTH_SCHEMAS } from '../health/health.schemas';
import { HOOKS_SCHEMAS } from '../hooks/hooks.schemas';
import { MODULE_TYPES_SCHEMAS } from '../module-types/module-types.schemas';
import { NODES_SCHEMAS } from '../nodes/nodes.schemas';
import { PROCESSES_SCHEMAS } from '../processes/processes.schemas';
import { PROPERTIES_SCHEMAS } from '../properties/properties.schemas';
import { SCALING_SCHEMAS } from '../scaling/scaling.schemas';
import { TOKENS_SCHEMAS } from '../tokens/tokens.schemas';
import { SHARED_SCHEMAS } from './shared.schemas';
import { SchemaComponents } from './schema-ref';

/** Every named schema the routes refer to (`ref(name)`), by feature. */
const COMPONENT_SCHEMAS: SchemaComponents[] = [
  SHARED_SCHEMAS,
  NODES_SCHEMAS,
  PROCESSES_SCHEMAS,
  EVENTS_SCHEMAS,
  HOOKS_SCHEMAS,
  TOKENS_SCHEMAS,
  BATCH_JOBS_SCHEMAS,
  MODULE_TYPES_SCHEMAS,
  PROPERTIES_SCHEMAS,
  SCALING_SCHEMAS,
  HEALTH_SCHEMAS,
];

/** Objects with their keys sorted, at every depth: the committed openapi.json diffs cleanly. */
export function sortKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(sortKeys) as T;
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
  ) as T;
}

/** The admin API's OpenAPI document: what /docs-json serves and `npm run openapi` commits. */
export function openApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Plexus admin API')
    .setDescription(
      'Nodes, modules, processes and events of a Plexus cluster (DESIGN.md). Every error is ' +
        '`{statusCode, error, message}`; writes answer the new version in `ETag` and take `If-Match`.',
    )
    .setVersion('1')
    .addBearerAuth()
    .build();
  const document = SwaggerModule.createDocument(app, config);
  const own = Object.assign({}, ...COMPONENT_SCHEMAS) as SchemaComponents;
  for (const name of Object.keys(own))
    if (document.components?.schemas?.[name])
      throw new Error(`schema ${name} is declared by a DTO class and by a *.schemas.ts file`);
  document.components = {
    ...document.components,
    schemas: { ...document.components?.schemas, ...own },
  };
  return sortKeys(document);
}

/**
 * The document without a database, NATS or a port: Nest's preview mode builds the module graph
 * and reads the controllers' metadata but instantiates no provider, so nothing connects.
 */
export async function openApiDocumentOffline(env: ControlPlaneEnv): Promise<OpenAPIObject> {
  const app = await NestFactory.create(AppModule.forRoot(env), new FastifyAdapter(), {
    preview: true,
    logger: false,
    abortOnError: false,
  });
  try {
    return openApiDocument(app);
  } finally {
    await app.close();
  }
}

/** The committed file's text: two-space JSON with sorted keys and a final newline. */
export const openApiText = (document: OpenAPIObject) =>
  `${JSON.stringify(sortKeys(document), null, 2)}\n`;
