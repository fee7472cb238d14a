import { nullable, SchemaComponents } from '../openapi/schema-ref';

const strings = { type: 'array' as const, items: { type: 'string' as const } };

/** What GET /module-types answers. */
export const MODULE_TYPES_SCHEMAS: SchemaComponents = {
  ModuleType: {
    type: 'object',
    required: [
      'type',
      'builtIn',
      'version',
      'description',
      'provides',
      'requires',
      'secretKeys',
      'singleProcess',
      'configSchema',
      'providers',
      'conflicts',
      'config',
    ],
    additionalProperties: false,
    properties: {
      type: { type: 'string', example: 'http-endpoint' },
      builtIn: { type: 'boolean', example: true },
      version: { type: 'string', example: '1.0.0' },
      description: { type: 'string' },
      provides: { ...strings, example: ['SECURITY_IN_UP'] },
      requires: strings,
      secretKeys: { ...strings, example: ['users'] },
      singleProcess: {
        type: 'boolean',
        description: 'unsafe with more than one process of a node',
      },
      configSchema: nullable({
        type: 'object',
        additionalProperties: true,
        description: 'the config schema as JSON Schema',
      }),
      providers: {
        type: 'array',
        description: 'the live processes that registered it',
        items: {
          type: 'object',
          required: ['processId', 'nodeId', 'version', 'schemaHash'],
          additionalProperties: false,
          properties: {
            processId: { type: 'string' },
            nodeId: { type: 'string' },
            version: { type: 'string' },
            schemaHash: { type: 'string' },
          },
        },
      },
      conflicts: {
        type: 'array',
        description: 'versions whose providers publish different schemas',
        items: {
          type: 'object',
          required: ['version', 'schemaHashes'],
          additionalProperties: false,
          properties: { version: { type: 'string' }, schemaHashes: strings },
        },
      },
      config: {
        type: 'array',
        description: 'one entry per config key, in the schema order',
        items: {
          type: 'object',
          required: ['key', 'required', 'rules', 'secret'],
          additionalProperties: false,
          properties: {
            key: { type: 'string', example: 'port' },
            required: { type: 'boolean' },
            type: { type: 'string', example: 'integer' },
            rules: { ...strings, example: ['minimum: 1', 'maximum: 65535'] },
            default: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
            secret: { type: 'boolean' },
            description: { type: 'string' },
          },
        },
      },
    },
  },
};
