import { Command, InvalidArgumentError } from 'commander';
import {
  parseCommand,
  ProcessEnv,
  processEnvHelp,
  readProcessEnv,
  UsageError,
} from '@plexus/config';
import { DEFAULT_MAX_CHUNKS_PER_JOB, parseModuleTypeSources } from '@plexus/module-runtime';
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
  /** BATCH_JOB_MAX_CHUNKS: a batch job submitted here may have at most this many chunks. */
  batchJobMaxChunks: number;
  /** Decrypts the secrets of the node document: PLEXUS_SECRETS_KEY (and _PREVIOUS), if set. */
  secrets: SecretsDecryptor;
  /** The ID of PLEXUS_SECRETS_KEY; null when the process has no key. */
  secretsKeyId: string | null;
  /**
   * Packages (names, or paths absolute or relative to the working directory) whose module types
   * this process runs besides the built-ins: --module-types, else PLEXUS_MODULE_TYPES.
   */
  moduleTypeSources: string[];
}

function readMaxChunks(env: NodeJS.ProcessEnv): number {
  const raw = env.BATCH_JOB_MAX_CHUNKS?.trim();
  if (!raw) return DEFAULT_MAX_CHUNKS_PER_JOB;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1)
    throw new UsageError(
      `BATCH_JOB_MAX_CHUNKS must be a whole number of at least 1 (got "${raw}")`,
    );
  return Number(raw);
}

function parsePortOffset(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535)
    throw new InvalidArgumentError('must be an integer from 0 to 65535.');
  return Number(value);
}

/**
 * Reads `--node-id ID [--properties FILE] [--port-offset N]` and the environment (NATS_URL,
 * NATS_CREDS, NATS_INBOX_PREFIX, LOG_LEVEL, PLEXUS_SECRETS_KEY, BATCH_JOB_MAX_CHUNKS,
 * PLEXUS_MODULE_TYPES; `--module-types` wins over the last). Throws
 * UsageError naming the flag or variable that is wrong.
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
    .option(
      '--module-types <list>',
      'comma-separated packages or paths of module types to run besides the built-ins (overrides PLEXUS_MODULE_TYPES)',
    )
    .addHelpText(
      'after',
      `${processEnvHelp('Environment')}\n  BATCH_JOB_MAX_CHUNKS  chunks a batch job may have (default ${DEFAULT_MAX_CHUNKS_PER_JOB})\n  PLEXUS_MODULE_TYPES   as --module-types`,
    );
  parseCommand(program, argv);
  const flags = program.opts<{
    nodeId: string;
    properties?: string;
    portOffset: number;
    moduleTypes?: string;
  }>();
  const problem = idProblem('--node-id', flags.nodeId);
  if (problem) throw new UsageError(`${problem} (got "${flags.nodeId}")`);
  if (flags.properties !== undefined && flags.properties.trim() === '')
    throw new UsageError('--properties needs a file name');
  const processEnv = readProcessEnv(env);
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
    ...processEnv,
    batchJobMaxChunks: readMaxChunks(env),
    secrets: cipher ?? NO_SECRETS_KEY,
    secretsKeyId: cipher?.keyId ?? null,
    moduleTypeSources: parseModuleTypeSources(flags.moduleTypes ?? env.PLEXUS_MODULE_TYPES),
  };
}
