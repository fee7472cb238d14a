import { PROCESS_STATUSES } from '@plexus/domain';
import { MODULE_STATES, moduleStatusMap } from '../openapi/shared.schemas';
import {
  arrayOf,
  dateTime,
  mapOf,
  nullable,
  ref,
  SchemaComponents,
  SchemaObject,
} from '../openapi/schema-ref';

const identity: Record<string, SchemaObject> = {
  processId: { type: 'string', example: 'fhir_node-7f3a9c' },
  nodeId: { type: 'string', example: 'fhir_node' },
  host: { type: 'string', example: 'worker-1.internal' },
  pid: { type: 'integer', example: 4242 },
  portOffset: { type: 'integer', example: 0 },
};

/** One module in a process's runtime status. */
const runtimeModule: SchemaObject = {
  type: 'object',
  required: ['state', 'version'],
  additionalProperties: false,
  properties: {
    state: { type: 'string', enum: [...MODULE_STATES], example: 'running' },
    version: { type: 'integer', example: 3 },
    error: { type: 'string' },
    health: ref('ModuleHealth'),
  },
};

/** What the processes, rollout and runtime-status routes answer. */
export const PROCESSES_SCHEMAS: SchemaComponents = {
  Process: {
    type: 'object',
    required: [
      ...Object.keys(identity),
      'status',
      'joinedAt',
      'leftAt',
      'lastSeenAt',
      'appliedVersion',
      'modules',
      'health',
      'load',
      'activeModules',
    ],
    additionalProperties: false,
    properties: {
      ...identity,
      status: { type: 'string', enum: [...PROCESS_STATUSES], example: 'up' },
      joinedAt: dateTime,
      leftAt: nullable(dateTime),
      lastSeenAt: dateTime,
      archivedAt: { ...dateTime, description: 'only on archived processes (?archived=true)' },
      appliedVersion: nullable({
        type: 'integer',
        description: 'the node version it runs (live processes only)',
        example: 3,
      }),
      modules: moduleStatusMap(),
      health: mapOf(ref('ModuleHealth')),
      load: nullable({
        type: 'object',
        required: ['eventLoopUtilization', 'requestsPerSec'],
        additionalProperties: false,
        properties: {
          eventLoopUtilization: { type: 'number', minimum: 0, maximum: 1, example: 0.12 },
          requestsPerSec: { type: 'number', example: 35.5 },
        },
      }),
      activeModules: {
        type: 'array',
        items: { type: 'string' },
        description: 'the `activation: single` modules this process is the active one for',
      },
    },
  },
  Rollout: {
    type: 'object',
    required: ['nodeId', 'version', 'converged', 'active', 'processes', 'lastChange'],
    additionalProperties: false,
    properties: {
      nodeId: { type: 'string', example: 'fhir_node' },
      version: { type: 'integer', description: 'the latest version', example: 3 },
      converged: {
        type: 'boolean',
        description: 'every live process applied the latest version without failure',
      },
      active: {
        ...mapOf(nullable({ type: 'string' })),
        description: 'which process runs each `activation: single` module (null while none does)',
      },
      processes: {
        type: 'array',
        items: {
          type: 'object',
          required: [
            ...Object.keys(identity).filter((k) => k !== 'nodeId'),
            'appliedVersion',
            'ok',
            'modules',
          ],
          additionalProperties: false,
          properties: {
            processId: identity.processId,
            host: identity.host,
            pid: identity.pid,
            portOffset: identity.portOffset,
            appliedVersion: nullable({ type: 'integer', example: 3 }),
            ok: nullable({ type: 'boolean', description: 'it applied without a failed module' }),
            modules: moduleStatusMap(),
          },
        },
      },
      lastChange: {
        type: 'object',
        required: ['version', 'changedAt', 'convergedAt', 'convergeMs'],
        additionalProperties: false,
        properties: {
          version: { type: 'integer', example: 3 },
          changedAt: nullable(dateTime),
          convergedAt: nullable(dateTime),
          convergeMs: nullable({ type: 'number', example: 180 }),
        },
      },
    },
  },
  ProcessRuntimeStatus: {
    type: 'object',
    description:
      'module state and health of one process; without `modules` when it left or did not answer (`message` says which)',
    required: ['processId', 'nodeId', 'healthy'],
    additionalProperties: false,
    properties: {
      processId: identity.processId,
      nodeId: identity.nodeId,
      appliedVersion: { type: 'integer', example: 3 },
      modules: mapOf(runtimeModule),
      checkedAt: dateTime,
      healthy: { type: 'boolean' },
      message: {
        type: 'string',
        example: 'modules not healthy: persistence (DOWN: database unreachable)',
      },
    },
  },
  NodeRuntimeStatus: {
    type: 'object',
    required: ['nodeId', 'healthy', 'processes', 'failing'],
    additionalProperties: false,
    properties: {
      nodeId: identity.nodeId,
      healthy: { type: 'boolean' },
      processes: arrayOf('ProcessRuntimeStatus'),
      failing: {
        type: 'array',
        items: {
          type: 'object',
          required: ['processId', 'reason'],
          additionalProperties: false,
          properties: {
            processId: identity.processId,
            moduleId: { type: 'string', description: 'absent when the process did not answer' },
            reason: { type: 'string', example: 'DOWN: database unreachable' },
          },
        },
      },
      message: {
        type: 'string',
        example: 'modules not healthy: fhir_node-7f3a9c/persistence (DOWN: database unreachable)',
      },
    },
  },
};
