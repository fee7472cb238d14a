import { readFileSync } from 'node:fs';
import { connect, ConnectionOptions, credsAuthenticator, NatsConnection } from 'nats';

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/**
 * Server list and credentials for a NATS URL: a user and password in the URL
 * (nats://user:pass@host:port), and/or a `.creds` file (JWT + NKey seed) given by path. The same
 * options serve the `nats` client and @nestjs/microservices' NATS transport.
 */
export function natsAuthOptions(
  url: string,
  credsFile?: string,
): Pick<ConnectionOptions, 'servers' | 'user' | 'pass' | 'authenticator'> {
  const parsed = new URL(url);
  const options: Pick<ConnectionOptions, 'servers' | 'user' | 'pass' | 'authenticator'> = {};
  if (parsed.username || parsed.password) {
    options.user = decodeURIComponent(parsed.username);
    options.pass = decodeURIComponent(parsed.password);
  }
  if (credsFile) options.authenticator = credsAuthenticator(readFileSync(credsFile));
  parsed.username = '';
  parsed.password = '';
  options.servers = parsed.toString();
  return options;
}

/**
 * Connects to NATS and keeps reconnecting forever: a Plexus process outlives NATS outages
 * and resumes where it was (DESIGN.md: workers keep running with NATS down).
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
