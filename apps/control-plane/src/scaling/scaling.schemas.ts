import { dateTime, nullable, SchemaComponents, SchemaObject } from '../openapi/schema-ref';

const METRICS = ['eventLoopUtilization', 'requestsPerSec'];

const POLICY: SchemaObject = {
  type: 'object',
  required: ['min', 'max', 'target', 'metric', 'scaleUpStabilization', 'scaleDownStabilization'],
  additionalProperties: false,
  properties: {
    min: { type: 'integer', example: 1 },
    max: { type: 'integer', example: 5 },
    target: {
      type: 'number',
      description: 'per process: event-loop utilisation percent, or requests/s',
      example: 60,
    },
    metric: { type: 'string', enum: METRICS, example: 'eventLoopUtilization' },
    scaleUpStabilization: { type: 'integer', description: 'seconds', example: 0 },
    scaleDownStabilization: { type: 'integer', description: 'seconds', example: 300 },
  },
};

/** What the scaling routes answer. */
export const SCALING_SCHEMAS: SchemaComponents = {
  ScalingPolicy: POLICY,
  ScalingState: {
    type: 'object',
    description: 'all null but nodeId while the node has no policy',
    required: ['nodeId', 'policy', 'desired', 'lastRecommendation', 'updatedAt'],
    additionalProperties: false,
    properties: {
      nodeId: { type: 'string', example: 'fhir_node' },
      policy: nullable(POLICY),
      desired: nullable({
        type: 'integer',
        description: 'the process count to run: the last recommendation',
        example: 2,
      }),
      lastRecommendation: nullable({
        type: 'object',
        required: [
          'from',
          'to',
          'currentProcesses',
          'metric',
          'currentValue',
          'target',
          'reason',
          'recordedAt',
        ],
        additionalProperties: false,
        properties: {
          from: { type: 'integer', example: 1 },
          to: { type: 'integer', example: 2 },
          currentProcesses: { type: 'integer', example: 1 },
          metric: { type: 'string', enum: METRICS },
          currentValue: nullable({ type: 'number', example: 82 }),
          target: { type: 'number', example: 60 },
          reason: { type: 'string' },
          recordedAt: dateTime,
        },
      }),
      updatedAt: nullable(dateTime),
    },
  },
};
