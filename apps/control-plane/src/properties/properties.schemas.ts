import { arrayOf, SchemaComponents } from '../openapi/schema-ref';

/** What POST /module-config/properties answers. */
export const PROPERTIES_SCHEMAS: SchemaComponents = {
  ImportedNode: {
    type: 'object',
    required: ['nodeId', 'version', 'changed', 'created', 'events'],
    additionalProperties: false,
    properties: {
      nodeId: { type: 'string', example: 'fhir_node' },
      version: { type: 'integer', description: 'its version after the import', example: 4 },
      changed: { type: 'boolean', example: true },
      created: { type: 'boolean', example: false },
      events: {
        type: 'array',
        items: { type: 'string' },
        description: 'types of the events appended to it, in order',
        example: ['ModuleConfigChanged'],
      },
    },
  },
  ImportedModule: {
    type: 'object',
    required: ['nodeId', 'moduleId', 'type', 'support'],
    additionalProperties: false,
    properties: {
      nodeId: { type: 'string', example: 'fhir_node' },
      moduleId: { type: 'string', example: 'persistence' },
      type: { type: 'string', example: 'persistence' },
      smileType: { type: 'string', example: 'PERSISTENCE_R4' },
      support: {
        type: 'string',
        enum: ['runs', 'provided', 'unsupported'],
        description:
          'runs: a module type of this cluster runs it; provided: Plexus does its job itself; unsupported: stored as written',
        example: 'runs',
      },
      reason: { type: 'string', description: 'why a Smile CDR type name was not mapped' },
    },
  },
  ImportAnswer: {
    type: 'object',
    required: ['nodes', 'modules'],
    additionalProperties: false,
    properties: {
      nodes: arrayOf('ImportedNode'),
      modules: arrayOf('ImportedModule'),
      warnings: {
        type: 'array',
        items: { type: 'string' },
        description: 'module types no live process has registered',
      },
    },
  },
};
