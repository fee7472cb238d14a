import { existsSync } from 'node:fs';
import { DEFAULT_INBOX_PREFIX, DEFAULT_NATS_URL, natsServerList } from '@plexus/bus';
import { UsageError } from './usage-error';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** What a worker or supervisor reads from its environment (the supervisor hands it on). */
export interface ProcessEnv {
  natsUrl: string;
  /** NATS_CREDS: a .creds file (JWT and NKey seed) for servers in operator mode. */
  natsCredsFile: string | null;
  /**
   * NATS_INBOX_PREFIX: where replies to this process's requests and its KV watches' deliveries
   * arrive. A node's NATS user may subscribe to its own prefix only (examples/nats-auth.conf).
   */
  natsInboxPrefix: string;
  logLevel: string;
}

/** The environment's part of `--help`. */
export const processEnvHelp = (heading: string) =>
  `\n${heading}:\n  NATS_URL          NATS server, or servers of a cluster separated by commas (default ${DEFAULT_NATS_URL})\n  NATS_CREDS        .creds file for NATS (optional)\n  NATS_INBOX_PREFIX inbox subject prefix of this node's NATS user (default ${DEFAULT_INBOX_PREFIX})\n  LOG_LEVEL         ${LOG_LEVELS.join(', ')} (default info)`;

const INBOX_PREFIX_SHAPE = /^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/;

/** Why NATS_INBOX_PREFIX is not usable, or null: subject tokens, no wildcards, at most 100. */
export function inboxPrefixProblem(value: string): string | null {
  return INBOX_PREFIX_SHAPE.test(value) && value.length <= 100
    ? null
    : `NATS_INBOX_PREFIX must be subject tokens of A-Z a-z 0-9 _ - $ joined by ".", at most 100 characters, such as _INBOX_fhir_node (got "${value}")`;
}

/**
 * NATS_URL: one nats:// or tls:// URL with a host (credentials in it are allowed), or several
 * separated by commas (the servers of a cluster). The message names the entry that is wrong.
 */
export function natsUrlProblem(value: string): string | null {
  const entries = natsServerList(value);
  for (const [i, entry] of entries.entries()) {
    const which = entries.length > 1 ? `NATS_URL entry ${i + 1} of ${entries.length}` : 'NATS_URL';
    const rule = `${which} must be a nats:// or tls:// URL with a host, such as ${DEFAULT_NATS_URL}${entries.length > 1 ? '; servers are separated by commas' : ''} (got "${entry}")`;
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      return rule;
    }
    if (!['nats:', 'tls:'].includes(url.protocol) || !url.hostname) return rule;
  }
  return null;
}

/**
 * Reads NATS_URL, NATS_CREDS, NATS_INBOX_PREFIX and LOG_LEVEL; throws UsageError naming the one
 * that is wrong.
 */
export function readProcessEnv(env: NodeJS.ProcessEnv): ProcessEnv {
  const natsUrl = env.NATS_URL?.trim() || DEFAULT_NATS_URL;
  const urlProblem = natsUrlProblem(natsUrl);
  if (urlProblem) throw new UsageError(urlProblem);
  const natsCredsFile = env.NATS_CREDS?.trim() || null;
  if (natsCredsFile && !existsSync(natsCredsFile))
    throw new UsageError(`NATS_CREDS names ${natsCredsFile}, which does not exist`);
  const natsInboxPrefix = env.NATS_INBOX_PREFIX?.trim() || DEFAULT_INBOX_PREFIX;
  const prefixProblem = inboxPrefixProblem(natsInboxPrefix);
  if (prefixProblem) throw new UsageError(prefixProblem);
  const logLevel = env.LOG_LEVEL?.trim() || 'info';
  if (!LOG_LEVELS.includes(logLevel))
    throw new UsageError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);
  return { natsUrl, natsCredsFile, natsInboxPrefix, logLevel };
}
