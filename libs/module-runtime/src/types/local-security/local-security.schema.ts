import type { ConfigSchema } from '@plexus/module-sdk';
import type { StringMap } from '@plexus/domain';
import { MAX_TIMEOUT_MINS, REALM_RULE } from '@plexus/sessions';
import { compileConfigValidator } from '../../config-validation';
import { parseUsers } from './passwords';

export const DEFAULT_TIMEOUT_MINS = 30;

export const TIMEOUT_RULE = `must be a positive number of minutes up to ${MAX_TIMEOUT_MINS} (7 days); fractions are allowed, e.g. 0.5`;

export const localSecurityConfigSchema: ConfigSchema = {
  type: 'object',
  properties: {
    users: {
      type: 'string',
      writeOnly: true,
      description: '"name:hash" entries separated by ";", each hash scrypt$N$r$p$salt$hash',
    },
    'sessions.timeout.mins': {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: MAX_TIMEOUT_MINS,
      default: DEFAULT_TIMEOUT_MINS,
      description: 'idle timeout of a session in minutes, fractions allowed',
      'x-message': TIMEOUT_RULE,
    },
    'sessions.realm': {
      type: 'string',
      pattern: '^[A-Za-z0-9_./-]{1,100}$',
      description:
        'processes of modules with the same realm share sessions (default "<nodeId>/<moduleId>")',
      'x-message': `must be ${REALM_RULE}`,
    },
  },
  additionalProperties: false,
};

const checkSchema = compileConfigValidator(localSecurityConfigSchema);

/** Plain decimal minutes only: "1e3" or "0x10" would pass as numbers but read as typos. */
const DECIMAL_MINUTES = /^\s*\d{1,6}(\.\d{1,9})?\s*$/;

/**
 * The schema, and what it cannot say: the users list parses (problems name entries by position,
 * never by content), and the timeout is written as plain decimal minutes.
 */
export function validateLocalSecurityConfig(config: StringMap): string[] {
  const problems = checkSchema(config);
  const mins = config['sessions.timeout.mins'];
  if (mins !== undefined && !DECIMAL_MINUTES.test(mins))
    problems.push(`config.sessions.timeout.mins ${TIMEOUT_RULE}`);
  if (typeof config.users === 'string')
    problems.push(...parseUsers(config.users).problems.map((p) => `config.${p}`));
  return [...new Set(problems)];
}
