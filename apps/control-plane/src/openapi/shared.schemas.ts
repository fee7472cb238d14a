import { API_ERROR } from './api-responses.decorator';
import { mapOf, nullable, ref, SchemaComponents } from './schema-ref';

export const MODULE_STATES = ['starting', 'running', 'stopped', 'failed', 'unsupported', 'standby'];

/** Schemas several features answer with. */
export const SHARED_SCHEMAS: SchemaComponents = {
  [API_ERROR]: {
    type: 'object',
    description: 'Every error of the admin API (DESIGN.md)',
    required: ['statusCode', 'error', 'message'],
    additionalProperties: false,
    properties: {
      statusCode: { type: 'integer', example: 400 },
      error: { type: 'string', description: 'the status text', example: 'Bad Request' },
      message: {
        type: 'string',
        description: 'what was wrong: for bad input, the field and the rule',
        example: 'nodeId must be 1-30 characters of US-ASCII letters, digits, "_", "-" or "."',
      },
    },
  },
  StringMap: {
    type: 'object',
    description: 'flat keys to string values, as in a properties file',
    additionalProperties: { type: 'string' },
    example: { port: '8000', 'sessions.timeout.mins': '30' },
  },
  ModuleStatus: {
    type: 'object',
    description: "a module's state on one process, as the process last reported it",
    required: ['state', 'version'],
    additionalProperties: false,
    properties: {
      state: { type: 'string', enum: MODULE_STATES, example: 'running' },
      version: {
        type: 'integer',
        description: 'the node version its current config came from',
        example: 3,
      },
      error: { type: 'string', example: 'listen EADDRINUSE: address already in use :::8000' },
      details: {
        type: 'object',
        additionalProperties: true,
        description: 'what the module reports of itself: connections, counters, the last error',
      },
    },
  },
  ModuleHealth: {
    type: 'object',
    description: "a module's health(): UP serves, DEGRADED serves with a problem, DOWN does not",
    required: ['status'],
    additionalProperties: false,
    properties: {
      status: { type: 'string', enum: ['UP', 'DEGRADED', 'DOWN'], example: 'UP' },
      details: { type: 'object', additionalProperties: true },
    },
  },
  KeyChange: {
    type: 'object',
    description: 'one changed key: old and new value (null when absent); secrets as ******',
    required: ['key', 'old', 'new'],
    additionalProperties: false,
    properties: {
      key: { type: 'string', example: 'message' },
      old: nullable({ type: 'string', example: 'hello' }),
      new: nullable({ type: 'string', example: 'hi' }),
      secret: { type: 'boolean', description: 'set when the key holds a secret' },
    },
  },
  UnansweredModule: {
    type: 'object',
    description: 'a persistence module no process answered for: its part is missing',
    required: ['nodeId', 'moduleId', 'reason'],
    additionalProperties: false,
    properties: {
      nodeId: { type: 'string', example: 'fhir_node' },
      moduleId: { type: 'string', example: 'persistence' },
      reason: {
        type: 'string',
        example: 'module "persistence" of node "fhir_node" did not answer: no live process runs it',
      },
    },
  },
};

export const moduleStatusMap = () => mapOf(ref('ModuleStatus'));
