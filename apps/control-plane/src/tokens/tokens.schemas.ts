import { ADMIN_ROLES } from '@plexus/event-store';
import { dateTime, nullable, SchemaComponents, SchemaObject, uuid } from '../openapi/schema-ref';

const TOKEN_PROPERTIES: Record<string, SchemaObject> = {
  id: uuid,
  name: { type: 'string', example: 'ci-deployer' },
  role: { type: 'string', enum: [...ADMIN_ROLES], example: 'operator' },
  createdBy: { type: 'string', example: 'admin' },
  createdAt: dateTime,
  revokedAt: nullable(dateTime),
};
const TOKEN_REQUIRED = Object.keys(TOKEN_PROPERTIES);

/** What the tokens routes answer. */
export const TOKENS_SCHEMAS: SchemaComponents = {
  AdminToken: {
    type: 'object',
    description: 'a named token, without its secret',
    required: TOKEN_REQUIRED,
    additionalProperties: false,
    properties: TOKEN_PROPERTIES,
  },
  CreatedAdminToken: {
    type: 'object',
    description: 'the new token: `token` is shown this once',
    required: [...TOKEN_REQUIRED, 'token'],
    additionalProperties: false,
    properties: {
      ...TOKEN_PROPERTIES,
      token: {
        type: 'string',
        pattern: '^plx_',
        example: 'plx_q3v0vJ1m2Zb7n5c8X4dY6eK9tR2wS1aB0cD3fG5hJ7k',
      },
    },
  },
};
