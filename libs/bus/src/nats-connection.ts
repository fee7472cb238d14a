import { readFileSync } from 'node:fs';
import { connect, ConnectionOptions, credsAuthenticator, NatsConnection } from 'nats';

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/**
 * The server URLs of a NATS_URL: one URL, or several separated by commas (the servers of a
 * cluster; the client connects to one and moves to another when it goes away). Blank entries
 * are kept, so that a checker can name them.
 */
export const natsServerList = (value: string): string[] => value.split(',').map((s) => s.trim());

/** A NATS URL (or list) with every password replaced by `***`, for logs. */
export function safeNatsUrl(value: string): string {
  return natsServerList(value)
    .map((entry) => {
      try {
        const u = new URL(entry);
        if (u.password) u.password = '***';
        return u.toString();
      } catch {
        return '(not a URL)';
      }
    })
    .join(',');
}

/**
 * Server list and credentials for a NATS_URL (one URL or a comma-separated list): a user and
 * password in a URL (nats://user:pass@host:port; the first URL that has them gives them for
 * all, as one cluster has one set of users), and/or a `.creds` file (JWT + NKey seed) given by
 * path. The same options serve the `nats` client and @nestjs/microservices' NATS transport.
 */
export function natsAuthOptions(
  url: string,
  credsFile?: string,
): Pick<ConnectionOptions, 'servers' | 'user' | 'pass' | 'authenticator'> {
  const options: Pick<ConnectionOptions, 'servers' | 'user' | 'pass' | 'authenticator'> = {};
  const servers = natsServerList(url).map((entry) => {
    const parsed = new URL(entry);
    if ((parsed.username || parsed.password) && options.user === undefined) {
      options.user = decodeURIComponent(parsed.username);
      options.pass = decodeURIComponent(parsed.password);
    }
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  });
  if (credsFile) options.authenticator = credsAuthenticator(readFileSync(credsFile));
  options.servers = servers.length === 1 ? servers[0] : servers;
  return options;
}

/**
 * Connects to NATS and keeps reconnecting forever: a Plexus process outlives NATS outages
 * and resumes where it was (DESIGN.md: workers keep running with NATS down). With several
 * servers it reconnects to whichever answers; the servers of a cluster also advertise each
 * other, so one URL of a cluster is enough once connected.
 */
export async function connectNats(
  url: string,
  name: string,
  extra: Partial<ConnectionOptions> = {},
  credsFile?: string,
): Promise<NatsConnection> {
  return connect({
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 5_000,
    ...natsAuthOptions(url, credsFile),
    ...extra,
  });
}
