import { connect, ConnectionOptions, NatsConnection } from 'nats';

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/**
 * Connects to NATS and keeps reconnecting forever: a Plexus process outlives NATS outages
 * and resumes where it was (DESIGN.md: workers keep running with NATS down).
 * User and password in the URL (nats://user:pass@host:port) are passed on as credentials.
 */
export async function connectNats(
  url: string,
  name: string,
  extra: Partial<ConnectionOptions> = {},
): Promise<NatsConnection> {
  const parsed = new URL(url);
  const credentials =
    parsed.username || parsed.password
      ? { user: decodeURIComponent(parsed.username), pass: decodeURIComponent(parsed.password) }
      : {};
  parsed.username = '';
  parsed.password = '';
  return connect({
    servers: parsed.toString(),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 5_000,
    ...credentials,
    ...extra,
  });
}
