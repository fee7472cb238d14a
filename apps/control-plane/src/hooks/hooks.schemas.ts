import { HOOK_EVENT_TYPES } from '@plexus/domain';
import { dateTime, nullable, SchemaComponents, uuid } from '../openapi/schema-ref';

/** What the hooks routes answer. */
export const HOOKS_SCHEMAS: SchemaComponents = {
  Hook: {
    type: 'object',
    required: ['id', 'url', 'events', 'createdBy', 'createdAt', 'deletedAt', 'secret'],
    additionalProperties: false,
    properties: {
      id: uuid,
      url: { type: 'string', example: 'https://ops.example.com/plexus-events' },
      events: {
        type: 'array',
        items: { type: 'string', enum: [...HOOK_EVENT_TYPES] },
        example: ['ProcessLost', 'ProcessConfigFailed'],
      },
      createdBy: { type: 'string', example: 'admin' },
      createdAt: dateTime,
      deletedAt: nullable(dateTime),
      secret: {
        type: 'string',
        enum: ['******'],
        description: 'never shown: always ******',
      },
    },
  },
  HookDelivery: {
    type: 'object',
    required: [
      'deliveryId',
      'hookId',
      'eventId',
      'eventType',
      'status',
      'attempts',
      'nextAttemptAt',
      'lastOutcome',
      'outcomes',
      'createdAt',
      'updatedAt',
    ],
    additionalProperties: false,
    properties: {
      deliveryId: uuid,
      hookId: uuid,
      eventId: uuid,
      eventType: { type: 'string', example: 'ProcessLost' },
      status: {
        type: 'string',
        enum: ['pending', 'succeeded', 'failed', 'cancelled'],
        example: 'succeeded',
      },
      attempts: { type: 'integer', example: 1 },
      nextAttemptAt: nullable(dateTime),
      lastOutcome: nullable({ type: 'string', example: 'succeeded' }),
      outcomes: {
        type: 'array',
        description: 'every attempt, oldest first',
        items: {
          type: 'object',
          required: ['at', 'outcome'],
          additionalProperties: false,
          properties: {
            at: dateTime,
            outcome: {
              type: 'string',
              description:
                'succeeded, http-error, timeout, connection-error, target-refused or breaker-open',
              example: 'succeeded',
            },
            attempt: { type: 'integer', example: 1 },
            httpStatus: { type: 'integer', example: 204 },
            error: { type: 'string' },
            durationMs: { type: 'number', example: 12 },
            retryInMs: { type: 'number', description: 'the backoff before the next attempt' },
          },
        },
      },
      createdAt: dateTime,
      updatedAt: dateTime,
    },
  },
};
