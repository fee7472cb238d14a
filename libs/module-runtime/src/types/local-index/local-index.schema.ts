import type { ConfigSchema } from '@plexus/module-sdk';

export const localIndexConfigSchema: ConfigSchema = {
  type: 'object',
  properties: {
    'index.path': {
      type: 'string',
      pattern: '^\\S.*$',
      description:
        "directory of the index on this host's disk; default: a folder per node and module under the OS temp dir",
      'x-message': 'must be a directory path',
    },
  },
  additionalProperties: false,
};
