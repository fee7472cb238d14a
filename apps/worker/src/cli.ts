import { existsSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { DEFAULT_NATS_URL } from '@plexus/bus';
import { idProblem } from '@plexus/domain';

/** Everything the worker is told at start: flags and environment, checked. */
export interface WorkerOptions {
  nodeId: string;
  propertiesFile: string | null;
  portOffset: number;
  natsUrl: string;
  /** NATS_CREDS: a .creds file (JWT and NKey seed) for servers in operator mode. */
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

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function parsePortOffset(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535)
    throw new InvalidArgumentError('must be an integer from 0 to 65535.');
  return Number(value);
}

/** NATS_URL: one nats:// or tls:// URL with a host (credentials in it are allowed). */
export function natsUrlProblem(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `NATS_URL must be a nats:// or tls:// URL such as ${DEFAULT_NATS_URL} (got "${value}")`;
  }
  if (!['nats:', 'tls:'].includes(url.protocol) || !url.hostname)
    return `NATS_URL must be a nats:// or tls:// URL with a host, such as ${DEFAULT_NATS_URL} (got "${value}")`;
  return null;
}

/**
 * Reads `--node-id ID [--properties FILE] [--port-offset N]` and the environment (NATS_URL,
 * LOG_LEVEL). Throws UsageError naming the flag or variable that is wrong.
 */
export function parseWorkerArgs(argv: string[], env: NodeJS.ProcessEnv): WorkerOptions {
  let output = '';
  const program = new Command()
    .name('plexus-worker')
    .description('Runs the modules of one Plexus node in this process and keeps them in step.')
    .requiredOption('--node-id <id>', 'the node this process runs (1-30 of A-Z a-z 0-9 _ - .)')
    .option(
      '--properties <file>',
      'node properties file, used to create the node when it does not exist yet',
    )
    .option('--port-offset <n>', 'added to every port this process listens on', parsePortOffset, 0)
    .addHelpText(
      'after',
      `\nEnvironment:\n  NATS_URL   NATS server (default ${DEFAULT_NATS_URL})\n  NATS_CREDS .creds file for NATS (optional)\n  LOG_LEVEL  ${LOG_LEVELS.join(', ')} (default info)`,
    )
    .exitOverride()
    .configureOutput({
      writeOut: (text) => (output += text),
      writeErr: (text) => (output += text),
    });
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      const helpOrVersion = err.exitCode === 0;
      throw new UsageError(output.trim() || err.message, helpOrVersion ? 0 : 2);
    }
    throw err;
  }
  const flags = program.opts<{ nodeId: string; properties?: string; portOffset: number }>();
  const problem = idProblem('--node-id', flags.nodeId);
  if (problem) throw new UsageError(`${problem} (got "${flags.nodeId}")`);
  if (flags.properties !== undefined && flags.properties.trim() === '')
    throw new UsageError('--properties needs a file name');

  const natsUrl = env.NATS_URL?.trim() || DEFAULT_NATS_URL;
  const urlProblem = natsUrlProblem(natsUrl);
  if (urlProblem) throw new UsageError(urlProblem);
  const natsCredsFile = env.NATS_CREDS?.trim() || null;
  if (natsCredsFile && !existsSync(natsCredsFile))
    throw new UsageError(`NATS_CREDS names ${natsCredsFile}, which does not exist`);
  const logLevel = env.LOG_LEVEL?.trim() || 'info';
  if (!LOG_LEVELS.includes(logLevel))
    throw new UsageError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);

  return {
    nodeId: flags.nodeId,
    propertiesFile: flags.properties ?? null,
    portOffset: flags.portOffset,
    natsUrl,
    natsCredsFile,
    logLevel,
  };
}
