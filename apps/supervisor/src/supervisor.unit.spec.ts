import { parseSupervisorArgs, UsageError } from './cli';

const usage = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  try {
    parseSupervisorArgs(argv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('expected a UsageError');
};

describe('parseSupervisorArgs', () => {
  it('reads the flags and defaults --max and NATS_URL', () => {
    expect(
      parseSupervisorArgs(['--node-id', 'fhir_node', '--properties', __filename, '--max', '4'], {}),
    ).toEqual({
      nodeId: 'fhir_node',
      propertiesFile: __filename,
      maxProcesses: 4,
      natsUrl: 'nats://127.0.0.1:4222',
      natsCredsFile: null,
      natsInboxPrefix: '_INBOX',
      logLevel: 'info',
    });
    expect(
      parseSupervisorArgs(['--node-id', 'n'], { NATS_URL: 'nats://u:p@nats:4222' }),
    ).toMatchObject({ maxProcesses: 10, propertiesFile: null, natsUrl: 'nats://u:p@nats:4222' });
  });

  it('names the flag or variable that is wrong', () => {
    expect(usage([]).message).toMatch(/--node-id/);
    expect(usage(['--node-id', 'bad id']).message).toMatch(/--node-id/);
    expect(usage(['--node-id', 'n', '--max', '0']).message).toMatch(/--max.*1 to 999/);
    expect(usage(['--node-id', 'n', '--properties', '/nonexistent.properties']).message).toMatch(
      /--properties names \/nonexistent.properties/,
    );
    expect(usage(['--node-id', 'n'], { NATS_URL: 'http://x' }).message).toMatch(/^NATS_URL/);
    expect(usage(['--node-id', 'n'], { LOG_LEVEL: 'loud' }).message).toMatch(/^LOG_LEVEL/);
    expect(usage(['--node-id', 'n'], { NATS_INBOX_PREFIX: 'x.>' }).message).toMatch(
      /^NATS_INBOX_PREFIX/,
    );
    expect(usage(['--help']).exitCode).toBe(0);
  });
});
