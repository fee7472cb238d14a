import { existsSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { DEFAULT_NATS_URL } from '@plexus/bus';
import { idProblem } from '@plexus/domain';

/** Everything the supervisor is told at start: flags and environment, checked. */
export interface SupervisorOptions {
  nodeId: string;
  propertiesFile: string | null;
  /** Never more worker processes than this on this host, whatever is recommended. */
  maxProcesses: number;
  natsUrl: string;
  natsCredsFile: string | null;
  logLevel: string;
}

/** A bad flag or variable: print the message and exit with `exitCode` (0 for --help). */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export const DEFAULT_MAX_PROCESSES = 10;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function parseMax(value: string): number {
  if (!/^\d{1,3}$/.test(value) || Number(value) < 1)
    throw new InvalidArgumentError('must be an integer from 1 to 999.');
  return Number(value);
}

/**
 * Reads `--node-id ID [--properties FILE] [--max N]` and the environment (NATS_URL, NATS_CREDS,
 * LOG_LEVEL, as the worker does, and handed on to the workers). Throws UsageError naming the
 * flag or variable that is wrong.
 */
export function parseSupervisorArgs(argv: string[], env: NodeJS.ProcessEnv): SupervisorOptions {
  let output = '';
  const program = new Command()
    .name('plexus-supervisor')
    .description(
      "Keeps the recommended number of worker processes of one node running on this host (the node's scaling policy decides how many).",
    )
    .requiredOption('--node-id <id>', 'the node whose processes to run')
    .option(
      '--properties <file>',
      'handed to every worker: creates the node when it does not exist',
    )
    .option(
      '--max <n>',
      'never more processes than this on this host',
      parseMax,
      DEFAULT_MAX_PROCESSES,
    )
    .addHelpText(
      'after',
      `\nEnvironment (handed on to the workers):\n  NATS_URL   NATS server (default ${DEFAULT_NATS_URL})\n  NATS_CREDS .creds file for NATS (optional)\n  LOG_LEVEL  ${LOG_LEVELS.join(', ')} (default info)`,
    )
    .exitOverride()
    .configureOutput({
      writeOut: (text) => (output += text),
      writeErr: (text) => (output += text),
    });
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError)
      throw new UsageError(output.trim() || err.message, err.exitCode === 0 ? 0 : 2);
    throw err;
  }
  const flags = program.opts<{ nodeId: string; properties?: string; max: number }>();
  const problem = idProblem('--node-id', flags.nodeId);
  if (problem) throw new UsageError(`${problem} (got "${flags.nodeId}")`);
  if (flags.properties !== undefined && !existsSync(flags.properties))
    throw new UsageError(`--properties names ${flags.properties}, which does not exist`);
  const natsUrl = env.NATS_URL?.trim() || DEFAULT_NATS_URL;
  if (!/^(nats|tls):\/\/[^/]/.test(natsUrl))
    throw new UsageError(`NATS_URL must be a nats:// or tls:// URL with a host (got "${natsUrl}")`);
  const natsCredsFile = env.NATS_CREDS?.trim() || null;
  if (natsCredsFile && !existsSync(natsCredsFile))
    throw new UsageError(`NATS_CREDS names ${natsCredsFile}, which does not exist`);
  const logLevel = env.LOG_LEVEL?.trim() || 'info';
  if (!LOG_LEVELS.includes(logLevel))
    throw new UsageError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);
  return {
    nodeId: flags.nodeId,
    propertiesFile: flags.properties ?? null,
    maxProcesses: flags.max,
    natsUrl,
    natsCredsFile,
    logLevel,
  };
}
