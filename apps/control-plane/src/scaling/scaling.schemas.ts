import { MAX_STABILIZATION_S } from '@plexus/domain';
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

/** What PUT /nodes/:nodeId/scaling reads (domain parseScalingPolicy checks it in full). */
const POLICY_BODY: SchemaObject = {
  type: 'object',
  required: ['min', 'max', 'target'],
  additionalProperties: false,
  properties: {
    min: { type: 'integer', minimum: 0, maximum: 1000, example: 1 },
    max: { type: 'integer', minimum: 1, maximum: 1000, example: 5 },
    target: {
      type: 'number',
      description:
        'greater than 0, per process: event-loop utilisation percent (at most 100), or requests/s',
      example: 60,
    },
    metric: { type: 'string', enum: METRICS, default: 'eventLoopUtilization' },
    scaleUpStabilization: {
      type: 'number',
      minimum: 0,
      maximum: MAX_STABILIZATION_S,
      description: 'seconds',
      default: 0,
    },
    scaleDownStabilization: {
      type: 'number',
      minimum: 0,
      maximum: MAX_STABILIZATION_S,
      description: 'seconds',
      default: 300,
    },
  },
};

/** What the scaling routes read and answer. */
export const SCALING_SCHEMAS: SchemaComponents = {
  ScalingPolicyBody: POLICY_BODY,
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
