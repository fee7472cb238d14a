import {
  DiscardPolicy,
  JetStreamManager,
  NatsConnection,
  RetentionPolicy,
  StorageType,
} from 'nats';
import {
  EVENTS_STREAM,
  EVENTS_SUBJECTS,
  MEMBERSHIP_STREAM,
  MEMBERSHIP_SUBJECTS,
  NODES_BUCKET,
  SCALING_BUCKET,
  WORKER_BUCKETS,
} from './names';
import { openLeasesBucket } from './module-leases';
import { openLoginFailuresBucket } from './login-failures-bucket';
import { openModuleTypesBucket } from './module-type-catalog';

const TWO_MINUTES_NS = 2 * 60 * 1_000_000_000;
const SEVEN_DAYS_NS = 7 * 24 * 60 * 60 * 1_000_000_000;

/** The events stream keeps a week by default: it is a copy for consumers, Postgres keeps all. */
export const DEFAULT_EVENTS_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Creates the streams and buckets Plexus needs when they are missing, and brings the streams'
 * retention to what is asked. Idempotent; run by the control plane at start (workers only use
 * what exists).
 */
export async function ensureTopology(
  nc: NatsConnection,
  options: { eventsMaxAgeMs?: number } = {},
): Promise<void> {
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
      });
    }
  }
  const js = nc.jetstream();
  await js.views.kv(NODES_BUCKET, { history: 5 });
  await js.views.kv(SCALING_BUCKET, { history: 5 });
  await openLeasesBucket(nc);
  await openLoginFailuresBucket(nc);
  await openModuleTypesBucket(nc);
  await allowDirectGets(jsm);
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
