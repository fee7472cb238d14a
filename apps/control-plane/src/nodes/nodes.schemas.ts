import { ID_RULE } from '@plexus/domain';
import {
  arrayOf,
  dateTime,
  nullable,
  ref,
  ReferenceObject,
  SchemaComponents,
  SchemaObject,
} from '../openapi/schema-ref';

const NODE_DOCUMENT_PROPERTIES: Record<string, SchemaObject | ReferenceObject> = {
  nodeId: { type: 'string', description: ID_RULE, example: 'fhir_node' },
  version: { type: 'integer', minimum: 0, description: 'events in the node stream', example: 3 },
  archived: { type: 'boolean', example: false },
  properties: ref('StringMap'),
  modules: arrayOf('ModuleSpec'),
};
const NODE_DOCUMENT_REQUIRED = ['nodeId', 'version', 'archived', 'properties', 'modules'];

const change = (schema: SchemaObject | ReferenceObject): SchemaObject => ({
  type: 'object',
  required: ['old', 'new'],
  additionalProperties: false,
  properties: { old: schema, new: schema },
});

/** What the nodes routes answer. */
export const NODES_SCHEMAS: SchemaComponents = {
  ModuleSpec: {
    type: 'object',
    required: ['moduleId', 'type', 'config', 'requires', 'enabled', 'activation', 'generation'],
    additionalProperties: false,
    properties: {
      moduleId: { type: 'string', description: ID_RULE, example: 'fhir_endpoint' },
      type: { type: 'string', example: 'http-endpoint' },
      config: ref('StringMap'),
      requires: {
        type: 'object',
        additionalProperties: { type: 'string' },
        description: 'role -> module ID of another module of the node',
        example: { SECURITY_IN_UP: 'local_security' },
      },
      enabled: { type: 'boolean', example: true },
      activation: {
        type: 'string',
        enum: ['all', 'single'],
        description:
          'all: every process runs it; single: one live process does, the others stand by',
        example: 'all',
      },
      generation: {
        type: 'integer',
        description: 'bumped by every restart',
        example: 0,
      },
      secretKeys: {
        type: 'array',
        items: { type: 'string' },
        description: 'its secret keys when they are more than its type has',
      },
      smileType: {
        type: 'string',
        description:
          "the Smile CDR type name of an imported file ('' for the implicit cluster manager)",
        example: 'PERSISTENCE_R4',
      },
    },
  },
  NodeDocument: {
    type: 'object',
    description: 'the full configuration of a node at one version: what its processes converge on',
    required: NODE_DOCUMENT_REQUIRED,
    additionalProperties: false,
    properties: NODE_DOCUMENT_PROPERTIES,
  },
  NodeWriteAnswer: {
    type: 'object',
    description: 'the node document after the write',
    required: [...NODE_DOCUMENT_REQUIRED, 'changed'],
    additionalProperties: false,
    properties: {
      ...NODE_DOCUMENT_PROPERTIES,
      changed: {
        type: 'boolean',
        description: 'false when the write changed nothing (no event was appended)',
        example: true,
      },
      warnings: {
        type: 'array',
        items: { type: 'string' },
        description:
          'module types no live process has registered: stored, checked by the worker that applies them',
        example: [
          'module type "redis-cache" is not registered by any live process: it is stored unvalidated, and the worker that applies it validates it',
        ],
      },
    },
  },
  NodeSummary: {
    type: 'object',
    required: ['nodeId', 'version', 'moduleCount', 'liveProcessCount', 'updatedAt'],
    additionalProperties: false,
    properties: {
      nodeId: { type: 'string', example: 'fhir_node' },
      version: { type: 'integer', example: 3 },
      moduleCount: { type: 'integer', example: 2 },
      liveProcessCount: { type: 'integer', example: 2 },
      updatedAt: dateTime,
    },
  },
  ModuleDiff: {
    type: 'object',
    description: 'what changed in one module; only the parts that changed are present',
    required: ['moduleId', 'config'],
    additionalProperties: false,
    properties: {
      moduleId: { type: 'string', example: 'fhir_endpoint' },
      config: arrayOf('KeyChange'),
      type: change({ type: 'string' }),
      requires: change(ref('StringMap')),
      enabled: change({ type: 'boolean' }),
      activation: change({ type: 'string', enum: ['all', 'single'] }),
      smileType: change(nullable({ type: 'string' })),
    },
  },
  NodeDiff: {
    type: 'object',
    description: 'what changed from one version to another, secrets redacted',
    required: [
      'nodeId',
      'from',
      'to',
      'properties',
      'modulesAdded',
      'modulesRemoved',
      'modulesChanged',
    ],
    additionalProperties: false,
    properties: {
      nodeId: { type: 'string', example: 'fhir_node' },
      from: { type: 'integer', example: 2 },
      to: { type: 'integer', example: 3 },
      properties: arrayOf('KeyChange'),
      modulesAdded: arrayOf('ModuleSpec'),
      modulesRemoved: arrayOf('ModuleSpec'),
      modulesChanged: arrayOf('ModuleDiff'),
    },
  },
};
