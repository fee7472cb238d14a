import { randomBytes } from 'node:crypto';
import { SecretsRotationEnv, validateEnv } from './env';

const token = { PLEXUS_ADMIN_TOKEN: 'an-admin-token-of-some-length' };
const key = randomBytes(32).toString('base64');
const problem = (run: () => unknown) => {
  try {
    run();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected the environment to be refused');
};

describe('control plane environment: PLEXUS_SECRETS_KEY', () => {
  it('is required, and the message names the variable and the form', () => {
    expect(problem(() => validateEnv({ ...token }))).toContain(
      'PLEXUS_SECRETS_KEY must be set: 32 random bytes in base64, e.g. from `openssl rand -base64 32`',
    );
  });

  it('must be 32 bytes of base64, as must every previous key', () => {
    expect(problem(() => validateEnv({ ...token, PLEXUS_SECRETS_KEY: 'c2hvcnQ=' }))).toContain(
      'PLEXUS_SECRETS_KEY must be 32 random bytes in base64',
    );
    expect(
      problem(() =>
        validateEnv({ ...token, PLEXUS_SECRETS_KEY: key, PLEXUS_SECRETS_KEY_PREVIOUS: 'x y' }),
      ),
    ).toContain('PLEXUS_SECRETS_KEY_PREVIOUS must be 32 random bytes in base64');
    expect(validateEnv({ ...token, PLEXUS_SECRETS_KEY: key }).PLEXUS_SECRETS_KEY).toBe(key);
  });

  it('is all that rotate-secrets needs besides the stores (no admin token)', () => {
    const env = validateEnv({ PLEXUS_SECRETS_KEY: key }, SecretsRotationEnv);
    expect(env.DATABASE_URL).toMatch(/^postgres:\/\//);
    expect(problem(() => validateEnv({}, SecretsRotationEnv))).toContain(
      'PLEXUS_SECRETS_KEY must be set',
    );
  });
});
