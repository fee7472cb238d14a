import { isIP } from 'node:net';
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
import { DEFAULT_HELPER_THREAD_NICE } from './helper-threads';
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
  /** HEALTH_CHECK_MS: how often every module's health is checked. */
  healthCheckMs: number;
  /** HELPER_THREAD_NICE: the nice value of V8's helper threads (0: left as they are). */
  helperThreadNice: number;
  /**
   * `--management-port N` (plus the port offset, like module ports) and `--management-bind`:
   * where GET /health and GET /metrics are served; null without the flag (then nothing is).
   */
  management: { port: number; host: string } | null;
}

export const DEFAULT_HEALTH_CHECK_MS = 5000;

function readHealthCheckMs(env: NodeJS.ProcessEnv): number {
  const raw = env.HEALTH_CHECK_MS?.trim();
  if (!raw) return DEFAULT_HEALTH_CHECK_MS;
  if (!/^\d{1,7}$/.test(raw) || Number(raw) < 100)
    throw new UsageError(
      `HEALTH_CHECK_MS must be a whole number of milliseconds, at least 100 (got "${raw}")`,
    );
  return Number(raw);
}

function readHelperThreadNice(env: NodeJS.ProcessEnv): number {
  const raw = env.HELPER_THREAD_NICE?.trim();
  if (!raw) return DEFAULT_HELPER_THREAD_NICE;
  if (!/^\d{1,2}$/.test(raw) || Number(raw) > 19)
    throw new UsageError(`HELPER_THREAD_NICE must be a whole number from 0 to 19 (got "${raw}")`);
  return Number(raw);
}

function parseManagementPort(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535)
    throw new InvalidArgumentError('must be a port from 1 to 65535.');
  return Number(value);
}

function parseBindAddress(value: string): string {
  if (!isIP(value)) throw new InvalidArgumentError('must be an IPv4 or IPv6 address.');
  return value;
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
 * Reads `--node-id ID [--properties FILE] [--port-offset N] [--management-port N
 * [--management-bind ADDRESS]] [--module-types LIST]` and the environment (NATS_URL, NATS_CREDS,
 * NATS_INBOX_PREFIX, LOG_LEVEL, PLEXUS_SECRETS_KEY, BATCH_JOB_MAX_CHUNKS, HEALTH_CHECK_MS,
 * HELPER_THREAD_NICE, PLEXUS_MODULE_TYPES; `--module-types` wins over the last). Throws
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
      '--management-port <n>',
      'serve GET /health and GET /metrics on this port (plus the port offset); off without it',
      parseManagementPort,
    )
    .option(
      '--management-bind <address>',
      'address of the management port',
      parseBindAddress,
      '127.0.0.1',
    )
    .option(
      '--module-types <list>',
      'comma-separated packages or paths of module types to run besides the built-ins (overrides PLEXUS_MODULE_TYPES)',
    )
    .addHelpText(
      'after',
      `${processEnvHelp('Environment')}\n  BATCH_JOB_MAX_CHUNKS  chunks a batch job may have (default ${DEFAULT_MAX_CHUNKS_PER_JOB})\n  HEALTH_CHECK_MS       how often every module's health is checked (default ${DEFAULT_HEALTH_CHECK_MS})\n  HELPER_THREAD_NICE    nice value of V8's compiler and GC helper threads, 0-19 (default ${DEFAULT_HELPER_THREAD_NICE}; 0 leaves them)\n  PLEXUS_MODULE_TYPES   as --module-types`,
    );
  parseCommand(program, argv);
  const flags = program.opts<{
    nodeId: string;
    properties?: string;
    portOffset: number;
    managementPort?: number;
    managementBind: string;
    moduleTypes?: string;
  }>();
  const problem = idProblem('--node-id', flags.nodeId);
  if (problem) throw new UsageError(`${problem} (got "${flags.nodeId}")`);
  if (flags.properties !== undefined && flags.properties.trim() === '')
    throw new UsageError('--properties needs a file name');
  if (flags.managementPort !== undefined && flags.managementPort + flags.portOffset > 65535)
    throw new UsageError(
      `--management-port plus --port-offset must be at most 65535 (got ${flags.managementPort} + ${flags.portOffset})`,
    );
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
    healthCheckMs: readHealthCheckMs(env),
    helperThreadNice: readHelperThreadNice(env),
    management:
      flags.managementPort === undefined
        ? null
        : { port: flags.managementPort + flags.portOffset, host: flags.managementBind },
    moduleTypeSources: parseModuleTypeSources(flags.moduleTypes ?? env.PLEXUS_MODULE_TYPES),
  };
}
