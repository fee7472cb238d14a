import { KV, NatsConnection } from 'nats';
import { clusterReplicas, SESSIONS_BUCKET } from '@plexus/bus';

/** Longest `sessions.timeout.mins` a security module accepts (7 days). */
export const MAX_TIMEOUT_MINS = 7 * 24 * 60;

/**
 * Bucket options: one value per key, and a garbage-collection bound. Sessions are deleted when
 * revoked and by the processes of their realm once expired; `max_age` removes whatever is left
 * behind when no process of a realm runs any more (and old delete markers). It must exceed the
 * longest timeout plus the touch interval; an active session is rewritten at least every minute.
 */
export const SESSIONS_BUCKET_OPTIONS = {
  history: 1,
  ttl: (MAX_TIMEOUT_MINS + 24 * 60) * 60_000,
  description: 'Plexus shared login sessions (keys and values hold token hashes, never tokens)',
} as const;

/**
 * Opens the sessions bucket, creating it when missing with `replicas` (an existing bucket is used
 * as it is). A process whose NATS permissions do not allow creating streams needs the bucket to
 * exist already.
 */
export async function openSessionsBucket(
  nc: NatsConnection,
  requestTimeoutMs = 5000,
  replicas = clusterReplicas(nc),
): Promise<KV> {
  try {
    return await nc
      .jetstream({ timeout: requestTimeoutMs })
      .views.kv(SESSIONS_BUCKET, { ...SESSIONS_BUCKET_OPTIONS, replicas });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`cannot open the sessions bucket ${SESSIONS_BUCKET}: ${message}`);
  }
}
