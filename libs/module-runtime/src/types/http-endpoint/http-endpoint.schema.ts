import type { ConfigSchema } from '@plexus/module-sdk';

export const DEFAULT_MESSAGE = 'Hello from Plexus';

export const httpEndpointConfigSchema: ConfigSchema = {
  type: 'object',
  properties: {
    port: {
      type: 'integer',
      minimum: 0,
      maximum: 65535,
      description: 'port to listen on, plus the process port offset',
      'x-message': 'must be an integer from 0 to 65535',
    },
    message: {
      type: 'string',
      maxLength: 1000,
      default: DEFAULT_MESSAGE,
      description: 'what GET / answers in "message"',
      'x-message': 'must be shorter than or equal to 1000 characters',
    },
    bind_address: {
      type: 'string',
      anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }],
      default: '127.0.0.1',
      description: 'address to listen on',
      'x-message': 'must be an IPv4 or IPv6 address',
    },
  },
  required: ['port'],
  additionalProperties: false,
};
