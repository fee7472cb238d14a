import { nullable, SchemaComponents } from '../openapi/schema-ref';

const upDown = { type: 'string' as const, enum: ['up', 'down'], example: 'up' };

/** What GET /health answers (with 200 or 503). */
export const HEALTH_SCHEMAS: SchemaComponents = {
  Health: {
    type: 'object',
    required: ['status', 'postgres', 'nats', 'relay', 'relayTerm', 'relayLagMs'],
    additionalProperties: false,
    properties: {
      status: { type: 'string', enum: ['ok', 'error'], example: 'ok' },
      postgres: upDown,
      nats: upDown,
      relay: { type: 'string', enum: ['leader', 'standby'], example: 'leader' },
      relayTerm: nullable({
        type: 'string',
        description: 'the leadership term this replica holds; null on a standby',
        example: '7',
      }),
      relayLagMs: { type: 'number', example: 4 },
    },
  },
};
