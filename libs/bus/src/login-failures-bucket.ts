import { KV, NatsConnection } from 'nats';
import { LOGIN_FAILURES_BUCKET } from './names';
import { clusterReplicas } from './replicas';

/**
 * How long a failed-login counter outlives its last write: the longest a user stays locked and
 * the quiet time after which failures are forgotten (local-security's throttle) fit within it.
 * nats-server 2.9 has no per-key TTL: the bucket's max age removes a counter once nobody has
 * tried that user name for this long.
 */
export const LOGIN_FAILURES_MAX_AGE_MS = 15 * 60_000;

/**
 * One value per key, nothing evicted before its age: no limit on keys or bytes, so a flood of
 * other user names can never push out the counter of a locked one.
 */
export const LOGIN_FAILURES_BUCKET_OPTIONS = {
  history: 1,
  ttl: LOGIN_FAILURES_MAX_AGE_MS,
  description: 'Plexus failed-login counters per realm and user name hash (no names, no passwords)',
} as const;

/** Opens the failed-login bucket, creating it when missing (an existing bucket is used as it is). */
export async function openLoginFailuresBucket(
  nc: NatsConnection,
  requestTimeoutMs = 5000,
): Promise<KV> {
  try {
    return await nc.jetstream({ timeout: requestTimeoutMs }).views.kv(LOGIN_FAILURES_BUCKET, {
      ...LOGIN_FAILURES_BUCKET_OPTIONS,
      replicas: clusterReplicas(nc),
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`cannot open the failed-login bucket ${LOGIN_FAILURES_BUCKET}: ${message}`);
  }
}
