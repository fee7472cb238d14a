import { randomBytes } from 'node:crypto';
import { NO_SECRETS_KEY, SecretsCipher } from '@plexus/secrets-crypto';
import { parseWorkerArgs, UsageError } from './cli';

const usage = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  try {
    parseWorkerArgs(argv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('expected a UsageError');
};

describe('parseWorkerArgs', () => {
  it('reads the flags and defaults NATS_URL', () => {
    expect(
      parseWorkerArgs(
        ['--node-id', 'fhir_node', '--port-offset', '10', '--properties', 'a.properties'],
        {},
      ),
    ).toEqual({
      nodeId: 'fhir_node',
      propertiesFile: 'a.properties',
      portOffset: 10,
      natsUrl: 'nats://127.0.0.1:4222',
      natsCredsFile: null,
      natsInboxPrefix: '_INBOX',
      logLevel: 'info',
      batchJobMaxChunks: 100_000,
      secrets: NO_SECRETS_KEY,
      secretsKeyId: null,
      healthCheckMs: 5000,
      helperThreadNice: 19,
      management: null,
      moduleTypeSources: [],
    });
    expect(parseWorkerArgs(['--node-id', 'n'], { NATS_URL: 'nats://u:p@nats:4222' })).toMatchObject(
      {
        portOffset: 0,
        propertiesFile: null,
        natsUrl: 'nats://u:p@nats:4222',
      },
    );
  });

  it('takes a NATS .creds file that exists, and refuses one that does not', () => {
    expect(parseWorkerArgs(['--node-id', 'n'], { NATS_CREDS: __filename }).natsCredsFile).toBe(
      __filename,
    );
    expect(() => parseWorkerArgs(['--node-id', 'n'], { NATS_CREDS: '/no/such.creds' })).toThrow(
      /NATS_CREDS names \/no\/such.creds, which does not exist/,
    );
  });

  it('takes an inbox prefix of its own (a per-node NATS user may subscribe only to its own)', () => {
    expect(
      parseWorkerArgs(['--node-id', 'n'], { NATS_INBOX_PREFIX: '_INBOX_fhir_node' })
        .natsInboxPrefix,
    ).toBe('_INBOX_fhir_node');
    expect(
      parseWorkerArgs(['--node-id', 'n'], { NATS_INBOX_PREFIX: 'inbox.fhir-node' }).natsInboxPrefix,
    ).toBe('inbox.fhir-node');
    for (const bad of ['_INBOX.>', 'a b', 'a..b', '.a', 'a.*', 'x'.repeat(101)])
      expect(usage(['--node-id', 'n'], { NATS_INBOX_PREFIX: bad }).message).toMatch(
        /^NATS_INBOX_PREFIX must be subject tokens of A-Z a-z 0-9 _ - \$ joined by "\."/,
      );
  });

  it('reads BATCH_JOB_MAX_CHUNKS, the cap on chunks per batch job, naming it when wrong', () => {
    expect(
      parseWorkerArgs(['--node-id', 'n'], { BATCH_JOB_MAX_CHUNKS: '5000' }).batchJobMaxChunks,
    ).toBe(5000);
    expect(usage(['--node-id', 'n'], { BATCH_JOB_MAX_CHUNKS: '0' }).message).toBe(
      'BATCH_JOB_MAX_CHUNKS must be a whole number of at least 1 (got "0")',
    );
    expect(usage(['--node-id', 'n'], { BATCH_JOB_MAX_CHUNKS: '1e9' }).message).toMatch(
      /^BATCH_JOB_MAX_CHUNKS must be a whole number/,
    );
  });

  it('reads the module type packages from --module-types, else PLEXUS_MODULE_TYPES', () => {
    const env = { PLEXUS_MODULE_TYPES: '@acme/cache-types, ./local/types.js' };
    expect(parseWorkerArgs(['--node-id', 'n'], env).moduleTypeSources).toEqual([
      '@acme/cache-types',
      './local/types.js',
    ]);
    expect(
      parseWorkerArgs(['--node-id', 'n', '--module-types', '/opt/types,'], env).moduleTypeSources,
    ).toEqual(['/opt/types']);
  });

  it('refuses a bad node ID with the rule', () => {
    const err = usage(['--node-id', 'has space']);
    expect(err.message).toMatch(/--node-id must be 1-30 characters/);
    expect(err.exitCode).toBe(2);
    expect(usage(['--node-id', 'x'.repeat(31)]).message).toMatch(/at most 30/);
  });

  it('requires --node-id and a sane --port-offset', () => {
    expect(usage([]).message).toMatch(/--node-id/);
    expect(usage(['--node-id', 'n', '--port-offset', '1.5']).message).toMatch(/--port-offset/);
    expect(usage(['--node-id', 'n', '--port-offset', '70000']).message).toMatch(/0 to 65535/);
  });

  it('takes NATS_URL as a list of servers and names the entry that is not a NATS URL', () => {
    const list = 'nats://a:4222,nats://b:4222';
    expect(parseWorkerArgs(['--node-id', 'n'], { NATS_URL: list }).natsUrl).toBe(list);
    expect(usage(['--node-id', 'n'], { NATS_URL: 'nats://a:4222,b:4222' }).message).toBe(
      'NATS_URL entry 2 of 2 must be a nats:// or tls:// URL with a host, such as nats://127.0.0.1:4222; servers are separated by commas (got "b:4222")',
    );
  });

  it('names NATS_URL when it is not a NATS URL', () => {
    expect(usage(['--node-id', 'n'], { NATS_URL: 'http://x:1' }).message).toMatch(
      /^NATS_URL must be/,
    );
    expect(usage(['--node-id', 'n'], { NATS_URL: 'not a url' }).message).toMatch(
      /^NATS_URL must be/,
    );
  });

  it('decrypts with PLEXUS_SECRETS_KEY (and _PREVIOUS), and names the variable when it is malformed', () => {
    const [current, previous] = [randomBytes(32), randomBytes(32)];
    const options = parseWorkerArgs(['--node-id', 'n'], {
      PLEXUS_SECRETS_KEY: current.toString('base64'),
      PLEXUS_SECRETS_KEY_PREVIOUS: previous.toString('base64'),
    });
    expect(options.secretsKeyId).toBe(new SecretsCipher(current).keyId);
    expect(options.secrets.decrypt(new SecretsCipher(previous).encrypt('x'))).toBe('x');
    expect(usage(['--node-id', 'n'], { PLEXUS_SECRETS_KEY: 'abc' }).message).toMatch(
      /^PLEXUS_SECRETS_KEY must be 32 random bytes in base64/,
    );
  });

  it('answers --help with exit code 0', () => {
    const err = usage(['--help']);
    expect(err.exitCode).toBe(0);
    expect(err.message).toMatch(/--node-id <id>/);
  });

  it('reads the management port (offset like module ports), its address and HEALTH_CHECK_MS', () => {
    expect(
      parseWorkerArgs(['--node-id', 'n', '--port-offset', '100', '--management-port', '9100'], {
        HEALTH_CHECK_MS: '250',
      }),
    ).toMatchObject({ management: { port: 9200, host: '127.0.0.1' }, healthCheckMs: 250 });
    expect(
      parseWorkerArgs(
        ['--node-id', 'n', '--management-port', '9100', '--management-bind', '::1'],
        {},
      ),
    ).toMatchObject({ management: { port: 9100, host: '::1' } });
    expect(usage(['--node-id', 'n', '--management-port', '0']).message).toMatch(
      /--management-port.*must be a port from 1 to 65535/,
    );
    expect(
      usage(['--node-id', 'n', '--management-port', '65000', '--port-offset', '1000']).message,
    ).toBe('--management-port plus --port-offset must be at most 65535 (got 65000 + 1000)');
    expect(
      usage(['--node-id', 'n', '--management-port', '9100', '--management-bind', 'localhost'])
        .message,
    ).toMatch(/--management-bind.*must be an IPv4 or IPv6 address/);
    expect(usage(['--node-id', 'n'], { HEALTH_CHECK_MS: '10' }).message).toBe(
      'HEALTH_CHECK_MS must be a whole number of milliseconds, at least 100 (got "10")',
    );
  });

  it('reads HELPER_THREAD_NICE, 0 to 19', () => {
    expect(parseWorkerArgs(['--node-id', 'n'], { HELPER_THREAD_NICE: '0' }).helperThreadNice).toBe(
      0,
    );
    expect(parseWorkerArgs(['--node-id', 'n'], { HELPER_THREAD_NICE: '10' }).helperThreadNice).toBe(
      10,
    );
    for (const bad of ['20', '-1', 'low', '1.5'])
      expect(usage(['--node-id', 'n'], { HELPER_THREAD_NICE: bad }).message).toBe(
        `HELPER_THREAD_NICE must be a whole number from 0 to 19 (got "${bad}")`,
      );
  });
});
