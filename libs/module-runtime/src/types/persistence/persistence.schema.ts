import type { ConfigSchema } from '@plexus/module-sdk';

export const DEFAULT_MAX_TOTAL = 10;
export const DEFAULT_MAX_IDLE = 2;

/** Smile CDR's persistence keys that Plexus uses; the values are strings as in a properties file. */
export const persistenceConfigSchema: ConfigSchema = {
  type: 'object',
  properties: {
    'db.driver': {
      type: 'string',
      // JSON Schema patterns take no flags: "postgres" in any case
      pattern: '^[Pp][Oo][Ss][Tt][Gg][Rr][Ee][Ss]',
      'x-message': 'must name Postgres: "postgres" or a Smile CDR value such as POSTGRES_9_4',
    },
    'db.url': {
      type: 'string',
      pattern: '^(jdbc:postgresql|postgres|postgresql)://[^\\s/]+/[^\\s?/]+(\\?\\S*)?$',
      'x-message':
        'must be a Postgres URL with a database name: postgres://host:5432/db or jdbc:postgresql://host:5432/db',
    },
    'db.username': {
      type: 'string',
      maxLength: 63,
      'x-message': 'must be at most 63 characters',
    },
    'db.password': {
      type: 'string',
      maxLength: 1000,
      writeOnly: true,
      'x-message': 'must be at most 1000 characters',
    },
    'db.connectionpool.maxidle': {
      type: 'integer',
      minimum: 0,
      maximum: 999,
      default: DEFAULT_MAX_IDLE,
      'x-message': 'must be an integer from 0 to 999',
    },
    'db.connectionpool.maxtotal': {
      type: 'integer',
      minimum: 1,
      maximum: 999,
      default: DEFAULT_MAX_TOTAL,
      'x-message': 'must be an integer from 1 to 999',
    },
    'read_only_mode.enabled': {
      type: 'boolean',
      default: false,
      description: 'true: only read job status; run no jobs and no scheduler',
      'x-message': 'must be true or false',
    },
  },
  required: ['db.url'],
  additionalProperties: false,
};
