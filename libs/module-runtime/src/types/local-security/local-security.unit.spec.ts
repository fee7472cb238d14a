import { REDACTED, redactDocument } from '@plexus/domain';
import { builtInModuleTypes } from '../../built-in-types';
import { describeConfig } from '../../config-schema';
import { hashPassword } from './passwords';

const registry = builtInModuleTypes();
const type = registry.get('local-security')!;

describe('the local-security module type', () => {
  it('is registered, provides SECURITY_IN_UP and keeps users secret', () => {
    expect(type).toMatchObject({ type: 'local-security' });
    expect(type.provides).toEqual(['SECURITY_IN_UP']);
    expect(type.secretKeys).toEqual(['users']);
    expect(describeConfig(type.configSchema).map((d) => [d.key, d.required])).toEqual([
      ['users', false],
      ['sessions.timeout.mins', false],
      ['sessions.realm', false],
    ]);
  });

  it('accepts users, fractional timeouts and a realm', async () => {
    const users = `alice:${await hashPassword('a', { N: 1024 })}`;
    expect(type.validateConfig({})).toEqual([]);
    for (const mins of ['30', '0.05', '1.5', '10080'])
      expect(type.validateConfig({ users, 'sessions.timeout.mins': mins })).toEqual([]);
    expect(type.validateConfig({ 'sessions.realm': 'corp.sso/main' })).toEqual([]);
  });

  it.each(['0', '-1', 'abc', '10081', '1e3', '', '0.0'])('refuses a timeout of %j', (mins) => {
    expect(type.validateConfig({ 'sessions.timeout.mins': mins })).toEqual([
      'config.sessions.timeout.mins must be a positive number of minutes up to 10080 (7 days); fractions are allowed, e.g. 0.5',
    ]);
  });

  it('refuses bad users without echoing them, bad realms and unknown keys', () => {
    expect(type.validateConfig({ users: 'alice:hunter2' })).toEqual([
      'config.users entry 1: a password hash must be scrypt$N$r$p$salt$hash (salt and hash base64url)',
    ]);
    expect(type.validateConfig({ 'sessions.realm': 'no spaces' })).toEqual([
      'config.sessions.realm must be 1-100 characters of A-Z a-z 0-9 _ - . /',
    ]);
    expect(type.validateConfig({ 'sessions.timeout': '3' })).toEqual([
      'config.sessions.timeout is not a key of this module type',
    ]);
  });

  it('has its users redacted in documents', () => {
    const doc = redactDocument(
      {
        nodeId: 'n',
        version: 1,
        archived: false,
        properties: {},
        modules: [
          {
            moduleId: 'sec',
            type: 'local-security',
            config: { users: 'alice:scrypt$...', 'sessions.timeout.mins': '30' },
            requires: {},
            enabled: true,
            activation: 'all',
            generation: 0,
          },
        ],
      },
      registry,
    );
    expect(doc.modules[0].config).toEqual({ users: REDACTED, 'sessions.timeout.mins': '30' });
  });
});
