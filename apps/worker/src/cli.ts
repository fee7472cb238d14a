import { Command, InvalidArgumentError } from 'commander';
import {
  parseCommand,
  ProcessEnv,
  processEnvHelp,
  readProcessEnv,
  UsageError,
} from '@plexus/config';
import { idProblem } from '@plexus/domain';
import {
  NO_SECRETS_KEY,
  SecretsDecryptor,
  SecretsKeyError,
  secretsCipherFromEnv,
} from '@plexus/secrets-crypto';

export { UsageError };

/** Everything the worker is told at start: flags and environment, checked. */
export interface WorkerOptions extends ProcessEnv {
  nodeId: string;
  propertiesFile: string | null;
  portOffset: number;
  /** Decrypts the secrets of the node document: PLEXUS_SECRETS_KEY (and _PREVIOUS), if set. */
  secrets: SecretsDecryptor;
  /** The ID of PLEXUS_SECRETS_KEY; null when the process has no key. */
  secretsKeyId: string | null;
}

function parsePortOffset(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535)
    throw new InvalidArgumentError('must be an integer from 0 to 65535.');
  return Number(value);
}

/**
 * Reads `--node-id ID [--properties FILE] [--port-offset N]` and the environment (NATS_URL,
 * LOG_LEVEL, PLEXUS_SECRETS_KEY). Throws UsageError naming the flag or variable that is wrong.
 */
export function parseWorkerArgs(argv: string[], env: NodeJS.ProcessEnv): WorkerOptions {
  const program = new Command()
    .name('plexus-worker')
    .description('Runs the modules of one Plexus node in this process and keeps them in step.')
    .requiredOption('--node-id <id>', 'the node this process runs (1-30 of A-Z a-z 0-9 _ - .)')
    .option(
      '--properties <file>',
      'node properties file, used to create the node when it does not exist yet',
    )
    .option('--port-offset <n>', 'added to every port this process listens on', parsePortOffset, 0)
    .addHelpText('after', processEnvHelp('Environment'));
  parseCommand(program, argv);
  const flags = program.opts<{ nodeId: string; properties?: string; portOffset: number }>();
  const problem = idProblem('--node-id', flags.nodeId);
  if (problem) throw new UsageError(`${problem} (got "${flags.nodeId}")`);
  if (flags.properties !== undefined && flags.properties.trim() === '')
    throw new UsageError('--properties needs a file name');
  const { natsUrl, natsCredsFile, logLevel } = readProcessEnv(env);
  let cipher;
  try {
    cipher = secretsCipherFromEnv(env);
  } catch (err) {
    if (err instanceof SecretsKeyError) throw new UsageError(err.message);
    throw err;
  }

  return {
    nodeId: flags.nodeId,
    propertiesFile: flags.properties ?? null,
    portOffset: flags.portOffset,
    natsUrl,
    natsCredsFile,
    logLevel,
    secrets: cipher ?? NO_SECRETS_KEY,
    secretsKeyId: cipher?.keyId ?? null,
  };
}
