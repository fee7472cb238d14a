import {
  DiscardPolicy,
  JetStreamManager,
  NatsConnection,
  RetentionPolicy,
  StorageType,
} from 'nats';
import { Logger } from '@plexus/common';
import {
  EVENTS_STREAM,
  EVENTS_SUBJECTS,
  LEASES_BUCKET,
  LOGIN_FAILURES_BUCKET,
  MEMBERSHIP_STREAM,
  MEMBERSHIP_SUBJECTS,
  MODULE_TYPES_BUCKET,
  NODES_BUCKET,
  SCALING_BUCKET,
  WORKER_BUCKETS,
} from './names';
import { LEASES_BUCKET_OPTIONS } from './module-leases';
import { LOGIN_FAILURES_BUCKET_OPTIONS } from './login-failures-bucket';
import { MODULE_TYPES_BUCKET_OPTIONS } from './module-type-catalog';
import { NODES_BUCKET_OPTIONS } from './node-documents';
import { SCALING_BUCKET_OPTIONS } from './scaling-bucket';
import { alignReplicas, clusterReplicas } from './replicas';

const TWO_MINUTES_NS = 2 * 60 * 1_000_000_000;
const SEVEN_DAYS_NS = 7 * 24 * 60 * 60 * 1_000_000_000;

/** The events stream keeps a week by default: it is a copy for consumers, Postgres keeps all. */
export const DEFAULT_EVENTS_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;

/** Every stream Plexus keeps, the buckets' included (JetStream names a bucket's stream KV_<bucket>). */
export const PLEXUS_STREAMS = [
  EVENTS_STREAM,
  MEMBERSHIP_STREAM,
  ...WORKER_BUCKETS.map((bucket) => `KV_${bucket}`),
] as const;

export interface TopologyOptions {
  eventsMaxAgeMs?: number;
  /**
   * Replicas of every stream and bucket (NATS_REPLICAS), which existing ones are brought to.
   * Default clusterReplicas, to which existing streams are only raised, never lowered.
   */
  replicas?: number;
  /** Told of replica counts changed or left as they were. */
  logger?: Logger;
}

/**
 * Creates the streams and buckets Plexus needs when they are missing, and brings the streams'
 * retention and every stream's replicas to what is asked. Idempotent; run by the control plane
 * at start (workers only use what exists).
 */
export async function ensureTopology(
  nc: NatsConnection,
  options: TopologyOptions = {},
): Promise<void> {
  const replicas = options.replicas ?? clusterReplicas(nc);
  const jsm = await nc.jetstreamManager();
  const streams = [
    // msg-id dedup over the window makes re-publishing after a relay crash harmless. Without a
    // limit the stream would grow forever (measured here: 915 MB after a day of benchmarks);
    // the audit trail is Postgres, so the copy only needs to outlive a consumer's downtime.
    {
      name: EVENTS_STREAM,
      subjects: [EVENTS_SUBJECTS],
      duplicate_window: TWO_MINUTES_NS,
      max_age: (options.eventsMaxAgeMs ?? DEFAULT_EVENTS_MAX_AGE_MS) * 1_000_000,
    },
    // Announcements matter until recorded; a week covers any control-plane outage worth riding out.
    {
      name: MEMBERSHIP_STREAM,
      subjects: [MEMBERSHIP_SUBJECTS],
      duplicate_window: TWO_MINUTES_NS,
      max_age: SEVEN_DAYS_NS,
    },
  ];
  for (const s of streams) {
    let existing;
    try {
      existing = await jsm.streams.info(s.name);
    } catch {
      existing = null;
    }
    if (existing) {
      if ((s.max_age ?? 0) !== existing.config.max_age)
        await jsm.streams.update(s.name, { ...existing.config, max_age: s.max_age ?? 0 });
    } else {
      await jsm.streams.add({
        ...s,
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
        num_replicas: replicas,
      });
    }
  }
  const js = nc.jetstream();
  const buckets = [
    [NODES_BUCKET, NODES_BUCKET_OPTIONS],
    [SCALING_BUCKET, SCALING_BUCKET_OPTIONS],
    [LEASES_BUCKET, LEASES_BUCKET_OPTIONS],
    [LOGIN_FAILURES_BUCKET, LOGIN_FAILURES_BUCKET_OPTIONS],
    [MODULE_TYPES_BUCKET, MODULE_TYPES_BUCKET_OPTIONS],
  ] as const;
  for (const [bucket, bucketOptions] of buckets)
    await js.views.kv(bucket, { ...bucketOptions, replicas });
  await allowDirectGets(jsm);
  await alignReplicas(jsm, PLEXUS_STREAMS, replicas, {
    raiseOnly: options.replicas === undefined,
    logger: options.logger,
  });
}

/**
 * Turns on direct gets in every worker bucket that exists (see WORKER_BUCKETS): buckets made by
 * an older version, or by hand, may lack them. A bucket made later by anyone gets them anyway
 * (nats.js asks for them from servers that have them, 2.9 on). Clients that opened a bucket
 * before keep using the older get until they open it again (a restart).
 */
async function allowDirectGets(jsm: JetStreamManager): Promise<void> {
  for (const bucket of WORKER_BUCKETS) {
    const stream = `KV_${bucket}`;
    const info = await jsm.streams.info(stream).catch(() => null);
    if (info && !info.config.allow_direct)
      await jsm.streams.update(stream, { ...info.config, allow_direct: true });
  }
}
