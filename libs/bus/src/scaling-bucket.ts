import { KV, KvEntry, NatsConnection } from 'nats';
import type { RecordedEvent } from '@plexus/domain';
import { WRONG_LAST_SEQUENCE } from './acked-publisher';
import { nodeDocumentKey, SCALING_BUCKET } from './names';
import { errorText, Logger } from '@plexus/common';
import { ResilientWatch, WatchedEntrySource } from './resilient-watch';
import { clusterReplicas } from './replicas';

/** What a supervisor needs to know: how many processes of the node to run, and since which event. */
export interface DesiredProcesses {
  nodeId: string;
  desired: number;
  eventId: string;
  position: string;
  recordedAt: string;
}

/** Same options as ensureTopology's, so either side may create it. */
export const SCALING_BUCKET_OPTIONS = { history: 5 } as const;

export function openScalingBucket(nc: NatsConnection): Promise<KV> {
  return nc
    .jetstream()
    .views.kv(SCALING_BUCKET, { ...SCALING_BUCKET_OPTIONS, replicas: clusterReplicas(nc) });
}

/** The events that set a node's desired process count. */
export const SCALING_TYPES: ReadonlySet<string> = new Set(['ScalingPolicySet', 'ScaleRecommended']);

/** The count each event sets: ScalingPolicySet's `desired`, ScaleRecommended's `to`. */
function desiredOf(e: RecordedEvent): number | null {
  const value =
    e.type === 'ScalingPolicySet'
      ? e.data.desired
      : e.type === 'ScaleRecommended'
        ? e.data.to
        : null;
  return typeof value === 'number' ? value : null;
}

/** The last count set per node by a relay batch (events in commit order). */
export function desiredProcessesFromEvents(events: RecordedEvent[]): DesiredProcesses[] {
  const latest = new Map<string, DesiredProcesses>();
  for (const e of events) {
    const desired = desiredOf(e);
    if (desired === null) continue;
    latest.set(e.nodeId, {
      nodeId: e.nodeId,
      desired,
      eventId: e.eventId,
      position: e.position,
      recordedAt: e.recordedAt,
    });
  }
  return [...latest.values()];
}

export function putDesiredProcesses(kv: KV, d: DesiredProcesses): Promise<number> {
  return kv.put(nodeDocumentKey(d.nodeId), JSON.stringify(d));
}

/**
 * Puts a node's count unless the bucket holds one set by a later event (compare-and-set on the
 * key's revision, read again on conflict), so that a put from a leader that has since lost its
 * lease, or a republish racing the relay, never brings back an older count. Returns whether it
 * put.
 */
export async function putDesiredProcessesIfNewer(kv: KV, d: DesiredProcesses): Promise<boolean> {
  const key = nodeDocumentKey(d.nodeId);
  for (let round = 0; round < 5; round++) {
    const entry = await kv.get(key);
    let stored: DesiredProcesses | null = null;
    try {
      stored = decode(entry);
    } catch {
      // not a count: replace it
    }
    if (stored && BigInt(stored.position) > BigInt(d.position)) return false;
    try {
      await kv.put(key, JSON.stringify(d), { previousSeq: entry?.revision ?? 0 });
      return true;
    } catch (err) {
      const code = (err as { api_error?: { err_code?: number } }).api_error?.err_code;
      if (code !== WRONG_LAST_SEQUENCE) throw err;
    }
  }
  throw new Error(`the desired process count of ${d.nodeId} kept changing under this put`);
}

function decode(entry: KvEntry | null): DesiredProcesses | null {
  if (!entry || entry.operation !== 'PUT') return null;
  const d = JSON.parse(entry.string()) as DesiredProcesses;
  if (!d || typeof d.desired !== 'number' || typeof d.nodeId !== 'string')
    throw new Error(`entry "${entry.key}" of ${SCALING_BUCKET} is not a desired process count`);
  return d;
}

export async function readDesiredProcesses(
  kv: KV,
  nodeId: string,
): Promise<DesiredProcesses | null> {
  return decode(await kv.get(nodeDocumentKey(nodeId)));
}

export interface DesiredProcessesWatch {
  stop(): Promise<void>;
}

/**
 * Calls onDesired with the node's stored count and every newer one (by KV revision). A
 * ResilientWatch like watchNodeDocument's: it re-opens a failed watch and re-reads the count
 * after every NATS reconnect, and also reads the key every pollIntervalMs, so a NATS restart
 * cannot leave the caller on an old count.
 */
export function watchDesiredProcesses(
  nc: NatsConnection,
  nodeId: string,
  onDesired: (d: DesiredProcesses) => void,
  options: { logger?: Logger; pollIntervalMs?: number } = {},
): DesiredProcessesWatch {
  let revision = 0;
  let generation = 0;

  const deliver = (entry: KvEntry, via: WatchedEntrySource) => {
    // A re-opened watch starts over: the bucket may have been re-created with lower revisions.
    if (via === 'watch' && watch.generation !== generation) {
      generation = watch.generation;
      revision = 0;
    }
    if (entry.revision <= revision) return;
    revision = entry.revision;
    try {
      const d = decode(entry);
      if (d && d.nodeId === nodeId) onDesired(d);
    } catch (err) {
      options.logger?.warn('ignoring a desired process count that cannot be read', {
        nodeId,
        error: errorText(err),
      });
    }
  };

  const watch = ResilientWatch.start(nc, {
    bucket: () => openScalingBucket(nc),
    key: nodeDocumentKey(nodeId),
    onEntry: deliver,
    readIntervalMs: options.pollIntervalMs ?? 5000,
    logger: options.logger,
    logFields: { nodeId, watching: 'desired process count' },
  });

  return { stop: () => watch.stop() };
}
