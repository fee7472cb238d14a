import { existsSync } from 'node:fs';
import { DEFAULT_NATS_URL } from '@plexus/bus';
import { UsageError } from './usage-error';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** What a worker or supervisor reads from its environment (the supervisor hands it on). */
export interface ProcessEnv {
  natsUrl: string;
  /** NATS_CREDS: a .creds file (JWT and NKey seed) for servers in operator mode. */
  natsCredsFile: string | null;
  logLevel: string;
}

/** The environment's part of `--help`. */
export const processEnvHelp = (heading: string) =>
  `\n${heading}:\n  NATS_URL   NATS server (default ${DEFAULT_NATS_URL})\n  NATS_CREDS .creds file for NATS (optional)\n  LOG_LEVEL  ${LOG_LEVELS.join(', ')} (default info)`;

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

/** Reads NATS_URL, NATS_CREDS and LOG_LEVEL; throws UsageError naming the one that is wrong. */
export function readProcessEnv(env: NodeJS.ProcessEnv): ProcessEnv {
  const natsUrl = env.NATS_URL?.trim() || DEFAULT_NATS_URL;
  const urlProblem = natsUrlProblem(natsUrl);
  if (urlProblem) throw new UsageError(urlProblem);
  const natsCredsFile = env.NATS_CREDS?.trim() || null;
  if (natsCredsFile && !existsSync(natsCredsFile))
    throw new UsageError(`NATS_CREDS names ${natsCredsFile}, which does not exist`);
  const logLevel = env.LOG_LEVEL?.trim() || 'info';
  if (!LOG_LEVELS.includes(logLevel))
    throw new UsageError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);
  return { natsUrl, natsCredsFile, logLevel };
}
