import { existsSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import {
  parseCommand,
  ProcessEnv,
  processEnvHelp,
  readProcessEnv,
  UsageError,
} from '@plexus/config';
import { idProblem } from '@plexus/domain';

export { UsageError };

/** Everything the supervisor is told at start: flags and environment, checked. */
export interface SupervisorOptions extends ProcessEnv {
  nodeId: string;
  propertiesFile: string | null;
  /** Never more worker processes than this on this host, whatever is recommended. */
  maxProcesses: number;
}

export const DEFAULT_MAX_PROCESSES = 10;

function parseMax(value: string): number {
  if (!/^\d{1,3}$/.test(value) || Number(value) < 1)
    throw new InvalidArgumentError('must be an integer from 1 to 999.');
  return Number(value);
}

/**
 * Reads `--node-id ID [--properties FILE] [--max N]` and the environment (NATS_URL, NATS_CREDS,
 * NATS_INBOX_PREFIX, LOG_LEVEL, as the worker does, and handed on to the workers). Throws
 * UsageError naming the flag or variable that is wrong.
 */
export function parseSupervisorArgs(argv: string[], env: NodeJS.ProcessEnv): SupervisorOptions {
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
    .addHelpText('after', processEnvHelp('Environment (handed on to the workers)'));
  parseCommand(program, argv);
  const flags = program.opts<{ nodeId: string; properties?: string; max: number }>();
  const problem = idProblem('--node-id', flags.nodeId);
  if (problem) throw new UsageError(`${problem} (got "${flags.nodeId}")`);
  if (flags.properties !== undefined && !existsSync(flags.properties))
    throw new UsageError(`--properties names ${flags.properties}, which does not exist`);
  const processEnv = readProcessEnv(env);
  return {
    nodeId: flags.nodeId,
    propertiesFile: flags.properties ?? null,
    maxProcesses: flags.max,
    ...processEnv,
  };
}
