import { JOB_STATUSES } from '@plexus/batch-jobs';
import {
  arrayOf,
  dateTime,
  nullable,
  SchemaComponents,
  SchemaObject,
  uuid,
} from '../openapi/schema-ref';

const params: SchemaObject = {
  type: 'object',
  additionalProperties: { oneOf: [{ type: 'number' }, { type: 'string' }, { type: 'boolean' }] },
  example: {},
};

const SCHEDULE_PROPERTIES: Record<string, SchemaObject> = {
  scheduleId: { type: 'string', example: 'nightly-analyze' },
  jobType: { type: 'string', example: 'analyze-tables' },
  params,
  everyMs: { type: 'integer', example: 86_400_000 },
  nextDueAt: dateTime,
  enabled: { type: 'boolean', example: true },
  lastFiredAt: nullable(dateTime),
  lastError: nullable({
    type: 'string',
    description: 'why the last due time could not submit its job (it was skipped)',
  }),
  nodeId: {
    type: 'string',
    description: 'the module the schedule was read from',
    example: 'fhir_node',
  },
  moduleId: { type: 'string', example: 'persistence' },
};

/** What the batch-jobs routes answer. */
export const BATCH_JOBS_SCHEMAS: SchemaComponents = {
  BatchJob: {
    type: 'object',
    required: [
      'jobId',
      'jobType',
      'nodeId',
      'moduleId',
      'status',
      'params',
      'progress',
      'error',
      'submittedBy',
      'scheduleId',
      'createdAt',
      'startedAt',
      'finishedAt',
    ],
    additionalProperties: false,
    properties: {
      jobId: uuid,
      jobType: { type: 'string', example: 'sample-rows' },
      nodeId: { type: 'string', example: 'fhir_node' },
      moduleId: { type: 'string', example: 'persistence' },
      status: { type: 'string', enum: [...JOB_STATUSES], example: 'running' },
      params,
      progress: {
        type: 'object',
        required: ['totalChunks', 'doneChunks', 'failedChunks', 'percent'],
        additionalProperties: false,
        properties: {
          totalChunks: { type: 'integer', example: 40 },
          doneChunks: { type: 'integer', example: 10 },
          failedChunks: { type: 'integer', example: 0 },
          percent: { type: 'number', example: 25 },
        },
      },
      error: nullable({ type: 'string' }),
      submittedBy: {
        type: 'string',
        description: 'the actor, or schedule:<id>',
        example: 'admin',
      },
      scheduleId: nullable({ type: 'string' }),
      createdAt: dateTime,
      startedAt: nullable(dateTime),
      finishedAt: nullable(dateTime),
      errors: {
        type: 'array',
        description:
          'chunks that failed at least once, with their last error (GET /batch-jobs/:jobId only)',
        items: {
          type: 'object',
          required: ['seq', 'attempts', 'status', 'error'],
          additionalProperties: false,
          properties: {
            seq: { type: 'integer' },
            attempts: { type: 'integer' },
            status: { type: 'string' },
            error: { type: 'string' },
          },
        },
      },
    },
  },
  BatchJobList: {
    type: 'object',
    required: ['jobs', 'unanswered'],
    additionalProperties: false,
    properties: { jobs: arrayOf('BatchJob'), unanswered: arrayOf('UnansweredModule') },
  },
  BatchSchedule: {
    type: 'object',
    required: Object.keys(SCHEDULE_PROPERTIES),
    additionalProperties: false,
    properties: SCHEDULE_PROPERTIES,
  },
  BatchScheduleList: {
    type: 'object',
    required: ['schedules', 'unanswered'],
    additionalProperties: false,
    properties: { schedules: arrayOf('BatchSchedule'), unanswered: arrayOf('UnansweredModule') },
  },
  BatchJobType: {
    type: 'object',
    required: ['name', 'description', 'params'],
    additionalProperties: false,
    properties: {
      name: { type: 'string', example: 'sample-rows' },
      description: { type: 'string' },
      params: {
        type: 'object',
        additionalProperties: true,
        description: "the JSON Schema of the job's params",
      },
    },
  },
};
