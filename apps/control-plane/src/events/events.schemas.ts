import { arrayOf, dateTime, nullable, SchemaComponents, uuid } from '../openapi/schema-ref';

/** What the events routes answer. */
export const EVENTS_SCHEMAS: SchemaComponents = {
  Event: {
    type: 'object',
    description: 'an event as recorded; secrets in `data` are redacted',
    required: [
      'eventId',
      'nodeId',
      'streamId',
      'version',
      'position',
      'type',
      'data',
      'metadata',
      'recordedAt',
    ],
    additionalProperties: false,
    properties: {
      eventId: uuid,
      nodeId: { type: 'string', example: 'fhir_node' },
      streamId: {
        type: 'string',
        description: 'the node ID, or process/<id> and scaling/<node> for their own streams',
        example: 'fhir_node',
      },
      version: { type: 'integer', description: 'its version in its stream', example: 3 },
      position: {
        type: 'string',
        pattern: '^\\d+$',
        description: 'global position (a decimal integer as a string)',
        example: '1042',
      },
      type: { type: 'string', example: 'ModuleConfigChanged' },
      data: {
        type: 'object',
        additionalProperties: true,
        example: {
          moduleId: 'fhir_endpoint',
          changes: [{ key: 'message', old: 'hello', new: 'hi' }],
        },
      },
      metadata: {
        type: 'object',
        required: ['actor', 'correlationId'],
        additionalProperties: true,
        properties: {
          actor: { type: 'string', example: 'admin' },
          correlationId: { type: 'string', example: '5e0f6a0e-1c2b-4d1e-8f3a-2b7c9d0e1f2a' },
          reason: { type: 'string', example: 'raise the session timeout' },
        },
      },
      recordedAt: dateTime,
    },
  },
  EventPage: {
    type: 'object',
    required: ['events', 'next'],
    additionalProperties: false,
    properties: {
      events: arrayOf('Event'),
      next: nullable({
        type: 'string',
        description: 'pass as `after` for the next page; null on the last one',
      }),
    },
  },
};
