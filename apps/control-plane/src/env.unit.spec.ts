import { randomBytes } from 'node:crypto';
import { SecretsRotationEnv, validateEnv } from './env';

const token = { PLEXUS_ADMIN_TOKEN: 'an-admin-token-of-some-length' };
const key = randomBytes(32).toString('base64');
const base = { ...token, PLEXUS_SECRETS_KEY: key };
const problem = (run: () => unknown) => {
  try {
    run();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected the environment to be refused');
};

describe('control-plane environment', () => {
  it('binds the admin API where it always did, and allows public webhook targets only, by default', () => {
    const env = validateEnv(base);
    expect(env.BIND_ADDRESS).toBe('0.0.0.0');
    expect(env.WEBHOOK_ALLOWED_HOSTS).toBe('external');
  });

  it.each(['127.0.0.1', '::1', '::', '10.1.2.3', 'fd00::2'])('takes BIND_ADDRESS %s', (address) => {
    expect(validateEnv({ ...base, BIND_ADDRESS: address }).BIND_ADDRESS).toBe(address);
  });

  it.each(['localhost', '127.0.0.256', '', '0.0.0.0:9000'])(
    'refuses BIND_ADDRESS %j naming it',
    (address) => {
      expect(() => validateEnv({ ...base, BIND_ADDRESS: address })).toThrow(
        'BIND_ADDRESS must be an IP address (IPv4 or IPv6) of this host, e.g. 127.0.0.1 or 0.0.0.0',
      );
    },
  );

  it('takes a WEBHOOK_ALLOWED_HOSTS list and fails fast naming a bad entry', () => {
    expect(
      validateEnv({ ...base, WEBHOOK_ALLOWED_HOSTS: 'external,private,*.corp.example' })
        .WEBHOOK_ALLOWED_HOSTS,
    ).toBe('external,private,*.corp.example');
    expect(() => validateEnv({ ...base, WEBHOOK_ALLOWED_HOSTS: 'external,10.0.0.0/40' })).toThrow(
      /WEBHOOK_ALLOWED_HOSTS entry "10.0.0.0\/40" is not/,
    );
  });

  it("takes NATS_URL as a comma-separated list of a cluster's servers and names a bad entry", () => {
    const list = 'nats://a:4222, nats://b:4222,tls://c:4222';
    expect(validateEnv({ ...base, NATS_URL: list }).NATS_URL).toBe(list);
    expect(problem(() => validateEnv({ ...base, NATS_URL: 'nats://a:4222,http://b:4222' }))).toBe(
      'invalid environment: NATS_URL entry 2 of 2 must be a nats:// or tls:// URL with a host, such as nats://127.0.0.1:4222; servers are separated by commas (got "http://b:4222")',
    );
    expect(problem(() => validateEnv({ ...base, NATS_URL: 'nats://a:4222,' }))).toMatch(
      /NATS_URL entry 2 of 2 must be .* \(got ""\)/,
    );
  });

  it('takes NATS_REPLICAS from 1 to 5, unset by default (the cluster size decides)', () => {
    expect(validateEnv(base).NATS_REPLICAS).toBeUndefined();
    expect(validateEnv({ ...base, NATS_REPLICAS: '3' }).NATS_REPLICAS).toBe(3);
    for (const bad of ['0', '6', 'three'])
      expect(problem(() => validateEnv({ ...base, NATS_REPLICAS: bad }))).toMatch(
        /NATS_REPLICAS must be an integer from 1 to 5/,
      );
  });
});

describe('control plane environment: the limit on failed authentication', () => {
  it('allows 20 failures a minute by default, and 0 turns it off', () => {
    const env = validateEnv(base);
    expect([env.PLEXUS_AUTH_FAILURE_LIMIT, env.PLEXUS_AUTH_FAILURE_WINDOW_SECONDS]).toEqual([
      20, 60,
    ]);
    expect(validateEnv({ ...base, PLEXUS_AUTH_FAILURE_LIMIT: '0' }).PLEXUS_AUTH_FAILURE_LIMIT).toBe(
      0,
    );
  });

  it.each([
    [
      'PLEXUS_AUTH_FAILURE_LIMIT',
      'ten',
      'PLEXUS_AUTH_FAILURE_LIMIT must be an integer (0: no limit)',
    ],
    [
      'PLEXUS_AUTH_FAILURE_LIMIT',
      '-1',
      'PLEXUS_AUTH_FAILURE_LIMIT must be at least 0 (0: no limit)',
    ],
    [
      'PLEXUS_AUTH_FAILURE_LIMIT',
      '2.5',
      'PLEXUS_AUTH_FAILURE_LIMIT must be an integer (0: no limit)',
    ],
    ['PLEXUS_AUTH_FAILURE_WINDOW_SECONDS', '0', 'must be from 1 to 86400 (a day)'],
    ['PLEXUS_AUTH_FAILURE_WINDOW_SECONDS', '100000', 'must be from 1 to 86400 (a day)'],
    [
      'PLEXUS_AUTH_FAILURE_WINDOW_SECONDS',
      '1m',
      'PLEXUS_AUTH_FAILURE_WINDOW_SECONDS must be an integer',
    ],
  ])('refuses %s=%s at start, naming the variable and the rule', (name, value, message) => {
    expect(problem(() => validateEnv({ ...base, [name]: value }))).toContain(message);
  });
});

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
