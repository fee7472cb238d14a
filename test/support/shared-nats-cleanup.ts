import { ConnectionOptions, connect } from 'nats';
import {
  EVENTS_STREAM,
  MEMBERSHIP_STREAM,
  nodeDocumentKey,
  nodeDocumentSubject,
  nodeEventsFilter,
  nodeMembershipFilter,
  NODES_BUCKET_STREAM,
} from '@plexus/bus';

/**
 * What a control plane leaves on a shared NATS for its nodes stays there after its database is
 * dropped: their events (kept a week) and documents (kept for good), and their processes' joins
 * and leaves. A day of benchmarks left 938,011 messages (478 MB) on the events stream, which made
 * the server take over 2 s to delete a consumer on it; a test run leaves about 15,000. Postgres is
 * the source of truth and the database is gone, so purging them loses nothing.
 */

/** Purges those nodes' events, documents and membership announcements from the NATS of `nats`. */
export async function purgeNodesFromNats(
  nats: ConnectionOptions,
  nodeIds: string[],
): Promise<void> {
  if (!nodeIds.length) return;
  const nc = await connect({ ...nats, name: 'plexus-cleanup' });
  try {
    const jsm = await nc.jetstreamManager();
    for (const id of nodeIds) {
      await jsm.streams.purge(EVENTS_STREAM, { filter: nodeEventsFilter(id) });
      await jsm.streams.purge(MEMBERSHIP_STREAM, { filter: nodeMembershipFilter(id) });
      await jsm.streams
        .purge(NODES_BUCKET_STREAM, { filter: nodeDocumentSubject(nodeDocumentKey(id)) })
        .catch(() => undefined); // the bucket exists only once a node was relayed
    }
  } finally {
    await nc.close();
  }
}
